import { PothosValidationError } from '@pothos/core';
import { GraphQLError, Kind, type FieldNode } from 'graphql';
import { AppError, toAppError } from '../lib/errors.ts';
import type { ErrorLog } from '../lib/error-log.ts';
import { noteErrorCode } from '../lib/request-scope.ts';

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

/**
 * An AppError as a GraphQL error. Request-level codes set the HTTP status; so does INTERNAL when nothing of the
 * request was answered (no field path: the context, parsing of the request), which is a 500 whatever the Accept
 * header. An INTERNAL error in one field leaves the rest of the answer standing, in a 200.
 */
export function toGraphQLError(error: AppError, source?: GraphQLError): GraphQLError {
  const wholeRequest = REQUEST_LEVEL_CODES.has(error.code) || (error.code === 'INTERNAL' && !source?.path);
  return new GraphQLError(error.message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    extensions: { ...error.toExtensions(), ...(wholeRequest ? { http: httpExtension(error) } : {}) },
  });
}

/**
 * Pothos refuses bad connection arguments (`first: -1`, a garbage `after:` cursor, `after` with `last`) with plain
 * errors of its own: these become BAD_USER_INPUT naming the argument, in words that never repeat the cursor sent.
 * Any other Pothos validation error is a fault of the schema, not of the request: undefined, so it stays unexpected.
 */
export function connectionArgumentError(error: PothosValidationError, field: FieldNode | undefined): AppError | undefined {
  const message = error.message;
  const argument = /^Argument "(first|last)" must be a non-negative integer/.exec(message)?.[1];
  if (argument) return new AppError('BAD_USER_INPUT', `${argument} must be zero or more.`, { field: argument, reason: 'INVALID_PAGINATION' });
  const pair = /^Arguments "(\w+)" and "(\w+)" are not supported at the same time/.exec(message);
  if (pair) return new AppError('BAD_USER_INPUT', `${pair[1]} and ${pair[2]} cannot be given together.`, { field: pair[2], reason: 'INVALID_PAGINATION' });
  if (/^Argument "last" can only be used in combination with "before" or "first"/.test(message)) {
    return new AppError('BAD_USER_INPUT', 'last needs before or first.', { field: 'last', reason: 'INVALID_PAGINATION' });
  }
  if (/^(Invalid cursor|Cursor must be a string|Invalid id received|Expected compound cursor)/.test(message)) {
    const given = new Set(field?.arguments?.map((argument) => argument.name.value));
    const cursor = given.has('after') || !given.has('before') ? 'after' : 'before';
    return new AppError('BAD_USER_INPUT', `${cursor} is not a cursor from this connection.`, { field: cursor, reason: 'INVALID_CURSOR' });
  }
  return undefined;
}

/**
 * The one mapping from thrown errors to what a GraphQL client sees. AppErrors keep their message and code;
 * GraphQL's own parse, validation and request errors pass through with their codes; everything else is masked,
 * so no stack trace, SQL or Prisma message ever reaches a client. Each failure is logged once, by `errorLog`.
 */
export function createErrorMasker(errorLog: ErrorLog) {
  return (error: unknown): Error => {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    let original: unknown = graphQLError ? graphQLError.originalError : error;
    if (original instanceof PothosValidationError) {
      const node = graphQLError?.nodes?.[0];
      original = connectionArgumentError(original, node?.kind === Kind.FIELD ? node : undefined) ?? original;
    } else {
      const coded = codedGraphQLError(graphQLError && !original ? graphQLError : original);
      if (coded) {
        noteErrorCode(String(coded.extensions.code), typeof coded.extensions.reason === 'string' ? coded.extensions.reason : undefined);
        return coded;
      }
    }
    if (original instanceof GraphQLError && original.originalError) original = original.originalError;
    const appError = errorLog.report(original ?? error, { graphqlPath: graphQLError?.path });
    return toGraphQLError(appError, graphQLError);
  };
}

/** A GraphQL error that already says what it is (parse, validation, request, session errors, or one of ours). */
function codedGraphQLError(error: unknown): GraphQLError | undefined {
  if (!(error instanceof GraphQLError) || error.originalError) return undefined;
  return typeof error.extensions.code === 'string' ? error : undefined;
}
