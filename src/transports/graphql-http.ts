import type http from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { getOperationAST, type DocumentNode, type GraphQLError, type ValidationContext } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Context, Services } from '../graphql/context.ts';
import { createErrorMasker } from '../graphql/errors.ts';
import { createGraphiQL } from '../graphql/graphiql.ts';
import { useIdempotency } from '../graphql/idempotency.ts';
import { useNoIntrospection } from '../graphql/introspection.ts';
import { useInputLengthLimit } from '../graphql/input-limits.ts';
import { schema } from '../graphql/schema.ts';
import { useNoSuggestions } from '../graphql/suggestions.ts';
import { hasOversizedPage, usePageSizeLimit } from '../graphql/page-size.ts';
import { useValidationErrorStatus } from '../graphql/validation-status.ts';
import { useSafeVariableErrors } from '../graphql/variable-errors.ts';
import { clientAddress } from '../http/client-address.ts';
import { ACCESS_COOKIE, DEVICE_COOKIE, parseCookies, REFRESH_COOKIE } from '../http/cookies.ts';
import { CSRF_HEADER, useCsrfPrevention } from '../http/csrf.ts';
import { sendError } from '../http/respond.ts';
import type { SecurityHeaders } from '../http/security-headers.ts';
import type { ErrorLog } from '../lib/error-log.ts';
import { AppError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { currentRequestScope } from '../lib/request-scope.ts';
import { createIdempotencyStore, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from '../rest/idempotency.ts';
import { authenticate, bearerToken } from '../modules/auth/viewer.ts';
import { withActivityPublishing } from '../realtime/publish.ts';
import { useSessionGuard, type SessionGuard } from '../realtime/session-guard.ts';

/**
 * The initial context of one GraphQL operation, before the context factory turns it into a `Context`.
 *
 * - Over HTTP, `handle` passes `requestId` and `req`; yoga adds the Fetch `request` and the `params` it parsed.
 * - Over WebSocket, the operation is run through `yoga.getEnveloped({ requestId, req, connectionParams,
 *   transport: 'ws', params })`: credentials come from `connectionParams` only, and no cookies are read or set.
 * - Anyone else running an operation through `yoga.getEnveloped(...)` (REST routes) passes `requestId`, `req`,
 *   `params` (the operation, for its name in the log) and a Fetch `request` whose headers carry the caller's
 *   credentials (`Authorization`, else the session cookie) and cookies. Cookies that resolvers set are then found in
 *   the built context's `responseCookies`; only `handle` copies them onto a response itself.
 *
 * `getEnveloped` runs the envelop hooks (parse, validate, context, execute, subscribe) but none of yoga's request and
 * response hooks: the CSRF check, the security headers and the response cookies apply only through `handle`.
 */
export interface GraphQLServerContext {
  requestId: string;
  req?: http.IncomingMessage;
  /** Set for operations over graphql-ws: credentials come from `connection_init`, not from headers. */
  connectionParams?: Record<string, unknown>;
  transport?: 'ws';
}

export type GraphQLServer = YogaServerInstance<GraphQLServerContext, Context>;

export interface GraphQLHttp {
  /** The one GraphQL engine (schema, plugins, context): HTTP, WebSocket and REST operations all go through it. */
  yoga: GraphQLServer;
  /** What every transport answers in place of an error (logged once, by the error log). */
  maskError: (error: unknown) => Error;
  /** Answers a request to /graphql: the body limits, then yoga, then the activity the operation recorded is published. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, requestId: string): Promise<void>;
}

export interface GraphQLHttpOptions {
  services: Services;
  errorLog: ErrorLog;
  /** Ends subscriptions over HTTP whose session ends or whose token expires. */
  sessionGuard: SessionGuard;
  securityHeaders: SecurityHeaders;
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

/** The `Authorization` value a graphql-ws client sent in its `connection_init` payload. */
export function connectionAuthorization(params: Record<string, unknown> | undefined): string | undefined {
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

/**
 * Bodies are read only when their length is declared and within the limit, so nothing large is buffered. A multipart
 * request (a file upload: a document import) may be as large as IMPORT_MAX_BYTES instead.
 */
function checkBody(req: http.IncomingMessage, limits: { bodyBytes: number; importBytes: number }): AppError | undefined {
  if (req.method !== 'POST') return undefined;
  const multipart = req.headers['content-type']?.toLowerCase().startsWith('multipart/form-data') ?? false;
  const limit = multipart ? Math.max(limits.bodyBytes, limits.importBytes) : limits.bodyBytes;
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

/** yoga with its plugins (in the order they run), its CORS answer and its context factory; and the /graphql handler. */
export function createGraphQLHttp({ services, errorLog, sessionGuard, securityHeaders }: GraphQLHttpOptions): GraphQLHttp {
  const { config, logger } = services;
  const publishing = { db: services.db, bus: services.events, logger };
  // Cookies set by resolvers (sign-in, refresh, sign-out), keyed by the request they answer.
  const pendingCookies = new WeakMap<Request, string[]>();
  const production = config.env === 'production';
  const maskError = createErrorMasker(errorLog);
  const plugins: Plugin[] = [
    EnvelopArmorPlugin({
      maxDepth: { n: config.limits.depth, ignoreIntrospection: true, ...reportAsValidationError },
      maxAliases: { n: config.limits.aliases, allowList: [], ...reportAsValidationError },
      maxDirectives: { n: config.limits.directives, ...reportAsValidationError },
      // A page over the largest size is the page-size rule's to explain (PAGE_TOO_LARGE), not the cost limit's.
      costLimit: {
        maxCost: config.limits.cost,
        ignoreIntrospection: true,
        propagateOnRejection: false,
        onReject: [(context: ValidationContext | null, error: GraphQLError) => void (context && !hasOversizedPage(context.getDocument()) && context.reportError(error))],
      },
      // Enforced while parsing, so it already fails as a 400 parse error.
      maxTokens: { n: config.limits.tokens },
      blockFieldSuggestion: { enabled: production },
    }) as Plugin,
    usePageSizeLimit(),
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
    useIdempotency(createIdempotencyStore(services)),
  ];
  // GraphiQL in development only, served whole from its npm package (no CDN), under its own policy.
  const graphiql = production ? undefined : createGraphiQL();
  if (graphiql) plugins.push(graphiql.plugin);
  if (production) plugins.push(useNoIntrospection(), useNoSuggestions());
  plugins.push(useOperationScope());

  const yoga = createYoga<GraphQLServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: graphiql ? { title: 'Safeclose API' } : false,
    renderGraphiQL: graphiql?.render,
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
        allowedHeaders: ['authorization', 'content-type', CSRF_HEADER, 'x-request-id', IDEMPOTENCY_KEY_HEADER.toLowerCase()],
        exposedHeaders: [IDEMPOTENT_REPLAYED_HEADER],
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

  return {
    yoga,
    maskError,
    async handle(req, res, requestId) {
      const rejection = checkBody(req, config.limits);
      if (rejection) {
        res.setHeader('Connection', 'close');
        return sendError(res, rejection);
      }
      await withActivityPublishing(publishing, () => yoga.handle(req, res, { requestId, req }));
    },
  };
}
