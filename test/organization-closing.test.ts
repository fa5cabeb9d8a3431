import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/lib/clock.ts';
import { purgeClosedOrganizations } from '../src/modules/organizations/closing.ts';
import type { paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth } from './support/apps.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

// Closing an organization: who may, what stops at once, what is kept, and the purge after the retention period.
let t: TestApp;
const PROBLEM = 'application/problem+json';
const DAY_MS = 86_400_000;

const CLOSE = /* GraphQL */ `mutation($id: ID!) { closeOrganization(id: $id) }`;
const ORGANIZATION = /* GraphQL */ `query($id: ID!) { organization(id: $id) { id name } }`;
const DOCUMENT = /* GraphQL */ `query($id: ID!) { document(id: $id) { id } }`;
const MY_ORGANIZATIONS = /* GraphQL */ `query { me { memberships { organization { id } } } }`;
const PACKAGE = /* GraphQL */ `query($id: ID!) { signingPackage(id: $id) { id } }`;
const DIRECTORY = /* GraphQL */ `query { signingDirectory(first: 100) { edges { node { id } } } }`;

const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });

async function code(query: string, variables: Record<string, unknown>, token: string) {
  const { body } = await t.graphql(query, variables, { token });
  return body.errors?.[0]?.extensions?.code ?? 'OK';
}

/** An organization with an owner, a member and an app session, a document, a sent package with a signer session, and a pending invitation. */
async function organizationInUse() {
  const db = t.db.prisma;
  const org = await appOrganization(t);
  const organizationId = org.organization.id;
  const memberToken = (await signInAs(t.app.services, org.runner.id)).token;
  const registration = await org.createRegistration(['127.0.0.1']);
  const signedIn = await post(`${t.url}/v1/Auth/SignAppin`, { authorization: psAuth(registration.key, org.runner.email) });
  expect(signedIn.status).toBe(200);
  const appToken = signedIn.headers.get('x-access-token')!;
  const document = await createDocument(db, { organizationId });
  const signer = await createUser(db);
  const pkg = await db.signingPackage.create({
    data: { organizationId, title: 'Closing package', status: 'SENT', sentAt: new Date(), signers: { create: { order: 1, email: signer.email, name: signer.name } } },
    select: { id: true, signers: { select: { id: true } } },
  });
  const signerSession = await db.loginSession.create({
    data: { userId: signer.id, kind: 'SIGNER_TOKEN', packageId: pkg.id, signerId: pkg.signers[0]!.id, expiresAt: new Date(Date.now() + 3600_000) },
  });
  const invitation = await db.invitation.create({
    data: { organizationId, email: 'invitee@example.test', roleId: org.role.id, invitedById: org.owner.id, expiresAt: new Date(Date.now() + 86_400_000) },
  });
  return { ...org, organizationId, memberToken, appToken, registration, document, pkg, signerSession, invitation };
}

let admin: { id: string; token: string };

beforeAll(async () => {
  t = await startTestApp();
  const user = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  admin = { id: user.id, token: (await signInAs(t.app.services, user.id)).token };
});
afterAll(async () => {
  await t?.close();
});

describe('closeOrganization', () => {
  it('is for owners: a member is FORBIDDEN, an outsider and a platform admin cannot, and nothing closes', async () => {
    const org = await organizationInUse();
    const stranger = await createUser(t.db.prisma);
    const strangerToken = (await signInAs(t.app.services, stranger.id)).token;
    expect(await code(CLOSE, { id: org.organizationId }, org.memberToken)).toBe('FORBIDDEN');
    expect(await code(CLOSE, { id: org.organizationId }, org.appToken)).toBe('FORBIDDEN');
    expect(await code(CLOSE, { id: org.organizationId }, strangerToken)).toBe('NOT_FOUND');
    expect(await code(CLOSE, { id: org.organizationId }, admin.token)).toBe('FORBIDDEN');
    const anonymous = await t.graphql(CLOSE, { id: org.organizationId });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await t.db.prisma.organization.findUniqueOrThrow({ where: { id: org.organizationId } })).toMatchObject({ closedAt: null });
    expect(await code(ORGANIZATION, { id: org.organizationId }, org.memberToken)).toBe('OK');
  });

  it('ends every way in at once and keeps the data; closing again is NOT_FOUND', async () => {
    const db = t.db.prisma;
    const org = await organizationInUse();
    const { organizationId } = org;
    // Before: the member, the admin, the app session and the signer reach it.
    expect(await code(DOCUMENT, { id: org.document.id }, org.memberToken)).toBe('OK');
    expect(await code(DOCUMENT, { id: org.document.id }, admin.token)).toBe('OK');
    expect(await code(ORGANIZATION, { id: organizationId }, org.appToken)).toBe('OK');
    expect(await code(PACKAGE, { id: org.pkg.id }, admin.token)).toBe('OK');

    expect(await code(CLOSE, { id: organizationId }, org.ownerToken)).toBe('OK');

    for (const token of [org.ownerToken, org.memberToken, admin.token]) {
      expect(await code(ORGANIZATION, { id: organizationId }, token)).toBe('NOT_FOUND');
      expect(await code(DOCUMENT, { id: org.document.id }, token)).toBe('NOT_FOUND');
    }
    expect(await code(PACKAGE, { id: org.pkg.id }, admin.token)).toBe('NOT_FOUND');
    const directory = await t.graphql<{ signingDirectory: { edges: { node: { id: string } }[] } }, Record<string, never>>(DIRECTORY, {}, { token: admin.token });
    expect(directory.body.data?.signingDirectory.edges.map((e) => e.node.id)).not.toContain(org.pkg.id);
    const listed = await t.graphql<{ me: { memberships: { organization: { id: string } }[] } }, Record<string, never>>(MY_ORGANIZATIONS, {}, { token: org.memberToken });
    expect(listed.body.data?.me.memberships.map((m) => m.organization.id)).not.toContain(organizationId);
    // A member's writes are refused as for any organization they are not in.
    const register = await t.graphql(
      `mutation($input: RegisterChattelInput!) { registerChattel(input: $input) { id } }`,
      { input: { organizationId, manufacturer: 'Acme', serialNumber: 'CLOSED-1', ownerName: 'Pat', addressLine1: '1 Main', city: 'Town', state: 'TX', postalCode: '75001' } },
      { token: org.memberToken },
    );
    expect(register.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // The app session and the signer session ended; the registration, invitation and identities stopped working.
    expect(await code(MY_ORGANIZATIONS, {}, org.appToken)).toBe('UNAUTHENTICATED');
    expect(await db.loginSession.findUniqueOrThrow({ where: { id: org.signerSession.id } })).toMatchObject({ revokedReason: 'organization_closed' });
    expect((await db.apiRegistration.findUniqueOrThrow({ where: { id: org.registration.id } })).disabledAt).toBeInstanceOf(Date);
    expect(await db.invitation.findUniqueOrThrow({ where: { id: org.invitation.id } })).toMatchObject({ status: 'REVOKED' });
    expect(await db.signingIdentity.count({ where: { organizationId, revokedAt: null } })).toBe(0);
    // The members' own accounts are untouched.
    expect(await code(MY_ORGANIZATIONS, {}, org.memberToken)).toBe('OK');

    // Kept: the organization, its memberships and its records, until the purge.
    const closed = await db.organization.findUniqueOrThrow({ where: { id: organizationId } });
    expect(closed.closedAt).toBeInstanceOf(Date);
    expect(closed.closedById).toBe(org.owner.id);
    expect(await db.document.count({ where: { id: org.document.id } })).toBe(1);
    expect(await db.membership.count({ where: { organizationId } })).toBe(4);
    const audit = await db.activity.findMany({ where: { type: 'organization.closed', organizationId } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorUserId: org.owner.id, data: expect.objectContaining({ retentionDays: 90 }) });

    expect(await code(CLOSE, { id: organizationId }, org.ownerToken)).toBe('NOT_FOUND');
  });
});

describe('a signer of a closed organization', () => {
  it('no longer finds its package in the signer queue, though an identity elsewhere matches the slot', async () => {
    const db = t.db.prisma;
    const org = await organizationInUse();
    const elsewhere = await createOrganization(db);
    const signer = await createUser(db, { roles: ['SIGNER'] });
    await db.signingIdentity.create({ data: { userId: signer.id, kind: 'SIGNER', organizationId: elsewhere.organization.id, email: signer.email, linkedById: org.owner.id } });
    const pkg = await db.signingPackage.create({
      data: { organizationId: org.organizationId, title: 'Queued package', status: 'SENT', sentAt: new Date(), signers: { create: { order: 1, email: signer.email, name: signer.name } } },
    });
    const token = (await signInAs(t.app.services, signer.id)).token;
    const QUEUE = /* GraphQL */ `query { signerQueueConnection(first: 50) { edges { node { id } } } }`;
    const queue = async () =>
      (await t.graphql<{ signerQueueConnection: { edges: { node: { id: string } }[] } }, Record<string, never>>(QUEUE, {}, { token })).body.data?.signerQueueConnection.edges.map((e) => e.node.id);
    expect(await queue()).toContain(pkg.id);
    expect(await code(CLOSE, { id: org.organizationId }, org.ownerToken)).toBe('OK');
    expect(await queue()).not.toContain(pkg.id);
    expect(await code(PACKAGE, { id: pkg.id }, token)).toBe('NOT_FOUND');
  });
});

describe('POST /v1/organizations/{id}/close', () => {
  it('answers 204 to the owner, then 404 for the organization', async () => {
    const org = await organizationInUse();
    const { response } = await api(org.ownerToken).POST('/v1/organizations/{id}/close', { params: { path: { id: org.organizationId } } });
    expect(response.status).toBe(204);
    const after = await api(org.ownerToken).GET('/v1/organizations/{id}', { params: { path: { id: org.organizationId } } });
    expect(after.response.status).toBe(404);
    expect(after.response.headers.get('content-type')).toBe(PROBLEM);
  });

  it('is 403 for a member, 404 for an outsider and 401 without a token, as problem details', async () => {
    const org = await organizationInUse();
    const stranger = await createUser(t.db.prisma);
    const cases: Array<[string | undefined, number, string]> = [
      [org.memberToken, 403, 'FORBIDDEN'],
      [(await signInAs(t.app.services, stranger.id)).token, 404, 'NOT_FOUND'],
      [undefined, 401, 'UNAUTHENTICATED'],
    ];
    for (const [token, status, errorCode] of cases) {
      const { response, error } = await api(token).POST('/v1/organizations/{id}/close', { params: { path: { id: org.organizationId } } });
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe(PROBLEM);
      expect(error).toMatchObject({ code: errorCode });
    }
    expect(await t.db.prisma.organization.findUniqueOrThrow({ where: { id: org.organizationId } })).toMatchObject({ closedAt: null });
  });
});

describe('purgeClosedOrganizations', () => {
  it('keeps a closed organization through its retention period, then deletes it and its records but not its activity', async () => {
    const db = t.db.prisma;
    const org = await organizationInUse();
    const open = await createOrganization(db);
    const openOwner = await createUser(db);
    await addMember(db, { userId: openOwner.id, organizationId: open.organization.id, roleId: open.role.id, isOwner: true });
    const openDocument = await createDocument(db, { organizationId: open.organization.id });
    expect(await code(CLOSE, { id: org.organizationId }, org.ownerToken)).toBe('OK');
    const { closedAt } = await db.organization.findUniqueOrThrow({ where: { id: org.organizationId }, select: { closedAt: true } });
    const retentionMs = t.config.organizations.retentionDays * DAY_MS;
    const clock = new ManualClock(closedAt!.getTime() + retentionMs - 60_000);

    const early = await purgeClosedOrganizations({ db, clock, config: t.config });
    expect(early.purged.map((p) => p.id)).not.toContain(org.organizationId);
    expect(early.retained).toBeGreaterThanOrEqual(1);
    expect(await db.organization.count({ where: { id: org.organizationId } })).toBe(1);
    expect(await db.document.count({ where: { id: org.document.id } })).toBe(1);

    clock.advance(60_000);
    const due = await purgeClosedOrganizations({ db, clock, config: t.config });
    expect(due.purged.map((p) => p.id)).toContain(org.organizationId);
    expect(await db.organization.count({ where: { id: org.organizationId } })).toBe(0);
    expect(await db.document.count({ where: { id: org.document.id } })).toBe(0);
    expect(await db.membership.count({ where: { organizationId: org.organizationId } })).toBe(0);
    expect(await db.signingPackage.count({ where: { id: org.pkg.id } })).toBe(0);
    expect(await db.apiRegistration.count({ where: { id: org.registration.id } })).toBe(0);
    // The people stay; so does the open organization and everything in it.
    expect(await db.user.count({ where: { id: { in: [org.owner.id, org.runner.id] } } })).toBe(2);
    expect(await db.organization.findUniqueOrThrow({ where: { id: open.organization.id } })).toMatchObject({ closedAt: null });
    expect(await db.document.count({ where: { id: openDocument.id } })).toBe(1);
    // The history stays, the purge last.
    const history = await db.activity.findMany({ where: { organizationId: org.organizationId }, orderBy: { seq: 'asc' }, select: { type: true } });
    expect(history.map((row) => row.type)).toEqual(expect.arrayContaining(['organization.closed', 'organization.purged']));
    expect(history.at(-1)?.type).toBe('organization.purged');

    const again = await purgeClosedOrganizations({ db, clock, config: t.config });
    expect(again.purged.map((p) => p.id)).not.toContain(org.organizationId);
  });
});
