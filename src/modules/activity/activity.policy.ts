import type { Db } from '../../db/client.ts';
import { Prisma } from '../../generated/prisma/client.ts';
import { loadMemberships } from '../auth/permissions.ts';
import { isLimitedSession, type Viewer } from '../auth/viewer.ts';
import { managedPackagesWhere } from '../signing/signing.policy.ts';

/**
 * The one rule for reading the activity record, shared by `Query.activity`, the REST list and export, and the live
 * `activity` subscription (which asks it again for every event, so a member removed from an organization stops
 * hearing it at once). It answers an SQL condition on `"Activity" a` selecting the rows of one chain the viewer may
 * read (the organization's, or the platform chain when `organizationId` is null), or null when the viewer may read
 * none of it (callers answer NOT_FOUND).
 *
 * - Platform admins read every chain, the platform chain included (nobody else reads that one).
 * - Members (full sessions, and app sign-in sessions of this organization) read the events about the records they
 *   may read: documents of their organization, limited to their locations when their membership is
 *   location-scoped, and signing packages they manage (signing.policy.ts).
 * - Events about no record (the organization itself, its members, roles, settings, app access, sign-ins) need the
 *   orgSettings permission.
 * - Sender and signer token sessions read nothing.
 *
 * Memberships are read fresh from the database on every call.
 */
export async function readableActivity(db: Db, viewer: Viewer, organizationId: string | null): Promise<Prisma.Sql | null> {
  const inChain = organizationId === null ? Prisma.sql`a."organizationId" IS NULL` : Prisma.sql`a."organizationId" = ${organizationId}::uuid`;
  if (viewer.roles.includes('ADMIN')) return inChain;
  if (organizationId === null || isLimitedSession(viewer)) return null;
  if (viewer.organizationScope && viewer.organizationScope !== organizationId) return null;
  const membership = (await loadMemberships(db, viewer.userId)).find((m) => m.organizationId === organizationId);
  if (!membership) return null;

  const readableDocument =
    membership.locationIds.length === 0
      ? Prisma.sql`TRUE`
      : Prisma.sql`EXISTS (SELECT 1 FROM "Document" d WHERE d."id" = a."documentId" AND d."locationId" = ANY(${[...membership.locationIds]}::uuid[]))`;
  const managed = await db.signingPackage.findMany({ where: { AND: [await managedPackagesWhere(viewer), { organizationId }] }, select: { id: true } });
  const parts = [
    Prisma.sql`(a."documentId" IS NOT NULL AND a."packageId" IS NULL AND ${readableDocument})`,
    Prisma.sql`(a."packageId" = ANY(${managed.map((p) => p.id)}::uuid[]) AND (a."documentId" IS NULL OR ${readableDocument}))`,
  ];
  if (membership.permissions.has('orgSettings')) parts.push(Prisma.sql`(a."documentId" IS NULL AND a."packageId" IS NULL)`);
  return Prisma.sql`(${inChain} AND (${Prisma.join(parts, ' OR ')}))`;
}

/** May the viewer read this one activity row? The subscription's check, with the same rule as the lists. */
export async function mayReadActivity(db: Db, viewer: Viewer, event: { id: string; organizationId: string | null }): Promise<boolean> {
  const readable = await readableActivity(db, viewer, event.organizationId);
  if (!readable) return false;
  const rows = await db.$queryRaw<unknown[]>`SELECT 1 FROM "Activity" a WHERE a."id" = ${event.id}::uuid AND ${readable}`;
  return rows.length > 0;
}
