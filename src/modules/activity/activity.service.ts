import type { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../../db/client.ts';
import { notePendingActivity } from '../../realtime/publish.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';

/** Who acts in a request, and from where: what an audit row records about them. */
export interface Actor {
  viewer: { userId: string };
  client: ClientInfo;
}

/** The actor's fields of an activity row in an organization. */
export const auditFields = (actor: Actor, organizationId: string) => ({
  actorUserId: actor.viewer.userId,
  organizationId,
  ip: actor.client.ip,
  userAgent: actor.client.userAgent,
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
  /** Facts about the event. Never secrets: no passwords, tokens, keys or links. */
  data?: Prisma.InputJsonValue;
}

/**
 * Appends one event to the activity record (append-only: nothing updates or deletes these rows) and queues it for
 * subscribers, who hear it once the request's transaction has committed.
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
      data: input.data ?? {},
    },
  });
  notePendingActivity(row.id);
}
