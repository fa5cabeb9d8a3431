import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db } from '../db/client.ts';
import type { Logger } from '../lib/logger.ts';
import type { EventBus } from './event-bus.ts';

/**
 * Activity rows written while handling one request. They are published only after the request's work is done and
 * only if they exist then, so an event never announces a change whose transaction rolled back.
 */
const pending = new AsyncLocalStorage<string[]>();

export function notePendingActivity(id: string): void {
  pending.getStore()?.push(id);
}

export async function withActivityPublishing<T>(deps: { db: Db; bus: EventBus; logger: Logger }, work: () => Promise<T>): Promise<T> {
  const ids: string[] = [];
  try {
    return await pending.run(ids, work);
  } finally {
    if (ids.length > 0) await publishCommitted(deps, ids).catch((error: unknown) => deps.logger.error({ err: error }, 'publishing activity failed'));
  }
}

async function publishCommitted(deps: { db: Db; bus: EventBus }, ids: string[]): Promise<void> {
  const rows = await deps.db.activity.findMany({
    where: { id: { in: ids } },
    orderBy: { seq: 'asc' },
    select: { id: true, seq: true, type: true, occurredAt: true, actorUserId: true, organizationId: true, documentId: true, packageId: true },
  });
  for (const row of rows) {
    deps.bus.pubSub.publish('activity', { ...row, seq: row.seq.toString(), occurredAt: row.occurredAt.toISOString() });
  }
}
