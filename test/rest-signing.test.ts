import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { components, paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, exchangedTokenSession, linkManagerIdentity, signInAs } from './support/factories.ts';

// Signing packages, the signer queue, the signing hub and a signer's steps under /v1, through the generated client.
let t: TestApp;
let organizationId: string;
let locationId: string;
let documentId: string;
const tokens: Record<string, string> = {};
const emails: Record<string, string> = {};

type Package = components['schemas']['SigningPackage'];
type SignerPackage = components['schemas']['SignerPackage'];

const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });
const problem = 'application/problem+json';
/** What a signer may not see of a package (SIGNER_VISIBLE_FIELDS): none of it may appear in their answer. */
const MANAGER_ONLY = ['version', 'createdAt', 'updatedAt', 'voidReason', 'voidedAt', 'declinedAt', 'expiredAt'];

const packageBody = (overrides: Record<string, unknown> = {}) => ({
  organizationId,
  locationId,
  title: 'Retail installment contract',
  message: 'Please sign by Friday.',
  documentIds: [documentId],
  signers: [
    { name: 'Signer One', email: emails.signerOne! },
    { name: 'Signer Two', email: emails.signerTwo! },
  ],
  ...overrides,
});

async function draft(overrides: Record<string, unknown> = {}): Promise<Package> {
  const { data, response } = await api(tokens.manager).POST('/v1/signing-packages', { body: packageBody(overrides) as never });
  expect(response.status).toBe(201);
  return data!;
}

async function sent(overrides: Record<string, unknown> = {}): Promise<Package> {
  const created = await draft(overrides);
  const { data, response } = await api(tokens.manager).POST('/v1/signing-packages/{id}/send', { params: { path: { id: created.id }, header: { 'If-Match': '"1"' } } });
  expect(response.status).toBe(200);
  return data!;
}

/** A signer's answer is whole and shows nothing SIGNER_VISIBLE_FIELDS keeps from them. */
function expectSignerView(pkg: SignerPackage, ownEmail: string) {
  for (const field of MANAGER_ONLY) expect(pkg, field).not.toHaveProperty(field);
  for (const slot of pkg.signers) expect(Object.keys(slot).sort()).toEqual(['id', 'isMyTurn', 'order']);
  expect(pkg.mySlot).toMatchObject({ email: ownEmail, status: expect.any(String) });
  expect(pkg.documents[0]).toMatchObject({ id: documentId, serialNumber: expect.any(String) });
  expect(pkg.documents[0]).not.toHaveProperty('ownerName');
}

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Rest Signing Lending', permissions: ['documents', 'signing'] });
  organizationId = org.organization.id;
  locationId = org.location.id;
  documentId = (await createDocument(db, { organizationId, locationId, serialNumber: 'REST-SIGN-1' })).id;
  const other = await createOrganization(db, { name: 'Elsewhere Signing Lending' });
  const people = {
    admin: await createUser(db, { roles: ['ADMIN'] }),
    manager: await createUser(db, { roles: ['MANAGER'] }),
    unlinkedManager: await createUser(db, { roles: ['MANAGER'] }),
    otherOrgManager: await createUser(db, { roles: ['MANAGER'] }),
    signerOne: await createUser(db, { roles: ['SIGNER'], email: 'rest.signer.one@signing.test' }),
    signerTwo: await createUser(db, { roles: ['SIGNER'], email: 'rest.signer.two@signing.test' }),
    strangerSigner: await createUser(db, { roles: ['SIGNER'], email: 'rest.stranger@signing.test' }),
  };
  await addMember(db, { userId: people.manager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: people.unlinkedManager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: people.otherOrgManager.id, organizationId: other.organization.id, roleId: other.role.id });
  await linkManagerIdentity(db, { userId: people.manager.id, organizationId });
  await linkManagerIdentity(db, { userId: people.otherOrgManager.id, organizationId: other.organization.id });
  for (const who of ['signerOne', 'signerTwo'] as const) {
    await db.signingIdentity.create({ data: { userId: people[who].id, kind: 'SIGNER', organizationId, email: people[who].email, linkedById: people.manager.id } });
  }
  await db.signingIdentity.create({ data: { userId: people.strangerSigner.id, kind: 'SIGNER', organizationId: other.organization.id, email: people.strangerSigner.email, linkedById: people.otherOrgManager.id } });
  for (const [name, user] of Object.entries(people)) {
    tokens[name] = (await signInAs(t.app.services, user.id)).token;
    emails[name] = user.email;
  }
});
afterAll(async () => {
  await t?.close();
});

describe('signing packages under /v1', () => {
  it('creates a draft: 201 with Location and ETag, and the package reads back at Location', async () => {
    const { data, response } = await api(tokens.manager).POST('/v1/signing-packages', { body: packageBody() as never });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ status: 'DRAFT', version: 1, sequential: true, organization: { id: organizationId }, location: { id: locationId } });
    expect(data!.signers.map((s) => [s.order, s.name, s.email, s.status])).toEqual([
      [1, 'Signer One', emails.signerOne, 'PENDING'],
      [2, 'Signer Two', emails.signerTwo, 'PENDING'],
    ]);
    expect(response.headers.get('location')).toBe(`http://safeclose.test/v1/signing-packages/${data!.id}`);
    expect(response.headers.get('etag')).toBe('"1"');
    const read = await api(tokens.manager).GET('/v1/signing-packages/{id}', { params: { path: { id: data!.id } } });
    expect(read.response.status).toBe(200);
    expect(read.data).toEqual(data);
    expect(read.response.headers.get('etag')).toBe('"1"');
  });

  it('refuses a manager without a manager identity (403), another organization’s manager (404), a signer (403) and no token (401)', async () => {
    const before = await t.db.prisma.signingPackage.count();
    const unlinked = await api(tokens.unlinkedManager).POST('/v1/signing-packages', { body: packageBody() as never });
    expect(unlinked.response.status).toBe(403);
    expect(unlinked.response.headers.get('content-type')).toBe(problem);
    expect(unlinked.error).toMatchObject({ code: 'FORBIDDEN', reason: 'NO_MANAGER_IDENTITY' });
    const outsider = await api(tokens.otherOrgManager).POST('/v1/signing-packages', { body: packageBody() as never });
    expect(outsider.response.status).toBe(404);
    expect(outsider.error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await api(tokens.signerOne).POST('/v1/signing-packages', { body: packageBody() as never })).response.status).toBe(403);
    const anonymous = await api().POST('/v1/signing-packages', { body: packageBody() as never });
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await t.db.prisma.signingPackage.count()).toBe(before);
  });

  it('lists an organization’s packages a page at a time, by status, for its signing managers only', async () => {
    const older = await draft({ title: 'Listed older' });
    const newer = await sent({ title: 'Listed newer' });
    const page1 = await api(tokens.manager).GET('/v1/signing-packages', { params: { query: { organizationId, first: 1 } } });
    expect(page1.response.status).toBe(200);
    expect(page1.data!.items.map((p) => p.id)).toEqual([newer.id]);
    expect(page1.response.headers.get('link')).toMatch(/^<http:\/\/safeclose\.test\/v1\/signing-packages\?organizationId=[^>]+&first=1&after=[^>]+>; rel="next"$/);
    const page2 = await api(tokens.manager).GET('/v1/signing-packages', { params: { query: { organizationId, first: 1, after: page1.data!.next! } } });
    expect(page2.data!.items.map((p) => p.id)).toEqual([older.id]);
    const drafts = await api(tokens.manager).GET('/v1/signing-packages', { params: { query: { organizationId, status: 'DRAFT' } } });
    expect(drafts.data!.items.every((p) => p.status === 'DRAFT')).toBe(true);
    expect(drafts.data!.items.map((p) => p.id)).toContain(older.id);

    const outsider = await api(tokens.otherOrgManager).GET('/v1/signing-packages', { params: { query: { organizationId } } });
    expect(outsider.response.status).toBe(404);
    const unlinked = await api(tokens.unlinkedManager).GET('/v1/signing-packages', { params: { query: { organizationId } } });
    expect(unlinked.response.status).toBe(403);
    expect(unlinked.error).toMatchObject({ reason: 'NO_MANAGER_IDENTITY' });
    const missing = await fetch(`${t.url}/v1/signing-packages`, { headers: { authorization: `Bearer ${tokens.manager}` } });
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toBe(problem);
    expect(await missing.json()).toMatchObject({ code: 'BAD_USER_INPUT', field: 'organizationId' });
  });

  it('sends with If-Match: 200 with the new ETag; none is 428, a stale one 412, a second send 409', async () => {
    const created = await draft();
    const send = (ifMatch?: string, token = tokens.manager) =>
      api(token).POST('/v1/signing-packages/{id}/send', { params: { path: { id: created.id }, header: (ifMatch ? { 'If-Match': ifMatch } : {}) as never } });
    const unconditional = await send();
    expect(unconditional.response.status).toBe(428);
    expect(unconditional.error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PRECONDITION_REQUIRED', field: 'If-Match' });
    const stale = await send('"7"');
    expect(stale.response.status).toBe(412);
    expect(stale.error).toMatchObject({ code: 'CONFLICT', reason: 'STALE_VERSION' });
    expect((await send('"1"', tokens.unlinkedManager)).response.status).toBe(403);
    expect((await send('"1"', tokens.otherOrgManager)).response.status).toBe(404);
    expect((await send('"1"', tokens.signerOne)).response.status).toBe(403);
    expect((await send('"1"', '')).response.status).toBe(401);
    expect((await t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id: created.id } })).status).toBe('DRAFT');

    const done = await send('"1"');
    expect(done.response.status).toBe(200);
    expect(done.data).toMatchObject({ id: created.id, status: 'SENT', version: 2, sentAt: expect.any(String) });
    expect(done.response.headers.get('etag')).toBe('"2"');
    const again = await send('"2"');
    expect(again.response.status).toBe(409);
    expect(again.error).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_TRANSITION' });
  });

  it('voids with a reason in the body and If-Match; refuses no reason, unknown members and other callers', async () => {
    const pkg = await sent();
    const voidIt = (body: unknown, token = tokens.manager, ifMatch = '"2"') =>
      api(token).POST('/v1/signing-packages/{id}/void', { params: { path: { id: pkg.id }, header: { 'If-Match': ifMatch } }, body: body as never });
    const noReason = await voidIt({});
    expect(noReason.response.status).toBe(400);
    expect(noReason.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });
    const extra = await voidIt({ reason: 'Wrong buyer', version: 2 });
    expect(extra.response.status).toBe(400);
    expect(extra.error).toMatchObject({ reason: 'UNKNOWN_PARAMETER', field: 'version' });
    expect((await voidIt({ reason: 'Wrong buyer' }, tokens.signerOne)).response.status).toBe(403);
    expect((await voidIt({ reason: 'Wrong buyer' }, tokens.otherOrgManager)).response.status).toBe(404);
    expect((await voidIt({ reason: 'Wrong buyer' }, tokens.manager, '"1"')).response.status).toBe(412);

    const voided = await voidIt({ reason: 'Wrong buyer' });
    expect(voided.response.status).toBe(200);
    expect(voided.data).toMatchObject({ status: 'VOIDED', voidReason: 'Wrong buyer', version: 3 });
    expect(voided.response.headers.get('etag')).toBe('"3"');
  });

  it('reads a package whole for its manager and an admin, as a signer sees it for its signer, and 404 for anyone else', async () => {
    const pkg = await sent({ title: 'Read as each' });
    const path = { params: { path: { id: pkg.id } } };
    for (const token of [tokens.manager, tokens.admin]) {
      const { data, response } = await api(token).GET('/v1/signing-packages/{id}', path);
      expect(response.status).toBe(200);
      expect(data).toMatchObject({ id: pkg.id, version: 2, signers: [{ name: 'Signer One' }, { name: 'Signer Two' }] });
      expect(response.headers.get('etag')).toBe('"2"');
    }
    const asSigner = await api(tokens.signerTwo).GET('/v1/signing-packages/{id}', path);
    expect(asSigner.response.status).toBe(200);
    expect(asSigner.response.headers.get('etag')).toBeNull();
    expectSignerView(asSigner.data as SignerPackage, emails.signerTwo!);
    expect(asSigner.data).toMatchObject({ id: pkg.id, title: 'Read as each', status: 'SENT', organization: { id: organizationId } });

    for (const token of [tokens.strangerSigner, tokens.otherOrgManager]) {
      const hidden = await api(token).GET('/v1/signing-packages/{id}', path);
      expect(hidden.response.status).toBe(404);
      expect(hidden.response.headers.get('content-type')).toBe(problem);
      expect(hidden.error).toMatchObject({ code: 'NOT_FOUND' });
    }
    const unsent = await draft();
    expect((await api(tokens.signerOne).GET('/v1/signing-packages/{id}', { params: { path: { id: unsent.id } } })).response.status).toBe(404);
    expect((await api().GET('/v1/signing-packages/{id}', path)).response.status).toBe(401);
  });
});

describe('the signer queue and the signing hub under /v1', () => {
  it('lists a signer’s sent packages as they may see them, a page at a time; empty for an account with no signer identity', async () => {
    const first = await sent({ title: 'Queue first' });
    const second = await sent({ title: 'Queue second' });
    const unsent = await draft({ title: 'Queue draft' });
    const all = await api(tokens.signerOne).GET('/v1/signer-queue', { params: { query: { orderBy: 'NEWEST_FIRST' } } });
    expect(all.response.status).toBe(200);
    const ids = all.data!.items.map((p) => p.id);
    expect(ids.slice(0, 2)).toEqual([second.id, first.id]);
    expect(ids).not.toContain(unsent.id);
    for (const pkg of all.data!.items) expectSignerView(pkg, emails.signerOne!);

    const page1 = await api(tokens.signerOne).GET('/v1/signer-queue', { params: { query: { first: 1 } } });
    expect(page1.data!.items).toHaveLength(1);
    expect(page1.response.headers.get('link')).toMatch(/^<http:\/\/safeclose\.test\/v1\/signer-queue\?first=1&after=[^>]+>; rel="next"$/);

    const none = await api(tokens.manager).GET('/v1/signer-queue');
    expect(none.response.status).toBe(200);
    expect(none.data).toEqual({ items: [], next: null });
    const anonymous = await api().GET('/v1/signer-queue');
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.error).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('lists the packages a manager manages, by status; 403 NO_MANAGER_IDENTITY for a manager without one and for a signer', async () => {
    const drafted = await draft({ title: 'Hub draft' });
    const shipped = await sent({ title: 'Hub sent' });
    const hub = await api(tokens.manager).GET('/v1/signing-hub');
    expect(hub.response.status).toBe(200);
    expect(hub.data!.items.map((p) => p.id)).toEqual(expect.arrayContaining([drafted.id, shipped.id]));
    const onlySent = await api(tokens.manager).GET('/v1/signing-hub', { params: { query: { status: 'SENT', first: 100 } } });
    expect(onlySent.data!.items.every((p) => p.status === 'SENT')).toBe(true);
    expect(onlySent.data!.items.map((p) => p.id)).not.toContain(drafted.id);
    for (const token of [tokens.unlinkedManager, tokens.signerOne]) {
      const denied = await api(token).GET('/v1/signing-hub');
      expect(denied.response.status).toBe(403);
      expect(denied.response.headers.get('content-type')).toBe(problem);
      expect(denied.error).toMatchObject({ code: 'FORBIDDEN', reason: 'NO_MANAGER_IDENTITY' });
    }
    const badStatus = await api(tokens.manager).GET('/v1/signing-hub', { params: { query: { status: 'SHREDDED' as never } } });
    expect(badStatus.response.status).toBe(400);
    expect(badStatus.error).toMatchObject({ field: 'status' });
  });
});

describe('a signer’s steps under /v1', () => {
  it('views, signs in turn and declines with a reason, each answered as the signer sees the package', async () => {
    const pkg = await sent({ title: 'Sign in turn' });
    const step = (verb: 'view' | 'sign', token: string) => api(token).POST(`/v1/signing-packages/{id}/${verb}`, { params: { path: { id: pkg.id } } });

    const early = await step('sign', tokens.signerTwo!);
    expect(early.response.status).toBe(409);
    expect(early.error).toMatchObject({ code: 'CONFLICT', reason: 'NOT_YOUR_TURN' });

    const viewed = await step('view', tokens.signerOne!);
    expect(viewed.response.status).toBe(200);
    expectSignerView(viewed.data!, emails.signerOne!);
    expect(viewed.data!.mySlot).toMatchObject({ status: 'VIEWED', viewedAt: expect.any(String), isMyTurn: true });

    const signed = await step('sign', tokens.signerOne!);
    expect(signed.response.status).toBe(200);
    expect(signed.data!.mySlot).toMatchObject({ status: 'SIGNED', signedAt: expect.any(String) });

    const decline = (body: unknown, token = tokens.signerTwo) => api(token).POST('/v1/signing-packages/{id}/decline', { params: { path: { id: pkg.id } }, body: body as never });
    const noReason = await decline({});
    expect(noReason.response.status).toBe(400);
    expect(noReason.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });
    const declined = await decline({ reason: 'Wrong address on the contract' });
    expect(declined.response.status).toBe(200);
    expectSignerView(declined.data!, emails.signerTwo!);
    expect(declined.data).toMatchObject({ status: 'DECLINED', mySlot: { status: 'DECLINED', declineReason: 'Wrong address on the contract' } });
  });

  it('refuses a manager who is not a signer of it (403), a stranger (404) and no token (401)', async () => {
    const pkg = await sent();
    const path = { params: { path: { id: pkg.id } } };
    const manager = await api(tokens.manager).POST('/v1/signing-packages/{id}/sign', path);
    expect(manager.response.status).toBe(403);
    expect(manager.response.headers.get('content-type')).toBe(problem);
    expect(manager.error).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_A_SIGNER' });
    const stranger = await api(tokens.strangerSigner).POST('/v1/signing-packages/{id}/view', path);
    expect(stranger.response.status).toBe(404);
    expect(stranger.error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await api().POST('/v1/signing-packages/{id}/decline', { ...path, body: { reason: 'No' } })).response.status).toBe(401);
    const slots = await t.db.prisma.packageSigner.findMany({ where: { packageId: pkg.id } });
    expect(slots.every((s) => s.status === 'PENDING')).toBe(true);
  });
});

describe('sender and signer token sessions under /v1', () => {
  it('a sender session reads and sends its one package, in full, and nothing else', async () => {
    const own = await draft({ title: 'Sender session package' });
    const otherPackage = await draft();
    const sender = await exchangedTokenSession(t.url, 'sender', { packageId: own.id }, tokens.manager!);
    const read = await api(sender).GET('/v1/signing-packages/{id}', { params: { path: { id: own.id } } });
    expect(read.response.status).toBe(200);
    expect(read.data).toMatchObject({ id: own.id, version: 1, signers: [{ name: 'Signer One' }, { name: 'Signer Two' }] });
    const sentNow = await api(sender).POST('/v1/signing-packages/{id}/send', { params: { path: { id: own.id }, header: { 'If-Match': '"1"' } } });
    expect(sentNow.response.status).toBe(200);
    expect(sentNow.data).toMatchObject({ status: 'SENT', version: 2 });
    expect((await api(sender).GET('/v1/signing-packages/{id}', { params: { path: { id: otherPackage.id } } })).response.status).toBe(404);
    const otherSend = await api(sender).POST('/v1/signing-packages/{id}/send', { params: { path: { id: otherPackage.id }, header: { 'If-Match': '"1"' } } });
    expect(otherSend.response.status).toBe(404);
  });

  it('a signer session reads its package and its queue as a signer, signs, and reaches no other package', async () => {
    const own = await sent({ title: 'Signer session package' });
    const otherPackage = await sent();
    const signer = await exchangedTokenSession(t.url, 'signer/multiUse', { packageId: own.id, signerId: own.signers[0]!.id }, tokens.manager!);
    const read = await api(signer).GET('/v1/signing-packages/{id}', { params: { path: { id: own.id } } });
    expect(read.response.status).toBe(200);
    expectSignerView(read.data as SignerPackage, emails.signerOne!);
    const queue = await api(signer).GET('/v1/signer-queue');
    expect(queue.response.status).toBe(200);
    expect(queue.data!.items.map((p) => p.id)).toEqual([own.id]);
    expectSignerView(queue.data!.items[0]!, emails.signerOne!);
    expect((await api(signer).GET('/v1/signing-packages/{id}', { params: { path: { id: otherPackage.id } } })).response.status).toBe(404);
    expect((await api(signer).POST('/v1/signing-packages/{id}/sign', { params: { path: { id: otherPackage.id } } })).response.status).toBe(404);
    const signed = await api(signer).POST('/v1/signing-packages/{id}/sign', { params: { path: { id: own.id } } });
    expect(signed.response.status).toBe(200);
    expect(signed.data!.mySlot).toMatchObject({ status: 'SIGNED' });
  });
});
