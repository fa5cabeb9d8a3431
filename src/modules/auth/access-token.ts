import { errors, jwtVerify, SignJWT } from 'jose';
import { JWT_ALGORITHM, verificationKeyResolver, type KeyStore } from './keys.ts';

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

/**
 * Verifies signature, algorithm (allow-list of one), type, issuer, audience and expiry. Header-supplied keys
 * (`jku`, `x5u`, `jwk`) are never consulted: keys come only from the key store, by `kid`.
 * Returns null for any token that fails.
 */
export async function verifyAccessToken(settings: TokenSettings, token: string): Promise<AccessTokenClaims | null> {
  try {
    const { payload } = await jwtVerify(
      token,
      verificationKeyResolver(settings.keys),
      {
        algorithms: [JWT_ALGORITHM],
        typ: SESSION_TOKEN_TYPE,
        issuer: settings.issuer,
        audience: ACCESS_TOKEN_AUDIENCE,
        currentDate: settings.now,
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
      },
    );
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null;
    return { userId: payload.sub, sessionId: payload.sid, expiresAt: new Date((payload.exp ?? 0) * 1000) };
  } catch (error) {
    if (error instanceof errors.JOSEError) return null;
    throw error;
  }
}
