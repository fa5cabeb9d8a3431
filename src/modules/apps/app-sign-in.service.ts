import type { Services } from '../../graphql/context.ts';
import { assertCredentialAttemptAllowed, CredentialAttemptsExceeded, recordCredentialFailure, type CredentialAttempt } from '../../lib/credential-guard.ts';
import { AppError } from '../../lib/errors.ts';
import { withPasswordWork } from '../../lib/password.ts';
import { hashSecret } from '../../lib/tokens.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { countPasswordAttempt } from '../auth/accounts.service.ts';
import { startSession, type ClientInfo, type IssuedSession } from '../auth/sessions.service.ts';
import { apiKeyPrefix } from './api-registrations.service.ts';
import { checkAppAccess, INVALID_CREDENTIALS, SOURCE_NOT_ALLOWED, sourceAllowed, type AppAccessDenial } from './app-access.ts';
import { activeOAuthToken, verifyOAuthAccessToken } from './oauth.service.ts';

/** `PS-Auth key=<key>; runas=<user>; pwd=[<password>];`: the app sign-in Authorization scheme. */
export interface PsAuthCredentials {
  key: string;
  runAs: string;
  password?: string;
}

const PS_AUTH = /^PS-Auth\s+/i;
/** Far more than a key, a user name and a password take; longer headers are refused before they are parsed. */
const MAX_PS_AUTH_LENGTH = 4096;
const WHITESPACE = /\s/;

/** Where `pwd=[...]` ends: the first `]` followed by optional whitespace and then `;` or the end. One pass, no backtracking. */
function passwordEnd(rest: string): { index: number; next: number } | null {
  for (let index = rest.indexOf(']'); index !== -1; index = rest.indexOf(']', index + 1)) {
    let next = index + 1;
    while (next < rest.length && WHITESPACE.test(rest[next]!)) next++;
    if (next === rest.length) return { index, next };
    if (rest[next] === ';') return { index, next: next + 1 };
  }
  return null;
}

/**
 * Parses the PS-Auth Authorization header. Parameters are `name=value;` pairs, names case-insensitive, in any
 * order; the password is written in square brackets (`pwd=[...]`) so it may itself hold `;`, and ends at the
 * first `]` followed by `;` or the end. Null when the header is not PS-Auth; BAD_USER_INPUT when it is malformed.
 */
export function parsePsAuth(header: string | undefined): PsAuthCredentials | null {
  if (!header || !PS_AUTH.test(header.slice(0, 64))) return null;
  const malformed = (detail: string) =>
    new AppError('UNAUTHENTICATED', `The Authorization header must be "PS-Auth key=<key>; runas=<user>;" with an optional "pwd=[<password>];": ${detail}`, {
      reason: 'MALFORMED_AUTHORIZATION',
    });
  if (header.length > MAX_PS_AUTH_LENGTH) throw malformed(`it is longer than ${MAX_PS_AUTH_LENGTH} characters.`);
  let rest = header.replace(PS_AUTH, '');
  const values = new Map<string, string>();
  while (rest.trim() !== '') {
    rest = rest.replace(/^\s+/, '');
    const match = /^([A-Za-z]+)\s*=\s*/.exec(rest);
    if (!match?.[1]) throw malformed('expected name=value.');
    const name = match[1].toLowerCase();
    if (!['key', 'runas', 'pwd'].includes(name)) throw malformed(`unknown parameter "${match[1]}".`);
    if (values.has(name)) throw malformed(`"${name}" is given twice.`);
    rest = rest.slice(match[0].length);
    let value: string;
    if (name === 'pwd') {
      const end = passwordEnd(rest);
      if (!rest.startsWith('[') || !end) throw malformed('the password must be written as pwd=[<password>].');
      value = rest.slice(1, end.index);
      rest = rest.slice(end.next);
    } else {
      const end = rest.indexOf(';');
      value = (end === -1 ? rest : rest.slice(0, end)).trim();
      rest = end === -1 ? '' : rest.slice(end + 1);
    }
    values.set(name, value);
  }
  const key = values.get('key');
  const runAs = values.get('runas');
  if (!key || !runAs) throw malformed('key and runas are required.');
  const password = values.get('pwd');
  return { key, runAs, ...(password !== undefined ? { password } : {}) };
}

/** What SignAppin answers: the user model, in the wire format of the app sign-in API. */
export interface AppUserModel {
  UserId: number;
  SID: string;
  EmailAddress: string;
  UserName: string;
  Name: string;
}

export interface AppSignInResult {
  user: AppUserModel;
  session: IssuedSession;
}

export class AppSignInDenied extends Error {
  constructor(readonly denial: AppAccessDenial) {
    super(denial.message);
    this.name = 'AppSignInDenied';
  }
}

/**
 * Failed app sign-ins count against the caller's address and, with a key, against the key's prefix (what names a
 * registration without being its secret), so keys and users cannot be guessed at speed from one place or many. An
 * access token names nothing before it is verified, so it counts against the address only.
 */
const keyAttempt = (key: string, client: ClientInfo): CredentialAttempt => ({ kind: 'app-sign-in', identifier: `key:${apiKeyPrefix(key)}`, address: client.ip });
const tokenAttempt = (client: ClientInfo): CredentialAttempt => ({ kind: 'app-sign-in', address: client.ip });

async function assertNotThrottled(services: Services, attempt: CredentialAttempt): Promise<void> {
  try {
    await assertCredentialAttemptAllowed(services, attempt);
  } catch (error) {
    if (!(error instanceof CredentialAttemptsExceeded)) throw error;
    throw new AppError('RATE_LIMITED', 'Too many failed sign-in attempts. Try again later.', { retryAfterSeconds: error.retryAfterSeconds });
  }
}

async function deny(
  services: Services,
  attempt: CredentialAttempt,
  client: ClientInfo,
  denial: AppAccessDenial,
  facts: { method: string; organizationId?: string | null; userId?: string | null },
): Promise<never> {
  await recordCredentialFailure(services, attempt);
  await recordActivity(services.db, {
    type: 'auth.app_sign_in.failed',
    subjectUserId: facts.userId ?? null,
    organizationId: facts.organizationId ?? null,
    ip: client.ip,
    userAgent: client.userAgent,
    data: { method: facts.method, reason: denial.reason },
  });
  throw new AppSignInDenied(denial);
}

async function openAppSession(
  services: Services,
  input: { userId: string; organizationId: string; apiRegistrationId: string; oauthTokenId?: string; method: string; client: ClientInfo },
): Promise<AppSignInResult> {
  const now = services.clock.now();
  const session = await services.db.$transaction(async (tx) => {
    const started = await startSession(
      { ...services, db: tx },
      { userId: input.userId, kind: 'APP_SIGN_IN', client: input.client, apiRegistrationId: input.apiRegistrationId, ...(input.oauthTokenId ? { oauthTokenId: input.oauthTokenId } : {}) },
    );
    await tx.apiRegistration.update({ where: { id: input.apiRegistrationId }, data: { lastUsedAt: now } });
    await recordActivity(tx, {
      type: 'auth.app_sign_in.success',
      actorUserId: input.userId,
      subjectUserId: input.userId,
      organizationId: input.organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { method: input.method, sessionId: started.sessionId, apiRegistrationId: input.apiRegistrationId },
    });
    return started;
  });
  const user = await services.db.user.findUniqueOrThrow({ where: { id: input.userId }, select: { id: true, numericId: true, email: true, name: true } });
  return { session, user: { UserId: user.numericId, SID: user.id, EmailAddress: user.email, UserName: user.email, Name: user.name } };
}

/**
 * POST /v1/Auth/SignAppin with `PS-Auth key=...; runas=...;`. The key must belong to a live registration, the
 * request must come from one of its sources, `runas` (the user's email) must name an enabled member of its
 * organization who is in one of its groups, and the organization's subscription must be active. `pwd`, when given,
 * is checked last and counted like a sign-in against the account's limits, so a key is no way to guess passwords:
 * a wrong password for someone the key may not run as is told nothing beyond that.
 */
export async function signInWithApiKey(services: Services, input: { credentials: PsAuthCredentials; client: ClientInfo }): Promise<AppSignInResult> {
  const method = 'api_key';
  const attempt = keyAttempt(input.credentials.key, input.client);
  await assertNotThrottled(services, attempt);
  const registration = await services.db.apiRegistration.findUnique({
    where: { keyHash: hashSecret(input.credentials.key) },
    select: { id: true, organizationId: true, allowedSources: true, disabledAt: true },
  });
  if (!registration || registration.disabledAt) return deny(services, attempt, input.client, INVALID_CREDENTIALS, { method });
  const facts = { method, organizationId: registration.organizationId };
  if (!sourceAllowed(registration.allowedSources, input.client.ip)) return deny(services, attempt, input.client, SOURCE_NOT_ALLOWED, facts);
  const email = input.credentials.runAs.trim().toLowerCase();
  const user = await services.db.user.findUnique({ where: { email }, select: { id: true, passwordHash: true } });
  if (!user) return deny(services, attempt, input.client, INVALID_CREDENTIALS, facts);
  const denial = await checkAppAccess(services, { apiRegistrationId: registration.id, userId: user.id, ip: input.client.ip });
  if (denial) return deny(services, attempt, input.client, denial, { ...facts, userId: user.id });
  const password = input.credentials.password;
  if (password !== undefined) {
    // Admitted to the password-hashing queue before the attempt counts: a 503 OVERLOADED costs the caller no attempt.
    const valid = await withPasswordWork(async (passwords) => {
      const attempt = await countPasswordAttempt(services, email, input.client);
      const over = attempt.results.filter((result) => !result.allowed);
      if (over.length > 0) {
        throw new AppError('RATE_LIMITED', 'Too many sign-in attempts. Try again later.', { retryAfterSeconds: Math.max(...over.map((r) => r.retryAfterSeconds)) });
      }
      // Users without a password cost a full verification too.
      const matches = user.passwordHash ? (await passwords.verify(user.passwordHash, password)).valid : (await passwords.verifyDummy(password), false);
      // Only failures stay counted: a right password takes its attempt back.
      if (matches) await attempt.succeeded();
      return matches;
    });
    if (!valid) return deny(services, attempt, input.client, INVALID_CREDENTIALS, { ...facts, userId: user.id });
  }
  return openAppSession(services, { userId: user.id, organizationId: registration.organizationId, apiRegistrationId: registration.id, method, client: input.client });
}

/**
 * POST /v1/Auth/SignAppIn with `Authorization: Bearer <access token>` from the client credentials grant: the
 * token must be a live `at+jwt` of ours, and its client's application user must pass the same checks as above.
 */
export async function signInWithAccessToken(services: Services, input: { accessToken: string; client: ClientInfo }): Promise<AppSignInResult> {
  const method = 'oauth';
  const attempt = tokenAttempt(input.client);
  await assertNotThrottled(services, attempt);
  const claims = await verifyOAuthAccessToken(services, input.accessToken);
  const token = claims ? await activeOAuthToken(services, claims) : null;
  if (!token?.userId || !token.organizationId) return deny(services, attempt, input.client, INVALID_CREDENTIALS, { method });
  const apiRegistrationId = token.oauthClient?.apiRegistrationId ?? null;
  const denial = await checkAppAccess(services, { apiRegistrationId, userId: token.userId, ip: input.client.ip });
  if (denial || !apiRegistrationId) return deny(services, attempt, input.client, denial ?? INVALID_CREDENTIALS, { method, organizationId: token.organizationId, userId: token.userId });
  return openAppSession(services, { userId: token.userId, organizationId: token.organizationId, apiRegistrationId, oauthTokenId: token.id, method, client: input.client });
}
