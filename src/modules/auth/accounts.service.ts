import type { Prisma } from '../../generated/prisma/client.ts';
import type { CreationOrder } from '../../graphql/connections.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { checkPasswordPolicy, hashPassword, withPasswordWork, type PasswordWork } from '../../lib/password.ts';
import type { RateLimitResult, RateLimitRule } from '../../lib/rate-limit.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { email as validEmail, EMAIL, EMAIL_MAX_LENGTH, text } from '../../lib/validate.ts';
import { passwordResetMail } from '../mail/templates.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { assertAccountSession, type Viewer } from './viewer.ts';
import { revokeSessions, startSession, type ClientInfo, type IssuedSession } from './sessions.service.ts';
import { issueDeviceToken, verifyDeviceToken } from './trusted-devices.ts';

/** A password sign-in's session, with the device token that makes this client a trusted device of the account. */
export interface SignedInSession extends IssuedSession {
  deviceToken: string;
}

/** Emails are compared lower-cased and trimmed; that form is what the database stores (unique). */
export function normaliseEmail(input: string, field = 'email'): string {
  return validEmail(input, field);
}

/** One message for an unknown email, a wrong password and a disabled account, so none can be told apart. */
const invalidCredentials = () =>
  new AppError('UNAUTHENTICATED', 'Email or password is incorrect.', { reason: 'INVALID_CREDENTIALS' });

const rateLimited = (results: RateLimitResult[]) =>
  new AppError('RATE_LIMITED', 'Too many attempts. Try again later.', {
    retryAfterSeconds: Math.max(1, ...results.map((r) => r.retryAfterSeconds)),
  });

/** Creates the account, its first session and the audit row in one transaction: all of them, or none. */
export async function signUp(services: Services, input: { email: string; password: string; name: string; client: ClientInfo }): Promise<SignedInSession> {
  const email = normaliseEmail(input.email);
  const name = text(input.name, 'name', { max: 200 });
  checkPasswordPolicy(input.password);
  const passwordHash = await hashPassword(input.password);
  const now = services.clock.now();
  const session = await services.db.$transaction(async (tx) => {
    const user = await tx.user
      .create({ data: { email, name, passwordHash, passwordChangedAt: now }, select: { id: true } })
      .catch((error: unknown) => {
        if ((error as { code?: string }).code === 'P2002') throw new AppError('CONFLICT', 'An account with this email already exists. Sign in instead.', { field: 'email' });
        throw error;
      });
    const started = await startSession({ ...services, db: tx }, { userId: user.id, kind: 'PASSWORD', client: input.client });
    await recordActivity(tx, { type: 'auth.sign_up', actorUserId: user.id, subjectUserId: user.id, ip: input.client.ip, userAgent: input.client.userAgent, data: { sessionId: started.sessionId } });
    return started;
  });
  return { ...session, deviceToken: issueDeviceToken({ id: session.userId, passwordHash }, now) };
}

/** One sign-in window, and what a successful attempt does to it. */
interface SignInCounter {
  key: string;
  rule: RateLimitRule;
  /** `reset`: the success clears the window's failures. `undo`: only the success's own provisional count is taken back. */
  onSuccess: 'reset' | 'undo';
}

/**
 * The windows a password attempt counts against. A trusted device (a valid device token for the account) has its
 * own budget only, so neither strangers failing on the account nor others failing from the same address lock it
 * out. Every other client counts against the account from this address (the tight limit, so one stranger elsewhere
 * cannot lock others out), the account from anywhere (ten times looser, against guessing from many addresses; when
 * it is used up only untrusted clients are refused) and the address across accounts (against password spraying).
 */
function signInCounters(auth: Services['config']['auth'], email: string, client: ClientInfo, device: { userId: string; deviceId: string } | null): SignInCounter[] {
  const window = auth.signInFailureWindowSeconds;
  const perAccount = { limit: auth.signInFailuresPerAccount, windowSeconds: window };
  if (device) return [{ key: `signin:device:${device.userId}:${device.deviceId}`, rule: perAccount, onSuccess: 'reset' }];
  const address = client.ip ?? 'unknown';
  return [
    { key: `signin:account-address:${email}|${address}`, rule: perAccount, onSuccess: 'reset' },
    { key: `signin:account:${email}`, rule: { limit: auth.signInFailuresPerAccount * 10, windowSeconds: window }, onSuccess: 'undo' },
    { key: `signin:address:${address}`, rule: { limit: auth.signInFailuresPerAddress, windowSeconds: window }, onSuccess: 'undo' },
  ];
}

/**
 * Counts one password attempt against the sign-in windows before the password is checked, so aliased or concurrent
 * attempts are counted one by one. Only failures are meant to stay counted: `succeeded` takes the attempt back, and
 * clears the account's failures from this address (or this trusted device), but not those of other addresses or
 * the account's shared budget, which strangers may have used. App sign-in with `pwd=[...]` counts here too (as an
 * untrusted client), so it is no side door for guessing passwords.
 */
export async function countPasswordAttempt(
  services: Pick<Services, 'config' | 'rateLimiter'>,
  email: string,
  client: ClientInfo,
  device: { userId: string; deviceId: string } | null = null,
) {
  const counters = signInCounters(services.config.auth, email, client, device);
  const results = await Promise.all(counters.map(({ key, rule }) => services.rateLimiter.hit(key, rule)));
  return {
    results,
    allowed: results.every((result) => result.allowed),
    async succeeded(): Promise<void> {
      await Promise.all(
        counters.map(({ key, rule, onSuccess }, index) => (onSuccess === 'reset' ? services.rateLimiter.reset(key) : services.rateLimiter.undo(key, rule, results[index]!))),
      );
    },
  };
}

/**
 * Email and password sign-in; only failures count against the limits (see `countPasswordAttempt`). Over a limit the
 * answer is 429 whether or not the account exists or the password is right. A success answers a fresh device token
 * (also set as the `sc_device` cookie by the schema); presenting it later, as that cookie or as `deviceToken`, gives
 * this client its own failure budget. When password hashing is saturated the answer is 503 OVERLOADED, given before
 * the attempt counts or any account is read: the same for every email, and no attempt lost. The session, a rehash
 * and the audit row are written in one transaction.
 */
export function signIn(services: Services, input: { email: string; password: string; deviceToken?: string | undefined; client: ClientInfo }): Promise<SignedInSession> {
  return withPasswordWork((passwords) => signInAdmitted(services, passwords, input));
}

async function signInAdmitted(
  services: Services,
  passwords: PasswordWork,
  input: { email: string; password: string; deviceToken?: string | undefined; client: ClientInfo },
): Promise<SignedInSession> {
  const email = input.email.trim().toLowerCase();
  // No account has a longer email: refused before it is counted, stored in a counter key or matched by a pattern.
  if (email.length > EMAIL_MAX_LENGTH) throw new AppError('BAD_USER_INPUT', 'Enter a valid email address.', { field: 'email', reason: 'TOO_LONG' });
  const now = services.clock.now();
  const user = EMAIL.test(email) ? await services.db.user.findUnique({ where: { email }, select: { id: true, passwordHash: true, disabledAt: true } }) : null;
  const deviceId = user ? verifyDeviceToken(input.deviceToken, user, now) : null;
  const trustedDevice = deviceId !== null;
  const attempt = await countPasswordAttempt(services, email, input.client, user && deviceId ? { userId: user.id, deviceId } : null);
  if (!attempt.allowed) {
    await recordActivity(services.db, { type: 'auth.sign_in.rate_limited', subjectUserId: null, ip: input.client.ip, userAgent: input.client.userAgent });
    throw rateLimited(attempt.results.filter((result) => !result.allowed));
  }

  const check = user?.passwordHash ? await passwords.verify(user.passwordHash, input.password) : (await passwords.verifyDummy(input.password), { valid: false, needsRehash: false });
  if (!user?.passwordHash || !check.valid || user.disabledAt) {
    await recordActivity(services.db, {
      type: 'auth.sign_in.failure',
      subjectUserId: user?.id ?? null,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { reason: !user ? 'unknown_email' : user.disabledAt ? 'disabled' : 'wrong_password', trustedDevice },
    });
    throw invalidCredentials();
  }
  const passwordHash = check.needsRehash ? await passwords.hash(input.password) : user.passwordHash;
  const session = await services.db.$transaction(async (tx) => {
    if (passwordHash !== user.passwordHash) await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
    const started = await startSession({ ...services, db: tx }, { userId: user.id, kind: 'PASSWORD', client: input.client });
    await recordActivity(tx, {
      type: 'auth.sign_in.success',
      actorUserId: user.id,
      subjectUserId: user.id,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { sessionId: started.sessionId, trustedDevice },
    });
    return started;
  });
  await attempt.succeeded();
  return { ...session, deviceToken: issueDeviceToken({ id: user.id, passwordHash }, now) };
}

/** Ends the session and writes its audit row in one transaction. */
export async function signOut(services: Services, input: { viewer: Viewer; client: ClientInfo }): Promise<void> {
  await services.db.$transaction(async (tx) => {
    await revokeSessions({ db: tx, clock: services.clock }, { where: { id: input.viewer.sessionId }, reason: 'sign_out' });
    await recordActivity(tx, { type: 'auth.sign_out', actorUserId: input.viewer.userId, subjectUserId: input.viewer.userId, ip: input.client.ip, userAgent: input.client.userAgent, data: { sessionId: input.viewer.sessionId } });
  });
}

/**
 * Sends a single-use reset link when the email belongs to an account, and answers the same either way. The mail
 * goes out after the response, so timing does not tell whether it was sent.
 */
export async function requestPasswordReset(services: Services, input: { email: string; client: ClientInfo }): Promise<void> {
  const email = normaliseEmail(input.email);
  const { auth } = services.config;
  const throttle = await services.rateLimiter.hit(`reset:email:${email}`, { limit: auth.passwordResetsPerEmail, windowSeconds: auth.passwordResetWindowSeconds });
  if (!throttle.allowed) throw rateLimited([throttle]);
  const user = await services.db.user.findUnique({ where: { email }, select: { id: true, disabledAt: true } });
  const known = Boolean(user && !user.disabledAt);
  const token = generateSecret();
  const now = services.clock.now();
  // The audit row and the token together: a token whose request is not on record is never mailed.
  await services.db.$transaction(async (tx) => {
    await recordActivity(tx, { type: 'auth.password_reset.requested', subjectUserId: user?.id ?? null, ip: input.client.ip, userAgent: input.client.userAgent, data: { known } });
    if (!user || !known) return;
    await tx.authToken.create({
      data: { purpose: 'PASSWORD_RESET', tokenHash: hashSecret(token), userId: user.id, maxUses: 1, createdAt: now, expiresAt: new Date(now.getTime() + auth.passwordResetTtlSeconds * 1000) },
    });
  });
  if (!user || !known) return;
  const link = `${services.config.publicUrl}/reset-password?token=${encodeURIComponent(token)}`;
  void services.mailer
    .send({ to: email, ...passwordResetMail({ link, minutes: Math.round(auth.passwordResetTtlSeconds / 60) }) })
    .catch((error: unknown) => services.logger.error({ err: error, userId: user.id }, 'password reset mail failed'));
}

const invalidResetToken = () =>
  new AppError('BAD_USER_INPUT', 'This reset link is invalid, expired or already used. Ask for a new one.', { field: 'token', reason: 'INVALID_RESET_TOKEN' });

/**
 * Consumes a reset token (exactly once, even under concurrent use), sets the password and ends every session, with
 * its audit row, in one transaction.
 */
export async function resetPassword(services: Services, input: { token: string; newPassword: string; client: ClientInfo }): Promise<void> {
  checkPasswordPolicy(input.newPassword);
  const passwordHash = await hashPassword(input.newPassword);
  const now = services.clock.now();
  const tokenHash = hashSecret(input.token);
  const userId = await services.db.$transaction(async (tx) => {
    const claimed = await tx.authToken.updateMany({
      where: { tokenHash, purpose: 'PASSWORD_RESET', consumedAt: null, revokedAt: null, expiresAt: { gt: now } },
      data: { consumedAt: now, lastUsedAt: now, useCount: { increment: 1 } },
    });
    if (claimed.count !== 1) return null;
    const token = await tx.authToken.findUniqueOrThrow({ where: { tokenHash }, select: { userId: true } });
    if (!token.userId) return null;
    await tx.user.update({ where: { id: token.userId }, data: { passwordHash, passwordChangedAt: now } });
    await tx.loginSession.updateMany({ where: { userId: token.userId, revokedAt: null }, data: { revokedAt: now, revokedReason: 'password_reset' } });
    await tx.authToken.updateMany({ where: { userId: token.userId, purpose: 'PASSWORD_RESET', consumedAt: null }, data: { revokedAt: now } });
    await recordActivity(tx, { type: 'auth.password_reset.completed', actorUserId: token.userId, subjectUserId: token.userId, ip: input.client.ip, userAgent: input.client.userAgent });
    return token.userId;
  });
  if (!userId) throw invalidResetToken();
}

/** Changes the password of the signed-in account and ends its other sessions (503 OVERLOADED before the attempt counts). */
export async function changePassword(services: Services, input: { viewer: Viewer; currentPassword: string; newPassword: string; client: ClientInfo }): Promise<void> {
  assertAccountSession(input.viewer, 'change the password');
  checkPasswordPolicy(input.newPassword);
  return withPasswordWork((passwords) => changePasswordAdmitted(services, passwords, input));
}

async function changePasswordAdmitted(services: Services, passwords: PasswordWork, input: { viewer: Viewer; currentPassword: string; newPassword: string; client: ClientInfo }): Promise<void> {
  const { auth } = services.config;
  const attempt = await services.rateLimiter.hit(`password-change:${input.viewer.userId}`, { limit: auth.signInFailuresPerAccount, windowSeconds: auth.signInFailureWindowSeconds });
  if (!attempt.allowed) throw rateLimited([attempt]);
  const user = await services.db.user.findUniqueOrThrow({ where: { id: input.viewer.userId }, select: { passwordHash: true } });
  const check = user.passwordHash ? await passwords.verify(user.passwordHash, input.currentPassword) : { valid: false };
  if (!check.valid) {
    throw new AppError('BAD_USER_INPUT', 'The current password is incorrect.', { field: 'currentPassword', reason: 'WRONG_PASSWORD' });
  }
  const now = services.clock.now();
  const passwordHash = await passwords.hash(input.newPassword);
  await services.db.$transaction(async (tx) => {
    await tx.user.update({ where: { id: input.viewer.userId }, data: { passwordHash, passwordChangedAt: now } });
    await tx.loginSession.updateMany({ where: { userId: input.viewer.userId, revokedAt: null, NOT: { id: input.viewer.sessionId } }, data: { revokedAt: now, revokedReason: 'password_change' } });
    await recordActivity(tx, { type: 'auth.password.changed', actorUserId: input.viewer.userId, subjectUserId: input.viewer.userId, ip: input.client.ip, userAgent: input.client.userAgent });
  });
  await services.rateLimiter.reset(`password-change:${input.viewer.userId}`);
}

/** Ends one of the viewer's own sessions; anyone else's is not found. */
export async function revokeOwnSession(services: Services, input: { viewer: Viewer; sessionId: string; client: ClientInfo }): Promise<void> {
  assertAccountSession(input.viewer, "manage the account's sessions");
  await services.db.$transaction(async (tx) => {
    const revoked = await revokeSessions({ db: tx, clock: services.clock }, { where: { id: input.sessionId, userId: input.viewer.userId }, reason: 'revoked_by_user' });
    if (revoked === 0) throw new AppError('NOT_FOUND', 'Session not found.');
    await recordActivity(tx, { type: 'auth.session.revoked', actorUserId: input.viewer.userId, subjectUserId: input.viewer.userId, ip: input.client.ip, userAgent: input.client.userAgent, data: { sessionId: input.sessionId } });
  });
}

type UserQuery = { include?: Prisma.UserInclude; select?: Prisma.UserSelect };

export function getUserById<Q extends UserQuery>(services: Pick<Services, 'db'>, input: { id: string; query?: Q }) {
  return services.db.user.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: input.id } });
}

/** The viewer's sessions that still work, newest first. */
type SessionQuery = { include?: Prisma.LoginSessionInclude; select?: Prisma.LoginSessionSelect };

/** The account's sessions that are still in use. Only a full session lists them. */
function activeSessionsWhere(services: Pick<Services, 'clock'>, viewer: Viewer): Prisma.LoginSessionWhereInput {
  assertAccountSession(viewer, "list the account's sessions");
  return { userId: viewer.userId, revokedAt: null, expiresAt: { gt: services.clock.now() } };
}

export function listActiveSessions<Q extends SessionQuery>(services: Pick<Services, 'db' | 'clock'>, input: { viewer: Viewer; query?: Q }) {
  return services.db.loginSession.findMany({
    ...(input.query ?? {}),
    where: activeSessionsWhere(services, input.viewer),
    orderBy: { createdAt: 'desc' },
  });
}

/** A page of the account's active sessions, in creation order (the primary key; no index serves createdAt). */
export function listActiveSessionsPage<Q extends SessionQuery & { take?: number; skip?: number; cursor?: Prisma.LoginSessionWhereUniqueInput }>(
  services: Pick<Services, 'db' | 'clock'>,
  input: { viewer: Viewer; order: CreationOrder; query: Q },
) {
  return services.db.loginSession.findMany({
    ...input.query,
    where: activeSessionsWhere(services, input.viewer),
    orderBy: { id: input.order === 'OLDEST_FIRST' ? 'asc' : 'desc' },
  });
}

export function countActiveSessions(services: Pick<Services, 'db' | 'clock'>, input: { viewer: Viewer }): Promise<number> {
  return services.db.loginSession.count({ where: activeSessionsWhere(services, input.viewer) });
}
