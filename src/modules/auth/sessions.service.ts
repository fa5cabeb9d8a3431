import type { SessionKind } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { issueAccessToken } from './access-token.ts';
import { isSessionPackageOpen } from './package-sessions.ts';
import { sessionUsable } from './viewer.ts';

export interface ClientInfo {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** What a sign-in or refresh hands to the client. The refresh token is shown this once. */
export interface IssuedSession {
  sessionId: string;
  userId: string;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

type SessionServices = Pick<Services, 'db' | 'clock' | 'config' | 'keys'>;

/**
 * How long one access token of a session of this kind lives. A partner's magic-link session gets its own lifetime
 * (MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS, an hour by default, as partners are told: seed 003); every other kind
 * ACCESS_TOKEN_TTL_SECONDS.
 */
export function accessTokenTtlSeconds(config: Pick<Services['config'], 'auth'>, kind: SessionKind): number {
  return kind === 'MAGIC_LINK' ? config.auth.magicLinkAccessTokenTtlSeconds : config.auth.accessTokenTtlSeconds;
}

/** An access token for the session, expiring after its kind's lifetime but never after the session itself. */
async function mintAccessToken(
  services: Pick<Services, 'clock' | 'config' | 'keys'>,
  session: { userId: string; sessionId: string; kind: SessionKind; expiresAt: Date },
) {
  const { userId, sessionId } = session;
  const now = services.clock.now();
  const issuedAt = Math.floor(now.getTime() / 1000);
  const ttl = Math.max(1, Math.min(accessTokenTtlSeconds(services.config, session.kind), Math.floor(session.expiresAt.getTime() / 1000) - issuedAt));
  const accessToken = await issueAccessToken({ keys: services.keys, issuer: services.config.publicUrl, now, ttlSeconds: ttl }, { userId, sessionId });
  return { accessToken, accessTokenExpiresAt: new Date((issuedAt + ttl) * 1000) };
}

/**
 * Starts a revocable login session with its first refresh token. It lasts REFRESH_TOKEN_TTL_SECONDS, or until
 * `notAfter` when that is sooner (a sender or signer session); refreshing never extends it.
 */
export async function startSession(
  services: Pick<Services, 'clock' | 'config' | 'keys'> & { db: Pick<Services['db'], 'loginSession'> },
  input: {
    userId: string;
    kind: SessionKind;
    client: ClientInfo;
    packageId?: string;
    signerId?: string;
    apiRegistrationId?: string;
    oauthTokenId?: string;
    notAfter?: Date;
  },
): Promise<IssuedSession> {
  const now = services.clock.now();
  const fullLife = now.getTime() + services.config.auth.refreshTokenTtlSeconds * 1000;
  const expiresAt = new Date(input.notAfter ? Math.min(fullLife, input.notAfter.getTime()) : fullLife);
  const refreshToken = generateSecret();
  const session = await services.db.loginSession.create({
    data: {
      userId: input.userId,
      kind: input.kind,
      packageId: input.packageId ?? null,
      signerId: input.signerId ?? null,
      apiRegistrationId: input.apiRegistrationId ?? null,
      oauthTokenId: input.oauthTokenId ?? null,
      ip: input.client.ip ?? null,
      userAgent: input.client.userAgent?.slice(0, 512) ?? null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      refreshTokens: { create: { tokenHash: hashSecret(refreshToken), createdAt: now, expiresAt } },
    },
    select: { id: true },
  });
  return {
    sessionId: session.id,
    userId: input.userId,
    ...(await mintAccessToken(services, { userId: input.userId, sessionId: session.id, kind: input.kind, expiresAt })),
    refreshToken,
    refreshTokenExpiresAt: expiresAt,
  };
}

const INVALID_REFRESH = () =>
  new AppError('UNAUTHENTICATED', 'The refresh token is invalid or has expired. Sign in again.', { reason: 'INVALID_REFRESH_TOKEN' });

/**
 * Rotates a refresh token: the presented one is used up and a new one issued in the same session. A token that
 * was already used is a sign of theft (one copy went to someone else), so its whole session, the refresh-token
 * family, is revoked and both holders must sign in again.
 */
export async function rotateRefreshToken(services: SessionServices, input: { refreshToken: string; client: ClientInfo }): Promise<IssuedSession> {
  const now = services.clock.now();
  const stored = await services.db.refreshToken.findUnique({
    where: { tokenHash: hashSecret(input.refreshToken) },
    select: { id: true, usedAt: true, expiresAt: true, session: {
        select: {
          id: true,
          userId: true,
          kind: true,
          packageId: true,
          revokedAt: true,
          expiresAt: true,
          user: { select: { disabledAt: true } },
          apiRegistration: { select: { disabledAt: true } },
          oauthToken: { select: { revokedAt: true } },
        },
      },
    },
  });
  if (!stored) throw INVALID_REFRESH();
  const { session } = stored;
  if (stored.usedAt) {
    // The revocation and its audit row together: a reuse is never on record without its session ended, or unrecorded.
    await services.db.$transaction(async (tx) => {
      await revokeSessions({ db: tx, clock: services.clock }, { where: { id: session.id }, reason: 'refresh_token_reuse' });
      await recordActivity(tx, { type: 'auth.refresh.reuse', actorUserId: session.userId, subjectUserId: session.userId, ip: input.client.ip, userAgent: input.client.userAgent, data: { sessionId: session.id } });
    });
    throw INVALID_REFRESH();
  }
  if (!sessionUsable(session, now) || stored.expiresAt <= now || !(await isSessionPackageOpen(services.db, session, now))) throw INVALID_REFRESH();

  const refreshToken = generateSecret();
  const rotated = await services.db.$transaction(async (tx) => {
    // Only one of two concurrent refreshes with the same token may win; the loser is treated as reuse below.
    const claimed = await tx.refreshToken.updateMany({ where: { id: stored.id, usedAt: null }, data: { usedAt: now } });
    if (claimed.count !== 1) return false;
    await tx.refreshToken.create({ data: { sessionId: session.id, tokenHash: hashSecret(refreshToken), createdAt: now, expiresAt: session.expiresAt } });
    await tx.loginSession.update({ where: { id: session.id }, data: { lastSeenAt: now, ip: input.client.ip ?? undefined } });
    return true;
  });
  if (!rotated) {
    await revokeSessions(services, { where: { id: session.id }, reason: 'refresh_token_reuse' });
    throw INVALID_REFRESH();
  }
  return {
    sessionId: session.id,
    userId: session.userId,
    ...(await mintAccessToken(services, { userId: session.userId, sessionId: session.id, kind: session.kind, expiresAt: session.expiresAt })),
    refreshToken,
    refreshTokenExpiresAt: session.expiresAt,
  };
}

/** Revokes every still-active session matching `where`; returns how many. */
export async function revokeSessions(
  services: Pick<Services, 'clock'> & { db: Pick<Services['db'], 'loginSession'> },
  input: { where: { id?: string; userId?: string; NOT?: { id: string } }; reason: string },
): Promise<number> {
  const { count } = await services.db.loginSession.updateMany({
    where: { ...input.where, revokedAt: null },
    data: { revokedAt: services.clock.now(), revokedReason: input.reason },
  });
  return count;
}
