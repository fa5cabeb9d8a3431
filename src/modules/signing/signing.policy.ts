import type { Db } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { AppError } from '../../lib/errors.ts';
import type { MembershipAccess } from '../auth/permissions.ts';
import type { Viewer } from '../auth/viewer.ts';

/** Matches no row. */
const nothing = () => ({ id: { in: [] as string[] } });

/** The memberships that make the viewer a signing manager: platform role MANAGER and `signing` in the organization. */
async function signingManagerMemberships(viewer: Viewer): Promise<MembershipAccess[]> {
  if (!viewer.roles.includes('MANAGER')) return [];
  return (await viewer.memberships()).filter((m) => m.permissions.has('signing'));
}

/**
 * Packages the viewer manages (may list, send and void): those of organizations where the viewer is a signing
 * manager, limited to the membership's locations when it is location-scoped (a scoped manager does not see
 * packages without a location). Admin's global access is read-only, so admins get no shortcut here.
 */
export async function managedPackagesWhere(viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  const memberships = await signingManagerMemberships(viewer);
  if (memberships.length === 0) return nothing();
  return {
    OR: memberships.map((m) =>
      m.locationIds.length === 0 ? { organizationId: m.organizationId } : { organizationId: m.organizationId, locationId: { in: [...m.locationIds] } },
    ),
  };
}

export interface SignerIdentityRef {
  id: string;
  email: string | null;
}

// One lookup per request: the viewer object lives exactly as long as its request.
const signerIdentitiesCache = new WeakMap<Viewer, Promise<SignerIdentityRef[]>>();

/** The viewer's active SIGNER identities (the ones that fill the signer queue). */
export function viewerSignerIdentities(db: Db, viewer: Viewer): Promise<SignerIdentityRef[]> {
  let identities = signerIdentitiesCache.get(viewer);
  if (!identities) {
    identities = db.signingIdentity.findMany({ where: { userId: viewer.userId, kind: 'SIGNER', revokedAt: null }, select: { id: true, email: true } });
    signerIdentitiesCache.set(viewer, identities);
  }
  return identities;
}

/**
 * The signer slots that belong to the viewer: bound to one of the viewer's active signer identities, or addressed
 * to the email of one. Matching by email at query time is what lets an identity linked after the package was
 * created see it.
 */
export async function viewerSignerSlotsWhere(db: Db, viewer: Viewer): Promise<Prisma.PackageSignerWhereInput> {
  const identities = await viewerSignerIdentities(db, viewer);
  if (identities.length === 0) return nothing();
  const emails = [...new Set(identities.flatMap((i) => (i.email ? [i.email.toLowerCase()] : [])))];
  return { OR: [{ signerIdentityId: { in: identities.map((i) => i.id) } }, ...(emails.length ? [{ email: { in: emails } }] : [])] };
}

/** Is this slot the viewer's? The in-memory twin of viewerSignerSlotsWhere, for per-row fields like isMyTurn. */
export function isViewerSlot(identities: SignerIdentityRef[], slot: { signerIdentityId: string | null; email: string }): boolean {
  return identities.some((i) => i.id === slot.signerIdentityId || (i.email !== null && i.email.toLowerCase() === slot.email));
}

/** Packages assigned to the viewer as a signer. Drafts are the sender's business until they are sent. */
export async function assignedPackagesWhere(db: Db, viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  return { status: { not: 'DRAFT' }, signers: { some: await viewerSignerSlotsWhere(db, viewer) } };
}

/** Packages the viewer may read: admins any; managers those they manage; signers those assigned to them. */
export async function readablePackagesWhere(db: Db, viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  if (viewer.roles.includes('ADMIN')) return {};
  return { OR: [await managedPackagesWhere(viewer), await assignedPackagesWhere(db, viewer)] };
}

/**
 * May the viewer create a package in this organization (and location)? Not a member: NOT_FOUND, as for any record
 * outside your organizations. A member without the manager role or `signing`, or outside the membership's
 * locations: FORBIDDEN.
 */
export async function assertMayCreatePackageIn(viewer: Viewer, input: { organizationId: string; locationId: string | null }): Promise<void> {
  const membership = (await viewer.memberships()).find((m) => m.organizationId === input.organizationId);
  if (!membership) throw new AppError('NOT_FOUND', 'Organization not found.');
  if (!viewer.roles.includes('MANAGER') || !membership.permissions.has('signing')) {
    throw new AppError('FORBIDDEN', 'Only a manager with the signing permission in this organization can manage signing packages.');
  }
  if (membership.locationIds.length > 0 && (!input.locationId || !membership.locationIds.includes(input.locationId))) {
    throw new AppError('FORBIDDEN', 'You can only send packages from the locations your membership covers.', { field: 'locationId' });
  }
}

/** May the viewer list an organization's packages? Same rule as creating, without a location. */
export async function assertMayListPackagesOf(viewer: Viewer, organizationId: string): Promise<void> {
  const membership = (await viewer.memberships()).find((m) => m.organizationId === organizationId);
  if (!membership) throw new AppError('NOT_FOUND', 'Organization not found.');
  if (!viewer.roles.includes('MANAGER') || !membership.permissions.has('signing')) {
    throw new AppError('FORBIDDEN', 'Only a manager with the signing permission in this organization can list its signing packages.');
  }
}

export const SIGNING_HUB_FORBIDDEN_MESSAGE =
  'The signing hub needs a manager or admin identity linked to your account. Ask your organization admin to link one.';

/** The signing hub opens only for accounts with an active MANAGER or ADMIN signing identity. */
export async function assertMayOpenSigningHub(db: Db, viewer: Viewer): Promise<void> {
  const identity = await db.signingIdentity.findFirst({
    where: { userId: viewer.userId, kind: { in: ['MANAGER', 'ADMIN'] }, revokedAt: null },
    select: { id: true },
  });
  if (!identity) throw new AppError('FORBIDDEN', SIGNING_HUB_FORBIDDEN_MESSAGE, { reason: 'NO_MANAGER_IDENTITY' });
}
