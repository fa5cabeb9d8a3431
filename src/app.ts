import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useServer } from 'graphql-ws/use/ws';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ValidationContext, type execute, type subscribe } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Config } from './config.ts';
import { DatabaseOutageMonitor, openDatabase, type Database } from './db/client.ts';
import { applyMigrations } from './db/migrator.ts';
import type { Context, Services } from './graphql/context.ts';
import { createErrorMasker, toGraphQLError } from './graphql/errors.ts';
import { useNoIntrospection } from './graphql/introspection.ts';
import { schema } from './graphql/schema.ts';
import { useValidationErrorStatus } from './graphql/validation-status.ts';
import { useInputLengthLimit } from './graphql/input-limits.ts';
import { useNoSuggestions } from './graphql/suggestions.ts';
import { useSafeVariableErrors } from './graphql/variable-errors.ts';
import { CSRF_HEADER, useCsrfPrevention } from './http/csrf.ts';
import { handleHealth, handleReadiness } from './http/health.ts';
import { createSecurityHeaders } from './http/security-headers.ts';
import { notFound, sendError, sendJson } from './http/respond.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { AppError } from './lib/errors.ts';
import { createErrorLog } from './lib/error-log.ts';
import { currentRequestScope, iterateInScope, runInRequestScope, type RequestScope } from './lib/request-scope.ts';
import { InFlightWork } from './lib/in-flight.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { authenticate, bearerToken } from './modules/auth/viewer.ts';
import { createEventBus } from './realtime/event-bus.ts';
import { withActivityPublishing } from './realtime/publish.ts';
import { schedulePackageExpiry } from './modules/signing/signing.service.ts';
import { SessionGuard, useSessionGuard } from './realtime/session-guard.ts';
import { CLOSE_TOO_MANY_CONNECTIONS, refuseUpgrade, WebSocketLimits } from './realtime/websocket-limits.ts';
import { createMailer, type Mailer } from './modules/mail/mailer.ts';
import { createRateLimiter, DatabaseRateLimiter } from './lib/rate-limit.ts';
import { configurePasswordHashing, verifyDummyPassword } from './lib/password.ts';
import { clientAddress } from './http/client-address.ts';
import { ACCESS_COOKIE, DEVICE_COOKIE, parseCookies, REFRESH_COOKIE } from './http/cookies.ts';
import { loadKeyStore, type KeyStore } from './modules/auth/keys.ts';
import { appRoutes } from './modules/apps/apps.rest.ts';
import { partnerRoutes } from './modules/partners/partners.rest.ts';
import { tokenRoutes } from './modules/tokens/tokens.rest.ts';
import { createRestRouter } from './rest/router.ts';

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  /** An already open database (tests share one per file); the app then leaves closing it to the caller. */
  database?: Database;
  keys?: KeyStore;
  mailer?: Mailer;
}

export interface App {
  services: Services;
  server: http.Server;
  yoga: YogaServerInstance<ServerContext, Context>;
  /** Listens on config.host:config.port (0 picks a free port) and resolves with the address. */
  start(): Promise<{ port: number; url: string }>;
  /** Stops accepting, finishes in-flight requests, closes WebSockets with 1001 and the database. */
  stop(): Promise<void>;
  /**
   * Resolves once no request or operation is being handled, including what a request does after its answer (live
   * events are published after the response): for tests that count what one call does.
   */
  idle(): Promise<void>;
}

interface ServerContext {
  requestId: string;
  req?: http.IncomingMessage;
  /** Set for operations over graphql-ws: credentials come from `connection_init`, not from headers. */
  connectionParams?: Record<string, unknown>;
  transport?: 'ws';
}

/** graphql-ws runs each operation through yoga's enveloped execute/subscribe, carried on the root value. */
interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
  /** The operation's request scope: its id and name for log lines. */
  scope: RequestScope;
}

/** The WebSocket close code for a server that cannot serve now but may shortly (RFC 6455 registry). */
const CLOSE_TRY_AGAIN_LATER = 1013;

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** Names the operation in its request scope, for its log lines, on every transport. */
function useOperationScope(): Plugin {
  const name = (args: { document: DocumentNode; operationName?: string | null }) => {
    const scope = currentRequestScope();
    if (scope) scope.operationName = getOperationAST(args.document, args.operationName)?.name?.value;
  };
  return {
    // Parsed before the context is built, so a request refused there (a bad token) is named as well.
    onParse: ({ context }) => ({ result }) => {
      const operationName = (context as { params?: { operationName?: string | null } }).params?.operationName;
      if (result && !(result instanceof Error)) name({ document: result, operationName });
    },
    onExecute: ({ args }) => name(args),
    onSubscribe: ({ args }) => name(args),
  };
}

/**
 * Armor's validation rules throw by default, which escapes GraphQL validation and answers 200; reported instead,
 * a limit violation is an ordinary validation error (400, GRAPHQL_VALIDATION_FAILED), decided before any
 * resolver or database work.
 */
const reportAsValidationError = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/** The session token of an HTTP request: the Authorization header, else the browser's session cookie. */
function requestToken(request: Request): string | null {
  const authorization = request.headers.get('authorization');
  if (authorization) return bearerToken(authorization);
  return parseCookies(request.headers.get('cookie')).get(ACCESS_COOKIE) || null;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function connectionAuthorization(params: Record<string, unknown> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === 'string' ? value : undefined;
}

/**
 * yoga logs every error it hands to the masker; the masker's error log has already logged it once, at the level its
 * kind deserves and with the request id, so yoga's copy of an error goes to debug.
 */
function yogaLogger(logger: Logger) {
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => {
    const [first, ...rest] = args;
    if (first instanceof Error) logger.debug({ requestId: currentRequestScope()?.requestId, errorName: first.name }, 'graphql-yoga passed an error to the masker');
    else logger[level]({ detail: rest.length ? rest : undefined }, typeof first === 'string' ? first : 'graphql-yoga');
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const clock = options.clock ?? systemClock;
  const ownsDatabase = !options.database;
  const database = options.database ?? (await openDatabase(config.database, { logger }));
  try {
    if (config.migrateOnStart) {
      const { applied } = await applyMigrations(database.migrationTarget, { logger });
      if (applied.length) logger.info({ applied }, 'applied database migrations');
    }
  } catch (error) {
    if (ownsDatabase) await database.close();
    throw error;
  }
  let keys: KeyStore;
  try {
    keys = options.keys ?? (await loadKeyStore({ config, db: database.prisma, clock, logger }));
  } catch (error) {
    if (ownsDatabase) await database.close();
    throw error;
  }
  const rateLimiter = createRateLimiter({ redisUrl: config.redisUrl, namespace: config.redisNamespace, db: database.prisma, clock, logger });
  // Database counters outlive their windows; sweep them now and then so the table stays small.
  const purge = rateLimiter instanceof DatabaseRateLimiter
    ? setInterval(() => void rateLimiter.purgeExpired().catch((error: unknown) => logger.warn({ err: error }, 'rate-limit purge failed')), 10 * 60_000).unref()
    : undefined;
  const mailer = options.mailer ?? createMailer(config.mail, logger, clock);
  const events = createEventBus({ redisUrl: config.redisUrl, namespace: config.redisNamespace, logger });
  const services: Services = { config, database, db: database.prisma, clock, logger, keys, rateLimiter, mailer, events };
  const publishing = { db: database.prisma, bus: events, logger };
  // Overdue signing packages read as expired at once; this records their expiry (status, activity, live event).
  const packageExpiry = schedulePackageExpiry(services, config.signing.expirySweepSeconds * 1000);
  const outage = new DatabaseOutageMonitor({ ping: () => database.ping(), logger });
  const errorLog = createErrorLog({ logger, onDatabaseUnavailable: () => outage.unavailable() });
  // Requests, REST handlers and GraphQL operations still running, which shutdown waits for.
  const inFlight = new InFlightWork();
  const rest = createRestRouter(services, [...appRoutes, ...partnerRoutes, ...tokenRoutes], { errorLog });
  configurePasswordHashing(config.auth.passwordHashing);
  // Builds the dummy hash now, so even the first sign-in for an unknown email costs what a wrong password costs.
  await verifyDummyPassword('warm-up');
  // Cookies set by resolvers (sign-in, refresh, sign-out), keyed by the request they answer.
  const pendingCookies = new WeakMap<Request, string[]>();
  // Ends live streams (WebSockets, and subscriptions over HTTP) whose session ends or whose token expires.
  const sessionGuard = new SessionGuard({
    db: database.prisma,
    clock,
    intervalMs: config.realtime.sessionCheckMs,
    onError: (error) => logger.warn({ err: error }, 'live stream session check failed'),
  });

  const production = config.env === 'production';
  const maskError = createErrorMasker(errorLog);
  const securityHeaders = createSecurityHeaders(config);
  const plugins: Plugin[] = [
    EnvelopArmorPlugin({
      maxDepth: { n: config.limits.depth, ignoreIntrospection: true, ...reportAsValidationError },
      maxAliases: { n: config.limits.aliases, allowList: [], ...reportAsValidationError },
      maxDirectives: { n: config.limits.directives, ...reportAsValidationError },
      costLimit: { maxCost: config.limits.cost, ignoreIntrospection: true, ...reportAsValidationError },
      // Enforced while parsing, so it already fails as a 400 parse error.
      maxTokens: { n: config.limits.tokens },
      blockFieldSuggestion: { enabled: production },
    }) as Plugin,
    useValidationErrorStatus(),
    // Before masking, so the masker (and the log) never see a variable's value.
    useSafeVariableErrors({ suggestions: !production }),
    useCsrfPrevention(),
    useInputLengthLimit(config.limits.stringLength),
    securityHeaders.yogaPlugin(),
    useSessionGuard(sessionGuard) as Plugin,
    {
      onResponse({ request, response }) {
        for (const cookie of pendingCookies.get(request) ?? []) response.headers.append('Set-Cookie', cookie);
      },
    },
  ];
  if (production) plugins.push(useNoIntrospection(), useNoSuggestions());
  plugins.push(useOperationScope());

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: production ? false : { title: 'Safeclose API' },
    landingPage: false,
    batching: false,
    logging: yogaLogger(logger),
    maskedErrors: { maskError },
    plugins,
    cors: (request) => {
      const origin = request.headers.get('origin');
      return {
        origin: origin && config.corsOrigins.includes(origin) ? origin : config.corsOrigins[0],
        credentials: true,
        allowedHeaders: ['authorization', 'content-type', CSRF_HEADER, 'x-request-id'],
        methods: ['GET', 'POST'],
      };
    },
    context: async (initial) => {
      const ws = initial.transport === 'ws';
      // Over WebSocket only the connection_init payload counts: browsers attach cookies to cross-site upgrades.
      const token = ws ? bearerToken(connectionAuthorization(initial.connectionParams)) : requestToken(initial.request);
      const viewer = await authenticate(services, token);
      const userAgent = initial.req?.headers['user-agent'];
      const responseCookies: string[] = [];
      if (!ws) pendingCookies.set(initial.request, responseCookies);
      return {
        requestId: initial.requestId,
        services,
        viewer,
        client: { ip: clientAddress(initial.req, config.trustProxy), userAgent },
        logger: logger.child({ requestId: initial.requestId }),
        responseCookies,
        refreshCookie: ws ? undefined : parseCookies(initial.request.headers.get('cookie')).get(REFRESH_COOKIE) || undefined,
        deviceCookie: ws ? undefined : parseCookies(initial.request.headers.get('cookie')).get(DEVICE_COOKIE) || undefined,
      };
    },
  });

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && incoming.length <= 64 && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    securityHeaders.apply(res);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const scope: RequestScope = { requestId, transport: 'http', method: req.method, path, errors: [] };
    // One line per request, with the GraphQL operation's name and the codes of the errors it answered.
    const logRequest = () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        {
          requestId,
          method: req.method,
          path,
          ...(scope.operationName ? { operationName: scope.operationName } : {}),
          status: res.statusCode,
          ...(scope.errors.length ? { errors: scope.errors } : {}),
          ...(res.writableFinished ? {} : { aborted: true }),
          durationMs: Math.round(durationMs * 10) / 10,
        },
        'request',
      );
    };
    res.on('finish', logRequest);
    res.on('close', () => {
      if (!res.writableFinished) logRequest();
    });
    void inFlight.track(
      runInRequestScope(scope, () =>
        route(req, res, path, requestId).catch((error: unknown) => {
          const appError = errorLog.report(error);
          if (!res.headersSent) sendError(res, appError.code === 'DATABASE_UNAVAILABLE' ? appError : new AppError('INTERNAL', 'Unexpected error.'));
          else res.destroy();
        }),
      ),
    );
  });
  securityHeaders.guardUpgradeRefusals(server);
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;

  async function route(req: http.IncomingMessage, res: http.ServerResponse, path: string, requestId: string): Promise<void> {
    if (path === '/healthz') return handleHealth(res);
    if (path === '/readyz') return handleReadiness(res, database, () => outage.unavailable());
    if (path === '/.well-known/jwks.json') return sendJson(res, 200, keys.jwks(), { 'Cache-Control': 'public, max-age=300' });
    if (path === '/graphql') {
      const rejection = checkBody(req, config.limits.bodyBytes);
      if (rejection) {
        res.setHeader('Connection', 'close');
        return sendError(res, rejection);
      }
      await withActivityPublishing(publishing, () => yoga.handle(req, res, { requestId, req }));
      return;
    }
    if (await withActivityPublishing(publishing, () => rest(req, res, path, requestId))) return;
    notFound(res);
  }

  const wsServer = new WebSocketServer({ noServer: true, path: '/graphql', maxPayload: config.limits.bodyBytes });
  const wsLimits = new WebSocketLimits(config.realtime);
  // Counted before the handshake, so a client over its limit costs no WebSocket at all.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (wsServer.shouldHandle(req) && !wsLimits.admitAddress(clientAddress(req, config.trustProxy), socket)) {
      refuseUpgrade(socket, new AppError('RATE_LIMITED', 'Too many WebSocket connections from this address.', { reason: 'TOO_MANY_CONNECTIONS' }));
      return;
    }
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
  });
  const wsDisposable = useServer<Record<string, unknown>>(
    {
      execute: (args) => {
        const root = args.rootValue as EnvelopedRoot;
        return inFlight.track(runInRequestScope(root.scope, () => withActivityPublishing(publishing, async () => root.execute(args)))) as ReturnType<typeof execute>;
      },
      subscribe: (args) => {
        const root = args.rootValue as EnvelopedRoot;
        const subscribed = runInRequestScope(root.scope, async () => {
          const result = await root.subscribe(args);
          // Each event is resolved when graphql-ws pulls it, outside the scope the subscription started in.
          return isAsyncIterable(result) ? iterateInScope(result, root.scope, (step) => inFlight.track(step)) : result;
        });
        return inFlight.track(subscribed) as ReturnType<typeof subscribe>;
      },
      connectionInitWaitTimeout: config.realtime.connectionInitTimeoutMs,
      // A connection that presents a token must present a valid one (else 4403); it is then watched until it
      // expires or its session ends (4401). Connections without a token stay anonymous. A session may hold only
      // so many connections (else 4429).
      onConnect: async (ctx) => {
        let viewer: Awaited<ReturnType<typeof authenticate>>;
        try {
          viewer = await authenticate(services, bearerToken(connectionAuthorization(ctx.connectionParams)));
        } catch (error) {
          // An outage is no reason to call the token invalid: 1013 (try again later) instead of 4403.
          const failure = runInRequestScope({ requestId: randomUUID(), transport: 'ws', errors: [] }, () => errorLog.report(error));
          if (failure.code === 'DATABASE_UNAVAILABLE') ctx.extra.socket.close(CLOSE_TRY_AGAIN_LATER, 'The database is unavailable');
          return false;
        }
        if (!viewer) return true;
        if (!wsLimits.admitSession(viewer.sessionId, ctx.extra.socket)) {
          ctx.extra.socket.close(CLOSE_TOO_MANY_CONNECTIONS, 'Too many connections for this session');
          return false;
        }
        sessionGuard.watch(ctx.extra.socket, { sessionId: viewer.sessionId, expiresAt: viewer.accessTokenExpiresAt });
        return true;
      },
      // Whatever fails here (a syntax error, the token limit, the context) answers this operation with an `error`
      // message; thrown, it would close the whole connection and every other operation on it.
      onSubscribe: async (ctx, _id, payload) => {
        if (!wsLimits.allowsOperations(Object.keys(ctx.subscriptions).length)) return [toGraphQLError(wsLimits.tooManyOperations())];
        const scope: RequestScope = { requestId: randomUUID(), transport: 'ws', errors: [] };
        return runInRequestScope(scope, async () => {
          try {
            const enveloped = yoga.getEnveloped({
              requestId: scope.requestId,
              req: ctx.extra.request,
              connectionParams: ctx.connectionParams,
              transport: 'ws',
              params: payload,
            });
            let document: DocumentNode;
            try {
              document = enveloped.parse(payload.query);
            } catch (error) {
              // Coded as yoga codes a parse failure over HTTP (a syntax error, the token limit).
              if (!(error instanceof GraphQLError) || error.originalError) throw error;
              return [new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { ...error.extensions, code: 'GRAPHQL_PARSE_FAILED' } })];
            }
            const errors = enveloped.validate(enveloped.schema, document);
            if (errors.length) return errors;
            return {
              schema: enveloped.schema,
              document,
              operationName: payload.operationName,
              variableValues: payload.variables,
              contextValue: await enveloped.contextFactory(),
              rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe, scope } satisfies EnvelopedRoot,
            };
          } catch (error) {
            const masked = maskError(error);
            return [masked instanceof GraphQLError ? masked : new GraphQLError('Unexpected error.')];
          }
        });
      },
    },
    wsServer,
  );

  let stopping: Promise<void> | undefined;

  return {
    services,
    server,
    yoga,
    async idle() {
      await inFlight.idle(new Promise(() => undefined));
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      logger.info({ port, host: config.host, database: database.kind }, 'server listening');
      return { port, url: `http://${host}:${port}` };
    },
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
        for (const socket of wsServer.clients) socket.close(1001, 'Server shutting down');
        await wsDisposable.dispose();
        // Keep-alive connections that finish their response become idle: close them as they do.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs);
        });
        const outcome = await Promise.race([closed.then(() => 'closed' as const), deadline]);
        clearInterval(sweep);
        if (outcome === 'timeout') {
          logger.warn('shutdown timeout reached: closing remaining connections');
          server.closeAllConnections();
          for (const socket of wsServer.clients) socket.terminate();
          await closed;
        }
        await new Promise<void>((resolve) => wsServer.close(() => resolve()));
        // A connection can be gone while the work it asked for still runs (its client went away): the database and
        // the rest stay open until that work is done, within the same timeout.
        if (inFlight.size > 0) {
          logger.info({ operations: inFlight.size }, 'shutdown waiting for running operations');
          if (!(await inFlight.idle(deadline))) logger.warn({ operations: inFlight.size }, 'shutdown timeout reached: operations still running');
        }
        clearTimeout(timer);
        outage.stop();
        clearInterval(purge);
        await packageExpiry.stop();
        if (!options.keys) keys.close();
        sessionGuard.stop();
        await events.close();
        await rateLimiter.close();
        if (!options.mailer) await mailer.close();
        if (ownsDatabase) await database.close();
        logger.info('server stopped');
      })();
      return stopping;
    },
  };
}

/** Bodies are read only when their length is declared and within the limit, so nothing large is buffered. */
function checkBody(req: http.IncomingMessage, limit: number): AppError | undefined {
  if (req.method !== 'POST') return undefined;
  const length = req.headers['content-length'];
  if (length === undefined) {
    return req.headers['transfer-encoding']
      ? new AppError('BAD_USER_INPUT', 'A Content-Length header is required.', { reason: 'LENGTH_REQUIRED', status: 411 })
      : undefined;
  }
  if (!/^\d+$/.test(length) || Number(length) > limit) {
    return new AppError('BAD_USER_INPUT', `The request body is larger than ${limit} bytes.`, { reason: 'PAYLOAD_TOO_LARGE', status: 413 });
  }
  return undefined;
}
