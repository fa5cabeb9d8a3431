import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/lib/tokens.ts';
import {
  CreateSenderAuthenticationTokenDocument,
  CreateSignerAuthenticationTokenDocument,
  CreateUserAuthenticationTokenDocument,
  ExchangeAuthenticationTokenDocument,
} from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, linkManagerIdentity, signInAs } from './support/factories.ts';

const BASE = '/api/cs-authenticationTokens';
const clock = new ManualClock(new Date('2026-04-01T09:00:00.000Z'));
let t: TestApp;
let orgId: string;
let documentId: string;
let managerId: string;
let managerToken: string;
let otherManagerToken: string;
let signerUserId: string;
let adminId: string;

type Json = Record<string, unknown>;

async function post(path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${t.url}${path}`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

const exchange = (value: string) => post(`${BASE}/exchange`, { value });

/** A package of the organization with one signer slot (linked to signerUserId's identity) and one unlinked slot. */
async function createPackage(status: 'DRAFT' | 'SENT' = 'SENT') {
  const db = t.db.prisma;
  const identity = await db.signingIdentity.findFirstOrThrow({ where: { userId: signerUserId } });
  const pkg = await db.signingPackage.create({
    data: {
      organizationId: orgId,
      title: 'Retail installment contract',
      status,
      createdById: managerId,
      signers: {
        create: [
          { order: 1, email: 'signer@tokens.test', name: 'Signer One', signerIdentityId: identity.id },
          { order: 2, email: 'unlinked@tokens.test', name: 'Nobody Linked' },
        ],
      },
    },
    select: { id: true, signers: { orderBy: { order: 'asc' }, select: { id: true } } },
  });
  return { packageId: pkg.id, signerId: pkg.signers[0]!.id, unlinkedSignerId: pkg.signers[1]!.id };
}

beforeAll(async () => {
  t = await startTestApp({ clock });
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Token Lending', permissions: ['documents', 'signing'] });
  orgId = org.organization.id;
  documentId = (await createDocument(db, { organizationId: orgId })).id;
  const other = await createOrganization(db, { name: 'Elsewhere Lending' });
  adminId = (await createUser(db, { roles: ['ADMIN'] })).id;
  const manager = await createUser(db, { roles: ['MANAGER'] });
  managerId = manager.id;
  await addMember(db, { userId: managerId, organizationId: orgId, roleId: org.role.id });
  await linkManagerIdentity(db, { userId: managerId, organizationId: orgId });
  managerToken = (await signInAs(t.app.services, managerId)).token;
  const otherManager = await createUser(db, { roles: ['MANAGER'] });
  await addMember(db, { userId: otherManager.id, organizationId: other.organization.id, roleId: other.role.id });
  // A manager in their own organization: the package they are refused is another organization's.
  await linkManagerIdentity(db, { userId: otherManager.id, organizationId: other.organization.id });
  otherManagerToken = (await signInAs(t.app.services, otherManager.id)).token;
  const signer = await createUser(db, { roles: ['SIGNER'], email: 'signer@tokens.test' });
  signerUserId = signer.id;
  await db.signingIdentity.create({ data: { userId: signer.id, kind: 'SIGNER', organizationId: orgId, email: signer.email, linkedById: adminId } });
});
afterAll(async () => {
  await t?.close();
});

describe('issuing signing authentication tokens', () => {
  it('answers each endpoint exactly in the seed shape', async () => {
    const { packageId, signerId } = await createPackage();

    const user = await post(`${BASE}/user`, undefined, managerToken);
    expect(user.status).toBe(200);
    expect(Object.keys(user.body)).toEqual(['value']);
    expect(typeof user.body.value).toBe('string');
    expect(String(user.body.value).length).toBeGreaterThanOrEqual(43);

    const sender = await post(`${BASE}/sender`, { packageId }, managerToken);
    expect(sender.status).toBe(200);
    expect(Object.keys(sender.body)).toEqual(['value']);
    expect(typeof sender.body.value).toBe('string');

    const multi = await post(`${BASE}/signer/multiUse`, { packageId, signerId }, managerToken);
    expect(multi.status).toBe(200);
    expect(Object.keys(multi.body)).toEqual(['packageId', 'signerId', 'value']);
    expect(multi.body).toMatchObject({ packageId, signerId });
    expect(typeof multi.body.value).toBe('string');

    const single = await post(`${BASE}/signer/singleUse`, { packageId, signerId: 'signer@tokens.test' }, managerToken);
    expect(single.status).toBe(200);
    expect(Object.keys(single.body)).toEqual(['packageId', 'sessionFields', 'signerId', 'value']);
    expect(single.body).toMatchObject({ packageId, sessionFields: null, signerId: 'signer@tokens.test' });
    expect(typeof single.body.value).toBe('string');

    const rows = await t.db.prisma.authToken.findMany({ where: { createdById: managerId }, orderBy: { createdAt: 'asc' } });
    const byHash = (value: unknown) => rows.find((r) => r.tokenHash === hashSecret(String(value)));
    expect(byHash(user.body.value)).toMatchObject({ purpose: 'USER_AUTH', userId: managerId, maxUses: 1, packageId: null });
    expect(byHash(sender.body.value)).toMatchObject({ purpose: 'SENDER_AUTH', userId: managerId, maxUses: 1, packageId });
    expect(byHash(multi.body.value)).toMatchObject({ purpose: 'SIGNER_MULTI_USE', userId: signerUserId, maxUses: null, packageId, signerId });
    expect(byHash(single.body.value)).toMatchObject({ purpose: 'SIGNER_SINGLE_USE', userId: signerUserId, maxUses: 1, packageId, signerId });
    for (const row of rows) expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBe(30 * 60_000);
  });

  it('stores only the hash and never records the value in activity', async () => {
    const { body } = await post(`${BASE}/user`, undefined, managerToken);
    const value = String(body.value);
    const stored = await t.db.prisma.authToken.findUnique({ where: { tokenHash: hashSecret(value) } });
    expect(stored).not.toBeNull();
    expect(JSON.stringify(stored)).not.toContain(value);
    expect(await t.db.prisma.authToken.count({ where: { tokenHash: value } })).toBe(0);
    await exchange(value);
    const activities = await t.db.prisma.activity.findMany({ where: { type: { startsWith: 'auth.token.' } } });
    expect(activities.map((a) => a.type)).toEqual(expect.arrayContaining(['auth.token.issued', 'auth.token.exchanged']));
    expect(JSON.stringify(activities, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(value);
    expect(t.logs.text).not.toContain(value);
  });

  it('needs a valid session: 401 with the JSON error envelope', async () => {
    for (const path of ['/user', '/sender', '/signer/multiUse', '/signer/singleUse']) {
      const missing = await post(`${BASE}${path}`, { packageId: 'x' });
      expect(missing.status).toBe(401);
      expect(missing.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
      const invalid = await post(`${BASE}${path}`, { packageId: 'x' }, 'not.a.jwt');
      expect(invalid.status).toBe(401);
      expect(invalid.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    }
  });

  it("refuses another organization's manager (404) and a reader who does not manage (403)", async () => {
    const { packageId, signerId } = await createPackage();
    expect((await post(`${BASE}/sender`, { packageId }, otherManagerToken)).body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const other = await post(`${BASE}/signer/multiUse`, { packageId, signerId }, otherManagerToken);
    expect(other.status).toBe(404);
    // The assigned signer can read the package but does not manage it.
    const signerToken = (await signInAs(t.app.services, signerUserId)).token;
    const forbidden = await post(`${BASE}/sender`, { packageId }, signerToken);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it('checks the package state, the signer and its linked account', async () => {
    const draft = await createPackage('DRAFT');
    expect((await post(`${BASE}/sender`, { packageId: draft.packageId }, managerToken)).status).toBe(200);
    const draftSigner = await post(`${BASE}/signer/singleUse`, { packageId: draft.packageId, signerId: draft.signerId }, managerToken);
    expect(draftSigner.status).toBe(409);
    expect(draftSigner.body).toMatchObject({ error: { code: 'CONFLICT', reason: 'PACKAGE_NOT_ACTIVE' } });

    const sent = await createPackage();
    const unknownSigner = await post(`${BASE}/signer/singleUse`, { packageId: sent.packageId, signerId: 'stranger@tokens.test' }, managerToken);
    expect(unknownSigner.status).toBe(404);
    const otherSlot = (await createPackage()).signerId;
    expect((await post(`${BASE}/signer/multiUse`, { packageId: sent.packageId, signerId: otherSlot }, managerToken)).status).toBe(404);
    const unlinked = await post(`${BASE}/signer/multiUse`, { packageId: sent.packageId, signerId: sent.unlinkedSignerId }, managerToken);
    expect(unlinked.status).toBe(400);
    expect(unlinked.body).toMatchObject({ error: { code: 'BAD_USER_INPUT', reason: 'NO_LINKED_USER' } });
    expect(String((unlinked.body.error as Json).message)).toMatch(/no linked platform account/);
    expect((await post(`${BASE}/sender`, {}, managerToken)).status).toBe(400);

    await t.db.prisma.signingPackage.update({ where: { id: sent.packageId }, data: { status: 'VOIDED', voidedAt: clock.now() } });
    expect((await post(`${BASE}/sender`, { packageId: sent.packageId }, managerToken)).status).toBe(409);
  });
});

describe('exchanging tokens', () => {
  it('exchanges a user token once for a full USER_TOKEN session', async () => {
    const { body } = await post(`${BASE}/user`, undefined, managerToken);
    const first = await exchange(String(body.value));
    expect(first.status).toBe(200);
    expect(Object.keys(first.body).sort()).toEqual(['accessToken', 'accessTokenExpiresAt', 'refreshToken', 'refreshTokenExpiresAt', 'sessionKind', 'tokenType']);
    expect(first.body).toMatchObject({ tokenType: 'Bearer', sessionKind: 'USER_TOKEN' });
    for (const key of ['accessToken', 'accessTokenExpiresAt', 'refreshToken', 'refreshTokenExpiresAt']) expect(typeof first.body[key]).toBe('string');
    const session = await t.db.prisma.loginSession.findFirstOrThrow({ where: { kind: 'USER_TOKEN' }, orderBy: { createdAt: 'desc' } });
    expect(session.userId).toBe(managerId);

    const again = await exchange(String(body.value));
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({ error: { code: 'UNAUTHENTICATED', reason: 'INVALID_AUTHENTICATION_TOKEN' } });
    expect((await exchange('no-such-token')).status).toBe(401);
  });

  it('lets exactly one of 50 simultaneous exchanges of a single-use token win', async () => {
    const { packageId, signerId } = await createPackage();
    const { body } = await post(`${BASE}/signer/singleUse`, { packageId, signerId }, managerToken);
    const before = await t.db.prisma.loginSession.count({ where: { kind: 'SIGNER_TOKEN', signerId } });
    const results = await Promise.all(Array.from({ length: 50 }, () => exchange(String(body.value))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(49);
    const sessions = await t.db.prisma.loginSession.findMany({ where: { kind: 'SIGNER_TOKEN', signerId } });
    expect(sessions.length - before).toBe(1);
    expect(sessions[sessions.length - 1]).toMatchObject({ userId: signerUserId, packageId, signerId });
  });

  it('accepts a multi-use signer token repeatedly until 30 minutes have passed', async () => {
    const { packageId, signerId } = await createPackage();
    const { body } = await post(`${BASE}/signer/multiUse`, { packageId, signerId }, managerToken);
    const issuedAt = clock.now().getTime();
    for (let i = 0; i < 3; i++) {
      const r = await exchange(String(body.value));
      expect(r.status).toBe(200);
      expect(r.body.sessionKind).toBe('SIGNER_TOKEN');
    }
    clock.set(new Date(issuedAt + 30 * 60_000 - 1));
    expect((await exchange(String(body.value))).status).toBe(200);
    clock.set(new Date(issuedAt + 30 * 60_000));
    expect((await exchange(String(body.value))).status).toBe(401);
    const stored = await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(String(body.value)) } });
    expect(stored).toMatchObject({ useCount: 4, consumedAt: null });
    // Back to the start, so the managers' 10-minute access tokens stay valid for the other tests.
    clock.set(new Date(issuedAt));
  });

  it('kills unused tokens when the package is voided or the signer slot removed', async () => {
    const { packageId, signerId } = await createPackage();
    const sender = await post(`${BASE}/sender`, { packageId }, managerToken);
    const multi = await post(`${BASE}/signer/multiUse`, { packageId, signerId }, managerToken);
    await t.db.prisma.signingPackage.update({ where: { id: packageId }, data: { status: 'VOIDED', voidedAt: clock.now() } });
    expect((await exchange(String(sender.body.value))).status).toBe(401);
    expect((await exchange(String(multi.body.value))).status).toBe(401);

    const live = await createPackage();
    const single = await post(`${BASE}/signer/singleUse`, { packageId: live.packageId, signerId: live.signerId }, managerToken);
    await t.db.prisma.packageSigner.delete({ where: { id: live.signerId } });
    expect((await exchange(String(single.body.value))).status).toBe(401);

    const completed = await createPackage();
    const done = await post(`${BASE}/signer/multiUse`, { packageId: completed.packageId, signerId: completed.signerId }, managerToken);
    expect((await exchange(String(done.body.value))).status).toBe(200);
    await t.db.prisma.signingPackage.update({ where: { id: completed.packageId }, data: { status: 'COMPLETED', completedAt: clock.now() } });
    expect((await exchange(String(done.body.value))).status).toBe(401);
  });

  it('GET /auth sets the session cookies and redirects only to a same-origin path', async () => {
    const browser = async (target: string | undefined) => {
      const { body } = await post(`${BASE}/user`, undefined, managerToken);
      const query = new URLSearchParams({ authenticationToken: String(body.value), ...(target === undefined ? {} : { target }) });
      return fetch(`${t.url}/auth?${query.toString()}`, { redirect: 'manual' });
    };
    const ok = await browser('/packages/42?tab=signers');
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/packages/42?tab=signers');
    const cookies = ok.headers.getSetCookie();
    expect(cookies.some((c) => c.startsWith('sc_access=') && c.includes('HttpOnly'))).toBe(true);
    expect(cookies.some((c) => c.startsWith('sc_refresh='))).toBe(true);
    const access = cookies.find((c) => c.startsWith('sc_access='))!.split(';')[0]!.slice('sc_access='.length);
    const me = await t.graphql<{ me: { id: string } }, unknown>('{ me { id } }', {}, { token: access });
    expect(me.body.data?.me.id).toBe(managerId);

    for (const target of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', 'packages', '']) {
      const r = await browser(target);
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe('/');
    }
    expect((await browser(undefined)).headers.get('location')).toBe('/');
    const bad = await fetch(`${t.url}/auth?authenticationToken=nope&target=/x`, { redirect: 'manual' });
    expect(bad.status).toBe(401);
    expect(bad.headers.getSetCookie()).toEqual([]);
  });

  it('GET /auth with a target that cannot go into a header redirects to / with the session, or is refused before the token is spent, never 500', async () => {
    const tokenValue = async () => String((await post(`${BASE}/user`, undefined, managerToken)).body.value);
    const raw = (value: string, encodedTarget: string) => fetch(`${t.url}/auth?authenticationToken=${encodeURIComponent(value)}&target=${encodedTarget}`, { redirect: 'manual' });
    // Percent-encoded in the query, each decodes to a character no Location header may hold (or should).
    // Control characters are refused at the edge, before the token is looked at: it stays usable.
    for (const target of ['/%00', '/a%1Bb']) {
      const value = await tokenValue();
      const refused = await raw(value, target);
      expect(refused.status, target).toBe(400);
      expect(refused.headers.getSetCookie()).toEqual([]);
      expect(JSON.parse(await refused.text())).toMatchObject({ error: { code: 'BAD_USER_INPUT', reason: 'CONTROL_CHARACTERS' } });
      expect((await raw(value, '/next')).headers.get('location'), target).toBe('/next');
    }
    for (const target of ['/%E3%80%82evil.example', '/a%E2%80%A8b', '/a%0D%0ASet-Cookie:%20x=y', '/caf%C3%A9', '/a%20b', '%2F%5Cevil.example']) {
      const value = await tokenValue();
      const response = await raw(value, target);
      expect(response.status, target).toBe(303);
      expect(response.headers.get('location')).toBe('/');
      const cookies = response.headers.getSetCookie();
      expect(cookies.some((c) => c.startsWith('x='))).toBe(false);
      const access = cookies.find((c) => c.startsWith('sc_access='))!.split(';')[0]!.slice('sc_access='.length);
      expect((await t.graphql<{ me: { id: string } }, unknown>('{ me { id } }', {}, { token: access })).body.data?.me.id).toBe(managerId);
    }
    // A printable same-origin path, percent-encoding and all, is kept as sent.
    const kept = await raw(await tokenValue(), encodeURIComponent('/caf%C3%A9?q=a%20b#top'));
    expect(kept.headers.get('location')).toBe('/caf%C3%A9?q=a%20b#top');
  });
});

const codeOf = (r: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) => r.body.errors?.[0]?.extensions?.code ?? 'OK';

describe('sender and signer sessions are not full sessions', () => {
  const ORG = 'query($id: ID!) { organization(id: $id) { id name } }';
  const DOC = 'query($id: ID!) { document(id: $id) { id } }';

  it('a USER_TOKEN session reads the organization; SENDER_TOKEN and SIGNER_TOKEN sessions do not', async () => {
    const { packageId, signerId } = await createPackage();
    // The signer joins the organization too, so only the session kind differs.
    const staffRole = await t.db.prisma.organizationRole.findFirstOrThrow({ where: { organizationId: orgId } });
    await addMember(t.db.prisma, { userId: signerUserId, organizationId: orgId, roleId: staffRole.id });
    const sessionFor = async (path: string, body?: unknown) => {
      const issued = await post(`${BASE}${path}`, body, managerToken);
      const exchanged = await exchange(String(issued.body.value));
      expect(exchanged.status).toBe(200);
      return String(exchanged.body.accessToken);
    };
    const userSession = await sessionFor('/user');
    expect(codeOf(await t.graphql(ORG, { id: orgId }, { token: userSession }))).toBe('OK');
    expect(codeOf(await t.graphql(DOC, { id: documentId }, { token: userSession }))).toBe('OK');
    const memberships = await t.graphql<{ me: { roles: string[] } }, unknown>('{ me { roles } }', {}, { token: userSession });
    expect(memberships.body.data?.me.roles).toEqual(['MANAGER']);

    for (const limited of [await sessionFor('/sender', { packageId }), await sessionFor('/signer/multiUse', { packageId, signerId })]) {
      for (const [query, id] of [[ORG, orgId], [DOC, documentId]] as const) {
        const refused = await t.graphql(query, { id }, { token: limited });
        expect(refused.status).toBe(403);
        expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'LIMITED_SESSION' });
      }
      // A limited session cannot issue tokens, so it cannot mint itself a full session either.
      for (const [path, body] of [['/user', undefined], ['/sender', { packageId }], ['/signer/multiUse', { packageId, signerId }]] as const) {
        const refused = await post(`${BASE}${path}`, body, limited);
        expect(refused.status).toBe(403);
        expect(refused.body).toMatchObject({ error: { code: 'FORBIDDEN', reason: 'LIMITED_SESSION' } });
      }
    }
  });
});

describe('the same tokens over GraphQL', () => {
  const reasonOf = (r: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) => r.body.errors?.[0]?.extensions?.reason;
  const exchangeOverGraphql = (value: string) => t.graphql(ExchangeAuthenticationTokenDocument, { value });

  it('a manager mints each kind once, with its expiry, and exchanges it for a session like signIn', async () => {
    const { packageId, signerId } = await createPackage();
    const expiresAt = new Date(clock.now().getTime() + 30 * 60_000).toISOString();

    const user = await t.graphql(CreateUserAuthenticationTokenDocument, {}, { token: managerToken });
    expect(user.body.data?.createUserAuthenticationToken).toEqual({ value: expect.any(String), expiresAt, multiUse: false, packageId: null, signerId: null });
    const sender = await t.graphql(CreateSenderAuthenticationTokenDocument, { packageId }, { token: managerToken });
    expect(sender.body.data?.createSenderAuthenticationToken).toEqual({ value: expect.any(String), expiresAt, multiUse: false, packageId, signerId: null });
    const multi = await t.graphql(CreateSignerAuthenticationTokenDocument, { packageId, signerId, multiUse: true }, { token: managerToken });
    expect(multi.body.data?.createSignerAuthenticationToken).toEqual({ value: expect.any(String), expiresAt, multiUse: true, packageId, signerId });
    const single = await t.graphql(CreateSignerAuthenticationTokenDocument, { packageId, signerId: 'SIGNER@tokens.test' }, { token: managerToken });
    expect(single.body.data?.createSignerAuthenticationToken).toMatchObject({ multiUse: false, signerId: 'SIGNER@tokens.test' });

    const stored = async (value: string | undefined) => t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(String(value)) } });
    expect(await stored(user.body.data?.createUserAuthenticationToken.value)).toMatchObject({ purpose: 'USER_AUTH', userId: managerId, maxUses: 1 });
    expect(await stored(sender.body.data?.createSenderAuthenticationToken.value)).toMatchObject({ purpose: 'SENDER_AUTH', packageId, maxUses: 1 });
    expect(await stored(multi.body.data?.createSignerAuthenticationToken.value)).toMatchObject({ purpose: 'SIGNER_MULTI_USE', userId: signerUserId, signerId, maxUses: null });
    expect(await stored(single.body.data?.createSignerAuthenticationToken.value)).toMatchObject({ purpose: 'SIGNER_SINGLE_USE', userId: signerUserId, signerId, maxUses: 1 });

    const exchanged = await exchangeOverGraphql(user.body.data!.createUserAuthenticationToken.value);
    expect(exchanged.body.data?.exchangeAuthenticationToken).toMatchObject({ tokenType: 'Bearer', user: { id: managerId }, accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(exchanged.headers.getSetCookie().some((c) => c.startsWith('sc_access=') && c.includes('HttpOnly'))).toBe(true);
    const again = await exchangeOverGraphql(user.body.data!.createUserAuthenticationToken.value);
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_AUTHENTICATION_TOKEN' });

    const multiValue = multi.body.data!.createSignerAuthenticationToken.value;
    for (let i = 0; i < 2; i++) expect((await exchangeOverGraphql(multiValue)).body.data?.exchangeAuthenticationToken.user.id).toBe(signerUserId);
    const signerSession = await t.db.prisma.loginSession.findFirstOrThrow({ where: { userId: signerUserId, kind: 'SIGNER_TOKEN', signerId }, orderBy: { createdAt: 'desc' } });
    expect(signerSession.packageId).toBe(packageId);
    const issued = await t.db.prisma.activity.count({ where: { type: 'auth.token.issued', packageId } });
    expect(issued).toBe(3);
  });

  it('refuses the anonymous caller, a signer who does not manage the package, another organization and a limited session', async () => {
    const { packageId, signerId } = await createPackage();
    const anonymous = await t.graphql(CreateUserAuthenticationTokenDocument, {});
    expect(anonymous.status).toBe(401);
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.graphql(CreateSenderAuthenticationTokenDocument, { packageId }))).toBe('UNAUTHENTICATED');

    // The assigned signer reads the package but does not manage it; their own user token is theirs to mint.
    const signerToken = (await signInAs(t.app.services, signerUserId)).token;
    expect(codeOf(await t.graphql(CreateSenderAuthenticationTokenDocument, { packageId }, { token: signerToken }))).toBe('FORBIDDEN');
    expect(codeOf(await t.graphql(CreateSignerAuthenticationTokenDocument, { packageId, signerId }, { token: signerToken }))).toBe('FORBIDDEN');
    expect(codeOf(await t.graphql(CreateUserAuthenticationTokenDocument, {}, { token: signerToken }))).toBe('OK');
    expect(codeOf(await t.graphql(CreateSenderAuthenticationTokenDocument, { packageId }, { token: otherManagerToken }))).toBe('NOT_FOUND');

    const sender = await t.graphql(CreateSenderAuthenticationTokenDocument, { packageId }, { token: managerToken });
    const limited = (await exchangeOverGraphql(sender.body.data!.createSenderAuthenticationToken.value)).body.data!.exchangeAuthenticationToken.accessToken;
    for (const refused of [
      await t.graphql(CreateUserAuthenticationTokenDocument, {}, { token: limited }),
      await t.graphql(CreateSenderAuthenticationTokenDocument, { packageId }, { token: limited }),
      await t.graphql(CreateSignerAuthenticationTokenDocument, { packageId, signerId, multiUse: true }, { token: limited }),
    ]) {
      expect(refused.status).toBe(403);
      expect(reasonOf(refused)).toBe('LIMITED_SESSION');
    }
    expect(codeOf(await exchangeOverGraphql('no-such-token'))).toBe('UNAUTHENTICATED');
    expect(codeOf(await exchangeOverGraphql(''))).toBe('BAD_USER_INPUT');
  });
});
