/**
 * The one application error. Services throw it with a stable code; the GraphQL layer maps it to
 * `extensions.code` and the HTTP layers to a status, in one place each (src/graphql/errors.ts, src/http/).
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  DATABASE_UNAVAILABLE: 503,
  /** Too much expensive work (password hashing) is already queued; retry after `Retry-After`. */
  OVERLOADED: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface AppErrorOptions {
  /** A finer, stable reason inside the code, e.g. `NO_LOAN_ATTACHED` under `BAD_USER_INPUT`. */
  reason?: string;
  /** The input field at fault, for BAD_USER_INPUT. */
  field?: string;
  /** Seconds until a retry may succeed (RATE_LIMITED, DATABASE_UNAVAILABLE, OVERLOADED). */
  retryAfterSeconds?: number;
  /** An HTTP status finer than the code's own (413, 411, 410, ...). */
  status?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly reason: string | undefined;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly #status: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.reason = options.reason;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.#status = options.status;
  }

  get status(): number {
    return this.#status ?? ERROR_CODES[this.code];
  }

  /** The public shape of the error: everything here is safe to send to a client. */
  toExtensions(): Record<string, unknown> {
    return {
      code: this.code,
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.field ? { field: this.field } : {}),
      ...(this.retryAfterSeconds !== undefined ? { retryAfter: this.retryAfterSeconds } : {}),
    };
  }
}

const CONNECTION_FAILURES = new Set([
  'P1001', // can't reach database server
  'P1002', // server reached but timed out
  'P1017', // server closed the connection
  'P2024', // timed out fetching a connection from the pool
]);
/**
 * What drivers say when the connection is gone (lower case: compared with the lower-cased message). A raw query
 * (the rate limiter's counters) fails as P2010 "Raw query failed", whose message carries the driver's "Can't reach
 * database server"; a closed database says "PGlite is closed" (embedded) or that its pool has been ended.
 */
const CONNECTION_MESSAGES = [
  'connection terminated',
  'connect econnrefused',
  'databasenotreachable',
  'timeout exceeded when trying to connect',
  "can't reach database server",
  'pglite is closed',
  'cannot use a pool after calling end on the pool',
];
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P03']);

/** True when an error means the database could not be reached, as opposed to a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_FAILURES.has(code) || CONNECTION_ERRNOS.has(code))) return true;
    const name = (e as { name?: unknown }).name;
    if (name === 'PrismaClientInitializationError') return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && CONNECTION_MESSAGES.some((text) => message.toLowerCase().includes(text))) return true;
  }
  return false;
}

/** Turns anything thrown into an AppError that is safe to show: unknown errors become INTERNAL, unmasked never. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) {
    return new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable. Try again shortly.', { retryAfterSeconds: 5, cause: error });
  }
  return new AppError('INTERNAL', 'Unexpected error.', { cause: error });
}
