import { createClient as createWsClient } from 'graphql-ws';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hashPassword } from '../src/lib/password.ts';
import { generateSecret, hashSecret } from '../src/lib/tokens.ts';
import { deletedAccountEmail } from '../src/modules/auth/account-deletion.ts';
import type { paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth, RUNNER_PASSWORD } from './support/apps.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

// Deleting one's account: what is erased, what stays with the organizations, and who may not.
let t: TestApp;
const PASSWORD = 'delete-me-password-1';
const PROBLEM = 'application/problem+json';

const DELETE_ACCOUNT = /* GraphQL */ `mutation($password: String!) { deleteAccount(password: $password) }`;
const ME = /* GraphQL */ `query { me { id email } }`;
const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });

async function person(input: { roles?: Array<'ADMIN' | 'MANAGER' | 'SIGNER'> } = {}) {
  const user = await createUser(t.db.prisma, { roles: input.roles });
  await t.db.prisma.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(PASSWORD), emailVerifiedAt: new Date() } });
  const { session, token } = await signInAs(t.app.services, user.id);
  return { ...user, sessionId: session.id, token };
}

async function deleteAccount(token: string, password = PASSWORD) {
  return (await t.graphql<{ deleteAccount: boolean }, { password: string }>(DELETE_ACCOUNT, { password }, { token })).body;
}

async function meStatus(token: string) {
  const { body } = await t.graphql<{ me: { id: string } }, Record<string, never>>(ME, {}, { token });
  return body.errors?.[0]?.extensions?.code ?? 'OK';
}

beforeAll(async () => {
  // The guard's own checks are a minute apart: a socket closed within seconds was closed because deletion told it to.
  t = await startTestApp({ env: { WS_SESSION_CHECK_MS: '60000' } });
});
afterAll(async () => {
  await t?.close();
});

describe('deleteAccount', () => {
  it('erases the person and ends their sessions, and keeps what they created with their organization', async () => {
    const db = t.db.prisma;
    const { organization, role, location } = await createOrganization(db);
    const owner = await person();
    await addMember(db, { userId: owner.id, organizationId: organization.id, roleId: role.id, isOwner: true });
    const alice = await person({ roles: ['MANAGER', 'SIGNER'] });
    await addMember(db, { userId: alice.id, organizationId: organization.id, roleId: role.id, locationIds: [location.id] });
    const otherSession = await signInAs(t.app.services, alice.id);
    await db.loginSession.update({ where: { id: otherSession.session.id }, data: { ip: '203.0.113.7', userAgent: 'Alice’s phone' } });
    const identity = await db.signingIdentity.create({ data: { userId: alice.id, kind: 'SIGNER', organizationId: organization.id, email: alice.email, linkedById: owner.id } });
    const reset = await db.authToken.create({ data: { purpose: 'PASSWORD_RESET', tokenHash: hashSecret(generateSecret()), userId: alice.id, expiresAt: new Date(Date.now() + 3600_000) } });
    const verification = await db.authToken.create({
      data: { purpose: 'EMAIL_VERIFICATION', tokenHash: hashSecret(generateSecret()), userId: alice.id, email: 'alice.new@example.test', consumedAt: new Date(), expiresAt: new Date(Date.now() + 3600_000) },
    });
    const group = await db.userGroup.create({ data: { organizationId: organization.id, name: 'Deletion group' } });
    await db.userGroupMember.create({ data: { groupId: group.id, userId: alice.id } });
    const document = await createDocument(db, { organizationId: organization.id, locationId: location.id });
    await db.document.update({ where: { id: document.id }, data: { createdById: alice.id } });
    const pkg = await db.signingPackage.create({ data: { organizationId: organization.id, title: 'Alice’s package', createdById: alice.id } });
    const identityAsSigner = await db.signingPackage.create({
      data: { organizationId: organization.id, title: 'Signed by Alice', status: 'SENT', signers: { create: { order: 1, email: alice.email, name: alice.name, signerIdentityId: identity.id } } },
      select: { signers: { select: { id: true } } },
    });

    expect(await meStatus(alice.token)).toBe('OK');
    const body = await deleteAccount(alice.token);
    expect(body.errors).toBeUndefined();
    expect(body.data?.deleteAccount).toBe(true);

    // Erased: name, email, credentials, roles; the row stays under a placeholder that keeps the email unique.
    const user = await db.user.findUniqueOrThrow({ where: { id: alice.id } });
    expect(user).toMatchObject({ email: deletedAccountEmail(alice.id), name: 'Deleted account', passwordHash: null, emailVerifiedAt: null, roles: [] });
    expect(user.deletedAt).toBeInstanceOf(Date);
    expect(user.disabledAt).toBeInstanceOf(Date);
    expect(await db.user.count({ where: { email: alice.email } })).toBe(0);
    // Every session ended, without the addresses they were used from; the tokens answer 401 at once.
    const sessions = await db.loginSession.findMany({ where: { userId: alice.id } });
    expect(sessions).toHaveLength(2);
    for (const session of sessions) expect(session).toMatchObject({ revokedReason: 'account_deleted', ip: null, userAgent: null });
    expect(await meStatus(alice.token)).toBe('UNAUTHENTICATED');
    expect(await meStatus(otherSession.token)).toBe('UNAUTHENTICATED');
    // Identities revoked and without the address; pending tokens revoked; out of every organization and group.
    expect(await db.signingIdentity.findUniqueOrThrow({ where: { id: identity.id } })).toMatchObject({ email: null, revokedAt: expect.any(Date) });
    expect((await db.authToken.findUniqueOrThrow({ where: { id: reset.id } })).revokedAt).toBeInstanceOf(Date);
    expect((await db.authToken.findUniqueOrThrow({ where: { id: verification.id } })).email).toBeNull();
    expect(await db.membership.count({ where: { userId: alice.id } })).toBe(0);
    expect(await db.userGroupMember.count({ where: { userId: alice.id } })).toBe(0);
    // Kept: the records they created, still pointing at the account's id, and the organization's signer slot.
    expect(await db.document.findUniqueOrThrow({ where: { id: document.id } })).toMatchObject({ createdById: alice.id, organizationId: organization.id });
    expect(await db.signingPackage.findUniqueOrThrow({ where: { id: pkg.id } })).toMatchObject({ createdById: alice.id });
    expect(await db.packageSigner.count({ where: { id: identityAsSigner.signers[0]!.id } })).toBe(1);
    expect(await db.membership.count({ where: { userId: owner.id, organizationId: organization.id } })).toBe(1);
    // Audited by id alone: nothing of the person's name, email or address in the row.
    const rows = await db.activity.findMany({ where: { type: 'account.deleted', actorUserId: alice.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ subjectUserId: alice.id, organizationId: null, ip: null, userAgent: null });
    const written = JSON.stringify(rows[0], (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
    for (const personal of [alice.email, alice.name, '203.0.113.7', PASSWORD]) expect(written).not.toContain(personal);
    // A platform admin cannot bring the account back.
    const admin = await createUser(db, { roles: ['ADMIN'] });
    const adminToken = (await signInAs(t.app.services, admin.id)).token;
    const enable = await t.graphql(`mutation($id: ID!) { enableUser(id: $id) { id } }`, { id: alice.id }, { token: adminToken });
    expect(enable.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_DELETED' });
    expect((await db.user.findUniqueOrThrow({ where: { id: alice.id } })).disabledAt).toBeInstanceOf(Date);
    // The old email and password no longer sign in.
    const signIn = await t.graphql(`mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }`, { input: { email: alice.email, password: PASSWORD } });
    expect(signIn.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
  });

  it('refuses a wrong password, another person’s password included, and changes nothing', async () => {
    const alice = await person();
    const bob = await person();
    for (const password of ['not-the-password', 'x'.repeat(20)]) {
      const body = await deleteAccount(alice.token, password);
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'WRONG_PASSWORD', field: 'password' });
    }
    // Bob's password with Alice's session: the only account a session can delete is its own, with its own password.
    await t.db.prisma.user.update({ where: { id: bob.id }, data: { passwordHash: await hashPassword('bobs-own-password-1') } });
    expect((await deleteAccount(alice.token, 'bobs-own-password-1')).errors?.[0]?.extensions).toMatchObject({ reason: 'WRONG_PASSWORD' });
    expect(await t.db.prisma.user.findUniqueOrThrow({ where: { id: alice.id } })).toMatchObject({ email: alice.email, deletedAt: null });
    expect(await t.db.prisma.user.findUniqueOrThrow({ where: { id: bob.id } })).toMatchObject({ email: bob.email, deletedAt: null });
    expect(await meStatus(alice.token)).toBe('OK');
    // Bob deletes his own account with his own password; Alice's stays.
    expect((await deleteAccount(bob.token, 'bobs-own-password-1')).data?.deleteAccount).toBe(true);
    expect(await meStatus(bob.token)).toBe('UNAUTHENTICATED');
    expect(await meStatus(alice.token)).toBe('OK');
  });

  it('is refused to an app sign-in session (APP_SESSION) and to anonymous callers, and allowed to the same person signed in', async () => {
    const org = await appOrganization(t);
    const registration = await org.createRegistration(['127.0.0.1']);
    const signedIn = await post(`${t.url}/v1/Auth/SignAppin`, { authorization: psAuth(registration.key, org.runner.email) });
    expect(signedIn.status).toBe(200);
    const appToken = signedIn.headers.get('x-access-token')!;
    const refused = await t.graphql(DELETE_ACCOUNT, { password: RUNNER_PASSWORD }, { token: appToken });
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'APP_SESSION' });
    expect(await t.db.prisma.user.findUniqueOrThrow({ where: { id: org.runner.id } })).toMatchObject({ deletedAt: null });
    const anonymous = await t.graphql(DELETE_ACCOUNT, { password: RUNNER_PASSWORD });
    expect(anonymous.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });

    const own = await signInAs(t.app.services, org.runner.id);
    const allowed = await t.graphql<{ deleteAccount: boolean }, { password: string }>(DELETE_ACCOUNT, { password: RUNNER_PASSWORD }, { token: own.token });
    expect(allowed.body.data?.deleteAccount).toBe(true);
    // The app session it was running ended with the account.
    expect(await meStatus(appToken)).toBe('UNAUTHENTICATED');
  });

  it('is CONFLICT for the only owner of an open organization, and allowed once another member owns it', async () => {
    const db = t.db.prisma;
    const { organization, role } = await createOrganization(db);
    const owner = await person();
    const ownerMembership = await addMember(db, { userId: owner.id, organizationId: organization.id, roleId: role.id, isOwner: true });
    const colleague = await person();
    await addMember(db, { userId: colleague.id, organizationId: organization.id, roleId: role.id });

    const refused = await deleteAccount(owner.token);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ORGANIZATION_OWNER' });
    expect(await db.user.findUniqueOrThrow({ where: { id: owner.id } })).toMatchObject({ deletedAt: null, email: owner.email });
    expect(await db.membership.count({ where: { id: ownerMembership.id } })).toBe(1);
    expect(await meStatus(owner.token)).toBe('OK');

    const transfer = await t.graphql(
      `mutation($input: TransferOwnershipInput!) { transferOwnership(input: $input) { id isOwner } }`,
      { input: { organizationId: organization.id, toMembershipId: (await db.membership.findFirstOrThrow({ where: { userId: colleague.id } })).id } },
      { token: owner.token },
    );
    expect(transfer.body.errors).toBeUndefined();
    expect((await deleteAccount(owner.token)).data?.deleteAccount).toBe(true);
    expect(await db.organization.findUniqueOrThrow({ where: { id: organization.id } })).toMatchObject({ closedAt: null });
  });

  it('lets the owner of a closed organization go', async () => {
    const db = t.db.prisma;
    const { organization, role } = await createOrganization(db);
    const owner = await person();
    await addMember(db, { userId: owner.id, organizationId: organization.id, roleId: role.id, isOwner: true });
    expect((await deleteAccount(owner.token)).errors?.[0]?.extensions).toMatchObject({ reason: 'ORGANIZATION_OWNER' });
    const closed = await t.graphql(`mutation($id: ID!) { closeOrganization(id: $id) }`, { id: organization.id }, { token: owner.token });
    expect(closed.body.errors).toBeUndefined();
    expect((await deleteAccount(owner.token)).data?.deleteAccount).toBe(true);
  });

  it('closes the person’s live WebSocket at once through the session guard', async () => {
    const alice = await person();
    const { organization, role } = await createOrganization(t.db.prisma);
    await addMember(t.db.prisma, { userId: alice.id, organizationId: organization.id, roleId: role.id });
    let closed: { code: number; reason: string } | undefined;
    const client = createWsClient({
      url: `${t.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${alice.token}` },
      retryAttempts: 0,
      on: { closed: (event) => (closed = event as { code: number; reason: string }) },
    });
    try {
      const listening = t.app.services.events.listeners();
      client.subscribe({ query: `subscription($org: ID!) { activity(organizationId: $org) { id } }`, variables: { org: organization.id } }, { next: () => {}, error: () => {}, complete: () => {} });
      for (let i = 0; i < 100 && t.app.services.events.listeners() <= listening; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(closed).toBeUndefined();
      expect((await deleteAccount(alice.token)).data?.deleteAccount).toBe(true);
      for (let i = 0; i < 150 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(closed).toMatchObject({ code: 4401 });
    } finally {
      await client.dispose();
    }
  });
});

describe('CONFLICT for the last platform admin', () => {
  let fresh: TestApp;
  beforeAll(async () => {
    fresh = await startTestApp();
  });
  afterAll(async () => {
    await fresh?.close();
  });

  it('refuses the only enabled admin and lets an admin go once another remains', async () => {
    const db = fresh.db.prisma;
    const admin = await createUser(db, { roles: ['ADMIN'] });
    await db.user.update({ where: { id: admin.id }, data: { passwordHash: await hashPassword(PASSWORD) } });
    const { token } = await signInAs(fresh.app.services, admin.id);
    const refused = await fresh.graphql(DELETE_ACCOUNT, { password: PASSWORD }, { token });
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LAST_ADMIN' });
    expect(await db.user.findUniqueOrThrow({ where: { id: admin.id } })).toMatchObject({ roles: ['ADMIN'], deletedAt: null });
    await createUser(db, { roles: ['ADMIN'] });
    const allowed = await fresh.graphql<{ deleteAccount: boolean }, { password: string }>(DELETE_ACCOUNT, { password: PASSWORD }, { token });
    expect(allowed.body.data?.deleteAccount).toBe(true);
  });
});

describe('DELETE /v1/me', () => {
  it('answers 204 with the password in the body, after which the token is 401', async () => {
    const alice = await person();
    const { response } = await api(alice.token).DELETE('/v1/me', { body: { password: PASSWORD } });
    expect(response.status).toBe(204);
    const after = await api(alice.token).GET('/v1/me');
    expect(after.response.status).toBe(401);
    expect(await t.db.prisma.user.findUniqueOrThrow({ where: { id: alice.id } })).toMatchObject({ email: deletedAccountEmail(alice.id) });
  });

  it('is 400 WRONG_PASSWORD, 401 without a token and refuses Idempotency-Key, as problem details; the account stays', async () => {
    const alice = await person();
    const wrong = await api(alice.token).DELETE('/v1/me', { body: { password: 'not-the-password' } });
    expect(wrong.response.status).toBe(400);
    expect(wrong.response.headers.get('content-type')).toBe(PROBLEM);
    expect(wrong.error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'WRONG_PASSWORD' });
    const anonymous = await api().DELETE('/v1/me', { body: { password: PASSWORD } });
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.error).toMatchObject({ code: 'UNAUTHENTICATED' });
    const keyed = await api(alice.token).DELETE('/v1/me', { body: { password: PASSWORD }, headers: { 'idempotency-key': 'delete-once' } });
    expect(keyed.response.status).toBe(400);
    expect(keyed.error).toMatchObject({ reason: 'IDEMPOTENCY_NOT_SUPPORTED' });
    expect((await api(alice.token).GET('/v1/me')).response.status).toBe(200);
  });
});
