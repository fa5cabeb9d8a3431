import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../graphql/context.ts';
import { clientAddress } from '../http/client-address.ts';
import { sendError } from '../http/respond.ts';
import { httpExtension } from '../graphql/errors.ts';
import { sendProblem } from './problem.ts';
import { withRateLimitHeaders } from '../http/rate-limit-headers.ts';
import { findDisallowedControl, hasDisallowedControl } from '../lib/control-characters.ts';
import { createErrorLog, type ErrorLog } from '../lib/error-log.ts';
import { AppError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { ClientInfo } from '../modules/auth/sessions.service.ts';
import type { RouteDoc } from './openapi.ts';

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
  /**
   * Logs a failure the handler answers in its own format, as the router logs what handlers throw (unexpected at
   * error, outages at warn and to the outage monitor, client errors at debug), and returns it as an AppError.
   */
  reportError(error: unknown): AppError;
}

export type RestHandler = (ctx: RestContext) => Promise<void> | void;

export interface RestRoute {
  method: HttpMethod;
  /** Literal segments and `:name` parameters, e.g. `/api/v1/integrations/customer/:customerId/magic-link`. */
  path: string;
  handler: RestHandler;
  /** Match the path case-insensitively (the app sign-in API's documents spell its paths more than one way). */
  caseInsensitive?: boolean;
  /** Failures before the handler runs (405, control characters, a disabled version) as RFC 9457 problem details. */
  problemDetails?: boolean;
  /** What the OpenAPI document says of a hand-written route (GraphQL-backed routes are described from their operation). */
  doc?: RouteDoc;
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

function controlCharacters(field: string): AppError {
  return new AppError('BAD_USER_INPUT', `${field} must not contain control characters.`, { field, reason: 'CONTROL_CHARACTERS' });
}

/** A client-chosen name as it may be shown in an error: a plain name of sensible length, else `*`. */
function shownName(name: string): string {
  return name.length <= 64 && /^[A-Za-z0-9_.-]+$/.test(name) ? name : '*';
}

/**
 * Path parameters, the query string and header values with NUL or another C0 control but tab, line feed and
 * carriage return are refused before any handler reads them, as GraphQL refuses them in its input.
 */
function controlCharacterIn(params: Record<string, string>, query: URLSearchParams, req: IncomingMessage): AppError | undefined {
  for (const [name, value] of Object.entries(params)) if (hasDisallowedControl(value)) return controlCharacters(name);
  for (const [name, value] of query) if (hasDisallowedControl(name) || hasDisallowedControl(value)) return controlCharacters(shownName(name));
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (hasDisallowedControl(req.rawHeaders[i + 1]!)) return controlCharacters(shownName(req.rawHeaders[i]!));
  }
  return undefined;
}

/** An error as the route answers errors: problem details for `/v1` resources, the JSON envelope for the seed endpoints. */
function answer(res: ServerResponse, route: Pick<RestRoute, 'problemDetails'>, error: AppError, requestId: string): void {
  if (!route.problemDetails) return sendError(res, error);
  const { status, headers } = httpExtension(error);
  sendProblem(res, { status, code: error.code, message: error.message, reason: error.reason, field: error.field, retryAfter: error.retryAfterSeconds }, requestId, headers);
}

/**
 * A small route table for the non-GraphQL endpoints. `handle` answers the request and returns true when a route
 * matches the path (405 with `Allow` when only the method differs), false to let the caller answer 404. AppErrors a
 * handler throws become the JSON error envelope; anything else is logged and answered as INTERNAL.
 */
export function createRestRouter(services: Services, routes: RestRoute[], options: { errorLog?: ErrorLog } = {}) {
  const compiled = routes.map(compileRoute);
  const errorLog = options.errorLog ?? createErrorLog({ logger: services.logger });

  return async function handle(req: IncomingMessage, res: ServerResponse, path: string, requestId: string): Promise<boolean> {
    const allowed: string[] = [];
    let problems = false;
    for (const route of compiled) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      if (route.version && services.config.publicApi.disabledVersions.has(route.version)) {
        answer(res, route, new AppError('NOT_FOUND', `API version ${route.version} has been disabled.`, { reason: 'API_VERSION_DISABLED', status: 410 }), requestId);
        return true;
      }
      if (route.method !== req.method) {
        allowed.push(route.method);
        problems ||= route.problemDetails === true;
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
      const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
      const refused = controlCharacterIn(params, query, req);
      if (refused) {
        answer(res, route, errorLog.report(refused), requestId);
        return true;
      }
      const ctx: RestContext = {
        req,
        res,
        params,
        query,
        services: withRateLimitHeaders(services, res),
        requestId,
        client: { ip: clientAddress(req, services.config.trustProxy), userAgent: req.headers['user-agent'] },
        logger,
        async readJson() {
          const body = await readBody(req, services.config.limits.bodyBytes);
          if (body.length === 0) return undefined;
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString('utf8')) as unknown;
          } catch {
            throw new AppError('BAD_USER_INPUT', 'The request body is not valid JSON.', { reason: 'MALFORMED_JSON' });
          }
          const at = findDisallowedControl(parsed);
          if (at) throw controlCharacters(at.length ? at.map(shownName).join('.') : 'body');
          return parsed;
        },
        reportError: (error) => errorLog.report(error),
        async readForm() {
          const form = new URLSearchParams((await readBody(req, services.config.limits.bodyBytes)).toString('utf8'));
          for (const [name, value] of form) {
            if (hasDisallowedControl(name) || hasDisallowedControl(value)) throw controlCharacters(shownName(name));
          }
          return form;
        },
      };
      try {
        await route.handler(ctx);
      } catch (error) {
        const appError = errorLog.report(error);
        if (res.headersSent) res.destroy();
        else answer(res, route, appError, requestId);
      }
      return true;
    }
    if (allowed.length === 0) return false;
    res.setHeader('Allow', allowed.join(', '));
    answer(res, { problemDetails: problems }, new AppError('BAD_USER_INPUT', `Use ${allowed.join(' or ')} for this endpoint.`, { reason: 'METHOD_NOT_ALLOWED', status: 405 }), requestId);
    return true;
  };
}
