import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createUser, signInAs } from './support/factories.ts';
import { extractLinks, startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

// Organizations with their locations, roles, members, invitations, settings and billing under /v1, through a client
// generated from the served OpenAPI document.
let smtp: TestSmtpServer;
let t: TestApp;

const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });
const PROBLEM = 'application/problem+json';
const MISSING = '00000000-0000-4000-8000-000000000000';

interface Person {
  id: string;
  email: string;
  name: string;
  token: string;
}

async function person(name: string): Promise<Person> {
  const user = await createUser(t.db.prisma, { name });
  return { id: user.id, email: user.email, name: user.name, token: (await signInAs(t.app.services, user.id)).token };
}

/** An organization created over REST by `owner`, with its default roles by name. */
async function organizationOf(owner: Person, name: string) {
  const created = await api(owner.token).POST('/v1/organizations', { body: { name } });
  expect(created.response.status).toBe(201);
  const id = created.data!.id;
  const roles = await api(owner.token).GET('/v1/organizations/{id}/roles', { params: { path: { id } } });
  const byName = Object.fromEntries(roles.data!.items.map((r) => [r.name, r.id])) as Record<'Owner' | 'Manager' | 'Staff', string>;
  return { id, roles: byName };
}

async function expectProblem(result: { response: Response; error?: unknown }, status: number, code: string, extra: Record<string, unknown> = {}) {
  expect(result.response.status).toBe(status);
  expect(result.response.headers.get('content-type')).toBe(PROBLEM);
  expect(result.error).toMatchObject({ status, code, ...extra });
}

let owner: Person;
let manager: Person;
let staff: Person;
let outsider: Person;
let org: Awaited<ReturnType<typeof organizationOf>>;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ env: { SMTP_URL: smtp.url } });
  owner = await person('Olivia Owner');
  manager = await person('Manny Manager');
  staff = await person('Stacy Staff');
  outsider = await person('Otto Outsider');
  org = await organizationOf(owner, 'Rest Acme Lending');
  await addMember(t.db.prisma, { userId: manager.id, organizationId: org.id, roleId: org.roles.Manager });
  await addMember(t.db.prisma, { userId: staff.id, organizationId: org.id, roleId: org.roles.Staff });
  await organizationOf(outsider, 'Rest Elsewhere Lending');
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('organizations', () => {
  it('creates one (201, Location) that reads back there, with you as its owner in GET /v1/organizations', async () => {
    const founder = await person('Fay Founder');
    const { data, response } = await api(founder.token).POST('/v1/organizations', { body: { name: 'Founded Lending', slug: 'founded-lending-rest' } });
    expect(response.status).toBe(201);
    expect(data).toEqual({ id: expect.any(String), name: 'Founded Lending', slug: 'founded-lending-rest' });
    expect(response.headers.get('location')).toBe(`http://safeclose.test/v1/organizations/${data!.id}`);
    const read = await api(founder.token).GET('/v1/organizations/{id}', { params: { path: { id: data!.id } } });
    expect(read.response.status).toBe(200);
    expect(read.data).toEqual(data);
    const mine = await api(founder.token).GET('/v1/organizations');
    expect(mine.response.status).toBe(200);
    expect(mine.data).toEqual({
      items: [
        {
          id: expect.any(String),
          isOwner: true,
          permissions: expect.arrayContaining(['billing', 'members', 'orgSettings']),
          organization: data,
          role: { id: expect.any(String), name: 'Owner', permissions: expect.any(Array) },
          locations: [],
          user: { id: founder.id, email: founder.email, emailVerified: true, name: founder.name, roles: [], createdAt: expect.any(String) },
        },
      ],
      next: null,
    });
  });

  it('refuses a bad body (400 naming the field), a taken slug (409) and an anonymous caller (401)', async () => {
    await expectProblem(await api(owner.token).POST('/v1/organizations', { body: { name: '   ' } }), 400, 'BAD_USER_INPUT', { field: 'name' });
    await expectProblem(await api(owner.token).POST('/v1/organizations', { body: { name: 'Twin', slug: 'founded-lending-rest' } }), 409, 'CONFLICT');
    const anonymous = await api().POST('/v1/organizations', { body: { name: 'Nobody Lending' } });
    await expectProblem(anonymous, 401, 'UNAUTHENTICATED');
    expect(anonymous.response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await t.db.prisma.organization.count({ where: { name: 'Nobody Lending' } })).toBe(0);
  });

  it('lists only your own memberships; reads a member’s organization and answers 404 for anyone else’s', async () => {
    const mine = await api(staff.token).GET('/v1/organizations');
    expect(mine.data!.items.map((m) => [m.organization.id, m.role.name, m.isOwner])).toEqual([[org.id, 'Staff', false]]);
    expect((await api(staff.token).GET('/v1/organizations/{id}', { params: { path: { id: org.id } } })).data).toMatchObject({ id: org.id, name: 'Rest Acme Lending' });
    await expectProblem(await api(outsider.token).GET('/v1/organizations/{id}', { params: { path: { id: org.id } } }), 404, 'NOT_FOUND');
    await expectProblem(await api(owner.token).GET('/v1/organizations/{id}', { params: { path: { id: MISSING } } }), 404, 'NOT_FOUND');
    await expectProblem(await api().GET('/v1/organizations'), 401, 'UNAUTHENTICATED');
  });
});

describe('locations', () => {
  it('creates (201, Location), lists by name for members and updates with orgSettings', async () => {
    const created = await api(owner.token).POST('/v1/organizations/{id}/locations', { params: { path: { id: org.id } }, body: { name: 'Zebulon Lot', code: 'ZB', city: 'Zebulon' } });
    expect(created.response.status).toBe(201);
    expect(created.data).toEqual({ id: expect.any(String), name: 'Zebulon Lot', code: 'ZB', addressLine1: null, city: 'Zebulon', state: null, postalCode: null });
    expect(created.response.headers.get('location')).toBe(`http://safeclose.test/v1/locations/${created.data!.id}`);
    await api(owner.token).POST('/v1/organizations/{id}/locations', { params: { path: { id: org.id } }, body: { name: 'Athens Lot' } });
    const listed = await api(staff.token).GET('/v1/organizations/{id}/locations', { params: { path: { id: org.id } } });
    expect(listed.response.status).toBe(200);
    expect(listed.data).toEqual({ items: [expect.objectContaining({ name: 'Athens Lot' }), expect.objectContaining({ name: 'Zebulon Lot' })], next: null });
    expect(listed.response.headers.get('link')).toBeNull();
    const updated = await api(owner.token).PATCH('/v1/locations/{id}', { params: { path: { id: created.data!.id } }, body: { name: 'Zebulon North', code: null } });
    expect(updated.response.status).toBe(200);
    expect(updated.data).toMatchObject({ id: created.data!.id, name: 'Zebulon North', code: null, city: 'Zebulon' });
  });

  it('is 403 without orgSettings, 404 for another organization, and 400 when the body names the organization', async () => {
    const body = { name: 'Denied Lot' };
    await expectProblem(await api(staff.token).POST('/v1/organizations/{id}/locations', { params: { path: { id: org.id } }, body }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).POST('/v1/organizations/{id}/locations', { params: { path: { id: org.id } }, body }), 404, 'NOT_FOUND');
    await expectProblem(await api(outsider.token).GET('/v1/organizations/{id}/locations', { params: { path: { id: org.id } } }), 404, 'NOT_FOUND');
    const smuggled = await api(owner.token).POST('/v1/organizations/{id}/locations', { params: { path: { id: org.id } }, body: { ...body, organizationId: org.id } as never });
    await expectProblem(smuggled, 400, 'BAD_USER_INPUT', { field: 'organizationId' });
    expect(await t.db.prisma.location.count({ where: { name: 'Denied Lot' } })).toBe(0);
    const location = await t.db.prisma.location.findFirstOrThrow({ where: { organizationId: org.id } });
    await expectProblem(await api(staff.token).PATCH('/v1/locations/{id}', { params: { path: { id: location.id } }, body: { city: 'Nowhere' } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).PATCH('/v1/locations/{id}', { params: { path: { id: location.id } }, body: { city: 'Nowhere' } }), 404, 'NOT_FOUND');
    expect((await t.db.prisma.location.findUniqueOrThrow({ where: { id: location.id } })).city).not.toBe('Nowhere');
  });
});

describe('roles', () => {
  it('lists for members; creates (201), updates and deletes (204) with the members permission', async () => {
    const listed = await api(staff.token).GET('/v1/organizations/{id}/roles', { params: { path: { id: org.id } } });
    expect(listed.data!.items.map((r) => r.name)).toEqual(['Manager', 'Owner', 'Staff']);
    const created = await api(manager.token).POST('/v1/organizations/{id}/roles', { params: { path: { id: org.id } }, body: { name: 'Auditor', permissions: ['documents'] } });
    expect(created.response.status).toBe(201);
    expect(created.data).toEqual({ id: expect.any(String), name: 'Auditor', permissions: ['documents'] });
    expect(created.response.headers.get('location')).toBe(`http://safeclose.test/v1/roles/${created.data!.id}`);
    const updated = await api(manager.token).PATCH('/v1/roles/{id}', { params: { path: { id: created.data!.id } }, body: { permissions: ['documents', 'loans'] } });
    expect(updated.response.status).toBe(200);
    expect(updated.data).toEqual({ id: created.data!.id, name: 'Auditor', permissions: ['documents', 'loans'] });
    const deleted = await api(manager.token).DELETE('/v1/roles/{id}', { params: { path: { id: created.data!.id } } });
    expect(deleted.response.status).toBe(204);
    expect(await t.db.prisma.organizationRole.count({ where: { id: created.data!.id } })).toBe(0);
  });

  it('is 403 without the members permission, 404 for another organization, 409 for a role in use', async () => {
    const body = { name: 'Sneaky', permissions: [] };
    await expectProblem(await api(staff.token).POST('/v1/organizations/{id}/roles', { params: { path: { id: org.id } }, body }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).POST('/v1/organizations/{id}/roles', { params: { path: { id: org.id } }, body }), 404, 'NOT_FOUND');
    await expectProblem(await api(outsider.token).GET('/v1/organizations/{id}/roles', { params: { path: { id: org.id } } }), 404, 'NOT_FOUND');
    await expectProblem(await api(staff.token).PATCH('/v1/roles/{id}', { params: { path: { id: org.roles.Staff } }, body: { name: 'Renamed' } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).DELETE('/v1/roles/{id}', { params: { path: { id: org.roles.Staff } } }), 404, 'NOT_FOUND');
    await expectProblem(await api(owner.token).DELETE('/v1/roles/{id}', { params: { path: { id: org.roles.Staff } } }), 409, 'CONFLICT');
    expect((await t.db.prisma.organizationRole.findUniqueOrThrow({ where: { id: org.roles.Staff } })).name).toBe('Staff');
  });
});

describe('members', () => {
  it('lists in pages with next and a Link for the members permission; 403 without it, 404 outside', async () => {
    const first = await api(manager.token).GET('/v1/organizations/{id}/members', { params: { path: { id: org.id }, query: { first: 2 } } });
    expect(first.response.status).toBe(200);
    expect(first.data!.items.map((m) => m.user.email)).toEqual([owner.email, manager.email]);
    expect(first.data!.items[0]).toMatchObject({ isOwner: true, role: { name: 'Owner' }, organization: { id: org.id } });
    const link = first.response.headers.get('link')!;
    expect(link).toMatch(new RegExp(`^<http://safeclose\\.test/v1/organizations/${org.id}/members\\?.*after=.*>; rel="next"$`));
    const second = await api(manager.token).GET('/v1/organizations/{id}/members', { params: { path: { id: org.id }, query: { first: 2, after: first.data!.next! } } });
    expect(second.data!.items.map((m) => m.user.email)).toContain(staff.email);
    const newest = await api(manager.token).GET('/v1/organizations/{id}/members', { params: { path: { id: org.id }, query: { first: 1, orderBy: 'NEWEST_FIRST' } } });
    expect(newest.data!.items[0]!.user.email).not.toBe(owner.email);

    const denied = await api(staff.token).GET('/v1/organizations/{id}/members', { params: { path: { id: org.id } } });
    await expectProblem(denied, 403, 'FORBIDDEN');
    expect(JSON.stringify(denied.error)).not.toContain(owner.email);
    await expectProblem(await api(outsider.token).GET('/v1/organizations/{id}/members', { params: { path: { id: org.id } } }), 404, 'NOT_FOUND');
    await expectProblem(await api(manager.token).GET('/v1/organizations/{id}/members', { params: { path: { id: org.id }, query: { first: 101 } } }), 400, 'BAD_USER_INPUT', { field: 'first' });
  });

  it('changes a member’s role and removes members with the members permission; staff get 403, outsiders 404', async () => {
    const temp = await person('Tina Temp');
    const membershipId = (await addMember(t.db.prisma, { userId: temp.id, organizationId: org.id, roleId: org.roles.Staff })).id;
    await expectProblem(await api(staff.token).PATCH('/v1/members/{id}', { params: { path: { id: membershipId } }, body: { roleId: org.roles.Manager } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).PATCH('/v1/members/{id}', { params: { path: { id: membershipId } }, body: { roleId: org.roles.Manager } }), 404, 'NOT_FOUND');
    const updated = await api(manager.token).PATCH('/v1/members/{id}', { params: { path: { id: membershipId } }, body: { roleId: org.roles.Manager } });
    expect(updated.response.status).toBe(200);
    expect(updated.data).toMatchObject({ id: membershipId, role: { name: 'Manager' }, user: { id: temp.id } });

    await expectProblem(await api(staff.token).DELETE('/v1/members/{id}', { params: { path: { id: membershipId } } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).DELETE('/v1/members/{id}', { params: { path: { id: membershipId } } }), 404, 'NOT_FOUND');
    expect(await t.db.prisma.membership.count({ where: { id: membershipId } })).toBe(1);
    const removed = await api(manager.token).DELETE('/v1/members/{id}', { params: { path: { id: membershipId } } });
    expect(removed.response.status).toBe(204);
    expect(await t.db.prisma.membership.count({ where: { id: membershipId } })).toBe(0);
    expect((await api(temp.token).GET('/v1/organizations')).data!.items).toEqual([]);
  });

  it('transfers ownership: only the owner may (a manager is 403); the new owner’s membership comes back', async () => {
    const heir = await person('Henry Heir');
    const founder = await person('Frank Founder');
    const made = await organizationOf(founder, 'Heirloom Lending');
    const managerId = (await addMember(t.db.prisma, { userId: manager.id, organizationId: made.id, roleId: made.roles.Manager })).id;
    const heirId = (await addMember(t.db.prisma, { userId: heir.id, organizationId: made.id, roleId: made.roles.Staff })).id;
    const path = { id: made.id };
    await expectProblem(await api(manager.token).POST('/v1/organizations/{id}/transfer-ownership', { params: { path }, body: { toMembershipId: managerId } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).POST('/v1/organizations/{id}/transfer-ownership', { params: { path }, body: { toMembershipId: heirId } }), 404, 'NOT_FOUND');
    const moved = await api(founder.token).POST('/v1/organizations/{id}/transfer-ownership', { params: { path }, body: { toMembershipId: heirId } });
    expect(moved.response.status).toBe(200);
    expect(moved.data).toMatchObject({ id: heirId, isOwner: true, user: { id: heir.id } });
    const founderNow = (await api(founder.token).GET('/v1/organizations')).data!.items.find((m) => m.organization.id === made.id);
    expect(founderNow?.isOwner).toBe(false);
  });
});

describe('invitations', () => {
  async function invitationToken(email: string, after: number): Promise<string> {
    const mail = await smtp.waitFor((m) => m.to.includes(email) && smtp.messages.indexOf(m) >= after);
    const link = extractLinks(mail.text).find((l) => l.includes('/accept-invitation?token='))!;
    return new URL(link).searchParams.get('token')!;
  }

  it('invites (201, no token in the answer), lists pending invitations, and the invitee accepts with the token (201)', async () => {
    const invitee = await person('Ivy Invitee');
    const before = smtp.messages.length;
    const invited = await api(manager.token).POST('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } }, body: { email: invitee.email, roleId: org.roles.Staff } });
    expect(invited.response.status).toBe(201);
    expect(invited.data).toMatchObject({ email: invitee.email, status: 'PENDING', role: { name: 'Staff' }, organization: { id: org.id }, locations: [] });
    expect(invited.response.headers.get('location')).toBeNull();
    const token = await invitationToken(invitee.email, before);
    expect(JSON.stringify(invited.data)).not.toContain(token);

    const listed = await api(manager.token).GET('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } } });
    expect(listed.response.status).toBe(200);
    expect(listed.data!.items.map((i) => i.id)).toContain(invited.data!.id);

    const stranger = await person('Sam Stranger');
    await expectProblem(await api(stranger.token).POST('/v1/invitations/accept', { body: { token } }), 403, 'FORBIDDEN');
    await expectProblem(await api().POST('/v1/invitations/accept', { body: { token } }), 401, 'UNAUTHENTICATED');
    const accepted = await api(invitee.token).POST('/v1/invitations/accept', { body: { token } });
    expect(accepted.response.status).toBe(201);
    expect(accepted.data).toMatchObject({ isOwner: false, role: { name: 'Staff' }, organization: { id: org.id }, user: { id: invitee.id } });
    expect(accepted.response.headers.get('location')).toBe(`http://safeclose.test/v1/members/${accepted.data!.id}`);
    expect((await api(invitee.token).GET('/v1/organizations/{id}', { params: { path: { id: org.id } } })).response.status).toBe(200);
    const again = await api(invitee.token).POST('/v1/invitations/accept', { body: { token } });
    expect(again.response.status).toBeGreaterThanOrEqual(400);
    expect(again.response.headers.get('content-type')).toBe(PROBLEM);
  });

  it('is 403 to invite or list without the members permission and 404 outside; a body without the token is 400', async () => {
    const body = { email: 'nobody@example.test', roleId: org.roles.Staff };
    await expectProblem(await api(staff.token).POST('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } }, body }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).POST('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } }, body }), 404, 'NOT_FOUND');
    await expectProblem(await api(staff.token).GET('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).GET('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } } }), 404, 'NOT_FOUND');
    expect(await t.db.prisma.invitation.count({ where: { email: 'nobody@example.test' } })).toBe(0);
    await expectProblem(await api(staff.token).POST('/v1/invitations/accept', { body: {} as never }), 400, 'BAD_USER_INPUT', { field: 'token' });
    await expectProblem(await api(staff.token).POST('/v1/invitations/accept', { body: { token: 'x', extra: 1 } as never }), 400, 'BAD_USER_INPUT', { reason: 'UNKNOWN_PARAMETER' });
  });

  it('revokes with the members permission (200, REVOKED); staff get 403 and outsiders 404, leaving it pending', async () => {
    const invited = await api(manager.token).POST('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } }, body: { email: `revoke-${Date.now()}@example.test`, roleId: org.roles.Staff } });
    const path = { id: invited.data!.id };
    await expectProblem(await api(staff.token).POST('/v1/invitations/{id}/revoke', { params: { path } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).POST('/v1/invitations/{id}/revoke', { params: { path } }), 404, 'NOT_FOUND');
    expect((await t.db.prisma.invitation.findUniqueOrThrow({ where: { id: path.id } })).status).toBe('PENDING');
    const revoked = await api(manager.token).POST('/v1/invitations/{id}/revoke', { params: { path } });
    expect(revoked.response.status).toBe(200);
    expect(revoked.data).toMatchObject({ id: path.id, status: 'REVOKED' });
    const listed = await api(manager.token).GET('/v1/organizations/{id}/invitations', { params: { path: { id: org.id } } });
    expect(listed.data!.items.map((i) => i.id)).not.toContain(path.id);
  });

  it('a retried invitation with the same Idempotency-Key is answered from the first, and mails once', async () => {
    const email = `retry-${Date.now()}@example.test`;
    const send = () =>
      fetch(`${t.url}/v1/organizations/${org.id}/invitations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${manager.token}`, 'content-type': 'application/json', 'idempotency-key': `invite-${email}` },
        body: JSON.stringify({ email, roleId: org.roles.Staff }),
      });
    const first = await send();
    const second = await send();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    expect(await second.json()).toEqual(await first.json());
    expect(await t.db.prisma.invitation.count({ where: { email } })).toBe(1);
  });
});

describe('settings and billing', () => {
  it('reads and changes settings with orgSettings; staff get 403 and outsiders 404', async () => {
    const path = { id: org.id };
    const read = await api(owner.token).GET('/v1/organizations/{id}/settings', { params: { path } });
    expect(read.response.status).toBe(200);
    expect(read.data).toEqual({ name: 'Rest Acme Lending', slug: expect.any(String), signInDomain: null });
    const changed = await api(owner.token).PATCH('/v1/organizations/{id}/settings', { params: { path }, body: { signInDomain: 'sign.acme.test' } });
    expect(changed.response.status).toBe(200);
    expect(changed.data).toEqual({ ...read.data, signInDomain: 'sign.acme.test' });
    const cleared = await api(owner.token).PATCH('/v1/organizations/{id}/settings', { params: { path }, body: { signInDomain: null } });
    expect(cleared.data!.signInDomain).toBeNull();

    for (const token of [staff.token, manager.token]) {
      await expectProblem(await api(token).GET('/v1/organizations/{id}/settings', { params: { path } }), 403, 'FORBIDDEN');
      await expectProblem(await api(token).PATCH('/v1/organizations/{id}/settings', { params: { path }, body: { name: 'Hijacked' } }), 403, 'FORBIDDEN');
    }
    await expectProblem(await api(outsider.token).GET('/v1/organizations/{id}/settings', { params: { path } }), 404, 'NOT_FOUND');
    await expectProblem(await api(outsider.token).PATCH('/v1/organizations/{id}/settings', { params: { path }, body: { name: 'Hijacked' } }), 404, 'NOT_FOUND');
    expect((await t.db.prisma.organization.findUniqueOrThrow({ where: { id: org.id } })).name).toBe('Rest Acme Lending');
  });

  it('reads and changes billing as the owner; seats below the member count are 400; others 403 or 404', async () => {
    const path = { id: org.id };
    const read = await api(owner.token).GET('/v1/organizations/{id}/billing', { params: { path } });
    expect(read.response.status).toBe(200);
    expect(read.data).toEqual({ plan: 'standard', seats: 5, subscriptionStatus: 'TRIALING' });
    const changed = await api(owner.token).PATCH('/v1/organizations/{id}/billing', { params: { path }, body: { seats: 12, plan: 'growth' } });
    expect(changed.response.status).toBe(200);
    expect(changed.data).toEqual({ plan: 'growth', seats: 12, subscriptionStatus: 'TRIALING' });
    await expectProblem(await api(owner.token).PATCH('/v1/organizations/{id}/billing', { params: { path }, body: { seats: 1 } }), 400, 'BAD_USER_INPUT', { field: 'seats' });
    await expectProblem(await api(owner.token).PATCH('/v1/organizations/{id}/billing', { params: { path }, body: { subscriptionStatus: 'ACTIVE' } as never }), 400, 'BAD_USER_INPUT', { field: 'subscriptionStatus' });

    await expectProblem(await api(manager.token).GET('/v1/organizations/{id}/billing', { params: { path } }), 403, 'FORBIDDEN');
    await expectProblem(await api(manager.token).PATCH('/v1/organizations/{id}/billing', { params: { path }, body: { seats: 50 } }), 403, 'FORBIDDEN');
    await expectProblem(await api(outsider.token).GET('/v1/organizations/{id}/billing', { params: { path } }), 404, 'NOT_FOUND');
    await expectProblem(await api().GET('/v1/organizations/{id}/billing', { params: { path } }), 401, 'UNAUTHENTICATED');
    expect((await t.db.prisma.organization.findUniqueOrThrow({ where: { id: org.id } })).seats).toBe(12);
  });
});
