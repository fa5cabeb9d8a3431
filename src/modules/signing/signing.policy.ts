import type { Db } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { AppError } from '../../lib/errors.ts';
import type { MembershipAccess } from '../auth/permissions.ts';
import { isLimitedSession, type Viewer } from '../auth/viewer.ts';

/** Matches no row. */
const nothing = () => ({ id: { in: [] as string[] } });

/**
 * How far a session reaches in the signing module: a full session as far as its roles and identities go; a sender
 * token session manages its one package; a signer token session acts as its one signer slot. A limited session
 * missing its package or slot reaches nothing.
 */
type SigningReach =
  | { kind: 'full' }
  | { kind: 'sender'; packageId: string }
  | { kind: 'signer'; packageId: string; signerId: string }
  | { kind: 'none' };

function signingReach(viewer: Viewer): SigningReach {
  if (!isLimitedSession(viewer)) return { kind: 'full' };
  if (viewer.sessionKind === 'SENDER_TOKEN' && viewer.packageId) return { kind: 'sender', packageId: viewer.packageId };
  if (viewer.sessionKind === 'SIGNER_TOKEN' && viewer.packageId && viewer.signerId) {
    return { kind: 'signer', packageId: viewer.packageId, signerId: viewer.signerId };
  }
  return { kind: 'none' };
}

/** The memberships that make an account a signing manager: platform role MANAGER and `signing` in the organization. */
async function signingManagerMemberships(access: Viewer['account']): Promise<MembershipAccess[]> {
  if (!access.roles.includes('MANAGER')) return [];
  return (await access.memberships()).filter((m) => m.permissions.has('signing'));
}

/**
 * Packages the viewer manages (may list, send and void): those of organizations where the viewer is a signing
 * manager, limited to the membership's locations when it is location-scoped (a scoped manager does not see
 * packages without a location). Admin's global access is read-only, so admins get no shortcut here. A sender
 * session manages its one package, and only while its account still manages it by this same rule.
 */
export async function managedPackagesWhere(viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  const reach = signingReach(viewer);
  if (reach.kind !== 'full' && reach.kind !== 'sender') return nothing();
  const memberships = await signingManagerMemberships(viewer.account);
  if (memberships.length === 0) return nothing();
  const managed: Prisma.SigningPackageWhereInput = {
    OR: memberships.map((m) =>
      m.locationIds.length === 0 ? { organizationId: m.organizationId } : { organizationId: m.organizationId, locationId: { in: [...m.locationIds] } },
    ),
  };
  return reach.kind === 'sender' ? { AND: [{ id: reach.packageId }, managed] } : managed;
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
    identities = db.signingIdentity.findMany({
      where: { userId: viewer.userId, kind: 'SIGNER', revokedAt: null, ...(viewer.organizationScope ? { organizationId: viewer.organizationScope } : {}) },
      select: { id: true, email: true },
    });
    signerIdentitiesCache.set(viewer, identities);
  }
  return identities;
}

/**
 * The signer slots that belong to the viewer: bound to one of the viewer's active signer identities, or addressed
 * to the email of one. Matching by email at query time is what lets an identity linked after the package was
 * created see it. A signer session has only its own slot, and only while it still belongs to its account; a
 * sender session has none; an app sign-in session only slots of its organization's packages.
 */
export async function viewerSignerSlotsWhere(db: Db, viewer: Viewer): Promise<Prisma.PackageSignerWhereInput> {
  const reach = signingReach(viewer);
  if (reach.kind !== 'full' && reach.kind !== 'signer') return nothing();
  const identities = await viewerSignerIdentities(db, viewer);
  if (identities.length === 0) return nothing();
  const emails = [...new Set(identities.flatMap((i) => (i.email ? [i.email.toLowerCase()] : [])))];
  const owned: Prisma.PackageSignerWhereInput = {
    OR: [{ signerIdentityId: { in: identities.map((i) => i.id) } }, ...(emails.length ? [{ email: { in: emails } }] : [])],
  };
  const scoped: Prisma.PackageSignerWhereInput = viewer.organizationScope ? { AND: [{ package: { organizationId: viewer.organizationScope } }, owned] } : owned;
  return reach.kind === 'signer' ? { AND: [{ id: reach.signerId, packageId: reach.packageId }, scoped] } : scoped;
}

/** Is this slot the viewer's? The in-memory twin of viewerSignerSlotsWhere, for per-row fields like isMyTurn. */
export function isViewerSlot(
  viewer: Viewer,
  identities: SignerIdentityRef[],
  slot: { id: string; packageId: string; signerIdentityId: string | null; email: string },
): boolean {
  const reach = signingReach(viewer);
  if (reach.kind === 'sender' || reach.kind === 'none') return false;
  if (reach.kind === 'signer' && (slot.id !== reach.signerId || slot.packageId !== reach.packageId)) return false;
  return identities.some((i) => i.id === slot.signerIdentityId || (i.email !== null && i.email.toLowerCase() === slot.email));
}

/** Packages assigned to the viewer as a signer. Drafts are the sender's business until they are sent. */
export async function assignedPackagesWhere(db: Db, viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  return {
    status: { not: 'DRAFT' },
    ...(viewer.organizationScope ? { organizationId: viewer.organizationScope } : {}),
    signers: { some: await viewerSignerSlotsWhere(db, viewer) },
  };
}

/**
 * Packages the viewer may read: admins any; managers those they manage; signers those assigned to them. A sender
 * or signer session reads only its package, through the two rules above.
 */
export async function readablePackagesWhere(db: Db, viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  if (signingReach(viewer).kind === 'full' && viewer.roles.includes('ADMIN')) return {};
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
    where: { userId: viewer.userId, kind: { in: ['MANAGER', 'ADMIN'] }, revokedAt: null, ...(viewer.organizationScope ? { organizationId: viewer.organizationScope } : {}) },
    select: { id: true },
  });
  if (!identity) throw new AppError('FORBIDDEN', SIGNING_HUB_FORBIDDEN_MESSAGE, { reason: 'NO_MANAGER_IDENTITY' });
}
