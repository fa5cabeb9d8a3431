import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { notFound, sendError } from '../http/respond.ts';
import type { SecurityHeaders } from '../http/security-headers.ts';
import type { ErrorLog } from '../lib/error-log.ts';
import { AppError } from '../lib/errors.ts';
import type { InFlightWork } from '../lib/in-flight.ts';
import type { Logger } from '../lib/logger.ts';
import { runInRequestScope, type RequestScope } from '../lib/request-scope.ts';

/** One HTTP request as the routes see it: `path` is the URL without its query string. */
export interface HttpRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  path: string;
  requestId: string;
}

/**
 * One entry of the server's routing list: answers the request and returns true, or returns false to leave it to the
 * entries after it. A request no entry answers is a 404.
 */
export type HttpRoute = (request: HttpRequest) => boolean | Promise<boolean>;

/** A route for one exact path, any method. */
export function exactPath(path: string, handle: (request: HttpRequest) => void | Promise<void>): HttpRoute {
  return async (request) => {
    if (request.path !== path) return false;
    await handle(request);
    return true;
  };
}

export interface HttpServerOptions {
  logger: Logger;
  errorLog: ErrorLog;
  securityHeaders: SecurityHeaders;
  /** Requests still being handled, which shutdown waits for. */
  inFlight: InFlightWork;
  /** Tried in order; the first that answers wins. */
  routes: HttpRoute[];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Where every HTTP request enters: it gets a request id (the client's `X-Request-Id` if well-formed), the security
 * headers, one log line and a request scope, and is then handed to the first route that answers it.
 */
export function createHttpServer({ logger, errorLog, securityHeaders, inFlight, routes }: HttpServerOptions): http.Server {
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
        route({ req, res, path, requestId }).catch((error: unknown) => {
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

  async function route(request: HttpRequest): Promise<void> {
    for (const candidate of routes) {
      if (await candidate(request)) return;
    }
    notFound(request.res);
  }

  return server;
}
