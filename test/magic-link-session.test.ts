import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verificationTokenFor } from './support/accounts.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { createUser, signInAs } from './support/factories.ts';

const START = Date.UTC(2026, 4, 4, 9);
const clock = new ManualClock(START);
let t: TestApp;
let customerId: string;
let customerUserId: string;
let partner: { partnerKey: string; apiKey: string };
let browserNonce: string;

const ME = '{ me { id } }';
const REFRESH = 'mutation($r: String) { refreshSession(refreshToken: $r) { accessToken accessTokenExpiresAt refreshToken } }';
const SIGN_UP = 'mutation($i: SignUpInput!) { signUp(input: $i) { email } }';
const VERIFY_EMAIL = 'mutation($token: String!) { verifyEmail(token: $token) { accessToken accessTokenExpiresAt refreshToken } }';
type Tokens = { accessToken: string; accessTokenExpiresAt: string; refreshToken: string };

const cookieValue = (cookies: string[], name: string) => cookies.find((c) => c.startsWith(`${name}=`))!.split(';')[0]!.slice(name.length + 1);
const maxAge = (cookies: string[], name: string) => Number(/Max-Age=(\d+)/.exec(cookies.find((c) => c.startsWith(`${name}=`))!)![1]);
const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number; exp: number };
const meStatus = async (token: string) => {
  const result = await t.graphql<{ me: { id: string } }, unknown>(ME, undefined, { token });
  return result.body.data?.me.id === customerUserId ? 'OK' : String(result.body.errors?.[0]?.extensions?.code);
};

/** A partner's magic link for the customer, confirmed in this test's browser: the session's cookies. */
async function magicLinkSession(): Promise<{ access: string; refresh: string; cookies: string[] }> {
  const issued = await fetch(`${t.url}/api/v1/integrations/customer/${customerId}/magic-link`, {
    method: 'POST',
    headers: { 'SW-PARTNER-ID': partner.partnerKey, 'SW-API-KEY': partner.apiKey },
  });
  expect(issued.status).toBe(200);
  const token = new URL(String(((await issued.json()) as { url: string }).url)).searchParams.get('token_hash')!;
  if (!browserNonce) {
    const page = await fetch(`${t.url}/auth/confirm?${new URLSearchParams({ token_hash: token, type: 'magiclink' }).toString()}`);
    browserNonce = cookieValue(page.headers.getSetCookie(), 'sc_confirm');
  }
  const confirmed = await fetch(`${t.url}/auth/confirm`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `sc_confirm=${browserNonce}` },
    body: new URLSearchParams({ token_hash: token, type: 'magiclink', nonce: browserNonce }).toString(),
  });
  expect(confirmed.status).toBe(303);
  const cookies = confirmed.headers.getSetCookie();
  return { access: cookieValue(cookies, 'sc_access'), refresh: cookieValue(cookies, 'sc_refresh'), cookies };
}

beforeAll(async () => {
  t = await startTestApp({ clock });
  expect(t.config.auth.accessTokenTtlSeconds).toBe(600);
  expect(t.config.auth.magicLinkAccessTokenTtlSeconds).toBe(3600);
  const adminToken = (await signInAs(t.app.services, (await createUser(t.db.prisma, { roles: ['ADMIN'] })).id)).token;
  const created = await t.graphql<{ createPartner: { apiKey: string; partner: { partnerKey: string } } }, unknown>(
    'mutation($input: CreatePartnerInput!) { createPartner(input: $input) { apiKey partner { partnerKey } } }',
    { input: { name: 'Session Partner', partnerKey: 'session-partner' } },
    { token: adminToken },
  );
  partner = { partnerKey: created.body.data!.createPartner.partner.partnerKey, apiKey: created.body.data!.createPartner.apiKey };
  customerUserId = (await createUser(t.db.prisma, { email: 'kim@magic-session.test' })).id;
  const customer = await t.graphql<{ createPartnerCustomer: { id: string } }, unknown>(
    'mutation($input: CreatePartnerCustomerInput!) { createPartnerCustomer(input: $input) { id } }',
    { input: { partnerId: (await t.db.prisma.partner.findFirstOrThrow({ where: { partnerKey: 'session-partner' } })).id, name: 'Kim', email: 'kim@crm.test', userEmail: 'kim@magic-session.test' } },
    { token: adminToken },
  );
  expect(customer.body.errors).toBeUndefined();
  customerId = customer.body.data!.createPartnerCustomer.id;
});
afterAll(async () => {
  await t?.close();
});

describe('magic-link session access tokens', () => {
  it('live MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS (an hour), with a cookie to match, and stop at the hour', async () => {
    clock.set(new Date(START));
    const session = await magicLinkSession();
    const { iat, exp } = claims(session.access);
    expect(iat).toBe(START / 1000);
    expect(exp - iat).toBe(3600);
    expect(maxAge(session.cookies, 'sc_access')).toBe(3600);
    // Past the ordinary 10 minutes the token still works; one second before the hour too; at the hour it is refused.
    clock.set(new Date(START + 601_000));
    expect(await meStatus(session.access)).toBe('OK');
    clock.set(new Date(START + 3599_000));
    expect(await meStatus(session.access)).toBe('OK');
    clock.set(new Date(START + 3600_000));
    expect(await meStatus(session.access)).toBe('UNAUTHENTICATED');
  });

  it('refreshing a magic-link session keeps the longer lifetime', async () => {
    clock.set(new Date(START + 86_400_000));
    const session = await magicLinkSession();
    clock.advance(3000_000);
    const refreshed = await t.graphql<{ refreshSession: Tokens }, unknown>(REFRESH, { r: session.refresh });
    expect(refreshed.body.errors).toBeUndefined();
    const tokens = refreshed.body.data!.refreshSession;
    expect(new Date(tokens.accessTokenExpiresAt).getTime()).toBe(clock.now().getTime() + 3600_000);
    expect(claims(tokens.accessToken).exp - claims(tokens.accessToken).iat).toBe(3600);
    expect(maxAge(refreshed.headers.getSetCookie(), 'sc_access')).toBe(3600);
    clock.advance(3599_000);
    expect(await meStatus(tokens.accessToken)).toBe('OK');
    clock.advance(1000);
    expect(await meStatus(tokens.accessToken)).toBe('UNAUTHENTICATED');
  });

  it('other sessions keep ACCESS_TOKEN_TTL_SECONDS, on sign-up verification and on refresh', async () => {
    clock.set(new Date(START + 2 * 86_400_000));
    await t.graphql(SIGN_UP, { i: { email: 'pat@password-session.test', password: 'correct horse battery', name: 'Pat' } });
    const signedUp = await t.graphql<{ verifyEmail: Tokens }, unknown>(VERIFY_EMAIL, { token: await verificationTokenFor(t, 'pat@password-session.test') });
    expect(signedUp.body.errors).toBeUndefined();
    const first = signedUp.body.data!.verifyEmail;
    expect(new Date(first.accessTokenExpiresAt).getTime()).toBe(clock.now().getTime() + 600_000);
    expect(claims(first.accessToken).exp - claims(first.accessToken).iat).toBe(600);
    expect(maxAge(signedUp.headers.getSetCookie(), 'sc_access')).toBe(600);
    clock.advance(300_000);
    const refreshed = await t.graphql<{ refreshSession: Tokens }, unknown>(REFRESH, { r: first.refreshToken });
    const second = refreshed.body.data!.refreshSession;
    expect(new Date(second.accessTokenExpiresAt).getTime()).toBe(clock.now().getTime() + 600_000);
    clock.advance(600_000);
    const me = await t.graphql(ME, undefined, { token: second.accessToken });
    expect(me.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS is configurable and validated', async () => {
    const { loadConfig } = await import('../src/config.ts');
    const base = { NODE_ENV: 'test', PUBLIC_URL: 'http://safeclose.test' };
    expect(loadConfig({ ...base, MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS: '1800' }).auth.magicLinkAccessTokenTtlSeconds).toBe(1800);
    expect(() => loadConfig({ ...base, MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS: '0' })).toThrow(/MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS/);
  });
});
