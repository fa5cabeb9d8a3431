import type { Prisma } from '../../generated/prisma/client.ts';
import type { Viewer } from '../auth/viewer.ts';

/** Organizations a viewer may read: admins all of them, everyone else those they are a member of. */
export function readableOrganizationsWhere(viewer: Viewer): Prisma.OrganizationWhereInput {
  if (viewer.roles.includes('ADMIN')) return {};
  return { memberships: { some: { userId: viewer.userId } } };
}
