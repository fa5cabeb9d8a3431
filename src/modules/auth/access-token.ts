import { verify } from 'node:crypto';
import { errors, SignJWT, UnsecuredJWT } from 'jose';
import { JWT_ALGORITHM, type KeyStore } from './keys.ts';

/** The `typ` of a user session's access token; tokens of any other type are never accepted as a session. */
export const SESSION_TOKEN_TYPE = 'session+jwt';
export const ACCESS_TOKEN_AUDIENCE = 'safeclose-api';

export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
  /** Set on verified tokens: when this token stops being accepted. */
  expiresAt?: Date;
}

export interface TokenSettings {
  keys: KeyStore;
  issuer: string;
  now: Date;
}

export async function issueAccessToken(settings: TokenSettings & { ttlSeconds: number }, claims: AccessTokenClaims): Promise<string> {
  const iat = Math.floor(settings.now.getTime() / 1000);
  return new SignJWT({ sid: claims.sessionId })
    .setProtectedHeader({ alg: JWT_ALGORITHM, kid: settings.keys.signing.kid, typ: SESSION_TOKEN_TYPE })
    .setIssuer(settings.issuer)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setSubject(claims.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + settings.ttlSeconds)
    .sign(settings.keys.signing.privateKey);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * `verifyAccessToken`, but a token naming a key this instance has not loaded yet (another instance stored it)
 * reloads the shared key set first, rate-limited, and is checked again. Known keys never wait.
 */
export async function verifyAccessTokenRefreshingKeys(settings: TokenSettings, token: string): Promise<AccessTokenClaims | null> {
  const claims = verifyAccessToken(settings, token);
  if (claims) return claims;
  const kid = decodeJsonObject(token.split('.')[0] ?? '')?.kid;
  if (typeof kid !== 'string' || settings.keys.verificationKeyObject(kid) || !(await settings.keys.refreshFor(kid))) return null;
  return verifyAccessToken(settings, token);
}

function decodeJsonObject(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Verifies signature, algorithm (allow-list of one), type, issuer, audience and expiry. Header-supplied keys
 * (`jku`, `x5u`, `jwk`) are never consulted: keys come only from the key store, by `kid`.
 * Returns null for any token that fails.
 *
 * Synchronous on purpose: WebCrypto (what jose's jwtVerify uses) runs each verification as a job in libuv's thread
 * pool, where it waits behind password hashing, so every authenticated request would slow down with sign-ins. The
 * ES256 signature is checked here with node:crypto on the calling thread (about 0.1 ms); jose then validates the
 * header's `crit`/`b64` and the claims exactly as jwtVerify does, through UnsecuredJWT.decode, which runs the same
 * checks on the same header (its `alg` replaced by "none" once the signature has been checked) and payload bytes.
 */
export function verifyAccessToken(settings: TokenSettings, token: string): AccessTokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) return null;
  const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = parts;
  const header = decodeJsonObject(encodedHeader);
  if (!header || header.alg !== JWT_ALGORITHM || typeof header.kid !== 'string') return null;
  const key = settings.keys.verificationKeyObject(header.kid);
  if (!key) return null;
  const signedPart = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
  const signature = Buffer.from(encodedSignature, 'base64url');
  if (!verify('sha256', signedPart, { key, dsaEncoding: 'ieee-p1363' }, signature)) return null;
  try {
    const unsecured = `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${encodedPayload}.`;
    const { payload } = UnsecuredJWT.decode(unsecured, {
      typ: SESSION_TOKEN_TYPE,
      issuer: settings.issuer,
      audience: ACCESS_TOKEN_AUDIENCE,
      currentDate: settings.now,
      requiredClaims: ['sub', 'sid', 'exp', 'iat'],
    });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null;
    return { userId: payload.sub, sessionId: payload.sid, expiresAt: new Date((payload.exp ?? 0) * 1000) };
  } catch (error) {
    if (error instanceof errors.JOSEError) return null;
    throw error;
  }
}
