import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { hashSecret } from '../src/lib/tokens.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, linkManagerIdentity, signInAs } from './support/factories.ts';

const T0 = Date.UTC(2026, 4, 1, 8);
const HOUR = 3600_000;
const MAX = 4 * HOUR;
const clock = new ManualClock(T0);
const REFRESH = 'mutation($r: String) { refreshSession(refreshToken: $r) { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt } }';

type Session = { accessToken: string; accessTokenExpiresAt: string; refreshToken: string; refreshTokenExpiresAt: string };

let t: TestApp;
let organizationId: string;
let managerId: string;
let signerUserId: string;
let signerIdentityId: string;

const at = (ms: number) => clock.set(new Date(ms));
const iso = (ms: number) => new Date(ms).toISOString();

/** A SENT (or `status`) package of the organization with one slot for the signer. */
async function createPackage(options: { expiresAt?: Date; status?: 'DRAFT' | 'SENT' } = {}) {
  const pkg = await t.db.prisma.signingPackage.create({
    data: {
      organizationId,
      title: 'Lifetime package',
      status: options.status ?? 'SENT',
      expiresAt: options.expiresAt ?? null,
      createdById: managerId,
      signers: { create: [{ order: 1, email: 'signer@lifetime.test', name: 'Signer', signerIdentityId }] },
    },
    select: { id: true, signers: { select: { id: true } } },
  });
  return { packageId: pkg.id, signerId: pkg.signers[0]!.id };
}

async function post(app: TestApp, path: string, body: unknown, token?: string) {
  const response = await fetch(`${app.url}/api/cs-authenticationTokens${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body ?? {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

/** Issues a token as the manager (signed in afresh at the clock's time) and exchanges it for a session. */
async function limitedSession(kind: '/sender' | '/signer/multiUse' | '/user', body: Record<string, string>, app = t): Promise<Session> {
  const managerToken = (await signInAs(app.app.services, managerId)).token;
  const issued = await post(app, kind, body, managerToken);
  expect(issued.status).toBe(200);
  const exchanged = await post(app, '/exchange', { value: issued.body.value });
  expect(exchanged.status).toBe(200);
  return exchanged.body as unknown as Session;
}

const me = (token: string) => t.graphql<{ me: { id: string } }, unknown>('{ me { id } }', {}, { token });
const refresh = (refreshToken: string) => t.graphql<{ refreshSession: Session }, { r: string }>(REFRESH, { r: refreshToken });
const maxAge = (cookies: string[], name: string) => /Max-Age=(\d+)/.exec(cookies.find((c) => c.startsWith(`${name}=`)) ?? '')?.[1];

beforeAll(async () => {
  t = await startTestApp({ clock });
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Lifetime Lending', permissions: ['documents', 'signing'] });
  organizationId = org.organization.id;
  managerId = (await createUser(db, { roles: ['MANAGER'] })).id;
  await addMember(db, { userId: managerId, organizationId, roleId: org.role.id });
  await linkManagerIdentity(db, { userId: managerId, organizationId });
  const signer = await createUser(db, { roles: ['SIGNER'], email: 'signer@lifetime.test' });
  signerUserId = signer.id;
  signerIdentityId = (await db.signingIdentity.create({ data: { userId: signer.id, kind: 'SIGNER', organizationId, email: signer.email, linkedById: managerId } })).id;
});
afterAll(async () => {
  await t?.close();
});

describe('sender and signer sessions last no longer than LIMITED_SESSION_MAX_SECONDS', () => {
  it('ends a signer session 4 hours after the exchange: session row, refresh token and cookies, and refreshing does not extend it', async () => {
    at(T0);
    const { packageId, signerId } = await createPackage();
    const session = await limitedSession('/signer/multiUse', { packageId, signerId });
    expect(session.refreshTokenExpiresAt).toBe(iso(T0 + MAX));
    expect(session.accessTokenExpiresAt).toBe(iso(T0 + 10 * 60_000));
    const row = await t.db.prisma.loginSession.findFirstOrThrow({ where: { refreshTokens: { some: { tokenHash: hashSecret(session.refreshToken) } } }, include: { refreshTokens: true } });
    expect(row).toMatchObject({ kind: 'SIGNER_TOKEN', expiresAt: new Date(T0 + MAX) });
    expect(row.refreshTokens.map((r) => r.expiresAt)).toEqual([new Date(T0 + MAX)]);

    // The browser form: the refresh cookie lives 4 hours, not 30 days.
    const managerToken = (await signInAs(t.app.services, managerId)).token;
    const issued = await post(t, '/signer/multiUse', { packageId, signerId }, managerToken);
    const browser = await fetch(`${t.url}/auth?authenticationToken=${issued.body.value}`, { redirect: 'manual' });
    expect(browser.status).toBe(303);
    expect(maxAge(browser.headers.getSetCookie(), 'sc_refresh')).toBe(String(MAX / 1000));
    expect(maxAge(browser.headers.getSetCookie(), 'sc_access')).toBe('600');

    // 100 s before the end, a refresh still works, but its tokens and cookies stop at the same end.
    at(T0 + MAX - 100_000);
    const refreshed = await refresh(session.refreshToken);
    expect(refreshed.body.errors).toBeUndefined();
    expect(refreshed.body.data!.refreshSession).toMatchObject({ refreshTokenExpiresAt: iso(T0 + MAX), accessTokenExpiresAt: iso(T0 + MAX) });
    expect(maxAge(refreshed.headers.getSetCookie(), 'sc_refresh')).toBe('100');
    expect(maxAge(refreshed.headers.getSetCookie(), 'sc_access')).toBe('100');

    at(T0 + MAX - 1);
    expect((await me(refreshed.body.data!.refreshSession.accessToken)).body.data?.me.id).toBe(signerUserId);
    at(T0 + MAX);
    const late = await me(refreshed.body.data!.refreshSession.accessToken);
    expect(late.status).toBe(401);
    expect(late.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const lateRefresh = await refresh(refreshed.body.data!.refreshSession.refreshToken);
    expect(lateRefresh.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_REFRESH_TOKEN' });
  });

  it("ends a sender session at its package's own expiry when that comes sooner", async () => {
    at(T0);
    const { packageId } = await createPackage({ expiresAt: new Date(T0 + HOUR) });
    const session = await limitedSession('/sender', { packageId });
    expect(session.refreshTokenExpiresAt).toBe(iso(T0 + HOUR));

    at(T0 + HOUR - 60_000);
    const refreshed = await refresh(session.refreshToken);
    expect(refreshed.body.data?.refreshSession).toMatchObject({ refreshTokenExpiresAt: iso(T0 + HOUR), accessTokenExpiresAt: iso(T0 + HOUR) });
    at(T0 + HOUR - 1);
    expect((await me(refreshed.body.data!.refreshSession.accessToken)).body.data?.me.id).toBe(managerId);
    at(T0 + HOUR);
    expect((await me(refreshed.body.data!.refreshSession.accessToken)).status).toBe(401);
  });

  it('ends as soon as the package completes, is declined or voided; the account keeps its full sessions', async () => {
    at(T0);
    for (const status of ['COMPLETED', 'DECLINED', 'VOIDED'] as const) {
      const { packageId, signerId } = await createPackage();
      const signer = await limitedSession('/signer/multiUse', { packageId, signerId });
      const sender = await limitedSession('/sender', { packageId });
      const full = (await signInAs(t.app.services, signerUserId)).token;
      for (const session of [signer, sender]) expect((await me(session.accessToken)).status).toBe(200);

      await t.db.prisma.signingPackage.update({ where: { id: packageId }, data: { status } });
      for (const session of [signer, sender]) {
        const refused = await me(session.accessToken);
        expect(refused.status, status).toBe(401);
        expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        expect((await refresh(session.refreshToken)).body.errors?.[0]?.extensions?.reason).toBe('INVALID_REFRESH_TOKEN');
      }
      expect((await me(full)).body.data?.me.id).toBe(signerUserId);
    }
  });

  it('keeps a sender session on a draft while it is prepared and sent', async () => {
    at(T0);
    const { packageId } = await createPackage({ status: 'DRAFT' });
    const sender = await limitedSession('/sender', { packageId });
    expect((await me(sender.accessToken)).status).toBe(200);
    await t.db.prisma.signingPackage.update({ where: { id: packageId }, data: { status: 'SENT' } });
    expect((await me(sender.accessToken)).status).toBe(200);
    expect((await refresh(sender.refreshToken)).body.errors).toBeUndefined();
  });

  it('leaves a user token session a full session of REFRESH_TOKEN_TTL_SECONDS', async () => {
    at(T0);
    const session = await limitedSession('/user', {});
    expect(session.refreshTokenExpiresAt).toBe(iso(T0 + 30 * 24 * HOUR));
  });

  it('takes its maximum from LIMITED_SESSION_MAX_SECONDS', async () => {
    at(T0);
    const shorter = await startTestApp({ clock, database: t.db, env: { LIMITED_SESSION_MAX_SECONDS: '3600' } });
    try {
      const { packageId, signerId } = await createPackage();
      const session = await limitedSession('/signer/multiUse', { packageId, signerId }, shorter);
      expect(session.refreshTokenExpiresAt).toBe(iso(T0 + HOUR));
    } finally {
      await shorter.close();
    }
    expect(loadConfig({}).auth.limitedSessionMaxSeconds).toBe(14_400);
    expect(() => loadConfig({ LIMITED_SESSION_MAX_SECONDS: '30' })).toThrow(/LIMITED_SESSION_MAX_SECONDS must be at least 60/);
  });
});
