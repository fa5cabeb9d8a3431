import { Prisma } from '../../generated/prisma/client.ts';
import type { SessionKind } from '../../generated/prisma/enums.ts';
import type { Db } from '../../db/client.ts';
import { currentRequestScope } from '../../lib/request-scope.ts';
import { notePendingActivity } from '../../realtime/publish.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';

/** Who acts in a request, and from where: what an audit row records about them. */
export interface Actor {
  viewer: { userId: string; sessionKind?: SessionKind };
  client: ClientInfo;
}

/** The actor's fields of an activity row in an organization. */
export const auditFields = (actor: Actor, organizationId: string) => ({
  actorUserId: actor.viewer.userId,
  organizationId,
  ip: actor.client.ip,
  userAgent: actor.client.userAgent,
  sessionKind: actor.viewer.sessionKind ?? null,
});

export interface ActivityInput {
  type: string;
  actorUserId?: string | null;
  subjectUserId?: string | null;
  organizationId?: string | null;
  documentId?: string | null;
  packageId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** The kind of session the actor acted in (password, app sign-in, token...), when the writer knows it. */
  sessionKind?: SessionKind | null;
  /**
   * Facts about the event, as ids and codes. Never secrets (no passwords, tokens, keys or links) and never personal
   * data (no names or emails: they are looked up by id when the row is read, so erasing a person leaves the row).
   */
  data?: Prisma.InputJsonValue;
}

/** The kind of the request's session, when the actor is the account signed in to it. */
function requestSessionKindOf(actorUserId: string | null | undefined): SessionKind | null {
  const session = currentRequestScope()?.session;
  return actorUserId && session?.userId === actorUserId ? session.kind : null;
}

/**
 * Appends one event to the activity record and queues it for subscribers, who hear it once the request's
 * transaction has committed. The database links the row into its chain (the organization's, or the platform's when
 * it has none) as it is inserted, and refuses any later UPDATE or DELETE of it: see the activity migration.
 */
export async function recordActivity(db: Pick<Db, 'activity'>, input: ActivityInput): Promise<void> {
  const row = await db.activity.create({
    select: { id: true },
    data: {
      type: input.type,
      actorUserId: input.actorUserId ?? null,
      subjectUserId: input.subjectUserId ?? null,
      organizationId: input.organizationId ?? null,
      documentId: input.documentId ?? null,
      packageId: input.packageId ?? null,
      ip: input.ip ?? null,
      userAgent: input.userAgent?.slice(0, 512) ?? null,
      sessionKind: input.sessionKind ?? requestSessionKindOf(input.actorUserId),
      data: input.data ?? {},
    },
  });
  notePendingActivity(row.id);
}

/** One activity row as the reading side sees it. */
export interface ActivityRow {
  id: string;
  seq: bigint;
  type: string;
  occurredAt: Date;
  actorUserId: string | null;
  subjectUserId: string | null;
  organizationId: string | null;
  documentId: string | null;
  packageId: string | null;
  ip: string | null;
  userAgent: string | null;
  sessionKind: SessionKind | null;
  data: unknown;
  chainSeq: bigint;
  prevHash: string;
  hash: string;
}

/** What a reader narrows the record to. Every condition given must hold. */
export interface ActivityFilter {
  actorUserId?: string | null;
  /** An event type (`document.registered`), or a prefix ending in `.*` (`signing.*`). */
  type?: string | null;
  /** A record id: the row's document, package or subject account, or any id among its `data` facts. */
  subjectId?: string | null;
  /** From this instant (inclusive) to `to` (exclusive). */
  from?: Date | null;
  to?: Date | null;
}

const ACTIVITY_COLUMNS = Prisma.sql`a."id", a."seq", a."type", a."occurredAt", a."actorUserId", a."subjectUserId", a."organizationId", a."documentId",
  a."packageId", a."ip", a."userAgent", a."sessionKind"::text AS "sessionKind", a."data", a."chainSeq", a."prevHash", a."hash"`;

function filterSql(filter: ActivityFilter): Prisma.Sql[] {
  const parts: Prisma.Sql[] = [];
  if (filter.actorUserId) parts.push(Prisma.sql`a."actorUserId" = ${filter.actorUserId}::uuid`);
  if (filter.type) {
    parts.push(filter.type.endsWith('.*') ? Prisma.sql`starts_with(a."type", ${filter.type.slice(0, -1)})` : Prisma.sql`a."type" = ${filter.type}`);
  }
  if (filter.subjectId) {
    const id = filter.subjectId;
    parts.push(Prisma.sql`(a."documentId" = ${id}::uuid OR a."packageId" = ${id}::uuid OR a."subjectUserId" = ${id}::uuid
      OR CASE WHEN jsonb_typeof(a."data") = 'object' THEN EXISTS (SELECT 1 FROM jsonb_each_text(a."data") f WHERE f.value = ${id}) ELSE FALSE END)`);
  }
  if (filter.from) parts.push(Prisma.sql`a."occurredAt" >= ${filter.from}`);
  if (filter.to) parts.push(Prisma.sql`a."occurredAt" < ${filter.to}`);
  return parts;
}

/**
 * One batch of the rows `readable` (activity.policy.ts) selects, narrowed by `filter`, in `seq` order from a cursor
 * (exclusive): newest first for pages, oldest first for exports. Keyset on the unique `seq`, so a batch costs the
 * same wherever it starts.
 */
export async function readActivityBatch(
  db: Pick<Db, '$queryRaw'>,
  input: { readable: Prisma.Sql; filter: ActivityFilter; order: 'newest' | 'oldest'; afterSeq: bigint | null; limit: number },
): Promise<ActivityRow[]> {
  const conditions = [input.readable, ...filterSql(input.filter)];
  if (input.afterSeq !== null) conditions.push(input.order === 'newest' ? Prisma.sql`a."seq" < ${input.afterSeq}` : Prisma.sql`a."seq" > ${input.afterSeq}`);
  const order = input.order === 'newest' ? Prisma.sql`a."seq" DESC` : Prisma.sql`a."seq" ASC`;
  return db.$queryRaw<ActivityRow[]>`SELECT ${ACTIVITY_COLUMNS} FROM "Activity" a WHERE ${Prisma.join(conditions, ' AND ')} ORDER BY ${order} LIMIT ${input.limit}`;
}

/** The people an activity page names, looked up by id when it is read (rows hold no names or emails). */
export async function activityPeople(db: Pick<Db, 'user'>, rows: readonly ActivityRow[]): Promise<Map<string, { id: string; name: string; email: string }>> {
  const ids = [...new Set(rows.flatMap((r) => [r.actorUserId, r.subjectUserId]).filter((id): id is string => id !== null))];
  if (ids.length === 0) return new Map();
  const users = await db.user.findMany({ where: { id: { in: ids } }, select: { id: true, name: true, email: true } });
  return new Map(users.map((u) => [u.id, u]));
}
