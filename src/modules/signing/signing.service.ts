import type { Db } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { PackageStatus } from '../../generated/prisma/enums.ts';
import type { CreationOrder } from '../../graphql/connections.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { optionalText, text } from '../../lib/validate.ts';
import { withActivityPublishing } from '../../realtime/publish.ts';
import { runPeriodically, type PeriodicTask } from '../../lib/periodic.ts';
import { recordActivity, type ActivityInput } from '../activity/activity.service.ts';
import { normaliseEmail } from '../auth/accounts.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { readableDocumentsWhere } from '../documents/documents.policy.ts';
import { OPEN_ORGANIZATION } from '../organizations/organizations.policy.ts';
import {
  actingSlot,
  assertHasManagerIdentity,
  assertMayCreatePackageIn,
  assertMayListPackagesOf,
  assignedPackagesWhere,
  managedPackagesWhere,
  readablePackagesWhere,
  viewerSignerSlotsWhere,
} from './signing.policy.ts';

type PackageQuery = { include?: Prisma.SigningPackageInclude; select?: Prisma.SigningPackageSelect };
type Tx = Prisma.TransactionClient;

interface Actor {
  viewer: Viewer;
  client: ClientInfo;
}

const MAX_DOCUMENTS = 50;
const MAX_SIGNERS = 50;
const OPEN_STATUSES: PackageStatus[] = ['DRAFT', 'SENT'];
/** Packages one expiry run records at most; the next run takes the rest. */
const EXPIRY_BATCH = 500;

function activity(actor: Actor, pkg: { id: string; organizationId: string }, type: string, data?: Prisma.InputJsonValue): ActivityInput {
  return {
    type,
    actorUserId: actor.viewer.userId,
    organizationId: pkg.organizationId,
    packageId: pkg.id,
    ip: actor.client.ip,
    userAgent: actor.client.userAgent,
    ...(data === undefined ? {} : { data }),
  };
}

/**
 * A package's status as it stands at `now`: an open (DRAFT or SENT) package whose deadline has passed is EXPIRED from
 * that moment, whether or not the expiry has been recorded yet. Every answer and every decision uses this; the
 * stored status catches up later (expireOverduePackages), so reads never write.
 */
export function effectiveStatus(pkg: { status: PackageStatus; expiresAt: Date | null }, now: Date): PackageStatus {
  return OPEN_STATUSES.includes(pkg.status) && pkg.expiresAt !== null && pkg.expiresAt <= now ? 'EXPIRED' : pkg.status;
}

/** When the package became EXPIRED: recorded, or its deadline while the expiry is not recorded yet. */
export function effectiveExpiredAt(pkg: { status: PackageStatus; expiresAt: Date | null; expiredAt: Date | null }, now: Date): Date | null {
  return pkg.expiredAt ?? (effectiveStatus(pkg, now) === 'EXPIRED' ? pkg.expiresAt : null);
}

const notOverdue = (now: Date): Prisma.SigningPackageWhereInput => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] });
const overdue = (now: Date): Prisma.SigningPackageWhereInput => ({ status: { in: OPEN_STATUSES }, expiresAt: { lte: now } });

/** Packages whose effective status (see effectiveStatus) is `status` at `now`. */
export function effectiveStatusWhere(status: PackageStatus, now: Date): Prisma.SigningPackageWhereInput {
  if (status === 'EXPIRED') return { OR: [{ status: 'EXPIRED' }, overdue(now)] };
  if (OPEN_STATUSES.includes(status)) return { AND: [{ status }, notOverdue(now)] };
  return { status };
}

/**
 * Records the expiry of open packages whose deadline has passed (all of them, or the one named): status EXPIRED,
 * expiredAt the deadline (when the package became expired, whenever this runs), one activity row per package and
 * so one live event. One conditional update, so concurrent callers (the periodic sweep on several instances, a
 * manager touching the package) never record a package twice. Reads do not call it: they compute the status.
 */
export async function expireOverduePackages(services: Pick<Services, 'db' | 'clock'>, options: { packageId?: string } = {}): Promise<number> {
  const where: Prisma.SigningPackageWhereInput = { ...overdue(services.clock.now()), ...(options.packageId ? { id: options.packageId } : {}) };
  const any = await services.db.signingPackage.findFirst({ where, select: { id: true } });
  if (!any) return 0;
  return services.db.$transaction(async (tx) => {
    const candidates = await tx.signingPackage.findMany({ where, select: { id: true, expiresAt: true }, orderBy: { expiresAt: 'asc' }, take: EXPIRY_BATCH });
    let expired = 0;
    for (const candidate of candidates) {
      // Conditional on still being open: a concurrent sweep that got there first leaves nothing to record here.
      const moved = await tx.signingPackage.updateManyAndReturn({
        where: { id: candidate.id, status: { in: OPEN_STATUSES } },
        data: { status: 'EXPIRED', expiredAt: candidate.expiresAt, version: { increment: 1 } },
        select: { id: true, organizationId: true, expiresAt: true },
      });
      for (const pkg of moved) {
        await recordActivity(tx, { type: 'signing.package.expired', organizationId: pkg.organizationId, packageId: pkg.id, data: { expiresAt: pkg.expiresAt?.toISOString() ?? null } });
        expired += 1;
      }
    }
    return expired;
  });
}

/**
 * Runs expireOverduePackages every `intervalMs` (SIGNING_EXPIRY_SWEEP_SECONDS), publishing the live events of what it
 * records, one run at a time. `stop()` cancels the timer and waits for a run under way.
 */
export function schedulePackageExpiry(services: Pick<Services, 'db' | 'clock' | 'logger' | 'events'>, intervalMs: number): PeriodicTask {
  const publishing = { db: services.db, bus: services.events, logger: services.logger };
  return runPeriodically(
    async () => {
      const count = await withActivityPublishing(publishing, () => expireOverduePackages(services));
      if (count > 0) services.logger.info({ count }, 'signing packages expired');
    },
    intervalMs,
    (error) => services.logger.warn({ err: error }, 'signing package expiry sweep failed'),
  );
}

export interface CreateSigningPackageInput<Q> extends Actor {
  query?: Q;
  organizationId: string;
  locationId?: string | null;
  title: string;
  message?: string | null;
  documentIds: string[];
  signers: Array<{ name: string; email: string }>;
  sequential?: boolean | null;
  expiresAt?: Date | null;
}

/** Creates a DRAFT package of documents the manager may read in the organization, with signers in list order. */
export async function createSigningPackage<Q extends PackageQuery>(services: Services, input: CreateSigningPackageInput<Q>) {
  await assertHasManagerIdentity(services.db, input.viewer);
  const organizationId = parseId(input.organizationId, 'organizationId');
  const locationId = input.locationId ? parseId(input.locationId, 'locationId') : null;
  await assertMayCreatePackageIn(input.viewer, { organizationId, locationId });
  const title = text(input.title, 'title', { max: 200 });
  const message = optionalText(input.message, 'message', { max: 5000, multiline: true });
  const now = services.clock.now();

  if (input.documentIds.length < 1 || input.documentIds.length > MAX_DOCUMENTS) {
    throw new AppError('BAD_USER_INPUT', `A package needs 1 to ${MAX_DOCUMENTS} documents.`, { field: 'documentIds' });
  }
  const documentIds = input.documentIds.map((id) => parseId(id, 'documentIds'));
  if (new Set(documentIds).size !== documentIds.length) {
    throw new AppError('BAD_USER_INPUT', 'A document can be in a package only once.', { field: 'documentIds', reason: 'DUPLICATE_DOCUMENT' });
  }
  if (input.signers.length < 1 || input.signers.length > MAX_SIGNERS) {
    throw new AppError('BAD_USER_INPUT', `A package needs 1 to ${MAX_SIGNERS} signers.`, { field: 'signers' });
  }
  const signers = input.signers.map((s) => ({ name: text(s.name, 'signers.name', { max: 200 }), email: normaliseEmail(s.email, 'signers.email') }));
  if (new Set(signers.map((s) => s.email)).size !== signers.length) {
    throw new AppError('BAD_USER_INPUT', 'Each signer email can appear only once in a package.', { field: 'signers.email', reason: 'DUPLICATE_SIGNER' });
  }
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) {
    throw new AppError('BAD_USER_INPUT', 'expiresAt must be in the future.', { field: 'expiresAt' });
  }
  if (locationId) {
    const location = await services.db.location.findFirst({ where: { id: locationId, organizationId }, select: { id: true } });
    if (!location) throw new AppError('BAD_USER_INPUT', 'That location is not in this organization.', { field: 'locationId' });
  }
  // One answer whether a document does not exist, is elsewhere, or is outside the manager's locations.
  const readable = await services.db.document.count({ where: { AND: [{ id: { in: documentIds }, organizationId }, readableDocumentsWhere(input.viewer)] } });
  if (readable !== documentIds.length) {
    throw new AppError('BAD_USER_INPUT', 'Every document must be one you can read in this organization.', { field: 'documentIds', reason: 'DOCUMENT_NOT_FOUND' });
  }

  const identities = await services.db.signingIdentity.findMany({
    where: { kind: 'SIGNER', revokedAt: null, email: { in: signers.map((s) => s.email) } },
    select: { id: true, email: true, organizationId: true },
    orderBy: { linkedAt: 'asc' },
  });
  // Prefer an identity linked in this organization; any active signer identity with the address will do.
  const identityFor = (email: string) =>
    (identities.find((i) => i.email === email && i.organizationId === organizationId) ?? identities.find((i) => i.email === email))?.id ?? null;

  const created = await services.db.$transaction(async (tx) => {
    const pkg = await tx.signingPackage.create({
      data: {
        organizationId,
        locationId,
        title,
        message,
        sequential: input.sequential ?? true,
        expiresAt: input.expiresAt ?? null,
        createdById: input.viewer.userId,
        documents: { create: documentIds.map((documentId, position) => ({ documentId, position })) },
        signers: { create: signers.map((s, index) => ({ order: index + 1, name: s.name, email: s.email, signerIdentityId: identityFor(s.email) })) },
      },
      select: { id: true, organizationId: true },
    });
    await recordActivity(tx, activity(input, pkg, 'signing.package.created', { documentCount: documentIds.length, signerCount: signers.length }));
    return pkg;
  });
  return services.db.signingPackage.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: created.id } });
}

/**
 * Loads a package the viewer manages, for a manager's transition. A package the viewer can read but not manage
 * (an admin, a signer) is FORBIDDEN; one the viewer cannot read is NOT_FOUND.
 */
async function findManagedPackage(services: Services, viewer: Viewer, id: string) {
  const managed = await services.db.signingPackage.findFirst({
    where: { AND: [{ id }, await managedPackagesWhere(viewer)] },
    select: { id: true, organizationId: true, status: true, expiresAt: true, version: true },
  });
  if (managed) return managed;
  const readable = await services.db.signingPackage.findFirst({ where: { AND: [{ id }, await readablePackagesWhere(services.db, viewer)] }, select: { id: true } });
  if (readable) throw new AppError('FORBIDDEN', 'Only a manager of this package can change it.');
  throw new AppError('NOT_FOUND', 'Signing package not found.');
}

function invalidTransition(from: PackageStatus, action: string): AppError {
  return new AppError('CONFLICT', `A ${from.toLowerCase()} package cannot be ${action}.`, { reason: from === 'EXPIRED' ? 'PACKAGE_EXPIRED' : 'INVALID_TRANSITION' });
}

interface TransitionInput<Q> extends Actor {
  query?: Q;
  id: string;
  /** The version the caller last saw; a different current version is a CONFLICT. */
  expectedVersion?: number | null;
}

async function transitionManagedPackage<Q extends PackageQuery>(
  services: Services,
  input: TransitionInput<Q>,
  rule: { from: PackageStatus[]; action: string; activityType: string; data: (now: Date) => Prisma.SigningPackageUpdateManyMutationInput; activityData?: Prisma.InputJsonValue },
) {
  const id = parseId(input.id);
  await assertHasManagerIdentity(services.db, input.viewer);
  const pkg = await findManagedPackage(services, input.viewer, id);
  const now = services.clock.now();
  const status = effectiveStatus(pkg, now);
  if (status !== pkg.status) {
    // A manager touching an overdue package records its expiry (if the sweep has not yet), then hears it is expired.
    await expireOverduePackages(services, { packageId: id });
  }
  if (!rule.from.includes(status)) throw invalidTransition(status, rule.action);
  if (input.expectedVersion != null && input.expectedVersion !== pkg.version) {
    throw new AppError('CONFLICT', 'The package changed since you loaded it. Reload and try again.', { reason: 'STALE_VERSION' });
  }
  await services.db.$transaction(async (tx) => {
    const where: Prisma.SigningPackageWhereInput = {
      AND: [{ id, status: { in: rule.from }, ...(input.expectedVersion != null ? { version: input.expectedVersion } : {}) }, notOverdue(now)],
    };
    const { count } = await tx.signingPackage.updateMany({ where, data: { ...rule.data(now), version: { increment: 1 } } });
    if (count !== 1) {
      const current = effectiveStatus(await tx.signingPackage.findUniqueOrThrow({ where: { id }, select: { status: true, expiresAt: true } }), now);
      throw rule.from.includes(current)
        ? new AppError('CONFLICT', 'The package changed since you loaded it. Reload and try again.', { reason: 'STALE_VERSION' })
        : invalidTransition(current, rule.action);
    }
    await recordActivity(tx, activity(input, pkg, rule.activityType, rule.activityData));
  });
  return services.db.signingPackage.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/** DRAFT → SENT: signers can now see and sign it. */
export function sendSigningPackage<Q extends PackageQuery>(services: Services, input: TransitionInput<Q>) {
  return transitionManagedPackage(services, input, {
    from: ['DRAFT'],
    action: 'sent',
    activityType: 'signing.package.sent',
    data: (now) => ({ status: 'SENT', sentAt: now }),
  });
}

/** DRAFT or SENT → VOIDED, with the manager's reason. */
export function voidSigningPackage<Q extends PackageQuery>(services: Services, input: TransitionInput<Q> & { reason: string }) {
  const reason = text(input.reason, 'reason', { max: 1000 });
  return transitionManagedPackage(services, input, {
    from: ['DRAFT', 'SENT'],
    action: 'voided',
    activityType: 'signing.package.voided',
    data: (now) => ({ status: 'VOIDED', voidedAt: now, voidReason: reason }),
    activityData: { reason },
  });
}

/** One package the viewer may read (admin, its manager, or an assigned signer); anything else is NOT_FOUND. */
export async function getSigningPackageById<Q extends PackageQuery>(services: Services, options: { viewer: Viewer; id: string; query?: Q }) {
  const id = parseId(options.id);
  const pkg = await services.db.signingPackage.findFirst({
    ...(options.query ?? {}),
    where: { AND: [{ id }, await readablePackagesWhere(services.db, options.viewer)] },
  });
  if (!pkg) throw new AppError('NOT_FOUND', 'Signing package not found.');
  return pkg;
}

const statusFilter = (status: PackageStatus | null | undefined, now: Date): Prisma.SigningPackageWhereInput => (status ? effectiveStatusWhere(status, now) : {});

type ConnectionQuery = PackageQuery & { take?: number; skip?: number; cursor?: Prisma.SigningPackageWhereUniqueInput };

/** An organization's packages, for its signing managers (limited to their locations when scoped). Newest first. */
export async function listSigningPackages<Q extends ConnectionQuery>(
  services: Services,
  options: { viewer: Viewer; organizationId: string; status?: PackageStatus | null; query: Q },
) {
  await assertHasManagerIdentity(services.db, options.viewer);
  const organizationId = parseId(options.organizationId, 'organizationId');
  await assertMayListPackagesOf(options.viewer, organizationId);
  return services.db.signingPackage.findMany({
    ...options.query,
    where: { AND: [{ organizationId }, statusFilter(options.status, services.clock.now()), await managedPackagesWhere(options.viewer)] },
    orderBy: { id: 'desc' },
  });
}

/** Every open organization's packages, read-only, for platform admins (the elevated signing directory). */
export async function listSigningDirectory<Q extends ConnectionQuery>(services: Services, options: { status?: PackageStatus | null; query: Q }) {
  return services.db.signingPackage.findMany({
    ...options.query,
    where: { AND: [statusFilter(options.status, services.clock.now()), { organization: OPEN_ORGANIZATION }] },
    orderBy: { id: 'desc' },
  });
}

/** The signing hub's packages: the ones the caller manages. Needs an active MANAGER or ADMIN signing identity. */
async function signingHubWhere(services: Services, options: { viewer: Viewer; status?: PackageStatus | null }): Promise<Prisma.SigningPackageWhereInput> {
  await assertHasManagerIdentity(services.db, options.viewer);
  return { AND: [statusFilter(options.status, services.clock.now()), await managedPackagesWhere(options.viewer)] };
}

/** The signing hub as one list: the newest 200 packages the caller manages. */
export async function listSigningHubPackages<Q extends PackageQuery>(services: Services, options: { viewer: Viewer; status?: PackageStatus | null; query?: Q }) {
  return services.db.signingPackage.findMany({
    ...(options.query ?? {}),
    where: await signingHubWhere(services, options),
    orderBy: { id: 'desc' },
    take: 200,
  });
}

/** A page of the signing hub, in creation order (the primary key). */
export async function listSigningHubPage<Q extends ConnectionQuery>(
  services: Services,
  options: { viewer: Viewer; status?: PackageStatus | null; order: CreationOrder; query: Q },
) {
  return services.db.signingPackage.findMany({
    ...options.query,
    where: await signingHubWhere(services, options),
    orderBy: { id: options.order === 'OLDEST_FIRST' ? 'asc' : 'desc' },
  });
}

/** How many packages the signing hub holds; refused exactly as the hub is. */
export async function countSigningHubPackages(services: Services, options: { viewer: Viewer; status?: PackageStatus | null }): Promise<number> {
  return services.db.signingPackage.count({ where: await signingHubWhere(services, options) });
}

/** Whether a package is assigned to the viewer as a signer (any status); read fresh for each live event. */
export async function countAssignedPackages(services: Pick<Services, 'db'>, options: { viewer: Viewer; packageId: string }): Promise<number> {
  return services.db.signingPackage.count({ where: { AND: [{ id: options.packageId }, await assignedPackagesWhere(services.db, options.viewer)] } });
}

/** Sent packages waiting on the caller as a signer. No signer identity or nothing assigned: none. */
async function signerQueueWhere(services: Services, viewer: Viewer): Promise<Prisma.SigningPackageWhereInput> {
  return { AND: [effectiveStatusWhere('SENT', services.clock.now()), await assignedPackagesWhere(services.db, viewer)] };
}

/** The signer queue as one list, first sent first. */
export async function listSignerQueue<Q extends PackageQuery>(services: Services, options: { viewer: Viewer; query?: Q }) {
  return services.db.signingPackage.findMany({
    ...(options.query ?? {}),
    where: await signerQueueWhere(services, options.viewer),
    orderBy: [{ sentAt: 'asc' }, { id: 'asc' }],
  });
}

/**
 * A page of the signer queue, in creation order: the primary key serves it, while no index serves the one list's
 * order by sentAt.
 */
export async function listSignerQueuePage<Q extends ConnectionQuery>(services: Services, options: { viewer: Viewer; order: CreationOrder; query: Q }) {
  return services.db.signingPackage.findMany({
    ...options.query,
    where: await signerQueueWhere(services, options.viewer),
    orderBy: { id: options.order === 'OLDEST_FIRST' ? 'asc' : 'desc' },
  });
}

/** How many packages wait on the caller as a signer. */
export async function countSignerQueue(services: Services, options: { viewer: Viewer }): Promise<number> {
  return services.db.signingPackage.count({ where: await signerQueueWhere(services, options.viewer) });
}

interface SignerActionInput<Q> extends Actor {
  query?: Q;
  packageId: string;
}

/**
 * The caller's slot on a package (the lowest-order one still open, should several match). A package the caller
 * can read without being a signer on it is FORBIDDEN; one the caller cannot read at all is NOT_FOUND.
 */
async function findViewerSlot(db: Db | Tx, viewer: Viewer, packageId: string) {
  const slotWhere = await viewerSignerSlotsWhere(db as Db, viewer);
  const slots = await db.packageSigner.findMany({
    where: { AND: [{ packageId, package: { status: { not: 'DRAFT' } } }, slotWhere] },
    select: { id: true, order: true, status: true, package: { select: { id: true, organizationId: true, status: true, expiresAt: true, sequential: true } } },
    orderBy: { order: 'asc' },
  });
  const slot = actingSlot(slots);
  if (slot) return slot;
  const readable = await db.signingPackage.findFirst({ where: { AND: [{ id: packageId }, await readablePackagesWhere(db as Db, viewer)] }, select: { id: true } });
  if (readable) throw new AppError('FORBIDDEN', 'You are not a signer on this package.', { reason: 'NOT_A_SIGNER' });
  throw new AppError('NOT_FOUND', 'Signing package not found.');
}

/**
 * Takes the package's row lock by bumping its version while it is SENT (and not past its deadline). Every signer
 * action starts with it, so concurrent actions on one package run one after another and each sees the others'
 * committed slots: two last signatures cannot both miss completing the package, nor complete it twice.
 */
async function lockSentPackage(tx: Tx, packageId: string, now: Date, action: string): Promise<void> {
  const { count } = await tx.signingPackage.updateMany({
    where: { id: packageId, status: 'SENT', OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    data: { version: { increment: 1 } },
  });
  if (count === 1) return;
  const current = await tx.signingPackage.findUniqueOrThrow({ where: { id: packageId }, select: { status: true, expiresAt: true } });
  if (current.status === 'SENT' || current.status === 'EXPIRED') throw packageExpired();
  throw new AppError('CONFLICT', `This package is ${current.status.toLowerCase()}; it cannot be ${action}.`, { reason: 'INVALID_TRANSITION' });
}

const packageExpired = () => new AppError('CONFLICT', 'This package has expired and can no longer be signed.', { reason: 'PACKAGE_EXPIRED' });

/**
 * Refuses a signer action on a package whose deadline has passed before anything is written: it answers as an
 * expired package does, and recording the expiry is left to the sweep.
 */
function assertNotOverdue(pkg: { status: PackageStatus; expiresAt: Date | null }, now: Date): void {
  if (effectiveStatus(pkg, now) === 'EXPIRED') throw packageExpired();
}

/** Marks the caller's slot VIEWED the first time they open a sent package; otherwise just returns the package. */
export async function viewSigningPackage<Q extends PackageQuery>(services: Services, input: SignerActionInput<Q>) {
  const packageId = parseId(input.packageId, 'packageId');
  const slot = await findViewerSlot(services.db, input.viewer, packageId);
  const now = services.clock.now();
  // An overdue package reads as expired and, like a recorded one, is shown without marking the slot VIEWED.
  if (slot.status === 'PENDING' && effectiveStatus(slot.package, now) === 'SENT') {
    await services.db.$transaction(async (tx) => {
      const viewed = await tx.packageSigner.updateMany({
        where: { id: slot.id, status: 'PENDING', package: { is: { AND: [{ status: 'SENT' }, notOverdue(now)] } } },
        data: { status: 'VIEWED', viewedAt: now },
      });
      if (viewed.count !== 1) return;
      await tx.signingPackage.update({ where: { id: packageId }, data: { version: { increment: 1 } } });
      await recordActivity(tx, activity(input, slot.package, 'signing.signer.viewed', { signerId: slot.id }));
    });
  }
  return services.db.signingPackage.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: packageId } });
}

/**
 * Signs the caller's slot. The package must be SENT and the slot PENDING or VIEWED; in a sequential package every
 * earlier signer must have signed (else NOT_YOUR_TURN). The last signature completes the package.
 */
export async function signSigningPackage<Q extends PackageQuery>(services: Services, input: SignerActionInput<Q>) {
  const packageId = parseId(input.packageId, 'packageId');
  const slot = await findViewerSlot(services.db, input.viewer, packageId);
  const now = services.clock.now();
  assertNotOverdue(slot.package, now);
  await services.db.$transaction(async (tx) => {
    await lockSentPackage(tx, packageId, now, 'signed');
    // Re-read under the lock: a concurrent call may have signed this slot in the meantime.
    const current = await tx.packageSigner.findUniqueOrThrow({ where: { id: slot.id }, select: { status: true, order: true } });
    if (current.status !== 'PENDING' && current.status !== 'VIEWED') {
      throw new AppError('CONFLICT', `You have already ${current.status === 'SIGNED' ? 'signed' : 'declined'} this package.`, { reason: 'INVALID_TRANSITION' });
    }
    if (slot.package.sequential) {
      const waitingOn = await tx.packageSigner.count({ where: { packageId, order: { lt: current.order }, status: { not: 'SIGNED' } } });
      if (waitingOn > 0) throw new AppError('CONFLICT', 'Earlier signers have not signed yet; it is not your turn.', { reason: 'NOT_YOUR_TURN' });
    }
    const signed = await tx.packageSigner.updateMany({ where: { id: slot.id, status: { in: ['PENDING', 'VIEWED'] } }, data: { status: 'SIGNED', signedAt: now } });
    if (signed.count !== 1) throw new AppError('CONFLICT', 'You have already signed this package.', { reason: 'INVALID_TRANSITION' });
    await recordActivity(tx, activity(input, slot.package, 'signing.signer.signed', { signerId: slot.id }));
    const unsigned = await tx.packageSigner.count({ where: { packageId, status: { not: 'SIGNED' } } });
    if (unsigned === 0) {
      const completed = await tx.signingPackage.updateMany({ where: { id: packageId, status: 'SENT' }, data: { status: 'COMPLETED', completedAt: now, version: { increment: 1 } } });
      if (completed.count === 1) await recordActivity(tx, activity(input, slot.package, 'signing.package.completed'));
    }
  });
  return services.db.signingPackage.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: packageId } });
}

/** Declines the caller's slot with a reason; one decline ends the package as DECLINED. */
export async function declineSigningPackage<Q extends PackageQuery>(services: Services, input: SignerActionInput<Q> & { reason: string }) {
  const packageId = parseId(input.packageId, 'packageId');
  const reason = text(input.reason, 'reason', { max: 1000 });
  const slot = await findViewerSlot(services.db, input.viewer, packageId);
  const now = services.clock.now();
  assertNotOverdue(slot.package, now);
  await services.db.$transaction(async (tx) => {
    await lockSentPackage(tx, packageId, now, 'declined');
    const declined = await tx.packageSigner.updateMany({
      where: { id: slot.id, status: { in: ['PENDING', 'VIEWED'] } },
      data: { status: 'DECLINED', declinedAt: now, declineReason: reason },
    });
    if (declined.count !== 1) throw new AppError('CONFLICT', 'You have already signed or declined this package.', { reason: 'INVALID_TRANSITION' });
    await tx.signingPackage.update({ where: { id: packageId }, data: { status: 'DECLINED', declinedAt: now, version: { increment: 1 } } });
    await recordActivity(tx, activity(input, slot.package, 'signing.signer.declined', { signerId: slot.id, reason }));
    await recordActivity(tx, activity(input, slot.package, 'signing.package.declined', { signerId: slot.id }));
  });
  return services.db.signingPackage.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: packageId } });
}
