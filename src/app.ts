import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { DatabaseOutageMonitor, openDatabase, type Database } from './db/client.ts';
import { applyMigrations } from './db/migrator.ts';
import type { Services } from './graphql/context.ts';
import { handleHealth, handleReadiness } from './http/health.ts';
import { sendJson } from './http/respond.ts';
import { createSecurityHeaders } from './http/security-headers.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { createErrorLog } from './lib/error-log.ts';
import { InFlightWork } from './lib/in-flight.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { configurePasswordHashing, verifyDummyPassword } from './lib/password.ts';
import { createRateLimiter, DatabaseRateLimiter } from './lib/rate-limit.ts';
import { loadKeyStore, type KeyStore } from './modules/auth/keys.ts';
import { createMailer, type Mailer } from './modules/mail/mailer.ts';
import { schedulePackageExpiry } from './modules/signing/signing.service.ts';
import { createEventBus } from './realtime/event-bus.ts';
import { withActivityPublishing } from './realtime/publish.ts';
import { SessionGuard } from './realtime/session-guard.ts';
import { createIdempotencyStore } from './rest/idempotency.ts';
import { createGraphQLHttp, type GraphQLServer } from './transports/graphql-http.ts';
import { createHttpServer, exactPath } from './transports/http-server.ts';
import { createRestTransport } from './transports/rest.ts';
import { attachWebSocketTransport } from './transports/websocket.ts';

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
  /** The GraphQL engine every transport runs operations through (see `GraphQLServerContext` for `getEnveloped`). */
  yoga: GraphQLServer;
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

/**
 * The server's parts: the database and the services on it, then the transports that take requests to them. A request
 * enters in src/transports/http-server.ts (HTTP, routed by the list below) or src/transports/websocket.ts (graphql-ws).
 */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const clock = options.clock ?? systemClock;
  const ownsDatabase = !options.database;
  const database = options.database ?? (await openDatabase(config.database, { logger }));
  let keys: KeyStore;
  try {
    if (config.migrateOnStart) {
      const { applied } = await applyMigrations(database.migrationTarget, { logger });
      if (applied.length) logger.info({ applied }, 'applied database migrations');
    }
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
  // Idempotency keys are kept for IDEMPOTENCY_KEY_TTL_SECONDS; expired ones are swept now and then.
  const idempotency = createIdempotencyStore(services);
  const idempotencyPurge = idempotency.schedulePurge();
  const outage = new DatabaseOutageMonitor({ ping: () => database.ping(), logger });
  const errorLog = createErrorLog({ logger, onDatabaseUnavailable: () => outage.unavailable() });
  // Requests, REST handlers and GraphQL operations still running, which shutdown waits for.
  const inFlight = new InFlightWork();
  configurePasswordHashing(config.auth.passwordHashing);
  // Builds the dummy hash now, so even the first sign-in for an unknown email costs what a wrong password costs.
  await verifyDummyPassword('warm-up');
  // Ends live streams (WebSockets, and subscriptions over HTTP) whose session ends or whose token expires.
  const sessionGuard = new SessionGuard({
    db: database.prisma,
    clock,
    intervalMs: config.realtime.sessionCheckMs,
    events,
    onError: (error) => logger.warn({ err: error }, 'live stream session check failed'),
  });
  const securityHeaders = createSecurityHeaders(config);

  const graphql = createGraphQLHttp({ services, errorLog, sessionGuard, securityHeaders });
  const { yoga } = graphql;
  const rest = createRestTransport({ services, yoga, errorLog, idempotency });
  const server = createHttpServer({
    logger,
    errorLog,
    securityHeaders,
    inFlight,
    routes: [
      exactPath('/healthz', ({ res }) => handleHealth(res)),
      exactPath('/readyz', ({ res }) => handleReadiness(res, database, () => outage.unavailable())),
      exactPath('/.well-known/jwks.json', ({ res }) => sendJson(res, 200, keys.jwks(), { 'Cache-Control': 'public, max-age=300' })),
      exactPath('/graphql', ({ req, res, requestId }) => graphql.handle(req, res, requestId)),
      ({ req, res, path, requestId }) => withActivityPublishing(publishing, () => rest(req, res, path, requestId)),
    ],
  });
  const websocket = attachWebSocketTransport(server, { services, yoga, maskError: graphql.maskError, errorLog, sessionGuard, inFlight });

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
        for (const socket of websocket.clients) socket.close(1001, 'Server shutting down');
        await websocket.dispose();
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
          for (const socket of websocket.clients) socket.terminate();
          await closed;
        }
        await websocket.close();
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
        await idempotencyPurge.stop();
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
