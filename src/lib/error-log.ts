import { toAppError, type AppError } from './errors.ts';
import type { Logger } from './logger.ts';
import { currentRequestScope, noteErrorCode } from './request-scope.ts';

export interface ErrorLog {
  /**
   * Turns anything thrown while serving a request into the AppError to answer, and logs it once: unexpected
   * failures at error level with their stack, database outages at warn, and ordinary client errors (wrong input,
   * not found, refused, limited) at debug without a stack, their code going on the request's own log line.
   */
  report(error: unknown, where?: { graphqlPath?: ReadonlyArray<string | number> }): AppError;
}

export interface ErrorLogOptions {
  logger: Logger;
  /** Told of every failure that means the database cannot be reached (the outage monitor). */
  onDatabaseUnavailable?: () => void;
}

export function createErrorLog(options: ErrorLogOptions): ErrorLog {
  const { logger } = options;
  // yoga, graphql-ws and the REST router may each hand the same error over more than once.
  const seen = new WeakSet<object>();
  return {
    report(error, where = {}) {
      const appError = toAppError(error);
      noteErrorCode(appError.code, appError.reason);
      const key = typeof error === 'object' && error !== null ? error : appError;
      if (seen.has(key)) return appError;
      seen.add(key);
      const scope = currentRequestScope();
      const fields = {
        requestId: scope?.requestId,
        ...(scope?.operationName ? { operationName: scope.operationName } : {}),
        ...(scope?.method ? { method: scope.method, path: scope.path } : {}),
        ...(where.graphqlPath ? { graphqlPath: where.graphqlPath.join('.') } : {}),
        code: appError.code,
      };
      if (appError.code === 'INTERNAL') {
        logger.error({ ...fields, err: appError.cause ?? error }, 'unexpected error');
      } else if (appError.code === 'DATABASE_UNAVAILABLE') {
        options.onDatabaseUnavailable?.();
        logger.warn(fields, 'database unavailable');
      } else {
        const detail = { ...fields, ...(appError.reason ? { reason: appError.reason } : {}), ...(appError.field ? { field: appError.field } : {}) };
        // Over WebSocket there is no request line to carry the code, so the operation gets its own line.
        if (scope?.transport === 'ws') logger.info(detail, 'operation failed');
        else logger.debug(detail, 'client error');
      }
      return appError;
    },
  };
}
