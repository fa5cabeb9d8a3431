import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../graphql/context.ts';
import { clientAddress } from '../http/client-address.ts';
import { sendError } from '../http/respond.ts';
import { withRateLimitHeaders } from '../http/rate-limit-headers.ts';
import { AppError, toAppError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { ClientInfo } from '../modules/auth/sessions.service.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Path parameters, percent-decoded: `/customer/:customerId` gives `{ customerId }`. */
  params: Record<string, string>;
  /** The query string. Never log it: links carry secrets there. */
  query: URLSearchParams;
  services: Services;
  requestId: string;
  client: ClientInfo;
  logger: Logger;
  /** The body as JSON (undefined when empty); 400 when malformed, 413 over `limits.bodyBytes`. */
  readJson(): Promise<unknown>;
  /** The body as an `application/x-www-form-urlencoded` form; 413 over `limits.bodyBytes`. */
  readForm(): Promise<URLSearchParams>;
}

export type RestHandler = (ctx: RestContext) => Promise<void> | void;

export interface RestRoute {
  method: HttpMethod;
  /** Literal segments and `:name` parameters, e.g. `/api/v1/integrations/customer/:customerId/magic-link`. */
  path: string;
  handler: RestHandler;
  /** Match the path case-insensitively (the app sign-in API's documents spell its paths more than one way). */
  caseInsensitive?: boolean;
}

interface CompiledRoute extends RestRoute {
  pattern: RegExp;
  names: string[];
  /** `v1` for `/v1/...` routes: the API version DISABLED_API_VERSIONS can switch off. */
  version: string | undefined;
}

/** A route's path as an anchored pattern: literal segments escaped, each `:name` one `([^/]+)` between slashes. */
export function compileRoute(route: RestRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}$`, route.caseInsensitive ? 'i' : ''), names, version: /^\/(v\d+)\//i.exec(route.path)?.[1]?.toLowerCase() };
}

/** Reads at most `limit` bytes; a declared or actual larger body is a 413 before more is buffered. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new AppError('BAD_USER_INPUT', `The request body is larger than ${limit} bytes.`, { reason: 'PAYLOAD_TOO_LARGE', status: 413 });
  const declared = req.headers['content-length'];
  if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > limit)) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * A small route table for the non-GraphQL endpoints. `handle` answers the request and returns true when a route
 * matches the path (405 with `Allow` when only the method differs), false to let the caller answer 404. AppErrors a
 * handler throws become the JSON error envelope; anything else is logged and answered as INTERNAL.
 */
export function createRestRouter(services: Services, routes: RestRoute[]) {
  const compiled = routes.map(compileRoute);

  return async function handle(req: IncomingMessage, res: ServerResponse, path: string, requestId: string): Promise<boolean> {
    const allowed: string[] = [];
    for (const route of compiled) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      if (route.version && services.config.publicApi.disabledVersions.has(route.version)) {
        sendError(res, new AppError('NOT_FOUND', `API version ${route.version} has been disabled.`, { reason: 'API_VERSION_DISABLED', status: 410 }));
        return true;
      }
      if (route.method !== req.method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, index) => {
        const raw = match[index + 1] ?? '';
        try {
          params[name] = decodeURIComponent(raw);
        } catch {
          params[name] = raw;
        }
      });
      const logger = services.logger.child({ requestId });
      const ctx: RestContext = {
        req,
        res,
        params,
        query: new URL(req.url ?? '/', 'http://localhost').searchParams,
        services: withRateLimitHeaders(services, res),
        requestId,
        client: { ip: clientAddress(req, services.config.trustProxy), userAgent: req.headers['user-agent'] },
        logger,
        async readJson() {
          const body = await readBody(req, services.config.limits.bodyBytes);
          if (body.length === 0) return undefined;
          try {
            return JSON.parse(body.toString('utf8')) as unknown;
          } catch {
            throw new AppError('BAD_USER_INPUT', 'The request body is not valid JSON.', { reason: 'MALFORMED_JSON' });
          }
        },
        async readForm() {
          return new URLSearchParams((await readBody(req, services.config.limits.bodyBytes)).toString('utf8'));
        },
      };
      try {
        await route.handler(ctx);
      } catch (error) {
        const appError = toAppError(error);
        if (!(error instanceof AppError)) logger.error({ err: appError.cause ?? error, path }, 'request failed');
        if (res.headersSent) res.destroy();
        else sendError(res, appError);
      }
      return true;
    }
    if (allowed.length === 0) return false;
    res.setHeader('Allow', allowed.join(', '));
    sendError(res, new AppError('BAD_USER_INPUT', `Use ${allowed.join(' or ')} for this endpoint.`, { reason: 'METHOD_NOT_ALLOWED', status: 405 }));
    return true;
  };
}
