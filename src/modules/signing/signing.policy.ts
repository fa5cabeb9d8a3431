import type { Db } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { AppError } from '../../lib/errors.ts';
import type { MembershipAccess } from '../auth/permissions.ts';
import { isLimitedSession, type Viewer } from '../auth/viewer.ts';
import { mayReadDocument } from '../documents/documents.policy.ts';
import { OPEN_ORGANIZATION } from '../organizations/organizations.policy.ts';

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

/**
 * The memberships in which an account is a signing manager, each with the locations it manages there. A member
 * whose role holds `signing` is a manager where an active MANAGER or ADMIN signing identity is linked to the account
 * (which an organization admin links, to themselves too), limited to the identity's location when it names one; a
 * holder of the platform MANAGER role is one wherever it holds `signing`, as far as the membership reaches.
 */
async function signingManagerMemberships(access: Viewer['account']): Promise<MembershipAccess[]> {
  const memberships = (await access.memberships()).filter((m) => m.permissions.has('signing'));
  if (memberships.length === 0 || access.roles.includes('MANAGER')) return memberships;
  const identities = await access.managerIdentities();
  return memberships.flatMap((m) => {
    const own = identities.filter((i) => i.organizationId === m.organizationId);
    if (own.length === 0) return [];
    if (own.some((i) => i.locationId === null)) return [m];
    const identityLocations = own.map((i) => i.locationId as string);
    const locationIds = m.locationIds.length === 0 ? identityLocations : m.locationIds.filter((l) => identityLocations.includes(l));
    // An empty list would mean the whole organization: an identity for a location outside the membership grants nothing.
    return locationIds.length === 0 ? [] : [{ ...m, locationIds }];
  });
}

/** Is the account a signing manager in this organization (see signingManagerMemberships)? */
export async function isSigningManagerIn(viewer: Viewer, organizationId: string): Promise<boolean> {
  if (isLimitedSession(viewer)) return false;
  return (await signingManagerMemberships(viewer.account)).some((m) => m.organizationId === organizationId);
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

/** The in-memory twin of managedPackagesWhere, for a package row already loaded. */
export async function managesPackage(viewer: Viewer, pkg: { id: string; organizationId: string; locationId: string | null }): Promise<boolean> {
  const reach = signingReach(viewer);
  if (reach.kind !== 'full' && reach.kind !== 'sender') return false;
  if (reach.kind === 'sender' && pkg.id !== reach.packageId) return false;
  return (await signingManagerMemberships(viewer.account)).some(
    (m) => m.organizationId === pkg.organizationId && (m.locationIds.length === 0 || (pkg.locationId !== null && m.locationIds.includes(pkg.locationId))),
  );
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

/**
 * The slot a signer acts as when several of a package's slots are theirs: the lowest-order one still open, else the
 * lowest-order one. `slots` must be the viewer's own, in signing order.
 */
export function actingSlot<T extends { status: string }>(slots: readonly T[]): T | undefined {
  return slots.find((s) => s.status === 'PENDING' || s.status === 'VIEWED') ?? slots[0];
}

/**
 * Packages assigned to the viewer as a signer. Drafts are the sender's business until they are sent; a closed
 * organization's packages are nobody's business any more.
 */
export async function assignedPackagesWhere(db: Db, viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  return {
    status: { not: 'DRAFT' },
    organization: OPEN_ORGANIZATION,
    ...(viewer.organizationScope ? { organizationId: viewer.organizationScope } : {}),
    signers: { some: await viewerSignerSlotsWhere(db, viewer) },
  };
}

/**
 * Packages the viewer may read: admins any; managers those they manage; signers those assigned to them. A sender
 * or signer session reads only its package, through the two rules above.
 */
export async function readablePackagesWhere(db: Db, viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  // A closed organization's packages are gone for everyone, its signers too.
  if (signingReach(viewer).kind === 'full' && viewer.roles.includes('ADMIN')) return { organization: OPEN_ORGANIZATION };
  return { organization: OPEN_ORGANIZATION, OR: [await managedPackagesWhere(viewer), await assignedPackagesWhere(db, viewer)] };
}

/**
 * May the viewer create a package in this organization (and location)? Not a member: NOT_FOUND, as for any record
 * outside your organizations. A member who is no signing manager there (signingManagerMemberships), or outside the
 * locations they manage: FORBIDDEN.
 */
export async function assertMayCreatePackageIn(viewer: Viewer, input: { organizationId: string; locationId: string | null }): Promise<void> {
  const managed = await managerMembershipIn(viewer, input.organizationId, 'manage signing packages');
  if (managed.locationIds.length > 0 && (!input.locationId || !managed.locationIds.includes(input.locationId))) {
    throw new AppError('FORBIDDEN', 'You can only send packages from the locations you manage.', { field: 'locationId' });
  }
}

/** May the viewer list an organization's packages? Same rule as creating, without a location. */
export async function assertMayListPackagesOf(viewer: Viewer, organizationId: string): Promise<void> {
  await managerMembershipIn(viewer, organizationId, 'list its signing packages');
}

async function managerMembershipIn(viewer: Viewer, organizationId: string, action: string): Promise<MembershipAccess> {
  if (!(await viewer.memberships()).some((m) => m.organizationId === organizationId)) throw new AppError('NOT_FOUND', 'Organization not found.');
  const managed = (await signingManagerMemberships(viewer.account)).find((m) => m.organizationId === organizationId);
  if (!managed) {
    throw new AppError('FORBIDDEN', `Only a manager with the signing permission in this organization can ${action}.`);
  }
  return managed;
}

export const NO_MANAGER_IDENTITY_MESSAGE =
  'Managing signing packages needs a manager or admin signing identity linked to your account. Ask your organization admin to link one.';

/**
 * Every manager-only signing operation (the signing hub, an organization's package list, creating, sending and
 * voiding packages) needs an active MANAGER or ADMIN signing identity on the caller's account (in its organization,
 * for an app session); without one the answer is always 403 NO_MANAGER_IDENTITY, decided before any package or
 * organization is looked at, so it says nothing about them. A sender session acts for its one package, issued by
 * a manager of it, and keeps doing so under managedPackagesWhere's own rule.
 */
export async function assertHasManagerIdentity(db: Db, viewer: Viewer): Promise<void> {
  if (signingReach(viewer).kind === 'sender') return;
  const identity = await db.signingIdentity.findFirst({
    where: { userId: viewer.userId, kind: { in: ['MANAGER', 'ADMIN'] }, revokedAt: null, ...(viewer.organizationScope ? { organizationId: viewer.organizationScope } : {}) },
    select: { id: true },
  });
  if (!identity) throw new AppError('FORBIDDEN', NO_MANAGER_IDENTITY_MESSAGE, { reason: 'NO_MANAGER_IDENTITY' });
}

/**
 * What a signer sees. A signer meets a lender through two records: a package assigned to them and a signer identity
 * linked to their account. What they reach through one of those that they cannot read on their own (as an admin,
 * the package's manager or a member, see READS_ON_ITS_OWN) shows only the fields listed here: a nullable field off
 * the list answers null, a non-null one FORBIDDEN (NOT_FOR_SIGNERS), and a type that is not listed shows nothing.
 * So a new field or type stays hidden from signers until it is added here. signing.visibility.ts enforces this
 * for every field of every object type; the signer-visibility test walks every field a signer can reach.
 */
export interface SignerVisibleType {
  /** Why a signer sees this much of the type, and no more. */
  reason: string;
  fields: readonly string[];
  /** On the viewer's own signer slot (PackageSigner only), these too. */
  ownSlotFields?: readonly string[];
}

export const SIGNER_VISIBLE_FIELDS: Readonly<Record<string, SignerVisibleType>> = {
  SigningPackage: {
    reason: 'What they are asked to sign, by whom, by when and whether they still can; not its drafting history, version or the lender’s void note.',
    fields: ['id', 'title', 'message', 'status', 'sequential', 'expiresAt', 'sentAt', 'completedAt', 'senderName', 'organization', 'location', 'documents', 'signers', 'mySlot'],
  },
  Document: {
    reason: 'The collateral they sign for, what it is and where; not its owner’s contact details, loan, campaigns, other packages or record keeping.',
    fields: ['id', 'collateralKind', 'manufacturer', 'model', 'year', 'serialNumber', 'hudLabelNumber', 'titleNumber', 'addressLine1', 'addressLine2', 'city', 'state', 'postalCode', 'county'],
  },
  PackageSigner: {
    reason: 'How many sign, in which order and whether it is their turn; names, emails, progress, times and decline reasons on their own slot only.',
    fields: ['id', 'order', 'isMyTurn'],
    ownSlotFields: ['name', 'email', 'status', 'viewedAt', 'signedAt', 'declinedAt', 'declineReason'],
  },
  Organization: { reason: 'Who is asking: the lender’s name; its settings, billing, people and structure are internal.', fields: ['id', 'name'] },
  Location: { reason: 'The branch or lot that asks, by name; its code and address are internal.', fields: ['id', 'name'] },
  SigningIdentity: {
    reason: 'Their own signer identity: what it is, which lender linked it and who did.',
    fields: ['id', 'kind', 'email', 'linkedAt', 'linkedByName', 'organization', 'location'],
  },
  Loan: { reason: 'Lender-internal: another person’s balance, arrears and terms are not on the papers they sign.', fields: [] },
  RcmCampaign: { reason: 'Lender-internal: collections outreach.', fields: [] },
  RcmStep: { reason: 'Lender-internal: outreach steps and call-script templates.', fields: [] },
  RcmOutreachAttempt: { reason: 'Lender-internal: the outreach log and its notes.', fields: [] },
  RcmEligibility: { reason: 'Lender-internal: whether collections may start.', fields: [] },
};

/** The records through which a signer reaches a lender's data (see SIGNER_VISIBLE_FIELDS). */
export const SIGNER_ENTRY_TYPES: ReadonlySet<string> = new Set(['SigningPackage', 'SigningIdentity']);

const isAdmin = (viewer: Viewer) => !isLimitedSession(viewer) && viewer.roles.includes('ADMIN');
const isMemberOrAdmin = async (viewer: Viewer, organizationId: string) =>
  isAdmin(viewer) || (await viewer.memberships()).some((m) => m.organizationId === organizationId);

type Row = Record<string, unknown>;
const text = (row: Row, key: string): string | null => (typeof row[key] === 'string' ? (row[key] as string) : null);

/** Does the viewer hold `signing` in the organization (what Document.signingPackages asks of a member)? */
const holdsSigningIn = async (viewer: Viewer, organizationId: string) =>
  (await viewer.memberships()).some((m) => m.organizationId === organizationId && m.permissions.has('signing'));

/**
 * May the viewer read this record on their own, whichever way they reached it? Admins read everything; a package's
 * managers (a sender session included) and the members holding `signing` in its organization read it whole;
 * members read their organization, its locations and the documents their locations cover (as document(id) does).
 * Records of other types follow the record they were reached through. A row missing a key the rule needs is not
 * readable on its own.
 */
export const READS_ON_ITS_OWN: Readonly<Record<string, (viewer: Viewer, row: Row) => Promise<boolean>>> = {
  SigningPackage: async (viewer, row) => {
    const id = text(row, 'id');
    const organizationId = text(row, 'organizationId');
    if (!id || !organizationId) return false;
    return isAdmin(viewer) || (await managesPackage(viewer, { id, organizationId, locationId: text(row, 'locationId') })) || holdsSigningIn(viewer, organizationId);
  },
  SigningIdentity: async (viewer, row) => {
    const organizationId = text(row, 'organizationId');
    return organizationId !== null && isMemberOrAdmin(viewer, organizationId);
  },
  Document: async (viewer, row) => {
    const organizationId = text(row, 'organizationId');
    return organizationId !== null && mayReadDocument(viewer, { organizationId, locationId: text(row, 'locationId') });
  },
  Organization: async (viewer, row) => {
    const id = text(row, 'id');
    return id !== null && isMemberOrAdmin(viewer, id);
  },
  Location: async (viewer, row) => {
    const organizationId = text(row, 'organizationId');
    return organizationId !== null && isMemberOrAdmin(viewer, organizationId);
  },
};

/** Is this PackageSigner row the viewer's own slot? */
export async function isOwnSlot(db: Db, viewer: Viewer, row: Row): Promise<boolean> {
  const id = text(row, 'id');
  const packageId = text(row, 'packageId');
  const email = text(row, 'email');
  if (!id || !packageId || email === null) return false;
  return isViewerSlot(viewer, await viewerSignerIdentities(db, viewer), { id, packageId, email, signerIdentityId: text(row, 'signerIdentityId') });
}

/** The answer to a non-null field a signer may not see. */
export const notForSignersError = (typeName: string, fieldName: string) =>
  new AppError('FORBIDDEN', `${typeName}.${fieldName} is not shown to signers: they see what they are asked to sign and their own slot.`, {
    reason: 'NOT_FOR_SIGNERS',
  });
