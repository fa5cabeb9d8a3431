import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { WebSocket } from 'ws';
import type { Db } from '../db/client.ts';
import type { Clock } from '../lib/clock.ts';
import { packageOpenSessionWhere } from '../modules/auth/package-sessions.ts';
import type { Viewer } from '../modules/auth/viewer.ts';
import type { EventBus } from './event-bus.ts';

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

/** Why a watched stream is ended: its access token expired, or its session no longer stands. */
export type StreamEnd = 'expired' | 'ended';

/** A live stream the guard can end: a WebSocket connection, or one subscription's event stream over HTTP. */
export interface GuardedStream {
  end(why: StreamEnd): void;
}

export interface WatchedSession {
  sessionId: string;
  /** When the access token the stream was opened with expires. */
  expiresAt: Date;
}

/**
 * Watches the sessions behind live streams: a stream ends when its access token expires, or when its session is
 * revoked, ended, past its end or its account disabled, or a sender or signer session's package closes (checked for
 * all streams in one query every `intervalMs`). A WebSocket closes with 4401; an event stream over HTTP ends with a
 * last UNAUTHENTICATED error. Clients reconnect with a fresh token.
 */
export class SessionGuard {
  readonly #streams = new Map<GuardedStream, WatchedSession>();
  readonly #timer: NodeJS.Timeout;
  #stopListening: (() => void) | undefined;

  /**
   * With `events`, a `sessionsEnded` event (published after the change committed, on any instance) runs a check at
   * once, so disabling an account closes its sockets now rather than on the next tick.
   */
  constructor(private readonly deps: { db: Db; clock: Clock; intervalMs: number; onError: (error: unknown) => void; events?: EventBus }) {
    this.#timer = setInterval(() => void this.#tick(), deps.intervalMs).unref();
    if (deps.events) void this.#listen(deps.events);
  }

  async #listen(events: EventBus): Promise<void> {
    const iterator = events.pubSub.subscribe('sessionsEnded')[Symbol.asyncIterator]();
    this.#stopListening = () => void iterator.return?.();
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) void this.#tick(true);
    } catch (error) {
      this.deps.onError(error);
    }
  }

  #checking = false;
  #checkAgain = false;

  /**
   * One check at a time: under load a slow query is not joined by a second. A check asked for while one runs (`again`)
   * runs after it, since the running one may have read before the change it is asked for.
   */
  async #tick(again = false): Promise<void> {
    if (this.#checking) {
      if (again) this.#checkAgain = true;
      return;
    }
    this.#checking = true;
    try {
      do {
        this.#checkAgain = false;
        await this.check();
      } while (this.#checkAgain);
    } catch (error) {
      this.deps.onError(error);
    } finally {
      this.#checking = false;
    }
  }

  /** Watches `stream` until it is ended or the returned function is called. */
  watchStream(stream: GuardedStream, session: WatchedSession): () => void {
    this.#streams.set(stream, session);
    return () => void this.#streams.delete(stream);
  }

  /** Watches a WebSocket connection until it closes; the guard closes it with 4401. */
  watch(socket: WebSocket, session: WatchedSession): void {
    const unwatch = this.watchStream({ end: (why) => socket.close(CLOSE_UNAUTHORIZED, why === 'expired' ? 'Session expired' : 'Session ended') }, session);
    socket.once('close', unwatch);
  }

  async check(): Promise<void> {
    if (this.#streams.size === 0) return;
    const now = this.deps.clock.now();
    for (const [stream, session] of this.#streams) {
      if (session.expiresAt <= now) this.#end(stream, 'expired');
    }
    // Judge only the streams watched now: one watched while the query runs is not in its answer, and waits for the
    // next check.
    const watched = [...this.#streams];
    if (watched.length === 0) return;
    const sessionIds = [...new Set(watched.map(([, s]) => s.sessionId))];
    const alive = await this.deps.db.loginSession.findMany({
      where: {
        id: { in: sessionIds },
        revokedAt: null,
        expiresAt: { gt: now },
        user: { disabledAt: null },
        // The same rules as authenticate(): an app session dies with its registration or access token, a sender or
        // signer session with its package.
        NOT: [{ apiRegistration: { is: { disabledAt: { not: null } } } }, { oauthToken: { is: { revokedAt: { not: null } } } }],
        AND: [packageOpenSessionWhere(now)],
      },
      select: { id: true },
    });
    const valid = new Set(alive.map((s) => s.id));
    for (const [stream, session] of watched) {
      if (this.#streams.has(stream) && !valid.has(session.sessionId)) this.#end(stream, 'ended');
    }
  }

  #end(stream: GuardedStream, why: StreamEnd): void {
    this.#streams.delete(stream);
    stream.end(why);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stopListening?.();
    this.#streams.clear();
  }
}

/** The last event of a stream the guard ends: what a WebSocket client learns from 4401. */
function sessionEndedResult(why: StreamEnd): ExecutionResult {
  const message = why === 'expired' ? 'Your access token has expired. Subscribe again with a fresh one.' : 'Your session has ended. Sign in again.';
  return {
    errors: [new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', reason: why === 'expired' ? 'TOKEN_EXPIRED' : 'SESSION_ENDED' } })],
  };
}

/**
 * `source`, ended by the guard when the session behind it ends: the stream then yields one last UNAUTHENTICATED
 * error and completes, and the source is returned (its pub/sub subscription released). Ending it from outside
 * (the client going away) stops watching at once, even while an event is awaited.
 */
export function endWithSession(source: AsyncIterable<ExecutionResult>, guard: SessionGuard, session: WatchedSession): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  type State = 'open' | 'ended' | 'done';
  let state: State = 'open';
  let why: StreamEnd = 'ended';
  let wake!: () => void;
  const woken = new Promise<undefined>((resolve) => (wake = () => resolve(undefined)));
  const unwatch = guard.watchStream(
    {
      end(reason) {
        if (state !== 'open') return;
        state = 'ended';
        why = reason;
        wake();
      },
    },
    session,
  );
  const finish = (): IteratorResult<ExecutionResult> => {
    if (state !== 'done') {
      state = 'done';
      unwatch();
      wake();
      // Not awaited: a generator busy awaiting its next event finishes returning only when that event comes.
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
    return { done: true, value: undefined };
  };
  const last = (): IteratorResult<ExecutionResult> => {
    const value = sessionEndedResult(why);
    finish();
    return { done: false, value };
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (state === 'done') return { done: true, value: undefined };
      if (state === 'ended') return last();
      const result = await Promise.race([iterator.next(), woken]);
      // Read again: the guard or the client may have ended the stream during the wait.
      const after = state as State;
      if (after === 'done') return { done: true, value: undefined };
      if (after === 'ended' || result === undefined) return last();
      if (result.done) {
        state = 'done';
        unwatch();
      }
      return result;
    },
    async return() {
      return finish();
    },
    async throw(error?: unknown) {
      finish();
      throw error;
    },
  };
}

/**
 * Ends every signed-in subscription over HTTP (server-sent events, multipart) when its session ends or its access
 * token expires, as the guard closes WebSockets. Operations over graphql-ws are left alone: their socket is watched.
 * Anonymous streams are never watched.
 */
export function useSessionGuard(guard: SessionGuard): Plugin<{ viewer?: Viewer | null; transport?: string }> {
  return {
    onSubscribe({ args }) {
      const { viewer, transport } = args.contextValue;
      if (!viewer || transport === 'ws') return;
      const session = { sessionId: viewer.sessionId, expiresAt: viewer.accessTokenExpiresAt };
      return {
        onSubscribeResult({ result, setResult }) {
          if (Symbol.asyncIterator in result) setResult(endWithSession(result, guard, session));
        },
      };
    },
  };
}
