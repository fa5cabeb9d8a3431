import type { Prisma } from '../../generated/prisma/client.ts';
import type { PackageStatus, SessionKind, TokenPurpose } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { isUuid, parseId } from '../../lib/ids.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { OPEN_PACKAGE_STATUSES, openPackageWhere, packageSessionEnd } from '../auth/package-sessions.ts';
import { startSession, type ClientInfo, type IssuedSession } from '../auth/sessions.service.ts';
import { assertAccountSession, isLimitedSession, limitedSessionError, type Viewer } from '../auth/viewer.ts';
import { assertHasManagerIdentity, managedPackagesWhere, readablePackagesWhere } from '../signing/signing.policy.ts';

/** The four signing authentication tokens and what each one is for. */
export type AuthTokenKind = 'user' | 'sender' | 'signerMultiUse' | 'signerSingleUse';

const PURPOSE: Record<AuthTokenKind, TokenPurpose> = {
  user: 'USER_AUTH',
  sender: 'SENDER_AUTH',
  signerMultiUse: 'SIGNER_MULTI_USE',
  signerSingleUse: 'SIGNER_SINGLE_USE',
};

const SESSION_KIND: Record<string, SessionKind> = {
  USER_AUTH: 'USER_TOKEN',
  SENDER_AUTH: 'SENDER_TOKEN',
  SIGNER_MULTI_USE: 'SIGNER_TOKEN',
  SIGNER_SINGLE_USE: 'SIGNER_TOKEN',
};

/** Package states in which a token may be issued and exchanged: those in which its session lives. */
const LIVE_STATUSES: Record<'sender' | 'signer', readonly PackageStatus[]> = {
  sender: OPEN_PACKAGE_STATUSES.SENDER_TOKEN!,
  signer: OPEN_PACKAGE_STATUSES.SIGNER_TOKEN!,
};

const TOKEN_PURPOSES = Object.keys(SESSION_KIND) as TokenPurpose[];

export interface IssuedAuthToken {
  kind: AuthTokenKind;
  /** Shown this once: only its hash is stored. */
  value: string;
  expiresAt: Date;
  packageId: string | null;
  /** The signer as the caller named it: the slot's id or its email. */
  signerId: string | null;
}

const liveStatusesFor = (purpose: TokenPurpose) => (purpose === 'SENDER_AUTH' ? LIVE_STATUSES.sender : LIVE_STATUSES.signer);

function requiredString(value: string | null | undefined, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new AppError('BAD_USER_INPUT', `${field} is required.`, { field });
  return value.trim();
}

/** The package the viewer manages, live for this kind of token. Not readable: NOT_FOUND; readable only: FORBIDDEN. */
async function managedLivePackage(services: Services, viewer: Viewer, packageId: string, statuses: readonly PackageStatus[]) {
  const id = parseId(packageId, 'packageId');
  const pkg = await services.db.signingPackage.findFirst({
    where: { AND: [{ id }, await managedPackagesWhere(viewer)] },
    select: { id: true, organizationId: true, status: true, expiresAt: true },
  });
  if (!pkg) {
    const readable = await services.db.signingPackage.findFirst({ where: { AND: [{ id }, await readablePackagesWhere(services.db, viewer)] }, select: { id: true } });
    if (readable) throw new AppError('FORBIDDEN', 'Only a manager of this package can issue authentication tokens for it.');
    throw new AppError('NOT_FOUND', 'Signing package not found.');
  }
  const now = services.clock.now();
  if (!statuses.includes(pkg.status) || (pkg.expiresAt && pkg.expiresAt <= now)) {
    throw new AppError('CONFLICT', `Authentication tokens can only be issued for a ${statuses.join(' or ')} package that has not expired; this one is ${pkg.status}.`, {
      reason: 'PACKAGE_NOT_ACTIVE',
      field: 'packageId',
    });
  }
  return pkg;
}

/** The signer slot named by id or by email, and the platform user linked to it (its identity, else its email). */
async function signerSlot(services: Services, pkg: { id: string; organizationId: string }, signerId: string) {
  const bySlotId = isUuid(signerId);
  const slot = await services.db.packageSigner.findFirst({
    where: { packageId: pkg.id, ...(bySlotId ? { id: signerId.toLowerCase() } : { email: signerId.toLowerCase() }) },
    select: { id: true, email: true, signerIdentity: { select: { userId: true, revokedAt: true } } },
  });
  if (!slot) throw new AppError('NOT_FOUND', 'No such signer on this package.', { field: 'signerId' });
  let userId = slot.signerIdentity && !slot.signerIdentity.revokedAt ? slot.signerIdentity.userId : null;
  if (!userId) {
    const identities = await services.db.signingIdentity.findMany({
      where: { kind: 'SIGNER', revokedAt: null, email: slot.email, organizationId: pkg.organizationId },
      select: { userId: true },
    });
    const users = [...new Set(identities.map((i) => i.userId))];
    if (users.length === 1) userId = users[0]!;
  }
  if (!userId) {
    throw new AppError('BAD_USER_INPUT', 'This signer has no linked platform account; link a signer identity before issuing a signer token.', {
      field: 'signerId',
      reason: 'NO_LINKED_USER',
    });
  }
  return { id: slot.id, userId };
}

/**
 * Issues a signing authentication token for the signed-in viewer. The value has 256 random bits and is shown once;
 * only its SHA-256 is stored. Every kind lives AUTH_TOKEN_TTL_SECONDS and is single-use except the multi-use signer
 * token. Sender and signer tokens need a package the viewer manages. A sender or signer session issues nothing:
 * a user token would turn it into a full session.
 */
export async function issueAuthToken(
  services: Services,
  input: { viewer: Viewer; kind: AuthTokenKind; packageId?: string | null; signerId?: string | null; client: ClientInfo },
): Promise<IssuedAuthToken> {
  const { viewer, kind } = input;
  if (isLimitedSession(viewer)) throw limitedSessionError();
  // A session made from a token would also outlive the API registration or access token behind an app session.
  assertAccountSession(viewer, 'issue authentication tokens');
  const purpose = PURPOSE[kind];
  let packageId: string | null = null;
  let organizationId: string | null = null;
  let signer: { id: string; userId: string } | null = null;
  let sentSignerId: string | null = null;
  if (kind !== 'user') {
    // Issuing for a package is manager-only signing: without a manager identity, 403 before the package is looked at.
    await assertHasManagerIdentity(services.db, viewer);
    const pkg = await managedLivePackage(services, viewer, requiredString(input.packageId, 'packageId'), kind === 'sender' ? LIVE_STATUSES.sender : LIVE_STATUSES.signer);
    packageId = pkg.id;
    organizationId = pkg.organizationId;
    if (kind !== 'sender') {
      sentSignerId = requiredString(input.signerId, 'signerId');
      signer = await signerSlot(services, pkg, sentSignerId);
    }
  }
  const value = generateSecret();
  const now = services.clock.now();
  const expiresAt = new Date(now.getTime() + services.config.auth.authTokenTtlSeconds * 1000);
  const token = await services.db.authToken.create({
    data: {
      purpose,
      tokenHash: hashSecret(value),
      userId: signer?.userId ?? viewer.userId,
      createdById: viewer.userId,
      organizationId,
      packageId,
      signerId: signer?.id ?? null,
      maxUses: purpose === 'SIGNER_MULTI_USE' ? null : 1,
      createdAt: now,
      expiresAt,
    },
    select: { id: true },
  });
  await recordActivity(services.db, {
    type: 'auth.token.issued',
    actorUserId: viewer.userId,
    subjectUserId: signer?.userId ?? viewer.userId,
    organizationId,
    packageId,
    ip: input.client.ip,
    userAgent: input.client.userAgent,
    data: { tokenId: token.id, purpose, ...(signer ? { signerId: signer.id } : {}) },
  });
  return { kind, value, expiresAt, packageId, signerId: sentSignerId };
}

/** One answer for unknown, expired, used, revoked and dead-package tokens. */
export const invalidAuthToken = () =>
  new AppError('UNAUTHENTICATED', 'This authentication token is invalid, expired or already used.', { reason: 'INVALID_AUTHENTICATION_TOKEN' });

export interface ExchangedSession extends IssuedSession {
  sessionKind: SessionKind;
}

/**
 * Exchanges a token for a session. The claim is one conditional update that also requires the package to be live,
 * so of any number of simultaneous exchanges of a single-use token exactly one wins, and a token of a voided,
 * completed, declined or expired package (or a removed signer slot, whose tokens are deleted with it) never works.
 */
export async function exchangeAuthToken(services: Services, input: { value: string; client: ClientInfo }): Promise<ExchangedSession> {
  const now = services.clock.now();
  const stored = input.value
    ? await services.db.authToken.findUnique({
        where: { tokenHash: hashSecret(input.value) },
        select: {
          id: true,
          purpose: true,
          userId: true,
          organizationId: true,
          packageId: true,
          signerId: true,
          maxUses: true,
          user: { select: { disabledAt: true } },
          package: { select: { expiresAt: true } },
        },
      })
    : null;
  const fail = async (reason: string) => {
    await recordActivity(services.db, {
      type: 'auth.token.exchange_failed',
      subjectUserId: stored?.userId ?? null,
      organizationId: stored?.organizationId ?? null,
      packageId: stored?.packageId ?? null,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { reason, ...(stored ? { tokenId: stored.id } : {}) },
    });
    return invalidAuthToken();
  };
  if (!stored || !TOKEN_PURPOSES.includes(stored.purpose) || !stored.userId) throw await fail('unknown');
  if (stored.user?.disabledAt) throw await fail('user_disabled');
  const packageLive: Prisma.AuthTokenWhereInput = stored.packageId
    ? { package: { is: openPackageWhere(liveStatusesFor(stored.purpose), now) } }
    : {};
  const signerPresent: Prisma.AuthTokenWhereInput = stored.signerId ? { signer: { isNot: null } } : {};
  const singleUse = stored.maxUses !== null;
  const claimed = await services.db.authToken.updateMany({
    where: { id: stored.id, revokedAt: null, expiresAt: { gt: now }, ...(singleUse ? { consumedAt: null } : {}), ...packageLive, ...signerPresent },
    data: { lastUsedAt: now, useCount: { increment: 1 }, ...(singleUse ? { consumedAt: now } : {}) },
  });
  if (claimed.count !== 1) throw await fail('expired_used_or_package_closed');
  const sessionKind = SESSION_KIND[stored.purpose]!;
  const session = await startSession(services, {
    userId: stored.userId,
    kind: sessionKind,
    client: input.client,
    // A sender or signer session lives a few hours at most, and never past its package's own expiry.
    ...(stored.packageId
      ? { notAfter: packageSessionEnd(now, services.config.auth.limitedSessionMaxSeconds, stored.package?.expiresAt ?? null) }
      : {}),
    ...(stored.packageId ? { packageId: stored.packageId } : {}),
    ...(stored.signerId ? { signerId: stored.signerId } : {}),
  });
  await recordActivity(services.db, {
    type: 'auth.token.exchanged',
    actorUserId: stored.userId,
    subjectUserId: stored.userId,
    organizationId: stored.organizationId,
    packageId: stored.packageId,
    ip: input.client.ip,
    userAgent: input.client.userAgent,
    data: { tokenId: stored.id, purpose: stored.purpose, sessionId: session.sessionId },
  });
  return { ...session, sessionKind };
}

/**
 * Where GET /auth may send the browser: a same-origin path (one leading `/`, no backslashes) written in printable
 * ASCII, so it always fits a Location header; anything else (off-site, control or non-ASCII characters such as
 * U+2028 or U+3002, spaces) is `/`.
 */
export function safeRedirectTarget(target: string | null): string {
  if (!target || !target.startsWith('/') || target.startsWith('//') || /[^\x21-\x7e]|\\/.test(target)) return '/';
  try {
    const base = new URL('http://same.origin');
    return new URL(target, base).origin === base.origin ? target : '/';
  } catch {
    return '/';
  }
}
