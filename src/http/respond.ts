import type { ServerResponse } from 'node:http';
import { AppError } from '../lib/errors.ts';
import { httpExtension } from '../graphql/errors.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(payload);
}

/** The JSON error envelope of every non-GraphQL endpoint: `{ error: { code, message, ... } }`. */
export function sendError(res: ServerResponse, error: AppError): void {
  const { status, headers } = httpExtension(error);
  sendJson(res, status, { error: { message: error.message, ...error.toExtensions() } }, headers);
}

export function notFound(res: ServerResponse): void {
  sendError(res, new AppError('NOT_FOUND', 'No such endpoint.'));
}
