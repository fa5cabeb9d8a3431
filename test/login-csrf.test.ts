import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/lib/tokens.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

const CREATE_PARTNER = `mutation($input: CreatePartnerInput!) { createPartner(input: $input) { apiKey partner { id partnerKey } } }`;
const CREATE_CUSTOMER = `mutation($input: CreatePartnerCustomerInput!) { createPartnerCustomer(input: $input) { id } }`;
const NONCE_FIELD = /<input type="hidden" name="nonce" value="([A-Za-z0-9_-]+)">/;

let t: TestApp;
let partner: { partnerKey: string; apiKey: string };
let customerId: string;
let customerUserId: string;
let managerToken: string;

/** A one-time link, as the partner's backend gets it; returns its token. */
async function newLink(): Promise<string> {
  const response = await fetch(`${t.url}/api/v1/integrations/customer/${customerId}/magic-link`, {
    method: 'POST',
    headers: { 'SW-PARTNER-ID': partner.partnerKey, 'SW-API-KEY': partner.apiKey },
  });
  expect(response.status).toBe(200);
  return new URL(((await response.json()) as { url: string }).url).searchParams.get('token_hash')!;
}

/** Opens the confirmation page as a browser would (sending its cookie, if it has one already). */
async function openPage(token: string, cookie?: string) {
  const response = await fetch(`${t.url}/auth/confirm?${new URLSearchParams({ token_hash: token, type: 'magiclink' }).toString()}`, {
    headers: cookie ? { cookie: `sc_confirm=${cookie}` } : {},
  });
  expect(response.status).toBe(200);
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('sc_confirm='));
  const html = await response.text();
  return { setCookie, cookie: setCookie?.split(';')[0]!.slice('sc_confirm='.length), nonce: NONCE_FIELD.exec(html)?.[1] };
}

/** Posts the page's form; `cookie` and `nonce` stand for what the browser holds and what the form carries. */
function submit(token: string, options: { cookie?: string; nonce?: string; site?: string }) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (options.cookie !== undefined) headers.cookie = `sc_confirm=${options.cookie}`;
  if (options.site) headers['sec-fetch-site'] = options.site;
  const form = new URLSearchParams({ token_hash: token, type: 'magiclink', ...(options.nonce === undefined ? {} : { nonce: options.nonce }) });
  return fetch(`${t.url}/auth/confirm`, { method: 'POST', redirect: 'manual', headers, body: form.toString() });
}

const consumed = async (token: string) => (await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(token) } })).consumedAt !== null;

beforeAll(async () => {
  t = await startTestApp({ env: { MAGIC_LINKS_PER_CUSTOMER: '1000' } });
  const db = t.db.prisma;
  const admin = await createUser(db, { roles: ['ADMIN'] });
  const adminToken = (await signInAs(t.app.services, admin.id)).token;
  customerUserId = (await createUser(db, { email: 'csrf@customer.test' })).id;
  const created = await t.graphql<{ createPartner: { apiKey: string; partner: { id: string; partnerKey: string } } }, unknown>(
    CREATE_PARTNER,
    { input: { name: 'Acme Lending', partnerKey: 'acme-csrf' } },
    { token: adminToken },
  );
  const { apiKey, partner: row } = created.body.data!.createPartner;
  partner = { partnerKey: row.partnerKey, apiKey };
  const customer = await t.graphql<{ createPartnerCustomer: { id: string } }, unknown>(
    CREATE_CUSTOMER,
    { input: { partnerId: row.id, name: 'Dana Whitfield', email: 'csrf@customer.test', userEmail: 'csrf@customer.test' } },
    { token: adminToken },
  );
  customerId = customer.body.data!.createPartnerCustomer.id;
  const org = await createOrganization(db);
  const manager = await createUser(db, { roles: ['MANAGER'] });
  await addMember(db, { userId: manager.id, organizationId: org.organization.id, roleId: org.role.id });
  managerToken = (await signInAs(t.app.services, manager.id)).token;
});
afterAll(async () => {
  await t?.close();
});

describe('the magic-link confirmation form is bound to the browser that opened the page', () => {
  it('sets a short-lived, HttpOnly, SameSite=Strict nonce cookie for this path, and the same nonce in the form', async () => {
    const page = await openPage(await newLink());
    expect(page.setCookie).toBeDefined();
    expect(page.setCookie).toContain('HttpOnly');
    expect(page.setCookie).toContain('SameSite=Strict');
    expect(page.setCookie).toContain('Path=/auth/confirm');
    expect(page.setCookie).toContain('Max-Age=900');
    expect(page.cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(page.nonce).toBe(page.cookie);
    // Another browser gets another nonce; the same browser keeps its own, so two tabs both work.
    const elsewhere = await openPage(await newLink());
    expect(elsewhere.nonce).not.toBe(page.nonce);
    const secondTab = await openPage(await newLink(), page.cookie);
    expect(secondTab.nonce).toBe(page.nonce);
  });

  it('signs in when the form carries the nonce of the cookie, from the page itself', async () => {
    const token = await newLink();
    const page = await openPage(token);
    const response = await submit(token, { cookie: page.cookie, nonce: page.nonce, site: 'same-origin' });
    expect(response.status).toBe(303);
    const access = response.headers.getSetCookie().find((c) => c.startsWith('sc_access='))!.split(';')[0]!.slice('sc_access='.length);
    const me = await t.graphql<{ me: { id: string } }, unknown>('{ me { id } }', undefined, { token: access });
    expect(me.body.data?.me.id).toBe(customerUserId);
  });

  it('refuses (403) a form without the cookie, without the nonce, or with a nonce of another browser, and spends nothing', async () => {
    const token = await newLink();
    const page = await openPage(token);
    const attacker = await openPage(await newLink());
    for (const attempt of [
      { nonce: page.nonce },
      { cookie: page.cookie },
      { cookie: page.cookie, nonce: attacker.nonce },
      { cookie: attacker.cookie, nonce: page.nonce },
      { cookie: '', nonce: '' },
    ]) {
      const refused = await submit(token, attempt);
      expect(refused.status).toBe(403);
      expect(refused.headers.getSetCookie().filter((c) => c.startsWith('sc_access=') || c.startsWith('sc_refresh='))).toEqual([]);
      expect(await refused.text()).toContain('Open the sign-in link you were given again');
    }
    expect(await consumed(token)).toBe(false);
    // The link is intact: the browser that opened it still signs in.
    expect((await submit(token, { cookie: page.cookie, nonce: page.nonce })).status).toBe(303);
    expect(await consumed(token)).toBe(true);
  });

  it('refuses a form posted from another site even with the right cookie and nonce', async () => {
    const token = await newLink();
    const page = await openPage(token);
    for (const site of ['cross-site', 'same-site']) {
      const refused = await submit(token, { cookie: page.cookie, nonce: page.nonce, site });
      expect(refused.status).toBe(403);
      expect(refused.headers.getSetCookie()).toEqual([]);
    }
    expect(await consumed(token)).toBe(false);
    expect((await submit(token, { cookie: page.cookie, nonce: page.nonce, site: 'none' })).status).toBe(303);
  });
});

describe('GET /auth, which cannot be bound to a browser', () => {
  const issueUserToken = async () => {
    const response = await fetch(`${t.url}/api/cs-authenticationTokens/user`, { method: 'POST', headers: { authorization: `Bearer ${managerToken}` } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { value: string }).value;
  };
  const open = (value: string, fetchMetadata: Record<string, string>) =>
    fetch(`${t.url}/auth?${new URLSearchParams({ authenticationToken: value, target: '/packages' }).toString()}`, { redirect: 'manual', headers: fetchMetadata });

  it('refuses a load from another site that is not a page (an image, a frame, a fetch) before spending the token', async () => {
    const value = await issueUserToken();
    for (const dest of ['image', 'iframe', 'empty', 'script']) {
      const refused = await open(value, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': dest });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error: { code: 'FORBIDDEN', reason: 'CROSS_SITE_REQUEST' } });
      expect(refused.headers.getSetCookie()).toEqual([]);
    }
    // A page another site links to (the integrator's redirect) is the documented flow, and still signs in.
    const navigated = await open(value, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
    expect(navigated.status).toBe(303);
    expect(navigated.headers.get('location')).toBe('/packages');
    expect(navigated.headers.getSetCookie().some((c) => c.startsWith('sc_access='))).toBe(true);
  });
});

describe('GraphQL mutations that set session cookies', () => {
  const issueUserToken = async () => {
    const response = await fetch(`${t.url}/api/cs-authenticationTokens/user`, { method: 'POST', headers: { authorization: `Bearer ${managerToken}` } });
    return ((await response.json()) as { value: string }).value;
  };
  const exchangeQuery = (value: string) => `mutation { exchangeAuthenticationToken(value: "${value}") { tokenType } }`;
  const spent = async (value: string) => (await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(value) } })).consumedAt !== null;

  it("refuse another site's form post, cookie or not, before the token is spent", async () => {
    const value = await issueUserToken();
    const forms = [
      { 'content-type': 'application/x-www-form-urlencoded', body: new URLSearchParams({ query: exchangeQuery(value) }).toString() },
      {
        'content-type': 'multipart/form-data; boundary=x',
        body: `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: exchangeQuery(value) })}\r\n--x--\r\n`,
      },
    ];
    for (const site of ['cross-site', 'same-site']) {
      for (const { body, ...headers } of forms) {
        const refused = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { ...headers, 'sec-fetch-site': site }, body });
        expect(refused.status).toBe(403);
        expect(((await refused.json()) as { errors: Array<{ extensions: Record<string, unknown> }> }).errors[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'CSRF' });
        expect(refused.headers.getSetCookie()).toEqual([]);
      }
    }
    expect(await spent(value)).toBe(false);
    // The app's own page (same origin) may post the form; it signs in.
    const own = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { ...forms[0], 'sec-fetch-site': 'same-origin' }, body: forms[0]!.body });
    expect(own.status).toBe(200);
    expect(own.headers.getSetCookie().some((c) => c.startsWith('sc_access='))).toBe(true);
  });

  it('serve a JSON request from another origin, which a browser preflights first', async () => {
    const value = await issueUserToken();
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      body: JSON.stringify({ query: exchangeQuery(value) }),
    });
    expect(response.status).toBe(200);
    expect(await spent(value)).toBe(true);
  });
});
