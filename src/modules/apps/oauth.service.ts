import { errors, jwtVerify, SignJWT } from 'jose';
import type { Services } from '../../graphql/context.ts';
import { assertCredentialAttemptAllowed, recordCredentialFailure, verifyStoredSecret, type SecretVerifier } from '../../lib/credential-guard.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { recordActivity } from '../activity/activity.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import { JWT_ALGORITHM, verificationKeyResolver } from '../auth/keys.ts';
import { checkAppAccess } from './app-access.ts';

/** RFC 9068: the `typ` of a JWT access token. Never accepted as a user session, whose tokens are `session+jwt`. */
export const OAUTH_TOKEN_TYPE = 'at+jwt';
export const PUBLIC_API_AUDIENCE = 'safeclose-public-api';

/** The error codes of RFC 6749 section 5.2 (and RFC 7009's unsupported_token_type). */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope' | 'unsupported_token_type';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = 'OAuthError';
  }

  get status(): number {
    return this.error === 'invalid_client' ? 401 : 400;
  }
}

export interface AuthenticatedClient {
  id: string;
  clientId: string;
  organizationId: string;
  userId: string;
  scopes: string[];
  apiRegistrationId: string | null;
}

/**
 * A client by id and secret, or null. An unknown id costs what a wrong secret costs: the same one read, and `verify`
 * hashes and compares either way. Whether the client or its registration is disabled is asked only once the secret
 * matched, so that extra read tells nothing to someone who does not hold it. Failures count against the caller's
 * address and the client id; over either limit every attempt, the right secret included, is refused with
 * CredentialAttemptsExceeded until the window ends.
 */
export async function authenticateClient(
  services: Services,
  input: { clientId: string; clientSecret: string; client: ClientInfo },
  verify: SecretVerifier = verifyStoredSecret,
): Promise<AuthenticatedClient | null> {
  const attempt = { kind: 'oauth-client', identifier: input.clientId, address: input.client.ip } as const;
  await assertCredentialAttemptAllowed(services, attempt);
  const client = await services.db.oAuthClient.findUnique({
    where: { clientId: input.clientId },
    select: { id: true, clientId: true, secretHash: true, organizationId: true, userId: true, scopes: true, apiRegistrationId: true, disabledAt: true },
  });
  const matches = verify(input.clientSecret, client?.secretHash);
  const usable = client !== null && matches && !client.disabledAt && (await registrationUsable(services, client.apiRegistrationId));
  if (!client || !usable) {
    await recordCredentialFailure(services, attempt);
    return null;
  }
  return { id: client.id, clientId: client.clientId, organizationId: client.organizationId, userId: client.userId, scopes: client.scopes, apiRegistrationId: client.apiRegistrationId };
}

/** A client without a registration has nothing more to check; one with a revoked registration is unusable. */
async function registrationUsable(services: Services, apiRegistrationId: string | null): Promise<boolean> {
  if (!apiRegistrationId) return true;
  const registration = await services.db.apiRegistration.findUnique({ where: { id: apiRegistrationId }, select: { disabledAt: true } });
  return registration !== null && !registration.disabledAt;
}

export interface IssuedAccessToken {
  access_token: string;
  expires_in: number;
  token_type: 'Bearer';
  scope: string;
}

/**
 * The client credentials grant (RFC 6749 section 4.4): a JWT access token (RFC 9068) with a fresh `jti`, recorded
 * by the SHA-256 of its `jti` so it can be revoked and introspected. The client's application user must pass the
 * same checks app sign-in makes (source address, group, subscription) at issue time, and again at every use.
 */
export async function issueClientCredentialsToken(
  services: Services,
  input: { client: AuthenticatedClient; scope: string | null; clientInfo: ClientInfo },
): Promise<IssuedAccessToken> {
  const requested = input.scope === null ? input.client.scopes : [...new Set(input.scope.split(' ').filter(Boolean))];
  if (requested.length === 0 || requested.some((scope) => !input.client.scopes.includes(scope))) {
    throw new OAuthError('invalid_scope', `This client may only request the scope "${input.client.scopes.join(' ')}".`);
  }
  const denial = await checkAppAccess(services, { apiRegistrationId: input.client.apiRegistrationId, userId: input.client.userId, ip: input.clientInfo.ip });
  if (denial) throw new OAuthError('unauthorized_client', denial.message);

  const now = services.clock.now();
  const iat = Math.floor(now.getTime() / 1000);
  const ttl = services.config.publicApi.accessTokenTtlSeconds;
  // 256 random bits: the jti is what the stored hash identifies.
  const jti = generateSecret();
  const scope = requested.join(' ');
  const accessToken = await new SignJWT({ client_id: input.client.clientId, scope })
    .setProtectedHeader({ alg: JWT_ALGORITHM, kid: services.keys.signing.kid, typ: OAUTH_TOKEN_TYPE })
    .setIssuer(services.config.publicUrl)
    .setAudience(PUBLIC_API_AUDIENCE)
    .setSubject(input.client.clientId)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(services.keys.signing.privateKey);
  await services.db.$transaction(async (tx) => {
    const token = await tx.authToken.create({
      data: {
        purpose: 'OAUTH_ACCESS',
        tokenHash: hashSecret(jti),
        userId: input.client.userId,
        organizationId: input.client.organizationId,
        oauthClientId: input.client.id,
        maxUses: null,
        createdAt: now,
        expiresAt: new Date((iat + ttl) * 1000),
      },
      select: { id: true },
    });
    await tx.oAuthClient.update({ where: { id: input.client.id }, data: { lastUsedAt: now } });
    await recordActivity(tx, {
      type: 'oauth.token.issued',
      actorUserId: input.client.userId,
      subjectUserId: input.client.userId,
      organizationId: input.client.organizationId,
      ip: input.clientInfo.ip,
      userAgent: input.clientInfo.userAgent,
      data: { oauthClientId: input.client.id, tokenId: token.id, scope },
    });
  });
  return { access_token: accessToken, expires_in: ttl, token_type: 'Bearer', scope };
}

export interface OAuthTokenClaims {
  jti: string;
  clientId: string;
  scope: string;
  sub: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
}

/**
 * Verifies an `at+jwt` (signature with a key of ours, type, issuer, audience, expiry unless `allowExpired`).
 * Session tokens, API keys and anything else: null.
 */
export async function verifyOAuthAccessToken(services: Services, token: string, options: { allowExpired?: boolean } = {}): Promise<OAuthTokenClaims | null> {
  try {
    const { payload } = await jwtVerify(
      token,
      verificationKeyResolver(services.keys),
      {
        algorithms: [JWT_ALGORITHM],
        typ: OAUTH_TOKEN_TYPE,
        issuer: services.config.publicUrl,
        audience: PUBLIC_API_AUDIENCE,
        currentDate: options.allowExpired ? new Date(0) : services.clock.now(),
        requiredClaims: ['jti', 'sub', 'exp', 'iat', 'client_id', 'scope'],
      },
    );
    if (typeof payload.jti !== 'string' || typeof payload.client_id !== 'string' || typeof payload.scope !== 'string' || typeof payload.sub !== 'string') return null;
    return {
      jti: payload.jti,
      clientId: payload.client_id,
      scope: payload.scope,
      sub: payload.sub,
      iss: services.config.publicUrl,
      aud: PUBLIC_API_AUDIENCE,
      iat: payload.iat ?? 0,
      exp: payload.exp ?? 0,
    };
  } catch (error) {
    if (error instanceof errors.JOSEError) return null;
    throw error;
  }
}

/** The live record of an access token: not revoked, not expired, its client still enabled. */
export async function activeOAuthToken(services: Services, claims: OAuthTokenClaims) {
  const now = services.clock.now();
  return services.db.authToken.findFirst({
    where: {
      tokenHash: hashSecret(claims.jti),
      purpose: 'OAUTH_ACCESS',
      revokedAt: null,
      expiresAt: { gt: now },
      oauthClient: { is: { clientId: claims.clientId, disabledAt: null } },
    },
    select: { id: true, userId: true, organizationId: true, oauthClient: { select: { id: true, apiRegistrationId: true } } },
  });
}

/**
 * RFC 7009: revokes an access token issued to this client, and ends the sessions app sign-in opened with it.
 * Tokens that are unknown, malformed, expired or another client's are ignored: the answer is the same 200.
 */
export async function revokeOAuthToken(services: Services, input: { client: AuthenticatedClient; token: string; clientInfo: ClientInfo }): Promise<void> {
  const claims = await verifyOAuthAccessToken(services, input.token, { allowExpired: true });
  if (!claims || claims.clientId !== input.client.clientId) return;
  const now = services.clock.now();
  await services.db.$transaction(async (tx) => {
    const row = await tx.authToken.findFirst({ where: { tokenHash: hashSecret(claims.jti), purpose: 'OAUTH_ACCESS', oauthClientId: input.client.id, revokedAt: null }, select: { id: true } });
    if (!row) return;
    await tx.authToken.update({ where: { id: row.id }, data: { revokedAt: now } });
    await tx.loginSession.updateMany({ where: { oauthTokenId: row.id, revokedAt: null }, data: { revokedAt: now, revokedReason: 'oauth_token_revoked' } });
    await recordActivity(tx, {
      type: 'oauth.token.revoked',
      actorUserId: input.client.userId,
      organizationId: input.client.organizationId,
      ip: input.clientInfo.ip,
      userAgent: input.clientInfo.userAgent,
      data: { oauthClientId: input.client.id, tokenId: row.id },
    });
  });
}

export type IntrospectionResponse =
  | { active: false }
  | { active: true; scope: string; client_id: string; token_type: 'Bearer'; exp: number; iat: number; sub: string; aud: string; iss: string; jti: string };

/**
 * RFC 7662. Only the client a token was issued to learns anything about it; for every other caller, for any token
 * that is not live, and for one whose application user would now be refused, the answer is `{ "active": false }`.
 */
export async function introspectOAuthToken(services: Services, input: { client: AuthenticatedClient; token: string }): Promise<IntrospectionResponse> {
  const claims = await verifyOAuthAccessToken(services, input.token);
  if (!claims || claims.clientId !== input.client.clientId) return { active: false };
  const token = await activeOAuthToken(services, claims);
  // Active means SignAppIn would take it now (wherever from): the application user must still pass the checks.
  if (!token?.userId) return { active: false };
  const denial = await checkAppAccess(services, { apiRegistrationId: token.oauthClient?.apiRegistrationId ?? null, userId: token.userId, ip: undefined, checkSource: false });
  if (denial) return { active: false };
  return { active: true, scope: claims.scope, client_id: claims.clientId, token_type: 'Bearer', exp: claims.exp, iat: claims.iat, sub: claims.sub, aud: claims.aud, iss: claims.iss, jti: claims.jti };
}
