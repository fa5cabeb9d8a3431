import type { Db } from '../../db/client.ts';
import type { Viewer } from '../auth/viewer.ts';

/** May the viewer hear an organization's activity right now? Read fresh from the database on every event. */
export async function mayFollowOrganization(db: Db, viewer: Viewer, organizationId: string): Promise<boolean> {
  if (viewer.roles.includes('ADMIN')) return true;
  return (await db.membership.count({ where: { userId: viewer.userId, organizationId } })) > 0;
}
