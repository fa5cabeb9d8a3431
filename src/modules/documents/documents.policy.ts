import type { Prisma } from '../../generated/prisma/client.ts';
import type { Viewer } from '../auth/viewer.ts';

/**
 * The documents a viewer may read, as a Prisma `where`: admins read everything; members read their
 * organization's documents, limited to their locations when their membership is location-scoped. Anything
 * outside it is simply not found.
 */
export function readableDocumentsWhere(viewer: Viewer): Prisma.DocumentWhereInput {
  if (viewer.roles.includes('ADMIN')) return {};
  return {
    OR: [
      { organization: { memberships: { some: { userId: viewer.userId, locations: { none: {} } } } } },
      { location: { memberships: { some: { membership: { userId: viewer.userId } } } } },
    ],
  };
}
