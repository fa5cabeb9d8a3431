import type { SessionKind } from '../generated/prisma/enums.ts';
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What is known about the request or operation being served, wherever code runs on its behalf (resolvers, the
 * error masker, REST handlers): its id for log lines, and the outcome codes gathered for its one `request` line.
 */
export interface RequestScope {
  requestId: string;
  transport: 'http' | 'ws';
  /** HTTP method and path (never the query string); absent over WebSocket. */
  method?: string;
  path?: string;
  /** The GraphQL operation's name, once known. */
  operationName?: string;
  /** Codes (and reasons) of the errors answered, in order, without duplicates. */
  errors: Array<{ code: string; reason?: string }>;
  /** The signed-in session the request runs in, once authenticated. */
  session?: { userId: string; kind: SessionKind };
}

const storage = new AsyncLocalStorage<RequestScope>();

export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Notes an answered error's code on the current request, for its `request` log line (at most 10 distinct). */
export function noteErrorCode(code: string, reason?: string): void {
  const scope = storage.getStore();
  if (!scope || scope.errors.length >= 10) return;
  if (scope.errors.some((e) => e.code === code && e.reason === reason)) return;
  scope.errors.push(reason ? { code, reason } : { code });
}

/**
 * An async iterable whose every step runs in `scope`: a subscription's events are resolved when its consumer pulls
 * them, which over WebSocket happens outside the scope the subscription started in. `track` sees each pull, so
 * shutdown can wait for an event being resolved.
 */
export function iterateInScope<T>(
  iterable: AsyncIterable<T>,
  scope: RequestScope,
  track: <R>(step: Promise<R>) => Promise<R> = (step) => step,
): AsyncIterableIterator<T> {
  const iterator = iterable[Symbol.asyncIterator]();
  const scoped: AsyncIterableIterator<T> = {
    next: (...args) => track(storage.run(scope, () => iterator.next(...args))),
    return: (value?: unknown) => storage.run(scope, () => iterator.return?.(value as T) ?? Promise.resolve({ done: true as const, value: value as T })),
    throw: (error?: unknown) => storage.run(scope, () => iterator.throw?.(error) ?? Promise.reject(error)),
    [Symbol.asyncIterator]: () => scoped,
  };
  return scoped;
}

/** Notes the session a request was authenticated with (nothing outside a request). */
export function noteRequestSession(session: { userId: string; kind: SessionKind }): void {
  const scope = storage.getStore();
  if (scope) scope.session = session;
}
