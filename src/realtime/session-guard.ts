import type { WebSocket } from 'ws';
import type { Db } from '../db/client.ts';
import type { Clock } from '../lib/clock.ts';

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

/**
 * Watches the sessions behind open WebSocket connections: a connection closes with 4401 when its access token
 * expires, or when its session is revoked, ended or its account disabled (checked for all connections in one query
 * every `intervalMs`). Clients reconnect with a fresh token.
 */
export class SessionGuard {
  readonly #connections = new Map<WebSocket, { sessionId: string; expiresAt: Date }>();
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly deps: { db: Db; clock: Clock; intervalMs: number; onError: (error: unknown) => void }) {
    this.#timer = setInterval(() => void this.check().catch(deps.onError), deps.intervalMs).unref();
  }

  watch(socket: WebSocket, session: { sessionId: string; expiresAt: Date }): void {
    this.#connections.set(socket, session);
    socket.once('close', () => this.#connections.delete(socket));
  }

  async check(): Promise<void> {
    if (this.#connections.size === 0) return;
    const now = this.deps.clock.now();
    for (const [socket, session] of this.#connections) {
      if (session.expiresAt <= now) this.#close(socket, 'Session expired');
    }
    const sessionIds = [...new Set([...this.#connections.values()].map((c) => c.sessionId))];
    const alive = await this.deps.db.loginSession.findMany({
      where: {
        id: { in: sessionIds },
        revokedAt: null,
        expiresAt: { gt: now },
        user: { disabledAt: null },
        // The same rule as authenticate(): an app session dies with its registration or access token.
        NOT: [{ apiRegistration: { is: { disabledAt: { not: null } } } }, { oauthToken: { is: { revokedAt: { not: null } } } }],
      },
      select: { id: true },
    });
    const valid = new Set(alive.map((s) => s.id));
    for (const [socket, session] of this.#connections) {
      if (!valid.has(session.sessionId)) this.#close(socket, 'Session ended');
    }
  }

  #close(socket: WebSocket, reason: string): void {
    this.#connections.delete(socket);
    socket.close(CLOSE_UNAUTHORIZED, reason);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#connections.clear();
  }
}
