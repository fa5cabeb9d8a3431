import type { ServerResponse } from 'node:http';
import { AppError, ERROR_CODES } from '../lib/errors.ts';
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

/** What `sendError` writes, as a JSON Schema for the OpenAPI document of the endpoints that answer with it. */
export const ERROR_ENVELOPE_SCHEMA: Record<string, unknown> = {
  type: 'object',
  description: 'The error envelope. `code` is stable; `reason` refines it; `field` names the input at fault; `retryAfter` (seconds) repeats `Retry-After`.',
  properties: {
    error: {
      type: 'object',
      properties: {
        message: { type: 'string' },
        code: { type: 'string', enum: Object.keys(ERROR_CODES) },
        reason: { type: 'string' },
        field: { type: 'string' },
        retryAfter: { type: 'integer', minimum: 0 },
      },
      required: ['message', 'code'],
      additionalProperties: false,
    },
  },
  required: ['error'],
  additionalProperties: false,
};

/** The JSON error envelope of every non-GraphQL endpoint: `{ error: { code, message, ... } }`. */
export function sendError(res: ServerResponse, error: AppError): void {
  const { status, headers } = httpExtension(error);
  sendJson(res, status, { error: { message: error.message, ...error.toExtensions() } }, headers);
}

export function notFound(res: ServerResponse): void {
  sendError(res, new AppError('NOT_FOUND', 'No such endpoint.'));
}
