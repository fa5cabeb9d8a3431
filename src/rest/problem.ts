import { STATUS_CODES, type ServerResponse } from 'node:http';
import { ERROR_CODES, type ErrorCode } from '../lib/errors.ts';

/** What a REST answer says about a failure: the stable code, and the HTTP status it is answered with. */
export interface Problem {
  status: number;
  code: string;
  message: string;
  reason?: string;
  field?: string;
  retryAfter?: number;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The status of a coded error: its own when it carries one, else the code's. */
export function statusOf(code: string, status?: number): number {
  return status ?? ERROR_CODES[code as ErrorCode] ?? 500;
}

/**
 * Answers an RFC 9457 problem details document for a `/v1` resource route: `type` is `about:blank` (the status says
 * what kind of problem it is), `title` the status's phrase, `detail` the message, and the stable `code`, `reason`
 * and `field` as extension members, with the request id to quote to support. 401 carries
 * `WWW-Authenticate: Bearer` (RFC 6750); rate limits and outages carry `Retry-After`.
 */
export function sendProblem(res: ServerResponse, problem: Problem, requestId: string, headers: Record<string, string> = {}): void {
  const body = problemBody(problem, requestId);
  res.writeHead(problem.status, {
    'Content-Type': PROBLEM_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...problemHeaders(problem),
    ...headers,
  });
  res.end(body);
}

export function problemBody(problem: Problem, requestId: string): string {
  return JSON.stringify({
    type: 'about:blank',
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.message,
    code: problem.code,
    ...(problem.reason ? { reason: problem.reason } : {}),
    ...(problem.field ? { field: problem.field } : {}),
    requestId,
  });
}

/** 401 carries `WWW-Authenticate: Bearer` (RFC 6750); rate limits and outages carry `Retry-After`. */
export function problemHeaders(problem: Problem): Record<string, string> {
  const headers: Record<string, string> = {};
  if (problem.status === 401) headers['www-authenticate'] = problem.reason === 'INVALID_TOKEN' ? 'Bearer error="invalid_token"' : 'Bearer';
  if (problem.retryAfter !== undefined) headers['retry-after'] = String(problem.retryAfter);
  return headers;
}
