import { GraphQLError } from 'graphql';
import { AppError, toAppError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';

/** The HTTP status and headers an AppError asks for when it fails a whole request (yoga reads `extensions.http`). */
export function httpExtension(error: AppError): { status: number; headers?: Record<string, string> } {
  const headers: Record<string, string> = {};
  if (error.code === 'UNAUTHENTICATED') {
    headers['WWW-Authenticate'] = error.reason === 'INVALID_TOKEN' ? 'Bearer error="invalid_token"' : 'Bearer';
  }
  if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds);
  return { status: error.status, ...(Object.keys(headers).length ? { headers } : {}) };
}

/**
 * Codes that describe the whole request rather than one field: the HTTP status follows them (401, 403, 429, 503).
 * Field-level outcomes (NOT_FOUND, BAD_USER_INPUT, CONFLICT) stay in a 200 response beside any data.
 */
const REQUEST_LEVEL_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'RATE_LIMITED', 'DATABASE_UNAVAILABLE', 'OVERLOADED']);

export function toGraphQLError(error: AppError, source?: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    extensions: { ...error.toExtensions(), ...(REQUEST_LEVEL_CODES.has(error.code) ? { http: httpExtension(error) } : {}) },
  });
}

/**
 * The one mapping from thrown errors to what a GraphQL client sees. AppErrors keep their message and code;
 * GraphQL's own parse and validation errors pass through; everything else is logged and masked, so no stack
 * trace, SQL or Prisma message ever reaches a client.
 */
export function createErrorMasker(logger: Logger) {
  return (error: unknown): Error => {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    const original = graphQLError ? graphQLError.originalError : error;
    if (graphQLError && !original) return graphQLError;
    if (original instanceof GraphQLError && !(original.originalError)) return original;
    const appError = toAppError(original instanceof GraphQLError ? original.originalError : original);
    if (!(original instanceof AppError)) {
      logger.error({ err: appError.cause ?? original, path: graphQLError?.path }, 'unexpected error');
    }
    return toGraphQLError(appError, graphQLError);
  };
}
