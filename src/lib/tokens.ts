import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new opaque secret: 256 random bits, base64url. Shown once; only its hash is stored. */
export function generateSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** The stored form of an opaque secret. SHA-256 suffices: the secret itself has 256 bits of entropy. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of two strings (of any length). */
export function safeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest();
  const right = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}
