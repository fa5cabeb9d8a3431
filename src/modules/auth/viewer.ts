import { noteRequestSession } from '../../lib/request-scope.ts';
import type { PlatformRole, SessionKind } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { verifyAccessTokenRefreshingKeys } from './access-token.ts';
import { appSessionOrganization } from '../apps/app-access.ts';
import { isSessionPackageOpen } from './package-sessions.ts';
import { loadManagerIdentities, loadMemberships, type ManagerIdentityAccess, type MembershipAccess } from './permissions.ts';

/** The signed-in account behind a request. */
export interface Viewer {
  userId: string;
  sessionId: string;
  sessionKind: SessionKind;
  email: string;
  name: string;
  /** Platform roles of this session: the account's for a full session, none for a sender or signer session. */
  roles: PlatformRole[];
  /** The one signing package a sender or signer token session is limited to; null for a full session. */
  packageId: string | null;
  /** The one signer slot a signer token session acts as; null otherwise. */
  signerId: string | null;
  /**
   * The one organization an app sign-in session is confined to (its API registration's); null when the session
   * reaches wherever its account does. Every policy that reads by account narrows to it.
   */
  organizationScope: string | null;
  /** When the access token behind this request expires (WebSocket connections close then). */
  accessTokenExpiresAt: Date;
  /**
   * Organization memberships with effective permission keys; loaded once per request, on first use. None for a
   * sender or signer session.
   */
  memberships(): Promise<MembershipAccess[]>;
  /**
   * The account's own roles and memberships, whatever the session. Only the signing policy reads them, so that a
   * sender session manages its package only while its account still does; scopes and every other policy use
   * `roles` and `memberships` above.
   */
  account: {
    roles: PlatformRole[];
    memberships(): Promise<MembershipAccess[]>;
    /** The account's active MANAGER and ADMIN signing identities (an app sign-in session: in its organization only). */
    managerIdentities(): Promise<ManagerIdentityAccess[]>;
  };
}

/** Far longer than any token this server issues; a longer Authorization value is refused before it is parsed. */
const MAX_AUTHORIZATION_LENGTH = 8192;

export function bearerToken(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = authorization.length <= MAX_AUTHORIZATION_LENGTH ? /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authorization) : null;
  if (!match?.[1]) throw new AppError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <token>".', { reason: 'INVALID_TOKEN' });
  return match[1];
}

/** Session kinds limited to one package (and signer): never granted the account's roles or memberships. */
const LIMITED_SESSION_KINDS: ReadonlySet<SessionKind> = new Set<SessionKind>(['SENDER_TOKEN', 'SIGNER_TOKEN']);

/** Is this a sender or signer token session (no roles, no memberships, whatever the account has)? */
export function isLimitedSession(viewer: Pick<Viewer, 'sessionKind'>): boolean {
  return LIMITED_SESSION_KINDS.has(viewer.sessionKind);
}

/** The answer to anything a sender or signer session may not do: one reason, whatever the field. */
export const limitedSessionError = () =>
  new AppError('FORBIDDEN', 'This session is limited to one signing package. Sign in for full access.', { reason: 'LIMITED_SESSION' });

/**
 * Whether a session row still stands: not revoked or past its end, its account enabled, and, for an app sign-in
 * session, its API registration not revoked and the OAuth access token it was opened with not revoked. Revoking a
 * registration or token therefore ends its sessions on the next request even if one was opened concurrently.
 */
export function sessionUsable(
  session: {
    revokedAt: Date | null;
    expiresAt: Date;
    user: { disabledAt: Date | null };
    apiRegistration?: { disabledAt: Date | null } | null;
    oauthToken?: { revokedAt: Date | null } | null;
  },
  now: Date,
): boolean {
  return !session.revokedAt && session.expiresAt > now && !session.user.disabledAt && !session.apiRegistration?.disabledAt && !session.oauthToken?.revokedAt;
}

/**
 * The account itself (its password, its other sessions, minting tokens that become sessions) belongs to the
 * person, not to scripts that may run as them: an app sign-in session is refused with APP_SESSION.
 */
export function assertAccountSession(viewer: Pick<Viewer, 'sessionKind'>, action: string): void {
  if (viewer.sessionKind === 'APP_SIGN_IN') {
    throw new AppError('FORBIDDEN', `An app sign-in session cannot ${action}. Sign in as yourself.`, { reason: 'APP_SESSION' });
  }
}

/** lastSeenAt is informational; writing it at most once a minute keeps reads from becoming writes. */
const LAST_SEEN_GRANULARITY_MS = 60_000;

const invalidSession = () =>
  new AppError('UNAUTHENTICATED', 'Your session has expired or is no longer valid. Sign in again.', { reason: 'INVALID_TOKEN' });

/**
 * Resolves the viewer from a session access token (the Authorization header, or the session cookie for browsers).
 * No token: null (anonymous). A token that is invalid or expired, or whose session is revoked, ended or belongs to
 * a disabled account: UNAUTHENTICATED. The session row is read on every request, so sign-out, revocation, a
 * password reset or disabling the account take effect on the very next request.
 */
export async function authenticate(services: Services, token: string | null): Promise<Viewer | null> {
  if (!token) return null;
  const now = services.clock.now();
  const claims = await verifyAccessTokenRefreshingKeys({ keys: services.keys, issuer: services.config.publicUrl, now }, token);
  if (!claims) throw invalidSession();
  const session = await services.db.loginSession.findUnique({
    where: { id: claims.sessionId },
    select: {
      userId: true,
      kind: true,
      packageId: true,
      signerId: true,
      revokedAt: true,
      expiresAt: true,
      lastSeenAt: true,
      user: { select: { email: true, name: true, roles: true, disabledAt: true } },
      apiRegistrationId: true,
      oauthTokenId: true,
    },
  });
  if (!session || session.userId !== claims.userId || !sessionUsable(session, now)) throw invalidSession();
  // A sender or signer session ends with its package (completed, declined, voided or expired): one more read for them.
  if (!(await isSessionPackageOpen(services.db, session, now))) throw invalidSession();
  // Only app sign-in sessions pay for re-checking their credentials; every other session is the two reads above.
  let organizationScope: string | null = null;
  if (session.kind === 'APP_SIGN_IN') {
    const [standing, oauthToken] = await Promise.all([
      session.apiRegistrationId ? appSessionOrganization(services, { apiRegistrationId: session.apiRegistrationId, userId: session.userId }) : null,
      session.oauthTokenId ? services.db.authToken.findUnique({ where: { id: session.oauthTokenId }, select: { revokedAt: true } }) : null,
    ]);
    if (!standing || (session.oauthTokenId && (!oauthToken || oauthToken.revokedAt))) throw invalidSession();
    organizationScope = standing;
  }
  if (now.getTime() - session.lastSeenAt.getTime() > LAST_SEEN_GRANULARITY_MS) {
    await services.db.loginSession.update({ where: { id: claims.sessionId }, data: { lastSeenAt: now } });
  }
  let memberships: Promise<MembershipAccess[]> | undefined;
  let managerIdentities: Promise<ManagerIdentityAccess[]> | undefined;
  // An app sign-in session acts only inside the organization of its API registration and never as a platform
  // admin: a key holder who may run as someone reaches what that person can do there, not their other
  // organizations. MANAGER and SIGNER stay: they only ever count together with a membership or identity.
  const accountRoles = organizationScope === null ? session.user.roles : session.user.roles.filter((role) => role !== 'ADMIN');
  const accountMemberships = () =>
    (memberships ??= loadMemberships(services.db, claims.userId).then((all) =>
      organizationScope === null ? all : all.filter((m) => m.organizationId === organizationScope),
    ));
  const accountManagerIdentities = () =>
    (managerIdentities ??= loadManagerIdentities(services.db, claims.userId).then((all) =>
      organizationScope === null ? all : all.filter((i) => i.organizationId === organizationScope),
    ));
  // Sender and signer token sessions are never full sessions: no platform roles and no memberships, so every
  // admin, manager and organization rule fails for them; the signing policy alone grants them their package.
  const limited = LIMITED_SESSION_KINDS.has(session.kind);
  // What the request's audit rows record about the session they were written in.
  noteRequestSession({ userId: claims.userId, kind: session.kind });
  return {
    userId: claims.userId,
    sessionId: claims.sessionId,
    sessionKind: session.kind,
    email: session.user.email,
    name: session.user.name,
    roles: limited ? [] : accountRoles,
    packageId: limited ? session.packageId : null,
    signerId: limited ? session.signerId : null,
    organizationScope,
    accessTokenExpiresAt: claims.expiresAt ?? now,
    memberships: limited ? () => Promise.resolve([]) : accountMemberships,
    account: { roles: accountRoles, memberships: accountMemberships, managerIdentities: accountManagerIdentities },
  };
}
