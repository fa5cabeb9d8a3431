import type { Prisma } from '../../generated/prisma/client.ts';
import type { PermissionKey } from '../../generated/prisma/enums.ts';
import { AppError } from '../../lib/errors.ts';
import { isUuid } from '../../lib/ids.ts';
import type { MembershipAccess } from '../auth/permissions.ts';
import { isLimitedSession, type Viewer } from '../auth/viewer.ts';

/**
 * Organizations still in use: a closed one (closing.ts) is reached by nobody, platform admins included, while it
 * waits for its purge.
 */
export const OPEN_ORGANIZATION: Prisma.OrganizationWhereInput = { closedAt: null };

/** Organizations a viewer may read: admins all open ones, everyone else those they are a member of. */
export function readableOrganizationsWhere(viewer: Viewer): Prisma.OrganizationWhereInput {
  if (viewer.roles.includes('ADMIN')) return OPEN_ORGANIZATION;
  return memberOrganizationsWhere(viewer);
}

/** Open organizations the viewer is a member of: the only ones whose records the viewer may change. */
export function memberOrganizationsWhere(viewer: Viewer): Prisma.OrganizationWhereInput {
  if (isLimitedSession(viewer)) return { id: { in: [] } };
  return { ...OPEN_ORGANIZATION, memberships: { some: { userId: viewer.userId } }, ...(viewer.organizationScope ? { id: viewer.organizationScope } : {}) };
}

const organizationNotFound = () => new AppError('NOT_FOUND', 'Organization not found.', { field: 'organizationId' });

/**
 * The scope-auth rule of a root field addressed by organization id: the permission (or ownership) in that
 * organization. An organization the viewer cannot see is NOT_FOUND rather than FORBIDDEN, so its existence does
 * not leak; no session, or a sender or signer session, falls through to `signedIn`, which fails as
 * UNAUTHENTICATED or LIMITED_SESSION.
 */
export async function organizationScope(viewer: Viewer | null, rawOrganizationId: string | number, rule: PermissionKey | 'owner') {
  if (!viewer || isLimitedSession(viewer)) return { signedIn: true } as const;
  const organizationId = String(rawOrganizationId).toLowerCase();
  if (!isUuid(organizationId)) throw new AppError('BAD_USER_INPUT', 'organizationId must be a UUID.', { field: 'organizationId' });
  const isMember = (await viewer.memberships()).some((m) => m.organizationId === organizationId);
  if (!isMember && !viewer.roles.includes('ADMIN')) throw organizationNotFound();
  return rule === 'owner' ? { orgOwner: organizationId } : { orgPermission: { organizationId, permission: rule } };
}

/** The viewer's membership in an organization; a non-member gets NOT_FOUND with the given message. */
export async function requireMembership(viewer: Viewer, organizationId: string, notFoundMessage = 'Organization not found.'): Promise<MembershipAccess> {
  const membership = (await viewer.memberships()).find((m) => m.organizationId === organizationId);
  if (!membership) throw new AppError('NOT_FOUND', notFoundMessage);
  return membership;
}

/** FORBIDDEN unless the membership's effective permissions hold the key. */
export function requirePermission(membership: MembershipAccess, permission: PermissionKey): void {
  if (!membership.permissions.has(permission)) {
    throw new AppError('FORBIDDEN', `Your role in this organization does not have the ${permission} permission.`);
  }
}

/**
 * Stops a member admin from raising anyone (themself included) above their own standing: a non-owner may only
 * create, edit, assign or remove roles whose permission keys they hold themselves. Owners may grant anything.
 */
export function assertMayGrant(membership: MembershipAccess, permissions: readonly PermissionKey[]): void {
  if (membership.isOwner) return;
  const missing = permissions.filter((p) => !membership.permissions.has(p));
  if (missing.length > 0) {
    throw new AppError('FORBIDDEN', `Only an owner can manage roles with permissions you do not hold (${missing.join(', ')}).`, { reason: 'PERMISSION_ESCALATION' });
  }
}

/** Only owners change or remove another owner's membership. */
export function assertMayManageMember(actor: MembershipAccess, target: { isOwner: boolean; role: { permissions: readonly PermissionKey[] } }): void {
  if (target.isOwner && !actor.isOwner) throw new AppError('FORBIDDEN', "Only an owner can change or remove an owner's membership.");
  assertMayGrant(actor, target.role.permissions);
}
