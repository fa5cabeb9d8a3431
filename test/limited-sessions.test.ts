import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ChangePasswordDocument,
  CreateSigningPackageDocument,
  CreateUserAuthenticationTokenDocument,
  DeclineSigningPackageDocument,
  DocumentByIdDocument,
  MeDocument,
  MySessionsDocument,
  RevokeSessionDocument,
  SendSigningPackageDocument,
  SignerPackageByIdDocument,
  SignerQueueDocument,
  SigningPackageByIdDocument,
  SignOutDocument,
  SignSigningPackageDocument,
  ViewSigningPackageDocument,
  VoidSigningPackageDocument,
  type CreateSigningPackageInput,
} from './generated/graphql.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, exchangedTokenSession, linkManagerIdentity, signInAs } from './support/factories.ts';

let t: TestApp;
let orgId: string;
let documentId: string;
let managerRoleId: string;
let documentsOnlyRoleId: string;
const people: Record<string, { id: string; token: string }> = {};
const clients: Client[] = [];

type Result = { status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
const answer = (r: Result) => ({ code: r.body.errors?.[0]?.extensions?.code ?? 'OK', reason: r.body.errors?.[0]?.extensions?.reason });
const LIMITED = { code: 'FORBIDDEN', reason: 'LIMITED_SESSION' };
const as = (token: string) => ({ token });

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Limited Lending', permissions: ['documents', 'signing'] });
  orgId = org.organization.id;
  managerRoleId = org.role.id;
  documentsOnlyRoleId = (await db.organizationRole.create({ data: { organizationId: orgId, name: 'Documents only', permissions: ['documents'] } })).id;
  documentId = (await createDocument(db, { organizationId: orgId, serialNumber: 'LIMITED-1' })).id;
  for (const [name, roles] of [
    ['manager', ['MANAGER']],
    ['fadingManager', ['MANAGER']],
    ['signer', ['SIGNER']],
  ] as const) {
    const user = await createUser(db, { roles: [...roles], email: `${name.toLowerCase()}@limited.test` });
    people[name] = { id: user.id, token: (await signInAs(t.app.services, user.id)).token };
  }
  await addMember(db, { userId: people.manager!.id, organizationId: orgId, roleId: managerRoleId });
  await addMember(db, { userId: people.fadingManager!.id, organizationId: orgId, roleId: managerRoleId });
  for (const who of ['manager', 'fadingManager']) await linkManagerIdentity(db, { userId: people[who]!.id, organizationId: orgId });
  // The signer holds two signer identities (one per organization), so one package can have two slots that are
  // both theirs.
  const elsewhere = await createOrganization(db, { name: 'Elsewhere Lending' });
  for (const [organizationId, email] of [
    [orgId, 'signer@limited.test'],
    [elsewhere.organization.id, 'signer.second@limited.test'],
  ] as const) {
    await db.signingIdentity.create({ data: { userId: people.signer!.id, kind: 'SIGNER', organizationId, email, linkedById: people.manager!.id } });
  }
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

async function createPackage(overrides: Partial<CreateSigningPackageInput> = {}, as = 'manager') {
  const input: CreateSigningPackageInput = {
    organizationId: orgId,
    title: 'Retail installment contract',
    documentIds: [documentId],
    signers: [
      { name: 'The Signer', email: 'signer@limited.test' },
      { name: 'Someone Else', email: 'someone.else@limited.test' },
    ],
    sequential: false,
    ...overrides,
  };
  const created = await t.graphql(CreateSigningPackageDocument, { input }, { token: people[as]!.token });
  expect(created.body.errors).toBeUndefined();
  return created.body.data!.createSigningPackage;
}

async function sentPackage(overrides: Partial<CreateSigningPackageInput> = {}) {
  const pkg = await createPackage(overrides);
  expect(answer(await t.graphql(SendSigningPackageDocument, { id: pkg.id }, as(people.manager!.token)))).toEqual({ code: 'OK', reason: undefined });
  return pkg;
}

/** Issues a token over REST as `issuer` and exchanges it at POST /api/cs-authenticationTokens/exchange. */
/** Issues a token over REST as `issuer` and exchanges it at POST /api/cs-authenticationTokens/exchange. */
function exchangedSession(path: 'sender' | 'signer/multiUse', body: Record<string, string>, issuer = 'manager'): Promise<string> {
  return exchangedTokenSession(t.url, path, body, people[issuer]!.token);
}

describe('a sender session', () => {
  it('reads and manages its package, and no other package its account manages', async () => {
    const own = await createPackage({ title: 'Own package' });
    const other = await createPackage({ title: 'Other package OTHER-SECRET' });
    const session = await exchangedSession('sender', { packageId: own.id });

    const read = await t.graphql(SigningPackageByIdDocument, { id: own.id }, as(session));
    expect(read.body.data?.signingPackage).toMatchObject({ id: own.id, status: 'DRAFT', documents: [{ id: documentId }] });
    expect(read.body.data?.signingPackage.signers.map((s) => s.email)).toEqual(['signer@limited.test', 'someone.else@limited.test']);
    const otherRead = await t.graphql(SigningPackageByIdDocument, { id: other.id }, as(session));
    expect(answer(otherRead).code).toBe('NOT_FOUND');
    expect(JSON.stringify(otherRead.body)).not.toContain('OTHER-SECRET');

    const sent = await t.graphql(SendSigningPackageDocument, { id: own.id }, as(session));
    expect(sent.body.data?.sendSigningPackage.status).toBe('SENT');
    expect(answer(await t.graphql(SendSigningPackageDocument, { id: other.id }, as(session))).code).toBe('NOT_FOUND');
    expect(answer(await t.graphql(VoidSigningPackageDocument, { id: other.id, reason: 'not mine' }, as(session))).code).toBe('NOT_FOUND');
    const voided = await t.graphql(VoidSigningPackageDocument, { id: own.id, reason: 'Wrong borrower' }, as(session));
    expect(voided.body.data?.voidSigningPackage).toMatchObject({ status: 'VOIDED', voidReason: 'Wrong borrower' });
    const sentBy = await t.db.prisma.activity.findFirstOrThrow({ where: { packageId: own.id, type: 'signing.package.sent' } });
    expect(sentBy.actorUserId).toBe(people.manager!.id);
    // The account's full session still reaches both.
    expect(answer(await t.graphql(SigningPackageByIdDocument, { id: other.id }, as(people.manager!.token))).code).toBe('OK');
  });

  it('manages its package only while its account still manages it', async () => {
    const pkg = await createPackage({ title: 'Fading' }, 'fadingManager');
    const session = await exchangedSession('sender', { packageId: pkg.id }, 'fadingManager');
    expect(answer(await t.graphql(SigningPackageByIdDocument, { id: pkg.id }, as(session))).code).toBe('OK');
    const membership = await t.db.prisma.membership.findFirstOrThrow({ where: { userId: people.fadingManager!.id, organizationId: orgId } });
    await t.db.prisma.membership.update({ where: { id: membership.id }, data: { roleId: documentsOnlyRoleId } });
    expect(answer(await t.graphql(SigningPackageByIdDocument, { id: pkg.id }, as(session))).code).toBe('NOT_FOUND');
    expect(answer(await t.graphql(SendSigningPackageDocument, { id: pkg.id }, as(session))).code).toBe('NOT_FOUND');
    await t.db.prisma.membership.update({ where: { id: membership.id }, data: { roleId: managerRoleId } });
    expect(answer(await t.graphql(SendSigningPackageDocument, { id: pkg.id }, as(session))).code).toBe('OK');
  });

  it('is refused everything beyond its package with LIMITED_SESSION, where the full session is not', async () => {
    const pkg = await createPackage();
    const session = await exchangedSession('sender', { packageId: pkg.id });
    const full = people.manager!.token;
    const calls = [
      (token: string) => t.graphql(ChangePasswordDocument, { currentPassword: 'whatever it was', newPassword: 'a new passphrase' }, as(token)),
      (token: string) => t.graphql(MySessionsDocument, {}, as(token)),
      (token: string) => t.graphql(DocumentByIdDocument, { id: documentId }, as(token)),
      (token: string) => t.graphql(SignerQueueDocument, {}, as(token)),
      (token: string) => t.graphql(CreateUserAuthenticationTokenDocument, {}, as(token)),
    ];
    const limited = await Promise.all(calls.map(async (call) => answer(await call(session))));
    expect(limited).toEqual(calls.map(() => LIMITED));
    const fullAnswers = await Promise.all(calls.map(async (call) => answer(await call(full)).code));
    // The manager has no password, so changePassword gets past the rule and fails on the password itself.
    expect(fullAnswers[0]).not.toBe('FORBIDDEN');
    expect(fullAnswers.slice(1)).toEqual(['OK', 'OK', 'OK', 'OK']);

    const sessionId = (await t.db.prisma.loginSession.findFirstOrThrow({ where: { userId: people.manager!.id, kind: 'PASSWORD' } })).id;
    expect(answer(await t.graphql(RevokeSessionDocument, { id: sessionId }, as(session)))).toEqual(LIMITED);
    expect(answer(await t.graphql(MeDocument, {}, as(session)))).toEqual(LIMITED);
    const me = await t.graphql('{ me { id email } }', {}, as(session));
    expect(me.body.data).toEqual({ me: { id: people.manager!.id, email: 'manager@limited.test' } });
  });

  it('signs out', async () => {
    const session = await exchangedSession('sender', { packageId: (await createPackage()).id });
    expect((await t.graphql(SignOutDocument, {}, as(session))).body.data).toEqual({ signOut: true });
    expect((await t.graphql('{ me { id } }', {}, as(session))).status).toBe(401);
  });
});

describe('a signer session', () => {
  it('sees only its package in the signer queue and lookups; the full session sees both', async () => {
    const own = await sentPackage({ title: 'Own queue entry' });
    const second = await sentPackage({ title: 'Second queue entry' });
    const session = await exchangedSession('signer/multiUse', { packageId: own.id, signerId: 'signer@limited.test' });
    const fullToken = (await signInAs(t.app.services, people.signer!.id)).token;

    const queue = await t.graphql(SignerQueueDocument, {}, as(session));
    expect(queue.body.data?.signerQueue.map((p) => p.id)).toEqual([own.id]);
    expect(queue.body.data?.signerQueue[0]!.signers.map((s) => s.isMyTurn)).toEqual([true, false]);
    const fullQueue = await t.graphql(SignerQueueDocument, {}, as(fullToken));
    expect(fullQueue.body.data?.signerQueue.map((p) => p.id)).toEqual(expect.arrayContaining([own.id, second.id]));

    expect(answer(await t.graphql(SignerPackageByIdDocument, { id: own.id }, as(session))).code).toBe('OK');
    expect(answer(await t.graphql(SignerPackageByIdDocument, { id: second.id }, as(session))).code).toBe('NOT_FOUND');
    expect(answer(await t.graphql(ViewSigningPackageDocument, { packageId: second.id }, as(session))).code).toBe('NOT_FOUND');
    expect(answer(await t.graphql(SignSigningPackageDocument, { packageId: second.id }, as(session))).code).toBe('NOT_FOUND');

    const signed = await t.graphql(SignSigningPackageDocument, { packageId: own.id }, as(session));
    expect(answer(signed).code).toBe('OK');
    const slots = await t.db.prisma.packageSigner.findMany({ where: { packageId: { in: [own.id, second.id] }, email: 'signer@limited.test' } });
    expect(Object.fromEntries(slots.map((s) => [s.packageId, s.status]))).toEqual({ [own.id]: 'SIGNED', [second.id]: 'PENDING' });
  });

  it('signs and declines only as its own slot, even when the account holds another slot of the package', async () => {
    const pkg = await sentPackage({
      signers: [
        { name: 'First slot', email: 'signer@limited.test' },
        { name: 'Second slot', email: 'signer.second@limited.test' },
      ],
    });
    const [first, second] = pkg.signers;
    const session = await exchangedSession('signer/multiUse', { packageId: pkg.id, signerId: second!.id });

    const view = await t.graphql(SignerPackageByIdDocument, { id: pkg.id }, as(session));
    expect(view.body.data?.signingPackage.signers.map((s) => s.isMyTurn)).toEqual([false, true]);
    // Both slots are the account's; the session acts as its own, the second.
    expect(view.body.data?.signingPackage.mySlot).toMatchObject({ id: second!.id, email: 'signer.second@limited.test' });
    expect(answer(await t.graphql(SignSigningPackageDocument, { packageId: pkg.id }, as(session))).code).toBe('OK');
    // A full session would now sign the first slot; this one has none left.
    expect(answer(await t.graphql(SignSigningPackageDocument, { packageId: pkg.id }, as(session)))).toEqual({ code: 'CONFLICT', reason: 'INVALID_TRANSITION' });
    expect(answer(await t.graphql(DeclineSigningPackageDocument, { packageId: pkg.id, reason: 'no' }, as(session)))).toEqual({
      code: 'CONFLICT',
      reason: 'INVALID_TRANSITION',
    });
    const statuses = await t.db.prisma.packageSigner.findMany({ where: { packageId: pkg.id }, orderBy: { order: 'asc' }, select: { id: true, status: true } });
    expect(statuses).toEqual([
      { id: first!.id, status: 'PENDING' },
      { id: second!.id, status: 'SIGNED' },
    ]);
  });

  it('loses its slot when the slot stops belonging to its account', async () => {
    const pkg = await sentPackage({ signers: [{ name: 'Second slot', email: 'signer.second@limited.test' }] });
    const session = await exchangedSession('signer/multiUse', { packageId: pkg.id, signerId: pkg.signers[0]!.id });
    expect(answer(await t.graphql(SignerPackageByIdDocument, { id: pkg.id }, as(session))).code).toBe('OK');
    const identity = await t.db.prisma.signingIdentity.findFirstOrThrow({ where: { email: 'signer.second@limited.test' } });
    await t.db.prisma.signingIdentity.update({ where: { id: identity.id }, data: { revokedAt: new Date() } });
    try {
      expect(answer(await t.graphql(SignerPackageByIdDocument, { id: pkg.id }, as(session))).code).toBe('NOT_FOUND');
      expect(answer(await t.graphql(SignSigningPackageDocument, { packageId: pkg.id }, as(session))).code).toBe('NOT_FOUND');
    } finally {
      await t.db.prisma.signingIdentity.update({ where: { id: identity.id }, data: { revokedAt: null } });
    }
  });

  it('is refused manager operations and everything beyond its package with LIMITED_SESSION', async () => {
    const pkg = await sentPackage();
    const session = await exchangedSession('signer/multiUse', { packageId: pkg.id, signerId: 'signer@limited.test' });
    const fullToken = (await signInAs(t.app.services, people.signer!.id)).token;
    const changePassword = (token: string) => t.graphql(ChangePasswordDocument, { currentPassword: 'whatever it was', newPassword: 'a new passphrase' }, as(token));
    expect(answer(await changePassword(session))).toEqual(LIMITED);
    expect(answer(await changePassword(fullToken)).code).not.toBe('FORBIDDEN');
    expect(answer(await t.graphql(MySessionsDocument, {}, as(session)))).toEqual(LIMITED);
    expect(answer(await t.graphql(SendSigningPackageDocument, { id: pkg.id }, as(session)))).toEqual(LIMITED);
    expect(answer(await t.graphql(VoidSigningPackageDocument, { id: pkg.id, reason: 'no' }, as(session)))).toEqual(LIMITED);
    expect(answer(await t.graphql(DocumentByIdDocument, { id: documentId }, as(session)))).toEqual(LIMITED);
    expect(answer(await t.graphql(CreateUserAuthenticationTokenDocument, {}, as(session)))).toEqual(LIMITED);
  });
});

describe('live updates for limited sessions', () => {
  function subscribe<T>(token: string, query: string, variables: Record<string, unknown> = {}) {
    const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    clients.push(client);
    const events: T[] = [];
    const errors: unknown[] = [];
    client.subscribe<T>({ query, variables }, { next: (v) => (v.data ? events.push(v.data as T) : errors.push(v.errors)), error: (e) => errors.push(e), complete: () => {} });
    return { events, errors };
  }
  const settle = (ms = 250) => new Promise((resolve) => setTimeout(resolve, ms));
  async function until(predicate: () => boolean, timeoutMs = 3000) {
    const started = Date.now();
    while (!predicate()) {
      if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
      await settle(20);
    }
  }

  it('a signer session hears its package, not another package of its account; a sender session hears its own package only', async () => {
    const own = await sentPackage({ title: 'Live own' });
    const second = await sentPackage({ title: 'Live second' });
    const signerSession = await exchangedSession('signer/multiUse', { packageId: own.id, signerId: 'signer@limited.test' });
    const senderSession = await exchangedSession('sender', { packageId: own.id });

    const queue = subscribe<{ signerQueueUpdated: Array<{ id: string }> }>(signerSession, 'subscription { signerQueueUpdated { id } }');
    const ownUpdates = subscribe<{ signingPackageUpdated: { id: string; status: string } }>(senderSession, 'subscription($id: ID!) { signingPackageUpdated(id: $id) { id status } }', { id: own.id });
    const secondUpdates = subscribe<{ signingPackageUpdated: { id: string } }>(senderSession, 'subscription($id: ID!) { signingPackageUpdated(id: $id) { id } }', { id: second.id });
    const senderQueue = subscribe(senderSession, 'subscription { signerQueueUpdated { id } }');
    await settle();

    await t.graphql(VoidSigningPackageDocument, { id: second.id, reason: 'Superseded' }, as(people.manager!.token));
    await settle();
    expect(queue.events).toEqual([]);
    expect(secondUpdates.events).toEqual([]);

    await t.graphql(VoidSigningPackageDocument, { id: own.id, reason: 'Superseded too' }, as(people.manager!.token));
    await until(() => queue.events.length > 0 && ownUpdates.events.length > 0);
    expect(queue.events[0]).toEqual({ signerQueueUpdated: [] });
    expect(ownUpdates.events[0]).toEqual({ signingPackageUpdated: { id: own.id, status: 'VOIDED' } });
    await until(() => senderQueue.errors.length > 0);
    expect(JSON.stringify(senderQueue.errors)).toContain('LIMITED_SESSION');
  });
});
