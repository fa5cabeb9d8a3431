import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoredSecret, type SecretVerifier } from '../src/lib/credential-guard.ts';
import { AppSignInDenied, signInWithApiKey } from '../src/modules/apps/app-sign-in.service.ts';
import { authenticateClient } from '../src/modules/apps/oauth.service.ts';
import { authenticatePartner } from '../src/modules/partners/partners.service.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth } from './support/apps.ts';
import { createUser, signInAs } from './support/factories.ts';

const WINDOW_SECONDS = 300;
const PER_ADDRESS = 4;
const PER_IDENTIFIER = 10;
// Aligned to a window boundary, so a test that advances one window always lands in a fresh one.
const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));

const CREATE_PARTNER = `mutation($input: CreatePartnerInput!) { createPartner(input: $input) { apiKey partner { id partnerKey } } }`;
const CREATE_CUSTOMER = `mutation($input: CreatePartnerCustomerInput!) { createPartnerCustomer(input: $input) { id } }`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let t: TestApp;
let adminToken: string;
let customerEmail: string;
let org: Awaited<ReturnType<typeof appOrganization>>;
let seq = 0;
// Made before any test moves the clock, while the admin's and owner's access tokens are fresh.
let partners: Partner[];
let clients: Array<{ clientId: string; clientSecret: string }>;
let registrations: Array<{ key: string; keyPrefix: string }>;

beforeAll(async () => {
  t = await startTestApp({
    clock,
    countQueries: true,
    env: {
      // Requests come from 127.0.0.1, a trusted proxy here: X-Forwarded-For names each caller.
      TRUST_PROXY: '127.0.0.0/8, ::1',
      CREDENTIAL_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
      CREDENTIAL_FAILURES_PER_IDENTIFIER: String(PER_IDENTIFIER),
      CREDENTIAL_FAILURE_WINDOW_SECONDS: String(WINDOW_SECONDS),
      MAGIC_LINKS_PER_CUSTOMER: '1000',
      // The statements counted below are the call's own: no periodic sweep runs among them.
      SIGNING_EXPIRY_SWEEP_SECONDS: '86400',
    },
  });
  const admin = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  adminToken = (await signInAs(t.app.services, admin.id)).token;
  customerEmail = (await createUser(t.db.prisma)).email;
  org = await appOrganization(t);
  partners = [];
  for (let i = 0; i < 5; i++) partners.push(await createPartner());
  const forClients = await org.createRegistration(['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '10.0.0.0/8']);
  clients = [await org.createClient(forClients.id), await org.createClient(forClients.id), await org.createClient(forClients.id), await org.createClient(forClients.id)];
  registrations = [await org.createRegistration(['203.0.113.0/24']), await org.createRegistration(['203.0.113.0/24']), await org.createRegistration(['10.0.0.0/8'])];
});
afterAll(() => t.close());

const nextWindow = () => clock.advance(WINDOW_SECONDS * 1000);

async function createPartner() {
  const partnerKey = `partner-${++seq}`;
  const { body } = await t.graphql<{ createPartner: { apiKey: string; partner: { id: string } } }, unknown>(
    CREATE_PARTNER,
    { input: { name: `Partner ${seq}`, partnerKey } },
    { token: adminToken },
  );
  const created = body.data!.createPartner;
  const customer = await t.graphql<{ createPartnerCustomer: { id: string } }, unknown>(
    CREATE_CUSTOMER,
    { input: { partnerId: created.partner.id, name: 'Dana Whitfield', email: `dana${seq}@customer.test`, userEmail: customerEmail } },
    { token: adminToken },
  );
  return { partnerKey, apiKey: created.apiKey, customerId: customer.body.data!.createPartnerCustomer.id };
}

type Partner = Awaited<ReturnType<typeof createPartner>>;

async function requestLink(partner: Partner, from: string, credentials: { partnerKey?: string; apiKey?: string } = {}) {
  const response = await fetch(`${t.url}/api/v1/integrations/customer/${partner.customerId}/magic-link`, {
    method: 'POST',
    headers: { 'SW-PARTNER-ID': credentials.partnerKey ?? partner.partnerKey, 'SW-API-KEY': credentials.apiKey ?? partner.apiKey, 'x-forwarded-for': from },
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

describe('partner API keys', () => {
  it('limit failures per address: past the limit even the right key is 429 until the window ends, then works', async () => {
    const partner = partners[0]!;
    for (let i = 0; i < PER_ADDRESS; i++) {
      // Wrong keys for several partner ids, so only the address limit can be what closes.
      const failed = await requestLink(partner, '192.0.2.10', { partnerKey: `guessed-${i}`, apiKey: `swk_wrong-${i}` });
      expect(failed).toMatchObject({ status: 401, body: { success: false, error: 'Failed to verify org API key' } });
    }
    const refused = await requestLink(partner, '192.0.2.10');
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ success: false, error: expect.any(String) });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.body).not.toHaveProperty('url');
    // Another address is not held back by this one's failures.
    expect((await requestLink(partner, '192.0.2.11')).status).toBe(200);
    nextWindow();
    expect((await requestLink(partner, '192.0.2.10')).status).toBe(200);
  });

  it('limit failures per partner id from many addresses, leave other partners alone, and only for one window', async () => {
    const [, partner, other] = partners as [Partner, Partner, Partner];
    for (let i = 0; i < PER_IDENTIFIER; i++) {
      expect((await requestLink(partner, `198.51.100.${i + 1}`, { apiKey: `swk_wrong-${i}` })).status).toBe(401);
    }
    const refused = await requestLink(partner, '198.51.100.200');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await requestLink(other, '198.51.100.201')).status).toBe(200);
    nextWindow();
    expect((await requestLink(partner, '198.51.100.200')).status).toBe(200);
  });

  it('counts failures for unknown partner ids as well, so a 429 does not tell which ids exist', async () => {
    const partner = partners[3]!;
    for (let i = 0; i < PER_IDENTIFIER; i++) {
      expect((await requestLink(partner, `203.0.113.${i + 1}`, { partnerKey: 'no-such-partner', apiKey: 'swk_wrong' })).status).toBe(401);
    }
    expect((await requestLink(partner, '203.0.113.100', { partnerKey: 'no-such-partner', apiKey: 'swk_wrong' })).status).toBe(429);
    expect((await requestLink(partner, '203.0.113.100')).status).toBe(200);
    nextWindow();
  });
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const token = (client: { clientId: string; clientSecret: string }, from: string, secret = client.clientSecret) =>
  post(`${t.url}/v1/Auth/Connect/Token`, { ...FORM, authorization: basic(client.clientId, secret), 'x-forwarded-for': from }, 'grant_type=client_credentials');

describe('OAuth client secrets', () => {
  it('limit wrong secrets for one client id from many forwarded addresses, in the RFC 6749 format; another client is unaffected', async () => {
    const [client, other] = clients as [(typeof clients)[0], (typeof clients)[0]];
    for (let i = 0; i < PER_IDENTIFIER; i++) {
      const failed = await token(client, `198.51.100.${i + 1}`, `scs_wrong-${i}`);
      expect(failed.status).toBe(401);
      expect(failed.body).toMatchObject({ error: 'invalid_client' });
    }
    const refused = await token(client, '198.51.100.200');
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/too many failed client authentications/i) });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect((await token(other, '198.51.100.201')).status).toBe(200);
    nextWindow();
    const after = await token(client, '198.51.100.200');
    expect(after.status).toBe(200);
    expect(after.body).toHaveProperty('access_token');
  });

  it('limit failures per address across client ids; other addresses are unaffected', async () => {
    const client = clients[2]!;
    for (let i = 0; i < PER_ADDRESS; i++) expect((await token({ clientId: `scc_unknown-${i}`, clientSecret: 'scs_x' }, '192.0.2.50')).status).toBe(401);
    expect((await token(client, '192.0.2.50')).status).toBe(429);
    expect((await token(client, '192.0.2.51')).status).toBe(200);
    nextWindow();
    expect((await token(client, '192.0.2.50')).status).toBe(200);
  });
});

describe('app sign-in keys (PS-Auth)', () => {
  const signAppIn = (key: string, from: string) => post(`${t.url}/v1/Auth/SignAppin`, { authorization: psAuth(key, org.runner.email), 'x-forwarded-for': from });

  it("limit wrong keys that share a registration's prefix, from many addresses; another registration's key still signs in", async () => {
    const [registration, other] = registrations as [(typeof registrations)[0], (typeof registrations)[0]];
    const prefix = registration.key.slice(0, registration.keyPrefix.length);
    expect(prefix).toBe(registration.keyPrefix);
    for (let i = 0; i < PER_IDENTIFIER; i++) {
      expect((await signAppIn(`${prefix}${'A'.repeat(30)}${i}`, `198.51.100.${i + 1}`)).status).toBe(401);
    }
    const refused = await signAppIn(registration.key, '203.0.113.7');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signAppIn(other.key, '203.0.113.7')).status).toBe(200);
    nextWindow();
    expect((await signAppIn(registration.key, '203.0.113.7')).status).toBe(200);
  });
});

describe('equal work for known and unknown identifiers', () => {
  let callers = 0;

  /**
   * The verifier the services use, counting its calls, and the SQL statements run while `work` runs. Each call
   * comes from an address of its own, so no limit closes in between.
   */
  async function observe(work: (verify: SecretVerifier, client: { ip: string; userAgent: string }) => Promise<unknown>) {
    const client = { ip: `10.20.30.${++callers}`, userAgent: 'test' };
    const calls: Array<{ storedHashKnown: boolean }> = [];
    const verify: SecretVerifier = (presented, storedHash) => {
      calls.push({ storedHashKnown: typeof storedHash === 'string' });
      return verifyStoredSecret(presented, storedHash);
    };
    // What earlier requests do after their answers (publishing live events) must not count.
    await t.app.idle();
    t.queries.length = 0;
    const result = await work(verify, client);
    const statements = [...t.queries];
    return { result, calls, statements };
  }

  it('an unknown OAuth client id and a wrong secret for a known one: the same verification, the same statements', async () => {
    const known = clients[3]!;
    const unknown = await observe((verify, client) => authenticateClient(t.app.services, { clientId: `scc_${randomUUID()}`, clientSecret: 'scs_guess', client }, verify));
    const wrong = await observe((verify, client) => authenticateClient(t.app.services, { clientId: known.clientId, clientSecret: 'scs_guess', client }, verify));
    const right = await observe((verify, client) => authenticateClient(t.app.services, { clientId: known.clientId, clientSecret: known.clientSecret, client }, verify));
    expect(unknown.result).toBeNull();
    expect(wrong.result).toBeNull();
    expect(right.result).toMatchObject({ clientId: known.clientId });
    expect(unknown.calls).toEqual([{ storedHashKnown: false }]);
    expect(wrong.calls).toEqual([{ storedHashKnown: true }]);
    expect(wrong.statements.length).toBeGreaterThan(0);
    expect(wrong.statements).toEqual(unknown.statements);
  });

  it('an unknown partner id and a wrong key for a known one: the same verification, the same statements', async () => {
    const partner = partners[4]!;
    const unknown = await observe((verify, client) => authenticatePartner(t.app.services, { partnerKey: `nobody-${randomUUID()}`, apiKey: 'swk_guess', client }, verify));
    const wrong = await observe((verify, client) => authenticatePartner(t.app.services, { partnerKey: partner.partnerKey, apiKey: 'swk_guess', client }, verify));
    const right = await observe((verify, client) => authenticatePartner(t.app.services, { partnerKey: partner.partnerKey, apiKey: partner.apiKey, client }, verify));
    expect(unknown.result).toBeNull();
    expect(wrong.result).toBeNull();
    expect(right.result).toMatchObject({ id: expect.any(String) });
    expect(unknown.calls).toEqual([{ storedHashKnown: false }]);
    expect(wrong.calls).toEqual([{ storedHashKnown: true }]);
    expect(wrong.statements).toEqual(unknown.statements);
  });

  it("a wrong app key with a registration's prefix and one with an unknown prefix run the same statements", async () => {
    const registration = registrations[2]!;
    const attempt = (key: string) => async (_verify: SecretVerifier, client: { ip: string; userAgent: string }) =>
      signInWithApiKey(t.app.services, { credentials: { key, runAs: org.runner.email }, client }).then(
        () => 'signed in',
        (error: unknown) => (error instanceof AppSignInDenied ? error.denial.reason : error),
      );
    const unknown = await observe(attempt(`scak_${'Z'.repeat(43)}`));
    const wrong = await observe(attempt(`${registration.keyPrefix}${'Z'.repeat(35)}`));
    expect(unknown.result).toBe('INVALID_CREDENTIALS');
    expect(wrong.result).toBe('INVALID_CREDENTIALS');
    expect(wrong.statements).toEqual(unknown.statements);
  });
});
