import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/lib/tokens.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { createUser, signInAs } from './support/factories.ts';

const MAGIC_LINK_PATH = (customerId: string) => `/api/v1/integrations/customer/${customerId}/magic-link`;
const CREATE_PARTNER = `mutation($input: CreatePartnerInput!) { createPartner(input: $input) { apiKey partner { id partnerKey apiKeyPrefix } } }`;
const CREATE_CUSTOMER = `mutation($input: CreatePartnerCustomerInput!) { createPartnerCustomer(input: $input) { id user { id } } }`;

interface Partner {
  id: string;
  partnerKey: string;
  apiKey: string;
}

describe('partner magic links', () => {
  let t: TestApp;
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  let adminToken: string;
  let managerToken: string;
  let adminId: string;
  let managerId: string;
  let partner: Partner;
  let otherPartner: Partner;
  let customerId: string;
  let customerUserId: string;
  let unlinkedCustomerId: string;
  let otherPartnersCustomerId: string;
  let seq = 0;

  async function createPartner(partnerKey: string): Promise<Partner> {
    const { body } = await t.graphql<{ createPartner: { apiKey: string; partner: { id: string; partnerKey: string } } }, unknown>(
      CREATE_PARTNER,
      { input: { name: `Partner ${partnerKey}`, partnerKey } },
      { token: adminToken },
    );
    const created = body.data!.createPartner;
    return { id: created.partner.id, partnerKey: created.partner.partnerKey, apiKey: created.apiKey };
  }

  async function createCustomer(partnerId: string, userEmail?: string): Promise<string> {
    const { body } = await t.graphql<{ createPartnerCustomer: { id: string } }, unknown>(
      CREATE_CUSTOMER,
      { input: { partnerId, name: 'Dana Whitfield', email: `dana${++seq}@customer.test`, userEmail } },
      { token: adminToken },
    );
    expect(body.errors).toBeUndefined();
    return body.data!.createPartnerCustomer.id;
  }

  async function requestLink(id: string, headers: Record<string, string | undefined> = { 'SW-PARTNER-ID': partner.partnerKey, 'SW-API-KEY': partner.apiKey }) {
    const sent = Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const response = await fetch(`${t.url}${MAGIC_LINK_PATH(id)}`, { method: 'POST', headers: sent });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  }

  async function newLink(id = customerId): Promise<{ url: string; token: string }> {
    const { status, body } = await requestLink(id);
    expect(status).toBe(200);
    const url = String(body.url);
    return { url, token: new URL(url).searchParams.get('token_hash')! };
  }

  /** This test's browser: the nonce its confirmation-page cookie holds (the page's form carries the same). */
  let browserNonce: string;

  const confirm = (token: string, type = 'magiclink') =>
    fetch(`${t.url}/auth/confirm`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `sc_confirm=${browserNonce}` },
      body: new URLSearchParams({ token_hash: token, type, nonce: browserNonce }).toString(),
    });

  const confirmPage = (token: string) =>
    fetch(`${t.url}/auth/confirm?${new URLSearchParams({ token_hash: token, type: 'magiclink' }).toString()}`, { headers: { cookie: `sc_confirm=${browserNonce}` } });

  beforeAll(async () => {
    // Per-customer limit high enough for the tests that need many links; the limit itself has its own app below.
    t = await startTestApp({ clock, env: { MAGIC_LINKS_PER_CUSTOMER: '1000', MAGIC_LINKS_PER_PARTNER: '1000' } });
    const db = t.db.prisma;
    adminId = (await createUser(db, { roles: ['ADMIN'] })).id;
    managerId = (await createUser(db, { roles: ['MANAGER'] })).id;
    adminToken = (await signInAs(t.app.services, adminId)).token;
    const customerUser = await createUser(db, { email: 'dana@customer.test' });
    customerUserId = customerUser.id;
    partner = await createPartner('acme-lending');
    otherPartner = await createPartner('other-partner');
    customerId = await createCustomer(partner.id, 'Dana@Customer.test');
    unlinkedCustomerId = await createCustomer(partner.id);
    otherPartnersCustomerId = await createCustomer(otherPartner.id, 'dana@customer.test');
    // The first page this browser opens sets its nonce cookie.
    const firstPage = await fetch(`${t.url}/auth/confirm?${new URLSearchParams({ token_hash: (await newLink()).token, type: 'magiclink' }).toString()}`);
    browserNonce = firstPage.headers.getSetCookie().find((c) => c.startsWith('sc_confirm='))!.split(';')[0]!.slice('sc_confirm='.length);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('POST /api/v1/integrations/customer/{customerId}/magic-link', () => {
    it('answers 200 { success: true, url } with a one-time /auth/confirm link', async () => {
      const { status, headers, body } = await requestLink(customerId);
      expect(status).toBe(200);
      expect(headers.get('content-type')).toMatch(/^application\/json/);
      expect(headers.get('cache-control')).toBe('no-store');
      expect(Object.keys(body)).toEqual(['success', 'url']);
      expect(body.success).toBe(true);
      const url = new URL(String(body.url));
      expect(`${url.origin}${url.pathname}`).toBe('http://safeclose.test/auth/confirm');
      expect([...url.searchParams.keys()]).toEqual(['token_hash', 'type']);
      expect(url.searchParams.get('type')).toBe('magiclink');
      const token = url.searchParams.get('token_hash')!;
      // At least 128 random bits: 32 bytes of base64url is 43 characters.
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('stores only the SHA-256 of the token, single use, expiring in one hour, for the linked user', async () => {
      const { token } = await newLink();
      const rows = await t.db.prisma.authToken.findMany({ where: { partnerCustomerId: customerId } });
      expect(rows.some((row) => JSON.stringify(row).includes(token))).toBe(false);
      const stored = rows.find((row) => row.tokenHash === hashSecret(token))!;
      expect(stored).toMatchObject({ purpose: 'MAGIC_LINK', userId: customerUserId, maxUses: 1, useCount: 0, consumedAt: null });
      expect(stored.expiresAt.getTime() - stored.createdAt.getTime()).toBe(3600_000);
      expect(stored.createdAt.getTime()).toBe(clock.now().getTime());
    });

    it.each([
      ['no headers', {}],
      ['no SW-API-KEY', { 'SW-PARTNER-ID': 'acme-lending' }],
      ['no SW-PARTNER-ID', { 'SW-API-KEY': 'swk_whatever' }],
      ['blank headers', { 'SW-PARTNER-ID': ' ', 'SW-API-KEY': '' }],
    ])('%s → 401 "Partner ID and API key are required in headers"', async (_name, headers) => {
      const { status, body } = await requestLink(customerId, headers);
      expect(status).toBe(401);
      expect(body).toEqual({ success: false, error: 'Partner ID and API key are required in headers' });
    });

    it.each([
      ['a wrong API key', () => ({ 'SW-PARTNER-ID': partner.partnerKey, 'SW-API-KEY': `${partner.apiKey}x` })],
      ['an unknown partner', () => ({ 'SW-PARTNER-ID': 'nobody', 'SW-API-KEY': partner.apiKey })],
      ["another partner's key", () => ({ 'SW-PARTNER-ID': partner.partnerKey, 'SW-API-KEY': otherPartner.apiKey })],
    ])('%s → 401 "Failed to verify org API key"', async (_name, headers) => {
      const { status, body } = await requestLink(customerId, headers());
      expect(status).toBe(401);
      expect(body).toEqual({ success: false, error: 'Failed to verify org API key' });
    });

    it('checks credentials before the customer id: a bad id with a bad key is 401, not 422', async () => {
      const { status } = await requestLink('not-a-uuid', { 'SW-PARTNER-ID': 'nobody', 'SW-API-KEY': 'nope' });
      expect(status).toBe(401);
    });

    it.each(['not-a-uuid', '497f6eca-6276-4993-bfeb-53cbbbba6f0', '497f6eca62764993bfeb53cbbbba6f08', '%20'])(
      'customer id %j → 422 "Invalid route parameters: Customer ID must be a valid UUID"',
      async (id) => {
        const { status, body } = await requestLink(id);
        expect(status).toBe(422);
        expect(body).toEqual({ success: false, error: 'Invalid route parameters: Customer ID must be a valid UUID' });
      },
    );

    it('an unknown customer, and a customer of another partner, → 404', async () => {
      for (const id of ['497f6eca-6276-4993-bfeb-53cbbbba6f08', otherPartnersCustomerId]) {
        const { status, body } = await requestLink(id);
        expect(status).toBe(404);
        expect(body).toEqual({ success: false, error: 'Customer not found or does not belong to partner' });
      }
    });

    it('a customer without a linked platform user → 400', async () => {
      const { status, body } = await requestLink(unlinkedCustomerId);
      expect(status).toBe(400);
      expect(body.success).toBe(false);
      expect(body.error).toMatch(/no linked platform user/);
    });

    it('an unexpected failure → 500 "Failed to generate magic link"', async () => {
      const original = t.app.services.rateLimiter.hit.bind(t.app.services.rateLimiter);
      t.app.services.rateLimiter.hit = () => Promise.reject(new Error('boom'));
      try {
        const { status, body } = await requestLink(customerId);
        expect(status).toBe(500);
        expect(body).toEqual({ success: false, error: 'Failed to generate magic link' });
      } finally {
        t.app.services.rateLimiter.hit = original;
      }
    });

    it('records partner.magic_link.issued without the token or URL', async () => {
      const { token, url } = await newLink();
      const activities = await t.db.prisma.activity.findMany({ where: { type: 'partner.magic_link.issued' }, select: { data: true, subjectUserId: true } });
      expect(activities.length).toBeGreaterThan(0);
    expect(activities[0]!.subjectUserId).toBe(customerUserId);
      const serialised = JSON.stringify(activities);
      expect(serialised).not.toContain(token);
      expect(serialised).not.toContain(url);
    });
  });

  describe('/auth/confirm', () => {
    it('GET shows a button and does not use the link; the POST then signs in', async () => {
      const { token } = await newLink();
      for (let i = 0; i < 2; i++) {
        const page = await confirmPage(token);
        expect(page.status).toBe(200);
        expect(page.headers.get('cache-control')).toBe('no-store');
        expect(page.headers.get('referrer-policy')).toBe('no-referrer');
        expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
        expect(page.headers.get('content-security-policy')).not.toContain('script-src');
        const html = await page.text();
        expect(html).toContain('<form method="post" action="/auth/confirm">');
        expect(html).toContain(`<input type="hidden" name="nonce" value="${browserNonce}">`);
        expect(html).toContain('Continue to Safeclose');
        expect(html).not.toContain('<script');
      }
      const stored = await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(token) } });
      expect(stored.consumedAt).toBeNull();

      const response = await confirm(token);
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('http://safeclose.test/');
      const cookies = response.headers.getSetCookie();
      expect(cookies.some((c) => c.startsWith('sc_access='))).toBe(true);
      expect(cookies.some((c) => c.startsWith('sc_refresh='))).toBe(true);
      // The access cookie is a working session for the customer's user.
      const access = cookies.find((c) => c.startsWith('sc_access='))!.split(';')[0]!.slice('sc_access='.length);
      const me = await t.graphql<{ me: { id: string } }, unknown>('{ me { id } }', undefined, { token: access });
      expect(me.body.data?.me.id).toBe(customerUserId);
    });

    it('a second POST of the same link shows the expired-or-used page', async () => {
      const { token } = await newLink();
      expect((await confirm(token)).status).toBe(303);
      const again = await confirm(token);
      expect(again.status).toBe(400);
      expect(again.headers.get('set-cookie')).toBeNull();
      expect(await again.text()).toContain('This sign-in link has expired or was already used. Ask for a new link.');
      const page = await confirmPage(token);
      expect(page.status).toBe(400);
      expect(await page.text()).toContain('expired or was already used');
    });

    it('an unknown token or a wrong type is refused', async () => {
      expect((await confirm('not-a-real-token')).status).toBe(400);
      const { token } = await newLink();
      const wrongType = await confirm(token, 'signup');
      expect(wrongType.status).toBe(400);
      expect((await confirm(token)).status).toBe(303);
    });

    it('50 simultaneous confirmations of one link give exactly one session', async () => {
      const { token } = await newLink();
      const before = await t.db.prisma.loginSession.count({ where: { userId: customerUserId, kind: 'MAGIC_LINK' } });
      const responses = await Promise.all(Array.from({ length: 50 }, () => confirm(token)));
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 303)).toHaveLength(1);
      expect(statuses.filter((s) => s === 400)).toHaveLength(49);
      expect(responses.filter((r) => r.headers.getSetCookie().length > 0)).toHaveLength(1);
      const after = await t.db.prisma.loginSession.count({ where: { userId: customerUserId, kind: 'MAGIC_LINK' } });
      expect(after - before).toBe(1);
      const stored = await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(token) } });
      expect(stored.useCount).toBe(1);
    });

    it('works 1 ms before one hour and is refused at exactly one hour', async () => {
      const start = clock.now();
      const first = await newLink();
      const second = await newLink();
      clock.set(new Date(start.getTime() + 3600_000 - 1));
      expect((await confirmPage(first.token)).status).toBe(200);
      expect((await confirm(first.token)).status).toBe(303);
      clock.set(new Date(start.getTime() + 3600_000));
      expect((await confirmPage(second.token)).status).toBe(400);
      const expired = await confirm(second.token);
      expect(expired.status).toBe(400);
      expect(await expired.text()).toContain('expired or was already used');
    });

    it('records auth.magic_link.confirmed and .failed', async () => {
      const types = (await t.db.prisma.activity.findMany({ where: { type: { startsWith: 'auth.magic_link.' } }, select: { type: true } })).map((a) => a.type);
      expect(types).toContain('auth.magic_link.confirmed');
      expect(types).toContain('auth.magic_link.failed');
    });

    it('logs never contain a token or a link', async () => {
      const { token, url } = await newLink();
      await confirmPage(token);
      await confirm(token);
      const text = t.logs.text;
      expect(text).toContain('/auth/confirm');
      expect(text).not.toContain(token);
      expect(text).not.toContain(url);
      expect(text).not.toContain('token_hash');
      expect(text).not.toContain(partner.apiKey);
    });
  });

  describe('admin mutations', () => {
    // Earlier tests move the clock past the access tokens' lifetime.
    beforeEach(async () => {
      adminToken = (await signInAs(t.app.services, adminId)).token;
      managerToken = (await signInAs(t.app.services, managerId)).token;
    });

    it('createPartner returns the API key once and stores only its hash', async () => {
      const created = await createPartner('once-only');
      expect(created.apiKey).toMatch(/^swk_[A-Za-z0-9_-]{43}$/);
      const row = await t.db.prisma.partner.findUniqueOrThrow({ where: { id: created.id } });
      expect(row.apiKeyHash).toBe(hashSecret(created.apiKey));
      expect(JSON.stringify(row)).not.toContain(created.apiKey);
      expect(created.apiKey.startsWith(row.apiKeyPrefix)).toBe(true);
      const readBack = await t.graphql(`mutation { createPartnerCustomer(input: { partnerId: "${created.id}", name: "X", email: "x@y.test" }) { partner { partnerKey apiKeyPrefix } } }`, undefined, { token: adminToken });
      expect(JSON.stringify(readBack.body)).not.toContain(created.apiKey);
      expect(t.logs.text).not.toContain(created.apiKey);
    });

    it('a duplicate partnerKey is a CONFLICT', async () => {
      const { body } = await t.graphql(CREATE_PARTNER, { input: { name: 'Again', partnerKey: 'acme-lending' } }, { token: adminToken });
      expect(body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    });

    it('createPartnerCustomer links the platform user by email, and refuses an unknown one', async () => {
      const { body } = await t.graphql<{ createPartnerCustomer: { user: { id: string } | null } }, unknown>(
        CREATE_CUSTOMER,
        { input: { partnerId: partner.id, name: 'Lee', email: 'lee@customer.test', userEmail: 'DANA@customer.test' } },
        { token: adminToken },
      );
      expect(body.data?.createPartnerCustomer.user?.id).toBe(customerUserId);
      const unknown = await t.graphql(CREATE_CUSTOMER, { input: { partnerId: partner.id, name: 'Lee', email: 'lee@customer.test', userEmail: 'nobody@customer.test' } }, { token: adminToken });
      expect(unknown.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'userEmail' });
    });

    it.each([
      ['createPartner', CREATE_PARTNER, () => ({ input: { name: 'Denied', partnerKey: `denied-${++seq}` } })],
      ['createPartnerCustomer', CREATE_CUSTOMER, () => ({ input: { partnerId: partner.id, name: 'Denied', email: 'denied@customer.test' } })],
    ])('%s: manager → 403 FORBIDDEN, no token → 401', async (_name, document, variables) => {
      const asManager = await t.graphql(document, variables(), { token: managerToken });
      expect(asManager.status).toBe(403);
      expect(asManager.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const anonymous = await t.graphql(document, variables());
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });
});

describe('magic link rate limits', () => {
  let t: TestApp;
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { MAGIC_LINKS_PER_CUSTOMER: '2', MAGIC_LINKS_PER_PARTNER: '3', MAGIC_LINK_WINDOW_SECONDS: '60' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('limits issuing per customer and per partner with 429 and Retry-After', async () => {
    const db = t.db.prisma;
    const apiKey = 'swk_ratelimit-test-key';
    const partner = await db.partner.create({ data: { name: 'Limited', partnerKey: 'limited', apiKeyPrefix: 'swk_rate', apiKeyHash: hashSecret(apiKey) } });
    const users = [await createUser(db), await createUser(db)];
    const customers = await Promise.all(users.map((user, i) => db.partnerCustomer.create({ data: { partnerId: partner.id, name: `C${i}`, email: `c${i}@x.test`, userId: user.id } })));
    const request = (id: string) =>
      fetch(`${t.url}${MAGIC_LINK_PATH(id)}`, { method: 'POST', headers: { 'SW-PARTNER-ID': 'limited', 'SW-API-KEY': apiKey } });

    expect((await request(customers[0]!.id)).status).toBe(200);
    expect((await request(customers[0]!.id)).status).toBe(200);
    const perCustomer = await request(customers[0]!.id);
    expect(perCustomer.status).toBe(429);
    expect(Number(perCustomer.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await perCustomer.json()).toEqual({ success: false, error: 'Too many magic link requests. Try again later.' });

    // The partner has now made three requests; the fourth is over its limit whichever customer it names.
    const perPartner = await request(customers[1]!.id);
    expect(perPartner.status).toBe(429);
    expect(await perPartner.json()).toEqual({ success: false, error: 'Too many magic link requests. Try again later.' });

    clock.advance(60_000);
    expect((await request(customers[1]!.id)).status).toBe(200);
  });
});
