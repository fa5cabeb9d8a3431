import type { Config } from '../config.ts';

export const ACCESS_COOKIE = 'sc_access';
export const REFRESH_COOKIE = 'sc_refresh';

export function parseCookies(header: string | null | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index <= 0) continue;
    const name = part.slice(0, index).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(index + 1).trim());
  }
  return cookies;
}

interface CookieOptions {
  maxAgeSeconds: number;
  path: string;
  sameSite: 'Strict' | 'Lax';
}

/** One Set-Cookie value: always HttpOnly, `Secure` when COOKIE_SECURE. */
export function serialise(config: Config, name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${options.maxAgeSeconds}`,
    'HttpOnly',
    `SameSite=${options.sameSite}`,
    ...(config.auth.cookieSecure ? ['Secure'] : []),
  ].join('; ');
}

/** Whole seconds from `now` until `expiresAt` (rounded up, so a cookie never dies before its token), at most `cap`. */
const secondsUntil = (expiresAt: Date, now: Date, cap: number) => Math.max(0, Math.min(cap, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000)));

/**
 * The browser form of a session: the access JWT for every API call, and the refresh token only for /graphql
 * (where refreshSession lives). Both HttpOnly, so page scripts never see them. Each cookie lives as long as its
 * token, so a session cut short (a sender or signer session) leaves no cookie behind it.
 */
export function sessionCookies(
  config: Config,
  session: { accessToken: string; accessTokenExpiresAt: Date; refreshToken: string; refreshTokenExpiresAt: Date },
  now: Date,
): string[] {
  const { refreshTokenTtlSeconds } = config.auth;
  // The longest any session kind's access token lives (a magic-link session's may outlive the others').
  const accessTokenTtlSeconds = Math.max(config.auth.accessTokenTtlSeconds, config.auth.magicLinkAccessTokenTtlSeconds);
  return [
    serialise(config, ACCESS_COOKIE, session.accessToken, { maxAgeSeconds: secondsUntil(session.accessTokenExpiresAt, now, accessTokenTtlSeconds), path: '/', sameSite: 'Lax' }),
    serialise(config, REFRESH_COOKIE, session.refreshToken, {
      maxAgeSeconds: secondsUntil(session.refreshTokenExpiresAt, now, refreshTokenTtlSeconds),
      path: '/graphql',
      sameSite: 'Strict',
    }),
  ];
}

export function clearedSessionCookies(config: Config): string[] {
  return [
    serialise(config, ACCESS_COOKIE, '', { maxAgeSeconds: 0, path: '/', sameSite: 'Lax' }),
    serialise(config, REFRESH_COOKIE, '', { maxAgeSeconds: 0, path: '/graphql', sameSite: 'Strict' }),
  ];
}

export const DEVICE_COOKIE = 'sc_device';

/**
 * The device token of a successful password sign-in (see trusted-devices.ts): HttpOnly, sent back only to /graphql
 * where signIn lives, and kept for the token's whole life. Signing out leaves it: it says the browser signed in
 * before, not that it is signed in now.
 */
export function deviceCookie(config: Config, token: string, maxAgeSeconds: number): string {
  return serialise(config, DEVICE_COOKIE, token, { maxAgeSeconds, path: '/graphql', sameSite: 'Strict' });
}
