import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth, RUNNER_PASSWORD } from './support/apps.ts';
import { createUser, signInAs } from './support/factories.ts';

// Every REST endpoint with a limit shows the limit it is closest to in RateLimit-Limit, -Remaining and -Reset (in
// seconds), on allowed answers and refusals alike, and every 429 carries Retry-After.
const FAILURE_WINDOW = 300;
const MAGIC_LINK_WINDOW = 60;
const PER_ADDRESS = 4;
// On a boundary of both windows, so the first request of a test sees whole windows.
const clock = new ManualClock(Date.UTC(2026, 0, 5, 9));
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let t: TestApp;
let org: Awaited<ReturnType<typeof appOrganization>>;
let partner: { partnerKey: string; apiKey: string; customerId: string };
// Made before any test moves the clock, while the owner's access token is fresh.
let appKey: string;
let oauthClient: { clientId: string; clientSecret: string };

beforeAll(async () => {
  t = await startTestApp({
    clock,
    env: {
      TRUST_PROXY: '127.0.0.0/8, ::1',
      CREDENTIAL_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
      CREDENTIAL_FAILURES_PER_IDENTIFIER: '100',
      CREDENTIAL_FAILURE_WINDOW_SECONDS: String(FAILURE_WINDOW),
      MAGIC_LINKS_PER_PARTNER: '100',
      MAGIC_LINKS_PER_CUSTOMER: '2',
      MAGIC_LINK_WINDOW_SECONDS: String(MAGIC_LINK_WINDOW),
      WS_MAX_CONNECTIONS_PER_ADDRESS: '1',
    },
  });
  org = await appOrganization(t);
  const admin = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  const adminToken = (await signInAs(t.app.services, admin.id)).token;
  const created = await t.graphql<{ createPartner: { apiKey: string; partner: { id: string } } }, unknown>(
    `mutation($input: CreatePartnerInput!) { createPartner(input: $input) { apiKey partner { id } } }`,
    { input: { name: 'Header Partner', partnerKey: 'header-partner' } },
    { token: adminToken },
  );
  const customer = await t.graphql<{ createPartnerCustomer: { id: string } }, unknown>(
    `mutation($input: CreatePartnerCustomerInput!) { createPartnerCustomer(input: $input) { id } }`,
    { input: { partnerId: created.body.data!.createPartner.partner.id, name: 'Dana', email: 'dana@customer.test', userEmail: (await createUser(t.db.prisma)).email } },
    { token: adminToken },
  );
  appKey = (await org.createRegistration(['203.0.113.0/24'])).key;
  oauthClient = await org.createClient((await org.createRegistration(['198.51.100.0/24'])).id);
  partner = { partnerKey: 'header-partner', apiKey: created.body.data!.createPartner.apiKey, customerId: customer.body.data!.createPartnerCustomer.id };
});
afterAll(async () => {
  await t?.close();
});

const limitHeaders = (headers: Headers) => ({
  limit: headers.get('ratelimit-limit'),
  remaining: headers.get('ratelimit-remaining'),
  reset: headers.get('ratelimit-reset'),
  retryAfter: headers.get('retry-after'),
});

describe('partner magic links', () => {
  const requestLink = (from: string, apiKey = partner.apiKey) =>
    post(`${t.url}/api/v1/integrations/customer/${partner.customerId}/magic-link`, { 'SW-PARTNER-ID': partner.partnerKey, 'SW-API-KEY': apiKey, 'x-forwarded-for': from });

  it('shows the per-customer window counting down, then a 429 with Retry-After', async () => {
    clock.set(new Date(Date.UTC(2026, 0, 5, 9)));
    const first = await requestLink('192.0.2.10');
    expect(first.status).toBe(200);
    expect(limitHeaders(first.headers)).toEqual({ limit: '2', remaining: '1', reset: String(MAGIC_LINK_WINDOW), retryAfter: null });
    clock.advance(20_000);
    const second = await requestLink('192.0.2.10');
    expect(second.status).toBe(200);
    expect(limitHeaders(second.headers)).toEqual({ limit: '2', remaining: '0', reset: '40', retryAfter: null });
    const refused = await requestLink('192.0.2.10');
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ success: false, error: 'Too many magic link requests. Try again later.' });
    expect(limitHeaders(refused.headers)).toEqual({ limit: '2', remaining: '0', reset: '40', retryAfter: '40' });
  });

  it("shows the address's failure budget on failed authentication, and Retry-After once it is used up", async () => {
    clock.set(new Date(Date.UTC(2026, 0, 5, 10)));
    const failed = await requestLink('192.0.2.20', 'swk_wrong');
    expect(failed.status).toBe(401);
    expect(limitHeaders(failed.headers)).toEqual({ limit: String(PER_ADDRESS), remaining: String(PER_ADDRESS - 1), reset: String(FAILURE_WINDOW), retryAfter: null });
    for (let i = 1; i < PER_ADDRESS; i++) await requestLink('192.0.2.20', 'swk_wrong');
    const refused = await requestLink('192.0.2.20');
    expect(refused.status).toBe(429);
    expect(limitHeaders(refused.headers)).toEqual({ limit: String(PER_ADDRESS), remaining: '0', reset: String(FAILURE_WINDOW), retryAfter: String(FAILURE_WINDOW) });
  });
});

describe('app sign-in', () => {
  const signAppIn = (authorization: string, from: string) => post(`${t.url}/v1/Auth/SignAppin`, { authorization, 'x-forwarded-for': from });

  it('shows the failure budget left on a success and a failure, and Retry-After on the 429', async () => {
    clock.set(new Date(Date.UTC(2026, 0, 5, 11)));
    const registration = { key: appKey };
    const allowed = await signAppIn(psAuth(registration.key, org.runner.email, RUNNER_PASSWORD), '203.0.113.30');
    expect(allowed.status).toBe(200);
    expect(limitHeaders(allowed.headers)).toEqual({ limit: String(PER_ADDRESS), remaining: String(PER_ADDRESS), reset: String(FAILURE_WINDOW), retryAfter: null });
    const failed = await signAppIn(psAuth(`${registration.key}x`, org.runner.email), '203.0.113.30');
    expect(failed.status).toBe(401);
    expect(limitHeaders(failed.headers)).toMatchObject({ limit: String(PER_ADDRESS), remaining: String(PER_ADDRESS - 1) });
    for (let i = 1; i < PER_ADDRESS; i++) await signAppIn(psAuth(`${registration.key}x`, org.runner.email), '203.0.113.30');
    const refused = await signAppIn(psAuth(registration.key, org.runner.email, RUNNER_PASSWORD), '203.0.113.30');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(limitHeaders(refused.headers)).toEqual({ limit: String(PER_ADDRESS), remaining: '0', reset: String(FAILURE_WINDOW), retryAfter: String(FAILURE_WINDOW) });
  });
});

describe('OAuth token endpoint', () => {
  const token = (client: { clientId: string; clientSecret: string }, from: string) =>
    post(`${t.url}/v1/Auth/Connect/Token`, { ...FORM, 'x-forwarded-for': from }, new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }).toString());

  it('shows the failure budget left on a success and a failure, and Retry-After on the 429', async () => {
    clock.set(new Date(Date.UTC(2026, 0, 5, 12)));
    const client = oauthClient;
    const allowed = await token(client, '198.51.100.40');
    expect(allowed.status).toBe(200);
    expect(limitHeaders(allowed.headers)).toEqual({ limit: String(PER_ADDRESS), remaining: String(PER_ADDRESS), reset: String(FAILURE_WINDOW), retryAfter: null });
    const wrong = { clientId: client.clientId, clientSecret: `${client.clientSecret}x` };
    const failed = await token(wrong, '198.51.100.40');
    expect(failed.status).toBe(401);
    expect(limitHeaders(failed.headers)).toMatchObject({ limit: String(PER_ADDRESS), remaining: String(PER_ADDRESS - 1) });
    for (let i = 1; i < PER_ADDRESS; i++) await token(wrong, '198.51.100.40');
    const refused = await token(client, '198.51.100.40');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'invalid_request' });
    expect(limitHeaders(refused.headers)).toEqual({ limit: String(PER_ADDRESS), remaining: '0', reset: String(FAILURE_WINDOW), retryAfter: String(FAILURE_WINDOW) });
  });
});

describe('endpoints without a limit', () => {
  it('carry no rate-limit fields', async () => {
    const answer = await post(`${t.url}/v1/Auth/Signout`);
    expect(answer.status).toBe(200);
    expect(limitHeaders(answer.headers)).toEqual({ limit: null, remaining: null, reset: null, retryAfter: null });
  });
});

describe('every 429 says when to retry', () => {
  it('GraphQL: over the password-reset limit', async () => {
    const email = (await createUser(t.db.prisma)).email;
    const ask = () => t.graphql(`mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: email });
    for (let i = 0; i < 3; i++) expect((await ask()).status).toBe(200);
    const refused = await ask();
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  });

  it('WebSocket: an upgrade over the per-address limit', async () => {
    const open = () =>
      new Promise<{ socket: WebSocket } | { status: number; retryAfter: string | undefined }>((resolve, reject) => {
        const socket = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers: { 'x-forwarded-for': '192.0.2.99' } });
        socket.once('open', () => resolve({ socket }));
        socket.once('unexpected-response', (request, response) => {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] });
        });
        socket.once('error', reject);
      });
    const first = await open();
    expect('socket' in first).toBe(true);
    try {
      expect(await open()).toEqual({ status: 429, retryAfter: '10' });
    } finally {
      if ('socket' in first) first.socket.terminate();
    }
  });
});
