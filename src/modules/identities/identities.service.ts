import type { Prisma } from '../../generated/prisma/client.ts';
import type { IdentityKind } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { normaliseEmail } from '../auth/accounts.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { assertMayLinkIdentity } from './identities.policy.ts';

export interface LinkSigningIdentityInput<Q> {
  /** The selection to return (GraphQL passes the Pothos query). */
  query?: Q;
  viewer: Viewer;
  client: ClientInfo;
  userEmail: string;
  organizationId: string;
  kind: IdentityKind;
  locationId?: string | null;
}

/** Links a signing identity of `kind` in an organization to the account with `userEmail`. */
export async function linkSigningIdentity<Q extends { include?: Prisma.SigningIdentityInclude; select?: Prisma.SigningIdentitySelect }>(
  services: Services,
  input: LinkSigningIdentityInput<Q>,
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  const locationId = input.locationId ? parseId(input.locationId, 'locationId') : null;
  const email = normaliseEmail(input.userEmail, 'userEmail');
  const target = await services.db.user.findUnique({ where: { email }, select: { id: true, email: true, emailVerifiedAt: true } });
  if (!target) throw new AppError('NOT_FOUND', 'No account has that email. Ask the person to sign up first.', { field: 'userEmail' });
  await assertMayLinkIdentity(input.viewer, { organizationId, kind: input.kind, targetUserId: target.id });
  // An identity signs in that person's name: only an address its holder has proven may carry one.
  if (!target.emailVerifiedAt) {
    throw new AppError('FORBIDDEN', 'That account has not verified its email address yet. Ask the person to follow the link they were mailed.', {
      field: 'userEmail',
      reason: 'EMAIL_NOT_VERIFIED',
    });
  }

  if (input.kind !== 'SIGNER') {
    const member = await services.db.membership.findUnique({ where: { userId_organizationId: { userId: target.id, organizationId } }, select: { id: true } });
    if (!member) throw new AppError('BAD_USER_INPUT', 'Manager and admin identities are for members of the organization.', { field: 'userEmail', reason: 'NOT_A_MEMBER' });
  }
  if (locationId) {
    const location = await services.db.location.findFirst({ where: { id: locationId, organizationId }, select: { id: true } });
    if (!location) throw new AppError('BAD_USER_INPUT', 'That location is not in this organization.', { field: 'locationId' });
  }

  const now = services.clock.now();
  const identity = await services.db.$transaction(async (tx) => {
    const existing = await tx.signingIdentity.findUnique({ where: { userId_kind_organizationId: { userId: target.id, kind: input.kind, organizationId } } });
    if (existing && !existing.revokedAt) throw new AppError('CONFLICT', 'That account already has this identity in this organization.');
    const data = { locationId, email: target.email, linkedById: input.viewer.userId, linkedAt: now, revokedAt: null };
    const linked = existing
      ? await tx.signingIdentity.update({ where: { id: existing.id }, data })
      : await tx.signingIdentity.create({ data: { ...data, userId: target.id, kind: input.kind, organizationId } });
    await recordActivity(tx, {
      type: 'identity.linked',
      actorUserId: input.viewer.userId,
      subjectUserId: target.id,
      organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { identityId: linked.id, kind: input.kind },
    });
    return linked;
  });
  return services.db.signingIdentity.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: identity.id } });
}

/** Ends a linked identity; the same people who may link it may unlink it. Others' identities are NOT_FOUND. */
export async function unlinkSigningIdentity(services: Services, input: { viewer: Viewer; client: ClientInfo; id: string }): Promise<void> {
  const id = parseId(input.id);
  const identity = await services.db.signingIdentity.findFirst({ where: { id, revokedAt: null }, select: { id: true, userId: true, kind: true, organizationId: true } });
  const memberships = await input.viewer.memberships();
  if (!identity || !memberships.some((m) => m.organizationId === identity.organizationId)) throw new AppError('NOT_FOUND', 'Signing identity not found.');
  await assertMayLinkIdentity(input.viewer, { organizationId: identity.organizationId, kind: identity.kind, targetUserId: identity.userId });
  await services.db.$transaction(async (tx) => {
    await tx.signingIdentity.update({ where: { id }, data: { revokedAt: services.clock.now() } });
    await recordActivity(tx, {
      type: 'identity.unlinked',
      actorUserId: input.viewer.userId,
      subjectUserId: identity.userId,
      organizationId: identity.organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { identityId: id, kind: identity.kind },
    });
  });
}
