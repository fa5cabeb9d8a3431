import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import type { Viewer } from '../auth/viewer.ts';
import { readableActivity } from './activity.policy.ts';
import { activityPeople, readActivityBatch, type ActivityFilter, type ActivityRow } from './activity.service.ts';

/** A row with the people it names, as they are now. */
export interface ActivityEntry extends ActivityRow {
  actor: { id: string; name: string; email: string } | null;
  subject: { id: string; name: string; email: string } | null;
}

const CURSOR_PREFIX = 'activity:';

export function activityCursor(seq: bigint): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`).toString('base64url');
}

function parseCursor(cursor: string): bigint {
  const text = Buffer.from(cursor, 'base64url').toString();
  const digits = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : '';
  if (!/^\d{1,19}$/.test(digits)) throw new AppError('BAD_USER_INPUT', 'after is not a cursor this list gave out.', { field: 'after', reason: 'INVALID_CURSOR' });
  return BigInt(digits);
}

/** The readable part of the chain, or NOT_FOUND when the viewer may read none of it. */
export async function readableOrNotFound(services: Pick<Services, 'db'>, viewer: Viewer, organizationId: string | null) {
  const readable = await readableActivity(services.db, viewer, organizationId);
  if (!readable) throw new AppError('NOT_FOUND', organizationId === null ? 'Not found.' : 'Organization not found.');
  return readable;
}

export function withPeople(rows: ActivityRow[], people: Map<string, { id: string; name: string; email: string }>): ActivityEntry[] {
  return rows.map((row) => ({
    ...row,
    actor: row.actorUserId ? (people.get(row.actorUserId) ?? null) : null,
    subject: row.subjectUserId ? (people.get(row.subjectUserId) ?? null) : null,
  }));
}

/** One page of `Query.activity`: newest first, keyset on `seq`, one row more than asked to know whether more follow. */
export async function listActivity(
  services: Pick<Services, 'db'>,
  input: { viewer: Viewer; organizationId: string | null; filter: ActivityFilter; first: number; after: string | null },
) {
  if (input.first < 0) throw new AppError('BAD_USER_INPUT', 'first must not be negative.', { field: 'first', reason: 'INVALID_PAGINATION' });
  const readable = await readableOrNotFound(services, input.viewer, input.organizationId);
  const afterSeq = input.after ? parseCursor(input.after) : null;
  const rows = await readActivityBatch(services.db, { readable, filter: input.filter, order: 'newest', afterSeq, limit: input.first + 1 });
  const page = rows.slice(0, input.first);
  const entries = withPeople(page, await activityPeople(services.db, page));
  const edges = entries.map((node) => ({ cursor: activityCursor(node.seq), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > input.first,
      hasPreviousPage: afterSeq !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
