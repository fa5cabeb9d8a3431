import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../../lib/tokens.ts';

/**
 * Device tokens (OWASP's "device cookies"): after a successful password sign-in the client gets a token that says
 * "this client has signed in to this account before". A client presenting a valid one for the account it signs in to
 * has a failure budget of its own, so strangers exhausting the account's shared budget cannot lock it out.
 *
 * The token is `<issuedAt>.<nonce>.<mac>`: the MAC is an HMAC-SHA256 over the account id, the issue time and the
 * nonce, keyed by the account's stored password hash (a secret only the server holds, salted per account, shared by
 * every instance through the database). So nothing is stored per device, a token is valid for one account only,
 * and changing the password retires every device token of the account.
 */

/** How long a device token is trusted after it was issued; each successful sign-in issues a fresh one. */
export const DEVICE_TOKEN_TTL_SECONDS = 180 * 86_400;

const TOKEN = /^(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
/** Longer than any token this module issues: refused before the pattern runs. */
const TOKEN_MAX_LENGTH = 100;

function mac(passwordHash: string, userId: string, issuedAt: number, nonce: string): string {
  return createHmac('sha256', passwordHash).update(`safeclose-device-v1|${userId}|${issuedAt}|${nonce}`, 'utf8').digest('base64url');
}

export function issueDeviceToken(account: { id: string; passwordHash: string }, now: Date): string {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const nonce = randomBytes(16).toString('base64url');
  return `${issuedAt}.${nonce}.${mac(account.passwordHash, account.id, issuedAt, nonce)}`;
}

/** Whether a token has the shape of a device token; only those are worth reading the account for. */
export function looksLikeDeviceToken(token: string | undefined): token is string {
  return token !== undefined && token.length <= TOKEN_MAX_LENGTH && TOKEN.test(token);
}

/**
 * The device's id (its nonce) when `token` was issued to this account and has not expired, else null. The MAC is
 * compared in constant time.
 */
export function verifyDeviceToken(token: string | undefined, account: { id: string; passwordHash: string | null } | null, now: Date): string | null {
  if (!looksLikeDeviceToken(token) || !account?.passwordHash) return null;
  const [, issuedAtText, nonce, presented] = TOKEN.exec(token) ?? [];
  if (!issuedAtText || !nonce || !presented) return null;
  const issuedAt = Number(issuedAtText);
  const ageSeconds = now.getTime() / 1000 - issuedAt;
  if (ageSeconds < -60 || ageSeconds > DEVICE_TOKEN_TTL_SECONDS) return null;
  return safeEqual(presented, mac(account.passwordHash, account.id, issuedAt, nonce)) ? nonce : null;
}
