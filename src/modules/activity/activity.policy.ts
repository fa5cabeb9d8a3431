import type { Db } from '../../db/client.ts';
import { isLimitedSession, type Viewer } from '../auth/viewer.ts';

/** May the viewer hear an organization's activity right now? Read fresh from the database on every event. */
export async function mayFollowOrganization(db: Db, viewer: Viewer, organizationId: string): Promise<boolean> {
  if (viewer.roles.includes('ADMIN')) return true;
  if (isLimitedSession(viewer)) return false;
  if (viewer.organizationScope && viewer.organizationScope !== organizationId) return false;
  return (await db.membership.count({ where: { userId: viewer.userId, organizationId } })) > 0;
}
