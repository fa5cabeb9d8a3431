import type { Prisma } from '../../generated/prisma/client.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import type { RateLimitResult } from '../../lib/rate-limit.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { normaliseEmail } from '../auth/accounts.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import { invitationMail } from '../mail/templates.ts';
import { assertAccountSession, type Viewer } from '../auth/viewer.ts';
import { assertMayGrant, memberOrganizationsWhere, requireMembership, requirePermission } from './organizations.policy.ts';
import { isUniqueViolation, parseLocationIds } from './organizations.service.ts';

type InvitationQuery = { include?: Prisma.InvitationInclude; select?: Prisma.InvitationSelect };
type MembershipQuery = { include?: Prisma.MembershipInclude; select?: Prisma.MembershipSelect };

export const INVITATION_TTL_MS = 7 * 24 * 3600_000;

interface Actor {
  viewer: Viewer;
  client: ClientInfo;
}

const invalidInvitation = () =>
  new AppError('BAD_USER_INPUT', 'This invitation link is invalid, expired, revoked or already used. Ask for a new invitation.', {
    field: 'token',
    reason: 'INVALID_INVITATION',
  });

/**
 * Counts one invitation against the sender's and the organization's windows (INVITATIONS_PER_SENDER and
 * INVITATIONS_PER_ORGANIZATION per INVITATION_WINDOW_SECONDS); over either, RATE_LIMITED with `retryAfter`. Both
 * are looked at before either is counted, so an invitation refused by one limit does not use up the other.
 */
async function countInvitation(services: Services, input: { senderId: string; organizationId: string }): Promise<void> {
  const { perSender, perOrganization, windowSeconds } = services.config.invitations;
  const limits = [
    { key: `invite:sender:${input.senderId}`, rule: { limit: perSender, windowSeconds } },
    { key: `invite:organization:${input.organizationId}`, rule: { limit: perOrganization, windowSeconds } },
  ];
  const refuseIfOver = (results: RateLimitResult[]) => {
    const denied = results.filter((result) => !result.allowed);
    if (denied.length === 0) return;
    throw new AppError('RATE_LIMITED', 'Too many invitations sent. Try again later.', {
      reason: 'TOO_MANY_INVITATIONS',
      retryAfterSeconds: Math.max(1, ...denied.map((result) => result.retryAfterSeconds)),
    });
  };
  refuseIfOver(await Promise.all(limits.map(({ key, rule }) => services.rateLimiter.peek(key, rule))));
  // Concurrent invitations may all have passed the look; the counts decide.
  refuseIfOver(await Promise.all(limits.map(({ key, rule }) => services.rateLimiter.hit(key, rule))));
}

/**
 * Invites an email address into the organization with a role (and optionally limited to locations). A newer
 * invitation to the same address replaces a pending one. The link is mailed after the commit and never logged.
 * Each invitation counts against its sender's and its organization's limits.
 */
export async function inviteMember<Q extends InvitationQuery>(
  services: Services,
  input: Actor & { organizationId: string; email: string; roleId: string; locationIds?: ReadonlyArray<string | number> | null; query?: Q },
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  const actor = await requireMembership(input.viewer, organizationId);
  requirePermission(actor, 'members');
  const email = normaliseEmail(input.email);
  const roleId = parseId(input.roleId, 'roleId');
  const role = await services.db.organizationRole.findFirst({ where: { id: roleId, organizationId }, select: { permissions: true } });
  if (!role) throw new AppError('BAD_USER_INPUT', 'That role is not in this organization.', { field: 'roleId' });
  assertMayGrant(actor, role.permissions);
  const locationIds = await parseLocationIds(services.db, organizationId, input.locationIds ?? []);
  const member = await services.db.membership.findFirst({ where: { organizationId, user: { email } }, select: { id: true } });
  if (member) throw new AppError('CONFLICT', 'That person is already a member of this organization.', { field: 'email' });
  await countInvitation(services, { senderId: input.viewer.userId, organizationId });

  const token = generateSecret();
  const now = services.clock.now();
  const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS);
  const { invitation, organizationName } = await services.db.$transaction(async (tx) => {
    const superseded = (await tx.invitation.findMany({ where: { organizationId, email, status: 'PENDING' }, select: { id: true } })).map((i) => i.id);
    if (superseded.length > 0) {
      await tx.invitation.updateMany({ where: { id: { in: superseded }, status: 'PENDING' }, data: { status: 'REVOKED' } });
      await tx.authToken.updateMany({ where: { invitationId: { in: superseded }, consumedAt: null, revokedAt: null }, data: { revokedAt: now } });
    }
    const created = await tx.invitation.create({
      data: { organizationId, email, roleId, invitedById: input.viewer.userId, expiresAt, createdAt: now, locations: { create: locationIds.map((locationId) => ({ locationId })) } },
      select: { id: true, organization: { select: { name: true } } },
    });
    await tx.authToken.create({
      data: {
        purpose: 'ORGANIZATION_INVITATION',
        tokenHash: hashSecret(token),
        organizationId,
        invitationId: created.id,
        createdById: input.viewer.userId,
        maxUses: 1,
        createdAt: now,
        expiresAt,
      },
    });
    await recordActivity(tx, {
      type: 'member.invited',
      actorUserId: input.viewer.userId,
      organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { invitationId: created.id, roleId, locationIds, supersededInvitationIds: superseded },
    });
    return { invitation: created, organizationName: created.organization.name };
  });

  const link = `${services.config.publicUrl}/accept-invitation?token=${encodeURIComponent(token)}`;
  const mail = invitationMail({ inviterName: input.viewer.name, inviterEmail: input.viewer.email, organizationName, link, days: INVITATION_TTL_MS / 86_400_000 });
  void services.mailer
    .send({ to: email, ...mail })
    .catch((error: unknown) => services.logger.error({ err: error, invitationId: invitation.id }, 'invitation mail failed'));

  return services.db.invitation.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: invitation.id } });
}

/**
 * Accepts an invitation as the signed-in account, whose email must be the invited one. The token is claimed with
 * a conditional update inside the transaction that creates the membership, so of concurrent uses exactly one wins
 * and a failure leaves the token unused.
 */
export async function acceptInvitation<Q extends MembershipQuery>(services: Services, input: Actor & { token: string; query?: Q }) {
  assertAccountSession(input.viewer, 'join organizations');
  if (input.token.length === 0 || input.token.length > 256) throw invalidInvitation();
  const tokenHash = hashSecret(input.token);
  const now = services.clock.now();
  const found = await services.db.authToken.findUnique({
    where: { tokenHash },
    select: {
      purpose: true,
      consumedAt: true,
      revokedAt: true,
      expiresAt: true,
      invitation: { select: { id: true, email: true, status: true, expiresAt: true, organizationId: true, roleId: true, locations: { select: { locationId: true } } } },
    },
  });
  const invitation = found?.invitation;
  if (
    !found ||
    !invitation ||
    found.purpose !== 'ORGANIZATION_INVITATION' ||
    found.consumedAt ||
    found.revokedAt ||
    found.expiresAt <= now ||
    invitation.status !== 'PENDING' ||
    invitation.expiresAt <= now
  ) {
    throw invalidInvitation();
  }
  // Checked before claiming, so someone else holding the link cannot use it up.
  if (invitation.email !== input.viewer.email) {
    throw new AppError('FORBIDDEN', 'This invitation was sent to a different email address. Sign in with the invited address to accept it.', {
      reason: 'INVITATION_EMAIL_MISMATCH',
    });
  }
  // The invitation went to an address; an account that has not proven it holds that address cannot take it.
  const account = await services.db.user.findUniqueOrThrow({ where: { id: input.viewer.userId }, select: { emailVerifiedAt: true } });
  if (!account.emailVerifiedAt) {
    throw new AppError('FORBIDDEN', 'Verify your email address first: follow the link we mailed you, then accept the invitation.', { reason: 'EMAIL_NOT_VERIFIED' });
  }
  const alreadyMember = () => new AppError('CONFLICT', 'You are already a member of this organization.');
  const existing = await services.db.membership.findUnique({ where: { userId_organizationId: { userId: input.viewer.userId, organizationId: invitation.organizationId } }, select: { id: true } });
  if (existing) throw alreadyMember();

  const membershipId = await services.db
    .$transaction(async (tx) => {
      const claimed = await tx.authToken.updateMany({
        where: { tokenHash, purpose: 'ORGANIZATION_INVITATION', consumedAt: null, revokedAt: null, expiresAt: { gt: now } },
        data: { consumedAt: now, lastUsedAt: now, useCount: { increment: 1 }, userId: input.viewer.userId },
      });
      if (claimed.count !== 1) throw invalidInvitation();
      const accepted = await tx.invitation.updateMany({
        where: { id: invitation.id, status: 'PENDING' },
        data: { status: 'ACCEPTED', acceptedById: input.viewer.userId, acceptedAt: now },
      });
      if (accepted.count !== 1) throw invalidInvitation();
      const membership = await tx.membership.create({
        data: {
          userId: input.viewer.userId,
          organizationId: invitation.organizationId,
          roleId: invitation.roleId,
          locations: { create: invitation.locations.map((l) => ({ locationId: l.locationId })) },
        },
        select: { id: true },
      });
      await recordActivity(tx, {
        type: 'member.joined',
        actorUserId: input.viewer.userId,
        subjectUserId: input.viewer.userId,
        organizationId: invitation.organizationId,
        ip: input.client.ip,
        userAgent: input.client.userAgent,
        data: { invitationId: invitation.id, membershipId: membership.id, roleId: invitation.roleId },
      });
      return membership.id;
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? alreadyMember() : error;
    });
  return services.db.membership.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: membershipId } });
}

/** Revokes a pending invitation; its link stops working at once. */
export async function revokeInvitation<Q extends InvitationQuery>(services: Services, input: Actor & { id: string; query?: Q }) {
  const id = parseId(input.id);
  const invitation = await services.db.invitation.findFirst({ where: { id, organization: memberOrganizationsWhere(input.viewer) }, select: { id: true, organizationId: true, email: true } });
  if (!invitation) throw new AppError('NOT_FOUND', 'Invitation not found.');
  requirePermission(await requireMembership(input.viewer, invitation.organizationId, 'Invitation not found.'), 'members');
  const now = services.clock.now();
  await services.db.$transaction(async (tx) => {
    const revoked = await tx.invitation.updateMany({ where: { id, status: 'PENDING' }, data: { status: 'REVOKED' } });
    if (revoked.count !== 1) throw new AppError('CONFLICT', 'Only a pending invitation can be revoked.', { reason: 'NOT_PENDING' });
    await tx.authToken.updateMany({ where: { invitationId: id, consumedAt: null, revokedAt: null }, data: { revokedAt: now } });
    await recordActivity(tx, {
      type: 'invitation.revoked',
      actorUserId: input.viewer.userId,
      organizationId: invitation.organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { invitationId: id },
    });
  });
  return services.db.invitation.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}
