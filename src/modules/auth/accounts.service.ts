import type { Prisma } from '../../generated/prisma/client.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { checkPasswordPolicy, hashPassword, withPasswordWork, type PasswordWork } from '../../lib/password.ts';
import type { RateLimitResult } from '../../lib/rate-limit.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { email as validEmail, EMAIL, EMAIL_MAX_LENGTH, text } from '../../lib/validate.ts';
import { passwordResetMail } from '../mail/templates.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { assertAccountSession, type Viewer } from './viewer.ts';
import { revokeSessions, startSession, type ClientInfo, type IssuedSession } from './sessions.service.ts';

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

export async function signUp(services: Services, input: { email: string; password: string; name: string; client: ClientInfo }): Promise<IssuedSession> {
  const email = normaliseEmail(input.email);
  const name = text(input.name, 'name', { max: 200 });
  checkPasswordPolicy(input.password);
  const passwordHash = await hashPassword(input.password);
  const now = services.clock.now();
  const user = await services.db.user
    .create({ data: { email, name, passwordHash, passwordChangedAt: now }, select: { id: true } })
    .catch((error: unknown) => {
      if ((error as { code?: string }).code === 'P2002') throw new AppError('CONFLICT', 'An account with this email already exists. Sign in instead.', { field: 'email' });
      throw error;
    });
  await recordActivity(services.db, { type: 'auth.sign_up', actorUserId: user.id, subjectUserId: user.id, ip: input.client.ip, userAgent: input.client.userAgent });
  return startSession(services, { userId: user.id, kind: 'PASSWORD', client: input.client });
}

/**
 * Counts one password attempt for the account against the three sign-in windows (the account from this address,
 * the account from anywhere, the address). Every attempt counts, right or wrong; a success resets the first two.
 * App sign-in with `pwd=[...]` counts here too, so it is no side door for guessing passwords.
 */
export async function countPasswordAttempt(services: Pick<Services, 'config' | 'rateLimiter'>, email: string, client: ClientInfo) {
  const { auth } = services.config;
  const address = client.ip ?? 'unknown';
  const window = auth.signInFailureWindowSeconds;
  const accountHere = `signin:account-address:${email}|${address}`;
  const accountAnywhere = `signin:account:${email}`;
  const results = await Promise.all([
    services.rateLimiter.hit(accountHere, { limit: auth.signInFailuresPerAccount, windowSeconds: window }),
    services.rateLimiter.hit(accountAnywhere, { limit: auth.signInFailuresPerAccount * 10, windowSeconds: window }),
    services.rateLimiter.hit(`signin:address:${address}`, { limit: auth.signInFailuresPerAddress, windowSeconds: window }),
  ]);
  return { accountHere, accountAnywhere, results };
}

/**
 * Email and password sign-in. Every attempt counts against three fixed windows before the password is checked,
 * so aliased or concurrent attempts are counted one by one: the account from this address (the tight limit, so an
 * attacker elsewhere cannot lock the owner out), the account from anywhere (ten times looser, against spraying
 * from many addresses) and the address across accounts. Over any limit the answer is 429 whether or not the
 * account exists or the password is right; a success clears the account's counters. When password hashing is
 * saturated the answer is 503 OVERLOADED, given before the attempt counts or any account is read: the same for
 * every email, and no attempt lost.
 */
export function signIn(services: Services, input: { email: string; password: string; client: ClientInfo }): Promise<IssuedSession> {
  return withPasswordWork((passwords) => signInAdmitted(services, passwords, input));
}

async function signInAdmitted(services: Services, passwords: PasswordWork, input: { email: string; password: string; client: ClientInfo }): Promise<IssuedSession> {
  const email = input.email.trim().toLowerCase();
  // No account has a longer email: refused before it is counted, stored in a counter key or matched by a pattern.
  if (email.length > EMAIL_MAX_LENGTH) throw new AppError('BAD_USER_INPUT', 'Enter a valid email address.', { field: 'email', reason: 'TOO_LONG' });
  const { accountHere, accountAnywhere, results } = await countPasswordAttempt(services, email, input.client);
  if (results.some((r) => !r.allowed)) {
    await recordActivity(services.db, { type: 'auth.sign_in.rate_limited', ip: input.client.ip, userAgent: input.client.userAgent, data: { email } });
    throw rateLimited(results);
  }

  const user = EMAIL.test(email) ? await services.db.user.findUnique({ where: { email }, select: { id: true, passwordHash: true, disabledAt: true } }) : null;
  const check = user?.passwordHash ? await passwords.verify(user.passwordHash, input.password) : (await passwords.verifyDummy(input.password), { valid: false, needsRehash: false });
  if (!user || !check.valid || user.disabledAt) {
    await recordActivity(services.db, {
      type: 'auth.sign_in.failure',
      subjectUserId: user?.id ?? null,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { email, reason: !user ? 'unknown_email' : user.disabledAt ? 'disabled' : 'wrong_password' },
    });
    throw invalidCredentials();
  }
  if (check.needsRehash) {
    await services.db.user.update({ where: { id: user.id }, data: { passwordHash: await passwords.hash(input.password) } });
  }
  await Promise.all([services.rateLimiter.reset(accountHere), services.rateLimiter.reset(accountAnywhere)]);
  const session = await startSession(services, { userId: user.id, kind: 'PASSWORD', client: input.client });
  await recordActivity(services.db, { type: 'auth.sign_in.success', actorUserId: user.id, subjectUserId: user.id, ip: input.client.ip, userAgent: input.client.userAgent, data: { sessionId: session.sessionId } });
  return session;
}

export async function signOut(services: Services, input: { viewer: Viewer; client: ClientInfo }): Promise<void> {
  await revokeSessions(services, { where: { id: input.viewer.sessionId }, reason: 'sign_out' });
  await recordActivity(services.db, { type: 'auth.sign_out', actorUserId: input.viewer.userId, subjectUserId: input.viewer.userId, ip: input.client.ip, userAgent: input.client.userAgent, data: { sessionId: input.viewer.sessionId } });
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
  await recordActivity(services.db, { type: 'auth.password_reset.requested', subjectUserId: user?.id ?? null, ip: input.client.ip, userAgent: input.client.userAgent, data: { email, known: Boolean(user && !user.disabledAt) } });
  if (!user || user.disabledAt) return;

  const token = generateSecret();
  const now = services.clock.now();
  await services.db.authToken.create({
    data: { purpose: 'PASSWORD_RESET', tokenHash: hashSecret(token), userId: user.id, maxUses: 1, createdAt: now, expiresAt: new Date(now.getTime() + auth.passwordResetTtlSeconds * 1000) },
  });
  const link = `${services.config.publicUrl}/reset-password?token=${encodeURIComponent(token)}`;
  void services.mailer
    .send({ to: email, ...passwordResetMail({ link, minutes: Math.round(auth.passwordResetTtlSeconds / 60) }) })
    .catch((error: unknown) => services.logger.error({ err: error, userId: user.id }, 'password reset mail failed'));
}

const invalidResetToken = () =>
  new AppError('BAD_USER_INPUT', 'This reset link is invalid, expired or already used. Ask for a new one.', { field: 'token', reason: 'INVALID_RESET_TOKEN' });

/** Consumes a reset token (exactly once, even under concurrent use), sets the password and ends every session. */
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
    return token.userId;
  });
  if (!userId) throw invalidResetToken();
  await recordActivity(services.db, { type: 'auth.password_reset.completed', actorUserId: userId, subjectUserId: userId, ip: input.client.ip, userAgent: input.client.userAgent });
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
  await services.db.$transaction([
    services.db.user.update({ where: { id: input.viewer.userId }, data: { passwordHash, passwordChangedAt: now } }),
    services.db.loginSession.updateMany({ where: { userId: input.viewer.userId, revokedAt: null, NOT: { id: input.viewer.sessionId } }, data: { revokedAt: now, revokedReason: 'password_change' } }),
  ]);
  await services.rateLimiter.reset(`password-change:${input.viewer.userId}`);
  await recordActivity(services.db, { type: 'auth.password.changed', actorUserId: input.viewer.userId, subjectUserId: input.viewer.userId, ip: input.client.ip, userAgent: input.client.userAgent });
}

/** Ends one of the viewer's own sessions; anyone else's is not found. */
export async function revokeOwnSession(services: Services, input: { viewer: Viewer; sessionId: string; client: ClientInfo }): Promise<void> {
  assertAccountSession(input.viewer, "manage the account's sessions");
  const revoked = await revokeSessions(services, { where: { id: input.sessionId, userId: input.viewer.userId }, reason: 'revoked_by_user' });
  if (revoked === 0) throw new AppError('NOT_FOUND', 'Session not found.');
  await recordActivity(services.db, { type: 'auth.session.revoked', actorUserId: input.viewer.userId, subjectUserId: input.viewer.userId, ip: input.client.ip, userAgent: input.client.userAgent, data: { sessionId: input.sessionId } });
}

type UserQuery = { include?: Prisma.UserInclude; select?: Prisma.UserSelect };

export function getUserById<Q extends UserQuery>(services: Pick<Services, 'db'>, input: { id: string; query?: Q }) {
  return services.db.user.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: input.id } });
}

/** The viewer's sessions that still work, newest first. */
export function listActiveSessions<Q extends { include?: Prisma.LoginSessionInclude; select?: Prisma.LoginSessionSelect }>(
  services: Pick<Services, 'db' | 'clock'>,
  input: { viewer: Viewer; query?: Q },
) {
  assertAccountSession(input.viewer, "list the account's sessions");
  return services.db.loginSession.findMany({
    ...(input.query ?? {}),
    where: { userId: input.viewer.userId, revokedAt: null, expiresAt: { gt: services.clock.now() } },
    orderBy: { createdAt: 'desc' },
  });
}
