import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import type { RateLimiter, RateLimitRule } from './rate-limit.ts';
import { hashSecret, safeEqual } from './tokens.ts';

/**
 * Guessing defences for machine credentials: partner API keys, OAuth client secrets and app sign-in keys. Their
 * secrets have 256 random bits, so nobody guesses one; what these limits stop is the volume of trying (from one
 * address, or spread over many against one partner, client or key) and the work it costs the server.
 */

/** The credentials with a limit of their own; a failing OAuth script does not block the same host's partner calls. */
export type CredentialKind = 'partner' | 'oauth-client' | 'app-sign-in';

export interface CredentialAttempt {
  kind: CredentialKind;
  /**
   * What the caller says it is (partner id, client id, key prefix), counted whether or not it exists. Absent when
   * the credential names nothing before it is verified (a signed token): then only the address counts.
   */
  identifier?: string;
  address: string | undefined;
}

/** Over a limit: answer 429 with Retry-After in the endpoint's own error format. */
export class CredentialAttemptsExceeded extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many failed authentication attempts.');
    this.name = 'CredentialAttemptsExceeded';
  }
}

type Limits = Config['credentialLimits'];

function counters(limits: Limits, attempt: CredentialAttempt): Array<{ key: string; rule: RateLimitRule }> {
  const perAddress = { key: `credential:${attempt.kind}:address:${attempt.address ?? 'unknown'}`, rule: { limit: limits.perAddress, windowSeconds: limits.windowSeconds } };
  if (attempt.identifier === undefined) return [perAddress];
  return [perAddress, { key: `credential:${attempt.kind}:id:${attempt.identifier}`, rule: { limit: limits.perIdentifier, windowSeconds: limits.windowSeconds } }];
}

/**
 * Throws CredentialAttemptsExceeded while the address or the identifier has used up its failures for the window,
 * before any credential is looked at: even the right secret waits, so trying cannot tell a right one apart.
 */
export async function assertCredentialAttemptAllowed(services: { rateLimiter: RateLimiter; config: Pick<Config, 'credentialLimits'> }, attempt: CredentialAttempt): Promise<void> {
  const states = await Promise.all(counters(services.config.credentialLimits, attempt).map(({ key, rule }) => services.rateLimiter.peek(key, rule)));
  const closed = states.filter((state) => !state.allowed);
  if (closed.length > 0) throw new CredentialAttemptsExceeded(Math.max(...closed.map((state) => state.retryAfterSeconds)));
}

/**
 * Counts a failure against the address and the identifier. Only failures count and a success clears nothing: a
 * stranger's failures stay counted, and the caller with the right secret waits at most one window.
 */
export async function recordCredentialFailure(services: { rateLimiter: RateLimiter; config: Pick<Config, 'credentialLimits'> }, attempt: CredentialAttempt): Promise<void> {
  await Promise.all(counters(services.config.credentialLimits, attempt).map(({ key, rule }) => services.rateLimiter.hit(key, rule)));
}

/** A stored hash that no secret has: an unknown identifier is compared against it, at the cost of a known one. */
const NO_SUCH_CREDENTIAL_HASH = hashSecret(`no-such-credential:${randomBytes(32).toString('base64url')}`);

/** Checks a presented secret against the SHA-256 stored for it (`hashSecret`), in constant time. */
export type SecretVerifier = (presented: string, storedHash: string | null | undefined) => boolean;

/**
 * Whether `presented` is the secret whose hash is `storedHash`. With no stored hash (the identifier is unknown) it
 * still hashes and compares, against a hash no secret has, so an unknown identifier costs what a wrong secret costs.
 */
export const verifyStoredSecret: SecretVerifier = (presented, storedHash) => {
  const matches = safeEqual(hashSecret(presented), storedHash ?? NO_SUCH_CREDENTIAL_HASH);
  return matches && storedHash !== null && storedHash !== undefined;
};
