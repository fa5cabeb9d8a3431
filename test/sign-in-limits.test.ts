import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/lib/password.ts';
import { SignInDocument, SignUpDocument } from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';

// Requests arrive from 127.0.0.1, configured as a trusted proxy, so X-Forwarded-For stands for the client address.
const clock = new ManualClock(new Date('2026-05-01T08:00:00Z'));
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({
    clock,
    env: { TRUST_PROXY: '127.0.0.1', SIGN_IN_FAILURES_PER_ACCOUNT: '3', SIGN_IN_FAILURES_PER_ADDRESS: '8', SIGN_IN_FAILURE_WINDOW_SECONDS: '600' },
  });
});
afterAll(async () => {
  await t?.close();
});

let counter = 0;
async function account(password = 'the right password') {
  const email = `limit${++counter}.${Date.now()}@example.test`;
  await t.graphql(SignUpDocument, { input: { email, password, name: 'Limit Person' } }, { headers: { 'x-forwarded-for': `198.51.100.${counter}` } });
  return { email, password };
}

const attempt = (email: string, password: string, from: string) =>
  t.graphql(SignInDocument, { input: { email, password } }, { headers: { 'x-forwarded-for': from } });

describe('failed sign-in limits', () => {
  it('answers 429 with Retry-After after too many attempts on one account from one address, even with the right password', async () => {
    const { email, password } = await account();
    for (let i = 0; i < 3; i++) expect((await attempt(email, 'wrong guess', '203.0.113.10')).status).toBe(401);
    const locked = await attempt(email, password, '203.0.113.10');
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('600');
    expect(locked.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('gives an unknown email the same 429 as a known one, so the limit tells nothing about accounts', async () => {
    const { email } = await account();
    const ghost = `ghost${Date.now()}@example.test`;
    for (let i = 0; i < 3; i++) {
      await attempt(email, 'wrong guess', '203.0.113.20');
      await attempt(ghost, 'wrong guess', '203.0.113.21');
    }
    const known = await attempt(email, 'wrong guess', '203.0.113.20');
    const unknown = await attempt(ghost, 'wrong guess', '203.0.113.21');
    expect(known.status).toBe(429);
    expect(unknown.status).toBe(429);
    expect(JSON.stringify(known.body)).toBe(JSON.stringify(unknown.body));
  });

  it('does not let an attacker elsewhere lock the owner out', async () => {
    const { email, password } = await account();
    for (let i = 0; i < 4; i++) await attempt(email, 'attacker guess', '192.0.2.66');
    expect((await attempt(email, password, '192.0.2.66')).status).toBe(429);
    const owner = await attempt(email, password, '198.51.100.200');
    expect(owner.status).toBe(200);
    expect(owner.body.data?.signIn?.accessToken).toBeTruthy();
  });

  it('counts aliased attempts in one request one by one', async () => {
    const { email, password } = await account();
    const aliases = Array.from({ length: 4 }, (_, i) => `a${i}: signIn(input: { email: $e, password: "wrong ${i}" }) { accessToken }`).join('\n');
    await t.graphql(`mutation($e: String!) { ${aliases} }`, { e: email }, { headers: { 'x-forwarded-for': '203.0.113.30' } });
    expect((await attempt(email, password, '203.0.113.30')).status).toBe(429);
  });

  it('limits one address across many accounts', async () => {
    const from = '203.0.113.40';
    for (let i = 0; i < 8; i++) await attempt(`spray${i}-${Date.now()}@example.test`, 'wrong', from);
    const { email, password } = await account();
    expect((await attempt(email, password, from)).status).toBe(429);
    expect((await attempt(email, password, '203.0.113.41')).status).toBe(200);
  });

  it('lifts the limit when the window ends', async () => {
    const { email, password } = await account();
    for (let i = 0; i < 3; i++) await attempt(email, 'wrong guess', '203.0.113.50');
    expect((await attempt(email, password, '203.0.113.50')).status).toBe(429);
    clock.advance(600_000);
    expect((await attempt(email, password, '203.0.113.50')).status).toBe(200);
  });

  it('never believes X-Forwarded-For from a client that is not a trusted proxy', async () => {
    const direct = await startTestApp({ env: { SIGN_IN_FAILURES_PER_ACCOUNT: '2' } });
    try {
      const email = `direct${Date.now()}@example.test`;
      await direct.graphql(SignUpDocument, { input: { email, password: 'the right password', name: 'Direct' } });
      for (let i = 0; i < 2; i++) await direct.graphql(SignInDocument, { input: { email, password: 'wrong' } }, { headers: { 'x-forwarded-for': `10.0.0.${i}` } });
      // Spoofing a fresh address does not escape the limit: the socket address (127.0.0.1) is what counts.
      const spoofed = await direct.graphql(SignInDocument, { input: { email, password: 'the right password' } }, { headers: { 'x-forwarded-for': '10.9.9.9' } });
      expect(spoofed.status).toBe(429);
    } finally {
      await direct.close();
    }
  });
});

// Inline, so a test can send a device token and read the one answered.
const SIGN_IN_WITH_DEVICE = `mutation($input: SignInInput!) { signIn(input: $input) { accessToken deviceToken } }`;

/** A sign-in that presents a device token: in the input (a script) or as the sc_device cookie (a browser). */
const trustedAttempt = (email: string, password: string, from: string, device: { token?: string; cookie?: string }) =>
  t.graphql<{ signIn: { accessToken: string; deviceToken: string | null } | null }, unknown>(
    SIGN_IN_WITH_DEVICE,
    { input: { email, password, ...(device.token ? { deviceToken: device.token } : {}) } },
    { headers: { 'x-forwarded-for': from, ...(device.cookie ? { cookie: `sc_device=${device.cookie}` } : {}) } },
  );

/** The owner signs in once from home and keeps what a browser would keep: the sc_device cookie. */
async function trustedOwner() {
  const owner = await account();
  const first = await trustedAttempt(owner.email, owner.password, '198.51.100.250', {});
  expect(first.status).toBe(200);
  const cookie = first.headers.getSetCookie().find((c) => c.startsWith('sc_device='));
  expect(cookie).toBeDefined();
  const token = first.body.data?.signIn?.deviceToken;
  expect(token).toBeTruthy();
  expect(cookie!.split(';')[0]).toBe(`sc_device=${token}`);
  return { ...owner, deviceToken: token! };
}

describe('only failures count', () => {
  it('lets 100 people behind one address sign in to their own accounts, while failures from there are still limited', async () => {
    const office = '203.0.113.60';
    const passwordHash = await hashPassword('office password 1');
    const stamp = Date.now();
    const emails = Array.from({ length: 100 }, (_, i) => `office${i}.${stamp}@example.test`);
    await t.db.prisma.user.createMany({ data: emails.map((email) => ({ email, name: 'Office Person', passwordHash })) });
    const statuses: number[] = [];
    for (const email of emails) statuses.push((await attempt(email, 'office password 1', office)).status);
    // With every sign-in counted, the ninth (SIGN_IN_FAILURES_PER_ADDRESS is 8 here) was refused.
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    // Spraying from the same address: eight wrong passwords on eight accounts, then even a right one waits.
    for (const email of emails.slice(0, 8)) expect((await attempt(email, 'spray guess', office)).status).toBe(401);
    const refused = await attempt(emails[8]!, 'office password 1', office);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  });

  it("clears a success's account failures from that address only", async () => {
    const { email, password } = await account();
    const [here, there] = ['203.0.113.70', '203.0.113.71'];
    for (let i = 0; i < 2; i++) {
      expect((await attempt(email, 'wrong guess', here)).status).toBe(401);
      expect((await attempt(email, 'wrong guess', there)).status).toBe(401);
    }
    expect((await attempt(email, password, here)).status).toBe(200);
    // Here the count starts again: two more failures and the right password still get in.
    for (let i = 0; i < 2; i++) expect((await attempt(email, 'wrong guess', here)).status).toBe(401);
    expect((await attempt(email, password, here)).status).toBe(200);
    // There the two failures stay: a third uses the budget up, and the right password waits.
    expect((await attempt(email, 'wrong guess', there)).status).toBe(401);
    expect((await attempt(email, password, there)).status).toBe(429);
  });
});

describe('device cookies', () => {
  it('gives a successful sign-in an HttpOnly device cookie for /graphql that lives 180 days', async () => {
    const owner = await account();
    const answer = await trustedAttempt(owner.email, owner.password, '203.0.113.80', {});
    const cookie = answer.headers.getSetCookie().find((c) => c.startsWith('sc_device='));
    expect(cookie).toMatch(/; Path=\/graphql; Max-Age=15552000; HttpOnly; SameSite=Strict/);
    const failed = await trustedAttempt(owner.email, 'wrong guess', '203.0.113.80', {});
    expect(failed.status).toBe(401);
    expect(failed.headers.getSetCookie().some((c) => c.startsWith('sc_device='))).toBe(false);
  });

  it("keeps the owner's browser and script in when strangers from many addresses use up the account's budget", async () => {
    const owner = await trustedOwner();
    // Three failures from each of ten addresses: the account-wide budget (ten times 3) is used up.
    for (let address = 1; address <= 10; address++) {
      for (let i = 0; i < 3; i++) await attempt(owner.email, 'attacker guess', `192.0.2.${address}`);
    }
    // An unknown client, even with the right password from a fresh address, is refused...
    expect((await attempt(owner.email, owner.password, '198.51.100.251')).status).toBe(429);
    // ...and so is one presenting a made-up device token.
    const forged = `${Math.floor(clock.now().getTime() / 1000)}.${'A'.repeat(22)}.${'B'.repeat(43)}`;
    expect((await trustedAttempt(owner.email, owner.password, '198.51.100.252', { token: forged })).status).toBe(429);
    // The owner's browser (cookie) and script (deviceToken) get in.
    const browser = await trustedAttempt(owner.email, owner.password, '198.51.100.253', { cookie: owner.deviceToken });
    expect(browser.status).toBe(200);
    expect(browser.body.data?.signIn?.accessToken).toBeTruthy();
    const script = await trustedAttempt(owner.email, owner.password, '198.51.100.254', { token: owner.deviceToken });
    expect(script.status).toBe(200);
  });

  it('keeps the owner in behind an address where someone else used up its budget and the account\'s', async () => {
    const owner = await trustedOwner();
    const office = '203.0.113.90';
    for (let i = 0; i < 8; i++) await attempt(owner.email, 'colleague guess', office);
    expect((await attempt(owner.email, owner.password, office)).status).toBe(429);
    expect((await trustedAttempt(owner.email, owner.password, office, { cookie: owner.deviceToken })).status).toBe(200);
  });

  it("does not trust one account's device token for another account", async () => {
    const owner = await trustedOwner();
    const other = await account();
    const from = '203.0.113.100';
    for (let i = 0; i < 3; i++) await attempt(other.email, 'wrong guess', from);
    expect((await trustedAttempt(other.email, other.password, from, { cookie: owner.deviceToken })).status).toBe(429);
  });

  it('gives a trusted device a failure budget of its own, which a success clears', async () => {
    const owner = await trustedOwner();
    const from = '203.0.113.110';
    for (let i = 0; i < 2; i++) expect((await trustedAttempt(owner.email, 'typo', from, { token: owner.deviceToken })).status).toBe(401);
    expect((await trustedAttempt(owner.email, owner.password, from, { token: owner.deviceToken })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await trustedAttempt(owner.email, 'typo', from, { token: owner.deviceToken })).status).toBe(401);
    // A stolen device token is no licence to guess: past its budget even the right password waits.
    const locked = await trustedAttempt(owner.email, owner.password, from, { token: owner.deviceToken });
    expect(locked.status).toBe(429);
    expect(locked.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('stops trusting device tokens once the password changes', async () => {
    const owner = await trustedOwner();
    await t.db.prisma.user.update({ where: { email: owner.email }, data: { passwordHash: await hashPassword('a new password 1') } });
    for (let address = 1; address <= 10; address++) {
      for (let i = 0; i < 3; i++) await attempt(owner.email, 'attacker guess', `192.0.2.${20 + address}`);
    }
    expect((await trustedAttempt(owner.email, 'a new password 1', '198.51.100.249', { cookie: owner.deviceToken })).status).toBe(429);
  });
});
