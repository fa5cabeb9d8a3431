import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { AppError } from '../lib/errors.ts';

/**
 * Close code for a connection refused at `connection_init` because its session already holds as many connections
 * as allowed. It mirrors HTTP 429, and graphql-ws clients treat it as final (they do not retry in a loop).
 */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;

export interface WebSocketLimitSettings {
  maxConnectionsPerAddress: number;
  maxConnectionsPerSession: number;
  maxSubscriptionsPerConnection: number;
}

/**
 * Counts open WebSockets per client address and per session, on this instance. A slot is taken before the
 * handshake (address) or at `connection_init` (session) and given back when the socket closes, however it closes.
 */
export class WebSocketLimits {
  readonly #perAddress = new Map<string, number>();
  readonly #perSession = new Map<string, number>();

  constructor(readonly settings: WebSocketLimitSettings) {}

  /**
   * Takes an address slot for this upgrade until its socket closes; false when the address has none left. Clients
   * whose address is unknown (a trusted proxy sent no usable X-Forwarded-For) share one count.
   */
  admitAddress(address: string | undefined, socket: Duplex): boolean {
    if (socket.destroyed) return false;
    return take(this.#perAddress, address ?? 'unknown', this.settings.maxConnectionsPerAddress, (release) => socket.once('close', release));
  }

  /** Takes a session slot for an acknowledged connection until it closes; false when the session has none left. */
  admitSession(sessionId: string, socket: WebSocket): boolean {
    if (socket.readyState !== WebSocket.OPEN) return false;
    return take(this.#perSession, sessionId, this.settings.maxConnectionsPerSession, (release) => socket.once('close', release));
  }

  /** Operations now running on one connection (the new one included) may not exceed the limit. */
  allowsOperations(running: number): boolean {
    return running <= this.settings.maxSubscriptionsPerConnection;
  }

  tooManyOperations(): AppError {
    return new AppError('RATE_LIMITED', `Too many operations on this connection: at most ${this.settings.maxSubscriptionsPerConnection} at once. Complete one first.`, {
      reason: 'TOO_MANY_SUBSCRIPTIONS',
    });
  }
}

function take(counts: Map<string, number>, key: string, limit: number, onRelease: (release: () => void) => void): boolean {
  const count = counts.get(key) ?? 0;
  if (count >= limit) return false;
  counts.set(key, count + 1);
  onRelease(() => {
    const left = (counts.get(key) ?? 1) - 1;
    if (left > 0) counts.set(key, left);
    else counts.delete(key);
  });
  return true;
}

/** The Retry-After of a refused upgrade that names none: long enough not to be a busy loop. */
const UPGRADE_RETRY_AFTER_SECONDS = 10;

/**
 * Answers an upgrade request with a plain HTTP error before any WebSocket handshake, in the same JSON envelope as
 * the server's other non-GraphQL errors, and closes the connection.
 */
export function refuseUpgrade(socket: Duplex, error: AppError): void {
  const body = JSON.stringify({ error: { message: error.message, ...error.toExtensions() } });
  // Every 429 says when to try again; a connection slot frees when another socket closes, which nobody can foresee.
  const retryAfter = error.retryAfterSeconds ?? (error.status === 429 ? UPGRADE_RETRY_AFTER_SECONDS : undefined);
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      (retryAfter === undefined ? '' : `Retry-After: ${retryAfter}\r\n`) +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
}
