import type { Services } from '../../graphql/context.ts';
import type { Clock } from '../../lib/clock.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { recordActivity } from '../activity/activity.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import { assertAccountSession, type Viewer } from '../auth/viewer.ts';
import { requireMembership } from './organizations.policy.ts';

const DAY_MS = 86_400_000;

/** When a closed organization may be purged: ORGANIZATION_RETENTION_DAYS after it was closed. */
export function purgeableAfter(closedAt: Date, retentionDays: number): Date {
  return new Date(closedAt.getTime() + retentionDays * DAY_MS);
}

/**
 * Closes an organization, for its owner. From this moment nobody reaches it: its memberships stop counting (see
 * loadMemberships) and it leaves every list and read (organizations.policy.ts). In the same transaction, the ways in
 * that do not go through a membership are shut: pending invitations are revoked, so are its pending tokens (sender,
 * signer and invitation links) and its signing identities, its API registrations and OAuth clients are disabled,
 * and the sessions opened with them or limited to its packages end (the session guard is told to close their live
 * streams at once). Its records stay, untouched, until `npm run organizations:purge` deletes them once
 * ORGANIZATION_RETENTION_DAYS have passed. A closed organization is not found, so closing it twice is NOT_FOUND.
 */
export async function closeOrganization(services: Services, input: { viewer: Viewer; client: ClientInfo; organizationId: string }): Promise<void> {
  assertAccountSession(input.viewer, 'close organizations');
  const organizationId = parseId(input.organizationId, 'organizationId');
  const membership = await requireMembership(input.viewer, organizationId);
  if (!membership.isOwner) throw new AppError('FORBIDDEN', 'Only an owner can close the organization.');
  const now = services.clock.now();
  const retentionDays = services.config.organizations.retentionDays;
  await services.db.$transaction(async (tx) => {
    const closed = await tx.organization.updateMany({ where: { id: organizationId, closedAt: null }, data: { closedAt: now, closedById: input.viewer.userId } });
    if (closed.count !== 1) throw new AppError('NOT_FOUND', 'Organization not found.');
    const invitations = await tx.invitation.updateMany({ where: { organizationId, status: 'PENDING' }, data: { status: 'REVOKED' } });
    await tx.authToken.updateMany({
      where: { OR: [{ organizationId }, { package: { organizationId } }], consumedAt: null, revokedAt: null },
      data: { revokedAt: now },
    });
    await tx.signingIdentity.updateMany({ where: { organizationId, revokedAt: null }, data: { revokedAt: now } });
    await tx.apiRegistration.updateMany({ where: { organizationId, disabledAt: null }, data: { disabledAt: now } });
    await tx.oAuthClient.updateMany({ where: { organizationId, disabledAt: null }, data: { disabledAt: now } });
    const sessions = await tx.loginSession.updateMany({
      where: { revokedAt: null, OR: [{ package: { organizationId } }, { apiRegistration: { organizationId } }] },
      data: { revokedAt: now, revokedReason: 'organization_closed' },
    });
    await recordActivity(tx, {
      type: 'organization.closed',
      actorUserId: input.viewer.userId,
      organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: {
        retentionDays,
        purgeableAfter: purgeableAfter(now, retentionDays).toISOString(),
        invitationsRevoked: invitations.count,
        sessionsEnded: sessions.count,
      },
    });
  });
  // Committed: the app, sender and signer sessions' live streams are checked now, not at the guard's next tick.
  services.events.pubSub.publish('sessionsEnded', { userId: input.viewer.userId });
}

export interface PurgeResult {
  /** The organizations deleted, in the order they were closed. */
  purged: { id: string; closedAt: Date }[];
  /** Closed organizations still inside their retention period. */
  retained: number;
}

/**
 * Deletes every organization closed more than ORGANIZATION_RETENTION_DAYS ago, with its records (locations, roles,
 * memberships, documents, loans, campaigns, packages, identities, credentials), one organization per transaction.
 * Activity rows hold ids without foreign keys and are append-only, so its history stays; the purge itself is
 * recorded as the organization's last activity row.
 */
export async function purgeClosedOrganizations(services: { db: Services['db']; clock: Clock; config: Pick<Services['config'], 'organizations'> }): Promise<PurgeResult> {
  const now = services.clock.now();
  const cutoff = new Date(now.getTime() - services.config.organizations.retentionDays * DAY_MS);
  const due = await services.db.organization.findMany({ where: { closedAt: { lte: cutoff } }, select: { id: true, closedAt: true }, orderBy: { closedAt: 'asc' } });
  const purged: PurgeResult['purged'] = [];
  for (const organization of due) {
    const closedAt = organization.closedAt!;
    await services.db.$transaction(async (tx) => {
      // Memberships first: they hold their role with ON DELETE RESTRICT, and the cascade from the organization
      // reaches roles and memberships in no fixed order.
      await tx.membership.deleteMany({ where: { organizationId: organization.id } });
      await tx.organization.delete({ where: { id: organization.id } });
      await recordActivity(tx, { type: 'organization.purged', organizationId: organization.id, data: { closedAt: closedAt.toISOString() } });
    });
    purged.push({ id: organization.id, closedAt });
  }
  const retained = await services.db.organization.count({ where: { closedAt: { gt: cutoff } } });
  return { purged, retained };
}
