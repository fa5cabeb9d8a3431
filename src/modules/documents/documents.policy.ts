import type { Prisma } from '../../generated/prisma/client.ts';
import type { PermissionKey } from '../../generated/prisma/enums.ts';
import { AppError } from '../../lib/errors.ts';
import { isLimitedSession, type Viewer } from '../auth/viewer.ts';
import { OPEN_ORGANIZATION } from '../organizations/organizations.policy.ts';

/**
 * The documents a viewer may read, as a Prisma `where`: admins read everything; members read their
 * organization's documents, limited to their locations when their membership is location-scoped. Anything
 * outside it, or in a closed organization, is simply not found.
 */
export function readableDocumentsWhere(viewer: Viewer): Prisma.DocumentWhereInput {
  if (viewer.roles.includes('ADMIN')) return { organization: OPEN_ORGANIZATION };
  if (isLimitedSession(viewer)) return { id: { in: [] } };
  return {
    organization: OPEN_ORGANIZATION,
    ...(viewer.organizationScope ? { organizationId: viewer.organizationScope } : {}),
    OR: [
      { organization: { memberships: { some: { userId: viewer.userId, locations: { none: {} } } } } },
      { location: { memberships: { some: { membership: { userId: viewer.userId } } } } },
    ],
  };
}

/**
 * The in-memory twin of readableDocumentsWhere, for a row already loaded some other way (through a signing
 * package): may the viewer read this document on its own?
 */
export async function mayReadDocument(viewer: Viewer, document: { organizationId: string; locationId: string | null }): Promise<boolean> {
  if (viewer.roles.includes('ADMIN')) return true;
  if (isLimitedSession(viewer)) return false;
  return (await viewer.memberships()).some(
    (m) =>
      m.organizationId === document.organizationId &&
      (m.locationIds.length === 0 || (document.locationId !== null && m.locationIds.includes(document.locationId))),
  );
}

/**
 * Documents the viewer may change with `permission` (documents, loans, rcm): readable ones in organizations
 * where the viewer's role holds that key. Admin's global access is read-only, so admins get no shortcut here.
 */
export async function writableDocumentsWhere(viewer: Viewer, permission: PermissionKey): Promise<Prisma.DocumentWhereInput> {
  const memberships = (await viewer.memberships()).filter((m) => m.permissions.has(permission));
  if (memberships.length === 0) return { id: { in: [] } };
  return {
    OR: memberships.map((m) =>
      m.locationIds.length === 0
        ? { organizationId: m.organizationId }
        : { organizationId: m.organizationId, locationId: { in: [...m.locationIds] } },
    ),
  };
}

/** May the viewer create records with `permission` in this organization (and location, when given)? */
export async function assertMayWriteIn(viewer: Viewer, input: { organizationId: string; locationId: string | null; permission: PermissionKey }): Promise<void> {
  const membership = (await viewer.memberships()).find((m) => m.organizationId === input.organizationId);
  if (!membership) throw new AppError('NOT_FOUND', 'Organization not found.');
  if (!membership.permissions.has(input.permission)) {
    throw new AppError('FORBIDDEN', `Your role in this organization lacks the ${input.permission} permission.`);
  }
  if (membership.locationIds.length > 0 && (!input.locationId || !membership.locationIds.includes(input.locationId))) {
    throw new AppError('FORBIDDEN', 'You can only work in the locations your membership covers.', { field: 'locationId' });
  }
}
