import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/lib/password.ts';
import type { paths } from './generated/rest-api.ts';
import { signUpVerified, verificationTokenFor } from './support/accounts.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth } from './support/apps.ts';
import { addMember, createOrganization, createUser, linkManagerIdentity, signInAs } from './support/factories.ts';

// The signed-in account, its sessions and password, and signing identities under /v1, through a client generated
// from the served OpenAPI document.
let t: TestApp;
let org: Awaited<ReturnType<typeof appOrganization>>;
let appSessionToken: string;

const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });

const PROBLEM = 'application/problem+json';
const PASSWORD = 'old-password-for-rest-1';

async function person(input: { roles?: Array<'MANAGER' | 'SIGNER' | 'ADMIN'>; password?: string } = {}) {
  const user = await createUser(t.db.prisma, { roles: input.roles });
  if (input.password) await t.db.prisma.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(input.password) } });
  const { session, token } = await signInAs(t.app.services, user.id);
  return { ...user, sessionId: session.id, token };
}

beforeAll(async () => {
  t = await startTestApp();
  org = await appOrganization(t);
  const registration = await org.createRegistration(['127.0.0.1']);
  const signedIn = await post(`${t.url}/v1/Auth/SignAppin`, { authorization: psAuth(registration.key, org.runner.email) });
  expect(signedIn.status).toBe(200);
  appSessionToken = signedIn.headers.get('x-access-token')!;
});
afterAll(async () => {
  await t?.close();
});

describe('GET /v1/me', () => {
  it('answers the signed-in account, for a full session and an app sign-in session alike', async () => {
    const alice = await person({ roles: ['MANAGER'] });
    const { data, response } = await api(alice.token).GET('/v1/me');
    expect(response.status).toBe(200);
    expect(data).toEqual({ id: alice.id, email: alice.email, emailVerified: true, name: alice.name, roles: ['MANAGER'], createdAt: alice.createdAt.toISOString() });
    expect(response.headers.get('etag')).toBeNull();
    expect(response.headers.get('cache-control')).toBe('no-store');
    const app = await api(appSessionToken).GET('/v1/me');
    expect(app.response.status).toBe(200);
    expect(app.data).toMatchObject({ id: org.runner.id, email: org.runner.email });
  });

  it('is 401 problem details with WWW-Authenticate: Bearer without a token or with a bad one', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const { response, error } = await api(token).GET('/v1/me');
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe(PROBLEM);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    }
  });
});

describe('sessions under /v1/me', () => {
  it('lists only your own active sessions, in pages with next and a Link, marking the current one', async () => {
    const alice = await person();
    const others = [await signInAs(t.app.services, alice.id), await signInAs(t.app.services, alice.id)];
    const bob = await person();
    const first = await api(alice.token).GET('/v1/me/sessions', { params: { query: { first: 2, orderBy: 'OLDEST_FIRST' } } });
    expect(first.response.status).toBe(200);
    expect(first.data!.items.map((s) => s.id)).toEqual([alice.sessionId, others[0]!.session.id]);
    expect(first.data!.items[0]).toMatchObject({ kind: 'PASSWORD', current: true });
    expect(first.data!.items[1]).toMatchObject({ current: false });
    expect(first.data!.next).toEqual(expect.any(String));
    const link = first.response.headers.get('link')!;
    expect(link).toMatch(/^<http:\/\/safeclose\.test\/v1\/me\/sessions\?.*after=.*>; rel="next"$/);
    const nextUrl = new URL(link.slice(1, link.indexOf('>')));
    expect(nextUrl.searchParams.get('orderBy')).toBe('OLDEST_FIRST');
    const second = await api(alice.token).GET('/v1/me/sessions', { params: { query: { first: 2, orderBy: 'OLDEST_FIRST', after: first.data!.next! } } });
    expect(second.data!.items.map((s) => s.id)).toEqual([others[1]!.session.id]);
    expect(second.data!.next).toBeNull();
    expect(second.response.headers.get('link')).toBeNull();
    const bobs = await api(bob.token).GET('/v1/me/sessions');
    expect(bobs.data!.items.map((s) => s.id)).toEqual([bob.sessionId]);
  });

  it('refuses a page over 100, an unknown order or parameter (400), and an anonymous caller (401)', async () => {
    const alice = await person();
    for (const [query, field] of [
      [{ first: '101' }, 'first'],
      [{ orderBy: 'SIDEWAYS' }, 'orderBy'],
      [{ kind: 'PASSWORD' }, 'kind'],
    ] as const) {
      const response = await fetch(`${t.url}/v1/me/sessions?${new URLSearchParams(query as Record<string, string>)}`, { headers: { authorization: `Bearer ${alice.token}` } });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe(PROBLEM);
      expect(await response.json()).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const anonymous = await api().GET('/v1/me/sessions');
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.error).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('ends one of your sessions (204, its token stops working); another account’s session is 404 and stays', async () => {
    const alice = await person();
    const laptop = await signInAs(t.app.services, alice.id);
    const bob = await person();
    const denied = await api(bob.token).DELETE('/v1/me/sessions/{id}', { params: { path: { id: laptop.session.id } } });
    expect(denied.response.status).toBe(404);
    expect(denied.response.headers.get('content-type')).toBe(PROBLEM);
    expect(denied.error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await api(laptop.token).GET('/v1/me')).response.status).toBe(200);

    const ended = await api(alice.token).DELETE('/v1/me/sessions/{id}', { params: { path: { id: laptop.session.id } } });
    expect(ended.response.status).toBe(204);
    expect(await ended.response.text()).toBe('');
    expect((await api(laptop.token).GET('/v1/me')).response.status).toBe(401);
    expect((await api(alice.token).GET('/v1/me')).response.status).toBe(200);
    expect((await api().DELETE('/v1/me/sessions/{id}', { params: { path: { id: alice.sessionId } } })).response.status).toBe(401);
  });
});

describe('POST /v1/me/password', () => {
  const change = (token: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.url}/v1/me/password`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('changes the password (204) and ends your other sessions, never logging either password', async () => {
    const alice = await person({ password: PASSWORD });
    const phone = await signInAs(t.app.services, alice.id);
    const newPassword = 'brand-new-password-for-rest-2';
    const { response } = await api(alice.token).POST('/v1/me/password', { body: { currentPassword: PASSWORD, newPassword } });
    expect(response.status).toBe(204);
    expect((await api(phone.token).GET('/v1/me')).response.status).toBe(401);
    expect((await api(alice.token).GET('/v1/me')).response.status).toBe(200);
    // The old password no longer works as the current one; the new one does.
    const old = await api(alice.token).POST('/v1/me/password', { body: { currentPassword: PASSWORD, newPassword: 'third-password-for-rest-3' } });
    expect(old.response.status).toBe(400);
    expect(old.error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'WRONG_PASSWORD', field: 'currentPassword' });
    expect(t.logs.text).not.toContain(PASSWORD);
    expect(t.logs.text).not.toContain(newPassword);
    expect(t.logs.text).not.toContain('third-password-for-rest-3');
  });

  it('refuses a wrong current password, a weak new one and unknown body members (400), changing nothing', async () => {
    const alice = await person({ password: PASSWORD });
    const before = (await t.db.prisma.user.findUniqueOrThrow({ where: { id: alice.id } })).passwordHash;
    const wrong = await change(alice.token, { currentPassword: 'not-the-password', newPassword: 'another-good-password' });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.get('content-type')).toBe(PROBLEM);
    expect(await wrong.json()).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'WRONG_PASSWORD', field: 'currentPassword' });
    const weak = await change(alice.token, { currentPassword: PASSWORD, newPassword: 'short' });
    expect(weak.status).toBe(400);
    expect(await weak.json()).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PASSWORD_TOO_SHORT' });
    const extra = await change(alice.token, { currentPassword: PASSWORD, newPassword: 'another-good-password', userId: 'someone-else' });
    expect(extra.status).toBe(400);
    expect(await extra.json()).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNKNOWN_PARAMETER', field: 'userId' });
    const missing = await change(alice.token, { newPassword: 'another-good-password' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'BAD_USER_INPUT', field: 'currentPassword' });
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: alice.id } })).passwordHash).toBe(before);
  });

  it('refuses an Idempotency-Key (its fingerprint would be a fast hash of the passwords) and stores nothing', async () => {
    const alice = await person({ password: PASSWORD });
    const keys = await t.db.prisma.idempotencyKey.count();
    const response = await change(alice.token, { currentPassword: PASSWORD, newPassword: 'keyed-new-password-1' }, { 'idempotency-key': 'pw-1' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_NOT_SUPPORTED', field: 'Idempotency-Key' });
    expect(await t.db.prisma.idempotencyKey.count()).toBe(keys);
    expect((await change(alice.token, { currentPassword: PASSWORD, newPassword: 'keyed-new-password-1' })).status).toBe(204);
  });

  it('is 403 for an app sign-in session and 401 without a token', async () => {
    const app = await change(appSessionToken, { currentPassword: 'x', newPassword: 'another-good-password' });
    expect(app.status).toBe(403);
    expect(app.headers.get('content-type')).toBe(PROBLEM);
    expect(await app.json()).toMatchObject({ code: 'FORBIDDEN' });
    const anonymous = await api().POST('/v1/me/password', { body: { currentPassword: 'x', newPassword: 'another-good-password' } });
    expect(anonymous.response.status).toBe(401);
  });
});

describe('signing identities under /v1', () => {
  let organizationId: string;
  let manager: Awaited<ReturnType<typeof person>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let outsider: Awaited<ReturnType<typeof person>>;

  beforeAll(async () => {
    const db = t.db.prisma;
    const made = await createOrganization(db, { name: 'Identity Lending', permissions: ['signing'] });
    organizationId = made.organization.id;
    const plain = await db.organizationRole.create({ data: { organizationId, name: 'Plain', permissions: [] } });
    manager = await person({ roles: ['MANAGER'] });
    staff = await person({ roles: ['MANAGER'] });
    outsider = await person({ roles: ['MANAGER'] });
    await addMember(db, { userId: manager.id, organizationId, roleId: made.role.id });
    await addMember(db, { userId: staff.id, organizationId, roleId: plain.id });
    const other = await createOrganization(db, { name: 'Other Identity Lending', permissions: ['signing'] });
    await addMember(db, { userId: outsider.id, organizationId: other.organization.id, roleId: other.role.id });
    await linkManagerIdentity(db, { userId: manager.id, organizationId });
  });

  it('lists the identities linked to your account as one page', async () => {
    const { data, response } = await api(manager.token).GET('/v1/signing-identities');
    expect(response.status).toBe(200);
    expect(data).toEqual({
      items: [
        {
          id: expect.any(String),
          kind: 'MANAGER',
          email: null,
          linkedAt: expect.any(String),
          linkedByName: manager.name,
          organization: { id: organizationId, name: 'Identity Lending' },
          location: null,
        },
      ],
      next: null,
    });
    expect((await api(staff.token).GET('/v1/signing-identities')).data).toEqual({ items: [], next: null });
    expect((await api().GET('/v1/signing-identities')).response.status).toBe(401);
  });

  it('links a signer identity (201, Location) for a manager with signing; staff without it are 403, another organization 403', async () => {
    const signer = await person({ roles: ['SIGNER'] });
    const body = { organizationId, kind: 'SIGNER' as const, userEmail: signer.email };
    const denied = await api(staff.token).POST('/v1/signing-identities', { body });
    expect(denied.response.status).toBe(403);
    expect(denied.response.headers.get('content-type')).toBe(PROBLEM);
    expect(denied.error).toMatchObject({ code: 'FORBIDDEN' });
    expect((await api(outsider.token).POST('/v1/signing-identities', { body })).response.status).toBe(403);
    expect(await t.db.prisma.signingIdentity.count({ where: { userId: signer.id } })).toBe(0);

    const { data, response } = await api(manager.token).POST('/v1/signing-identities', { body });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ kind: 'SIGNER', organization: { id: organizationId }, linkedByName: manager.name });
    expect(response.headers.get('location')).toBe(`http://safeclose.test/v1/signing-identities/${data!.id}`);
    const mine = await api(signer.token).GET('/v1/signing-identities');
    expect(mine.data!.items.map((i) => i.id)).toEqual([data!.id]);

    const again = await api(manager.token).POST('/v1/signing-identities', { body });
    expect(again.response.status).toBe(409);
    expect(again.error).toMatchObject({ code: 'CONFLICT' });
  });

  it('unlinks (204); another organization’s manager gets 404 and staff 403, leaving it linked', async () => {
    const signer = await person({ roles: ['SIGNER'] });
    const linked = await api(manager.token).POST('/v1/signing-identities', { body: { organizationId, kind: 'SIGNER', userEmail: signer.email } });
    const id = linked.data!.id;
    const foreign = await api(outsider.token).DELETE('/v1/signing-identities/{id}', { params: { path: { id } } });
    expect(foreign.response.status).toBe(404);
    expect(foreign.error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await api(staff.token).DELETE('/v1/signing-identities/{id}', { params: { path: { id } } })).response.status).toBe(403);
    expect((await t.db.prisma.signingIdentity.findUniqueOrThrow({ where: { id } })).revokedAt).toBeNull();
    const { response } = await api(manager.token).DELETE('/v1/signing-identities/{id}', { params: { path: { id } } });
    expect(response.status).toBe(204);
    expect((await api(signer.token).GET('/v1/signing-identities')).data!.items).toEqual([]);
    expect((await api(manager.token).DELETE('/v1/signing-identities/{id}', { params: { path: { id } } })).response.status).toBe(404);
  });
});

describe('signing up and in over REST', () => {
  const secret = 'a long passphrase for rest sign-in';

  it('signs up (202) with the same neutral answer for a new and a registered email, no session, and a mailed link that verifies and signs in', async () => {
    const email = `rest-signup-${Date.now()}@example.test`;
    const { data, response } = await api().POST('/v1/users', { body: { email, name: 'Rest Newcomer', password: secret } });
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(data!).sort()).toEqual(['email', 'message']);
    const again = await api().POST('/v1/users', { body: { email, name: 'Someone Else', password: 'another long passphrase' } });
    expect(again.response.status).toBe(202);
    expect(again.data).toEqual(data);

    const token = await verificationTokenFor(t, email);
    const verified = await api().POST('/v1/users/verify', { body: { token } });
    expect(verified.response.status).toBe(200);
    expect(verified.response.headers.get('set-cookie')).toBeNull();
    expect(verified.data).toMatchObject({ tokenType: 'Bearer', accessToken: expect.any(String), refreshToken: expect.any(String), user: { email, name: 'Rest Newcomer', emailVerified: true } });
    const me = await api(verified.data!.accessToken).GET('/v1/me');
    expect(me.data).toMatchObject({ id: verified.data!.user.id, email, emailVerified: true });

    const reused = await api().POST('/v1/users/verify', { body: { token } });
    expect(reused.response.status).toBe(400);
    expect(reused.response.headers.get('content-type')).toBe(PROBLEM);
    expect(reused.error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_VERIFICATION_TOKEN' });
    const keyed = await fetch(`${t.url}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'signup-1' }, body: JSON.stringify({ email, name: 'Keyed', password: secret }) });
    expect(keyed.status).toBe(400);
    expect(await keyed.json()).toMatchObject({ reason: 'IDEMPOTENCY_NOT_SUPPORTED' });
    expect(t.logs.text).not.toContain(secret);
    expect(t.logs.text).not.toContain(token);
  });

  it('signs in with the right password (200) and not with a wrong one (401 INVALID_CREDENTIALS), nor anonymously with a key', async () => {
    const email = `rest-signin-${Date.now()}@example.test`;
    await signUpVerified(t, { email, name: 'Rest Signer-In', password: secret });
    const wrong = await api().POST('/v1/sessions', { body: { email, password: 'not the passphrase at all' } });
    expect(wrong.response.status).toBe(401);
    expect(wrong.response.headers.get('content-type')).toBe(PROBLEM);
    expect(wrong.error).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
    const right = await api().POST('/v1/sessions', { body: { email, password: secret } });
    expect(right.response.status).toBe(200);
    expect(right.data!.user.email).toBe(email);
    const keyed = await fetch(`${t.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'signin-1' }, body: JSON.stringify({ email, password: secret }) });
    expect(keyed.status).toBe(400);
    expect(await keyed.json()).toMatchObject({ reason: 'IDEMPOTENCY_NOT_SUPPORTED' });
    expect(t.logs.text).not.toContain(secret);
  });

  it('refreshes once with a refresh token; the same refresh token a second time is refused', async () => {
    const email = `rest-refresh-${Date.now()}@example.test`;
    await api().POST('/v1/users', { body: { email, name: 'Rest Refresher', password: secret } });
    const signedUp = await api().POST('/v1/users/verify', { body: { token: await verificationTokenFor(t, email) } });
    const refreshed = await api().POST('/v1/sessions/refresh', { body: { refreshToken: signedUp.data!.refreshToken } });
    expect(refreshed.response.status).toBe(200);
    expect(refreshed.data!.refreshToken).not.toBe(signedUp.data!.refreshToken);
    expect((await api(refreshed.data!.accessToken).GET('/v1/me')).response.status).toBe(200);
    const reused = await api().POST('/v1/sessions/refresh', { body: { refreshToken: signedUp.data!.refreshToken } });
    expect(reused.response.status).toBe(401);
    expect(reused.error).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
