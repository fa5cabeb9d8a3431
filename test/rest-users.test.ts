import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

// Platform administration under /v1/users, through a client generated from the served OpenAPI document.
let t: TestApp;
const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });
const PROBLEM = 'application/problem+json';

async function person(input: { roles?: Array<'MANAGER' | 'SIGNER' | 'ADMIN'>; email?: string; name?: string } = {}) {
  const user = await createUser(t.db.prisma, input);
  return { ...user, token: (await signInAs(t.app.services, user.id)).token };
}

let admin: Awaited<ReturnType<typeof person>>;
let member: Awaited<ReturnType<typeof person>>;
let outsideManager: Awaited<ReturnType<typeof person>>;

beforeAll(async () => {
  t = await startTestApp();
  admin = await person({ roles: ['ADMIN'], name: 'Ada Admin' });
  member = await person({ email: 'mona.member@lender.test', name: 'Mona Member' });
  outsideManager = await person({ roles: ['MANAGER'] });
  const org = await createOrganization(t.db.prisma);
  await addMember(t.db.prisma, { userId: member.id, organizationId: org.organization.id, roleId: org.role.id, isOwner: true });
  const other = await createOrganization(t.db.prisma);
  await addMember(t.db.prisma, { userId: outsideManager.id, organizationId: other.organization.id, roleId: other.role.id });
});
afterAll(async () => {
  await t?.close();
});

describe('GET /v1/users and /v1/users/{id}', () => {
  it('lists and searches accounts for a platform admin, a page at a time with a Link to the next', async () => {
    const first = await api(admin.token).GET('/v1/users', { params: { query: { first: 2, orderBy: 'OLDEST_FIRST' } } });
    expect(first.response.status).toBe(200);
    expect(first.data?.items.map((u) => u.id)).toEqual([admin.id, member.id]);
    expect(first.response.headers.get('link')).toMatch(/rel="next"/);
    const next = await api(admin.token).GET('/v1/users', { params: { query: { first: 2, orderBy: 'OLDEST_FIRST', after: first.data!.next! } } });
    expect(next.data?.items.map((u) => u.id)).toEqual([outsideManager.id]);
    const found = await api(admin.token).GET('/v1/users', { params: { query: { search: 'MONA' } } });
    expect(found.data?.items).toEqual([{ id: member.id, email: member.email, name: 'Mona Member', roles: [], createdAt: member.createdAt.toISOString(), disabledAt: null }]);
    const one = await api(admin.token).GET('/v1/users/{id}', { params: { path: { id: member.id } } });
    expect(one.data).toMatchObject({ id: member.id, disabledAt: null });
  });

  it('is 403 for anyone else and 401 without a token, as problem details', async () => {
    for (const who of [member, outsideManager]) {
      const { response, error } = await api(who.token).GET('/v1/users');
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toBe(PROBLEM);
      expect(error).toMatchObject({ code: 'FORBIDDEN' });
      expect((await api(who.token).GET('/v1/users/{id}', { params: { path: { id: admin.id } } })).response.status).toBe(403);
    }
    expect((await api().GET('/v1/users')).response.status).toBe(401);
  });

  it('is 404 for an account that does not exist', async () => {
    const { response, error } = await api(admin.token).GET('/v1/users/{id}', { params: { path: { id: '01900000-0000-7000-8000-000000000000' } } });
    expect(response.status).toBe(404);
    expect(error).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('POST /v1/users/{id}/roles and DELETE /v1/users/{id}/roles/{role}', () => {
  it('a platform admin grants and revokes a platform role', async () => {
    const granted = await api(admin.token).POST('/v1/users/{id}/roles', { params: { path: { id: member.id } }, body: { role: 'MANAGER' } });
    expect(granted.response.status).toBe(200);
    expect(granted.data?.roles).toEqual(['MANAGER']);
    const revoked = await api(admin.token).DELETE('/v1/users/{id}/roles/{role}', { params: { path: { id: member.id, role: 'MANAGER' } } });
    expect(revoked.response.status).toBe(200);
    expect(revoked.data?.roles).toEqual([]);
  });

  it('a member cannot grant themselves a role, nor a manager of another organization anyone', async () => {
    const self = await api(member.token).POST('/v1/users/{id}/roles', { params: { path: { id: member.id } }, body: { role: 'ADMIN' } });
    expect(self.response.status).toBe(403);
    expect(self.error).toMatchObject({ code: 'FORBIDDEN' });
    const other = await api(outsideManager.token).POST('/v1/users/{id}/roles', { params: { path: { id: member.id } }, body: { role: 'MANAGER' } });
    expect(other.response.status).toBe(403);
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: member.id } })).roles).toEqual([]);
  });

  it('the last enabled platform admin keeps ADMIN: 409', async () => {
    const { response, error } = await api(admin.token).DELETE('/v1/users/{id}/roles/{role}', { params: { path: { id: admin.id, role: 'ADMIN' } } });
    expect(response.status).toBe(409);
    expect(response.headers.get('content-type')).toBe(PROBLEM);
    expect(error).toMatchObject({ code: 'CONFLICT', reason: 'LAST_ADMIN' });
  });
});

describe('POST /v1/users/{id}/disable and /enable', () => {
  it('a platform admin disables an account, whose sessions end, and enables it again; others get 403', async () => {
    const target = await person();
    expect((await api(member.token).POST('/v1/users/{id}/disable', { params: { path: { id: target.id } } })).response.status).toBe(403);
    expect((await api(target.token).GET('/v1/me')).response.status).toBe(200);
    const disabled = await api(admin.token).POST('/v1/users/{id}/disable', { params: { path: { id: target.id } } });
    expect(disabled.response.status).toBe(200);
    expect(disabled.data?.disabledAt).toEqual(expect.any(String));
    expect((await api(target.token).GET('/v1/me')).response.status).toBe(401);
    expect((await api(member.token).POST('/v1/users/{id}/enable', { params: { path: { id: target.id } } })).response.status).toBe(403);
    const enabled = await api(admin.token).POST('/v1/users/{id}/enable', { params: { path: { id: target.id } } });
    expect(enabled.data?.disabledAt).toBeNull();
  });

  it('an admin cannot disable their own account', async () => {
    const { response, error } = await api(admin.token).POST('/v1/users/{id}/disable', { params: { path: { id: admin.id } } });
    expect(response.status).toBe(403);
    expect(error).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_DISABLE' });
  });
});
