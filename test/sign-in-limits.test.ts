import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
