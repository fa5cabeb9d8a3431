import type { ServerResponse } from 'node:http';
import type { Database } from '../db/client.ts';
import { AppError } from '../lib/errors.ts';
import { sendError, sendJson } from './respond.ts';

/** Liveness: the process is up and serving. Never touches the database. */
export function handleHealth(res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

/**
 * Readiness: the database answers. Checked on every call, so it recovers without a restart. A failed check is told
 * to `onUnavailable` (the outage monitor), so an outage seen only by the probe is logged as well.
 */
export async function handleReadiness(res: ServerResponse, database: Database, onUnavailable?: () => void): Promise<void> {
  try {
    await database.ping();
    sendJson(res, 200, { status: 'ok', database: database.kind });
  } catch {
    onUnavailable?.();
    sendError(res, new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable.', { retryAfterSeconds: 5 }));
  }
}
