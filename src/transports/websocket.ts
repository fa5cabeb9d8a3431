import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type DocumentNode, type ExecutionArgs, type execute, type subscribe } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Services } from '../graphql/context.ts';
import { toGraphQLError } from '../graphql/errors.ts';
import { clientAddress } from '../http/client-address.ts';
import type { ErrorLog } from '../lib/error-log.ts';
import { AppError } from '../lib/errors.ts';
import type { InFlightWork } from '../lib/in-flight.ts';
import { iterateInScope, runInRequestScope, type RequestScope } from '../lib/request-scope.ts';
import { authenticate, bearerToken } from '../modules/auth/viewer.ts';
import { withActivityPublishing } from '../realtime/publish.ts';
import type { SessionGuard } from '../realtime/session-guard.ts';
import { CLOSE_TOO_MANY_CONNECTIONS, refuseUpgrade, WebSocketLimits } from '../realtime/websocket-limits.ts';
import { connectionAuthorization, type GraphQLServer } from './graphql-http.ts';

export interface WebSocketTransport {
  /** The open sockets, which shutdown closes with 1001 (and terminates at its deadline). */
  readonly clients: Set<WebSocket>;
  /** Stops graphql-ws: completes its operations and closes its sockets. */
  dispose(): Promise<void>;
  /** Closes the WebSocket server once its sockets are gone. */
  close(): Promise<void>;
}

export interface WebSocketTransportOptions {
  services: Services;
  /** The operations' engine: each runs through `yoga.getEnveloped`, so it gets the same plugins and context as HTTP. */
  yoga: GraphQLServer;
  maskError: (error: unknown) => Error;
  errorLog: ErrorLog;
  /** Closes a socket (4401) when its session ends or its token expires. */
  sessionGuard: SessionGuard;
  /** Operations still running, which shutdown waits for. */
  inFlight: InFlightWork;
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

/** GraphQL over WebSocket (graphql-ws) on `server`'s upgrades to /graphql, with its per-address and per-session limits. */
export function attachWebSocketTransport(server: http.Server, { services, yoga, maskError, errorLog, sessionGuard, inFlight }: WebSocketTransportOptions): WebSocketTransport {
  const { config } = services;
  const publishing = { db: services.db, bus: services.events, logger: services.logger };
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

  return {
    get clients() {
      return wsServer.clients;
    },
    async dispose() {
      await wsDisposable.dispose();
    },
    close() {
      return new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
