import type { Db } from '../../db/client.ts';
import type { PermissionKey } from '../../generated/prisma/enums.ts';

export const PERMISSION_KEYS: readonly PermissionKey[] = ['orgSettings', 'billing', 'members', 'documents', 'loans', 'rcm', 'signing'];

/** A member's standing in one organization, as authorization checks need it. */
export interface MembershipAccess {
  organizationId: string;
  isOwner: boolean;
  permissions: ReadonlySet<PermissionKey>;
  /** Empty: the whole organization. Otherwise only these locations. */
  locationIds: readonly string[];
}

/** The role's permission keys, plus `billing` for owners, whatever their role. */
export function effectivePermissions(rolePermissions: readonly PermissionKey[], isOwner: boolean): Set<PermissionKey> {
  const permissions = new Set(rolePermissions);
  if (isOwner) permissions.add('billing');
  return permissions;
}

/**
 * Reads the user's memberships fresh (one query), so a removed membership stops counting at once. Memberships of a
 * closed organization never count: closing it ends every member's access on their next request.
 */
export async function loadMemberships(db: Db, userId: string): Promise<MembershipAccess[]> {
  const rows = await db.membership.findMany({
    where: { userId, organization: { closedAt: null } },
    select: { organizationId: true, isOwner: true, role: { select: { permissions: true } }, locations: { select: { locationId: true } } },
  });
  return rows.map((row) => ({
    organizationId: row.organizationId,
    isOwner: row.isOwner,
    permissions: effectivePermissions(row.role.permissions, row.isOwner),
    locationIds: row.locations.map((l) => l.locationId),
  }));
}

/** An active MANAGER or ADMIN signing identity: what makes a member with `signing` a signing manager there. */
export interface ManagerIdentityAccess {
  organizationId: string;
  /** Null: the whole organization (as far as the membership reaches). Otherwise only this location. */
  locationId: string | null;
}

/** Reads the user's active manager and admin signing identities fresh (one query), so an unlinked one stops counting at once. */
export async function loadManagerIdentities(db: Db, userId: string): Promise<ManagerIdentityAccess[]> {
  return db.signingIdentity.findMany({
    where: { userId, kind: { in: ['MANAGER', 'ADMIN'] }, revokedAt: null },
    select: { organizationId: true, locationId: true },
  });
}
