import type { Prisma } from '../../generated/prisma/client.ts';
import type { CreationOrder } from '../../graphql/connections.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { checkPasswordPolicy, hashPassword, withPasswordWork, type PasswordWork } from '../../lib/password.ts';
import type { RateLimitResult, RateLimitRule } from '../../lib/rate-limit.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { email as validEmail, EMAIL, EMAIL_MAX_LENGTH, text } from '../../lib/validate.ts';
import { accountExistsMail, emailChangeMail, emailVerificationMail, passwordResetMail } from '../mail/templates.ts';
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

/** How long a verification link (a sign-up's, or an email change's) works. */
export const EMAIL_VERIFICATION_TTL_SECONDS = 24 * 3600;

/** What `signUp` answers: the same whether or not the address already has an account. */
export interface SignUpAcceptance {
  email: string;
}

const verificationLink = (services: Services, token: string) => `${services.config.publicUrl}/verify-email?token=${encodeURIComponent(token)}`;

/** Mails after the response, so timing does not tell which mail went out; a failure is logged without the link. */
function mailLater(services: Services, message: { to: string; subject: string; text: string }, log: Record<string, unknown>, what: string): void {
  void services.mailer.send(message).catch((error: unknown) => services.logger.error({ err: error, ...log }, `${what} mail failed`));
}

/**
 * Starts a sign-up without telling whether the address is registered: limited per address and per email, the
 * password hashed either way, and the answer the same. A new address gets an unverified account and a single-use
 * link (`verifyEmail`) that verifies it and starts the first session; an address with an account gets a mail saying
 * so, pointing to sign-in and password reset, and nothing changes. The account, its link and the audit row are
 * written in one transaction.
 */
export async function signUp(services: Services, input: { email: string; password: string; name: string; client: ClientInfo }): Promise<SignUpAcceptance> {
  const email = normaliseEmail(input.email);
  const name = text(input.name, 'name', { max: 200 });
  checkPasswordPolicy(input.password);
  const { auth, publicUrl } = services.config;
  const counted = await Promise.all([
    services.rateLimiter.hit(`signup:email:${email}`, { limit: auth.passwordResetsPerEmail, windowSeconds: auth.passwordResetWindowSeconds }),
    services.rateLimiter.hit(`signup:address:${input.client.ip ?? 'unknown'}`, { limit: auth.signInFailuresPerAddress, windowSeconds: auth.signInFailureWindowSeconds }),
  ]);
  const refused = counted.filter((result) => !result.allowed);
  if (refused.length > 0) throw rateLimited(refused);
  // Hashed for a registered address too (and thrown away), so both answers take as long.
  const passwordHash = await hashPassword(input.password);
  const now = services.clock.now();
  const token = generateSecret();
  const start = () =>
    services.db.$transaction(async (tx) => {
      const existing = await tx.user.findUnique({ where: { email }, select: { id: true } });
      if (existing) {
        await recordActivity(tx, { type: 'auth.sign_up.existing_account', subjectUserId: existing.id, ip: input.client.ip, userAgent: input.client.userAgent });
        return { userId: existing.id, created: false };
      }
      const user = await tx.user.create({ data: { email, name, passwordHash, passwordChangedAt: now }, select: { id: true } });
      await tx.authToken.create({
        data: { purpose: 'EMAIL_VERIFICATION', tokenHash: hashSecret(token), userId: user.id, email, maxUses: 1, createdAt: now, expiresAt: new Date(now.getTime() + EMAIL_VERIFICATION_TTL_SECONDS * 1000) },
      });
      await recordActivity(tx, { type: 'auth.sign_up', actorUserId: user.id, subjectUserId: user.id, ip: input.client.ip, userAgent: input.client.userAgent });
      return { userId: user.id, created: true };
    });
  // A concurrent sign-up may take the address between the read and the insert: then it is a registered address.
  const outcome = await start().catch((error: unknown) => {
    if ((error as { code?: string }).code === 'P2002') return start();
    throw error;
  });
  const message = outcome.created
    ? emailVerificationMail({ link: verificationLink(services, token), hours: EMAIL_VERIFICATION_TTL_SECONDS / 3600 })
    : accountExistsMail({ signInLink: `${publicUrl}/sign-in`, resetLink: `${publicUrl}/forgot-password` });
  mailLater(services, { to: email, ...message }, { userId: outcome.userId }, outcome.created ? 'email verification' : 'account exists');
  return { email };
}

const invalidVerificationToken = () =>
  new AppError('BAD_USER_INPUT', 'This confirmation link is invalid, expired or already used. Sign up again or ask for a new one.', {
    field: 'token',
    reason: 'INVALID_VERIFICATION_TOKEN',
  });

const emailTaken = () =>
  new AppError('CONFLICT', 'Another account uses this email address now, so it cannot become yours.', { field: 'token', reason: 'EMAIL_TAKEN' });

/**
 * Follows a verification link (exactly once, even under concurrent use): the address it proves becomes the
 * account's verified email (a sign-up's own, or the new one of an email change) and a session starts. The account's
 * other pending links stop working. The email, the session and the audit row are written in one transaction.
 */
export async function verifyEmail(services: Services, input: { token: string; client: ClientInfo }): Promise<IssuedSession & { deviceToken?: string }> {
  const now = services.clock.now();
  const tokenHash = hashSecret(input.token);
  const verified = await services.db
    .$transaction(async (tx) => {
      const claimed = await tx.authToken.updateMany({
        where: { tokenHash, purpose: 'EMAIL_VERIFICATION', consumedAt: null, revokedAt: null, expiresAt: { gt: now } },
        data: { consumedAt: now, lastUsedAt: now, useCount: { increment: 1 } },
      });
      if (claimed.count !== 1) return null;
      const stored = await tx.authToken.findUniqueOrThrow({
        where: { tokenHash },
        select: { email: true, user: { select: { id: true, email: true, passwordHash: true, disabledAt: true } } },
      });
      const user = stored.user;
      if (!user || !stored.email || user.disabledAt) return null;
      const changed = stored.email !== user.email;
      if (changed && (await tx.user.findUnique({ where: { email: stored.email }, select: { id: true } }))) throw emailTaken();
      await tx.user.update({ where: { id: user.id }, data: { email: stored.email, emailVerifiedAt: now } });
      await tx.authToken.updateMany({ where: { userId: user.id, purpose: 'EMAIL_VERIFICATION', consumedAt: null, revokedAt: null }, data: { revokedAt: now } });
      const started = await startSession({ ...services, db: tx }, { userId: user.id, kind: 'PASSWORD', client: input.client });
      await recordActivity(tx, {
        type: changed ? 'auth.email.changed' : 'auth.email.verified',
        actorUserId: user.id,
        subjectUserId: user.id,
        ip: input.client.ip,
        userAgent: input.client.userAgent,
        data: { sessionId: started.sessionId },
      });
      return { started, passwordHash: user.passwordHash };
    })
    .catch((error: unknown) => {
      if ((error as { code?: string }).code === 'P2002') throw emailTaken();
      throw error;
    });
  if (!verified) throw invalidVerificationToken();
  const { started, passwordHash } = verified;
  return passwordHash ? { ...started, deviceToken: issueDeviceToken({ id: started.userId, passwordHash }, now) } : started;
}

/**
 * Asks to move the signed-in account to another address, after its password: a link goes to the new address, and
 * the change takes effect when it is followed (`verifyEmail`). The answer is the same when the address belongs to
 * another account (then no link is made or mailed), so this is no way to learn who is registered. A new request
 * replaces the account's pending links.
 */
export async function changeEmail(services: Services, input: { viewer: Viewer; newEmail: string; password: string; client: ClientInfo }): Promise<void> {
  assertAccountSession(input.viewer, 'change the email address');
  const email = normaliseEmail(input.newEmail, 'newEmail');
  return withPasswordWork((passwords) => changeEmailAdmitted(services, passwords, { ...input, newEmail: email }));
}

async function changeEmailAdmitted(services: Services, passwords: PasswordWork, input: { viewer: Viewer; newEmail: string; password: string; client: ClientInfo }): Promise<void> {
  const { auth } = services.config;
  const key = `email-change:${input.viewer.userId}`;
  const attempt = await services.rateLimiter.hit(key, { limit: auth.signInFailuresPerAccount, windowSeconds: auth.signInFailureWindowSeconds });
  if (!attempt.allowed) throw rateLimited([attempt]);
  const user = await services.db.user.findUniqueOrThrow({ where: { id: input.viewer.userId }, select: { email: true, passwordHash: true } });
  const check = user.passwordHash ? await passwords.verify(user.passwordHash, input.password) : { valid: false };
  if (!check.valid) throw new AppError('BAD_USER_INPUT', 'The password is incorrect.', { field: 'password', reason: 'WRONG_PASSWORD' });
  if (input.newEmail === user.email) throw new AppError('BAD_USER_INPUT', 'This is already your email address.', { field: 'newEmail', reason: 'SAME_EMAIL' });
  const now = services.clock.now();
  const token = generateSecret();
  const taken = await services.db.$transaction(async (tx) => {
    const owner = await tx.user.findUnique({ where: { email: input.newEmail }, select: { id: true } });
    await tx.authToken.updateMany({ where: { userId: input.viewer.userId, purpose: 'EMAIL_VERIFICATION', consumedAt: null, revokedAt: null }, data: { revokedAt: now } });
    if (!owner) {
      await tx.authToken.create({
        data: {
          purpose: 'EMAIL_VERIFICATION',
          tokenHash: hashSecret(token),
          userId: input.viewer.userId,
          email: input.newEmail,
          maxUses: 1,
          createdAt: now,
          expiresAt: new Date(now.getTime() + EMAIL_VERIFICATION_TTL_SECONDS * 1000),
        },
      });
    }
    await recordActivity(tx, {
      type: 'auth.email.change_requested',
      actorUserId: input.viewer.userId,
      subjectUserId: input.viewer.userId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { sessionId: input.viewer.sessionId, addressTaken: Boolean(owner) },
    });
    return Boolean(owner);
  });
  await services.rateLimiter.reset(key);
  if (taken) return;
  mailLater(
    services,
    { to: input.newEmail, ...emailChangeMail({ link: verificationLink(services, token), hours: EMAIL_VERIFICATION_TTL_SECONDS / 3600 }) },
    { userId: input.viewer.userId },
    'email change',
  );
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
 * Consumes a reset token (exactly once, even under concurrent use), sets the password, verifies the address the link
 * went to and ends every session, with its audit row, in one transaction.
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
    // The link was mailed to the account's address, which is proven now (an email only changes once verified).
    await tx.user.updateMany({ where: { id: token.userId, emailVerifiedAt: null }, data: { emailVerifiedAt: now } });
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
