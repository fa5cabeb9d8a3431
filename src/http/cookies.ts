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

function serialise(config: Config, name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${options.maxAgeSeconds}`,
    'HttpOnly',
    `SameSite=${options.sameSite}`,
    ...(config.auth.cookieSecure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * The browser form of a session: the access JWT for every API call, and the refresh token only for /graphql
 * (where refreshSession lives). Both HttpOnly, so page scripts never see them.
 */
export function sessionCookies(config: Config, session: { accessToken: string; refreshToken: string }): string[] {
  return [
    serialise(config, ACCESS_COOKIE, session.accessToken, { maxAgeSeconds: config.auth.accessTokenTtlSeconds, path: '/', sameSite: 'Lax' }),
    serialise(config, REFRESH_COOKIE, session.refreshToken, { maxAgeSeconds: config.auth.refreshTokenTtlSeconds, path: '/graphql', sameSite: 'Strict' }),
  ];
}

export function clearedSessionCookies(config: Config): string[] {
  return [
    serialise(config, ACCESS_COOKIE, '', { maxAgeSeconds: 0, path: '/', sameSite: 'Lax' }),
    serialise(config, REFRESH_COOKIE, '', { maxAgeSeconds: 0, path: '/graphql', sameSite: 'Strict' }),
  ];
}
