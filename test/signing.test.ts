import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateSigningPackageDocument,
  DeclineSigningPackageDocument,
  SendSigningPackageDocument,
  SignerPackageByIdDocument,
  SignerQueueDocument,
  SigningDirectoryDocument,
  SigningHubDocument,
  SigningPackageByIdDocument,
  SigningPackagesDocument,
  SignSigningPackageDocument,
  ViewSigningPackageDocument,
  VoidSigningPackageDocument,
  type CreateSigningPackageInput,
} from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

const clock = new ManualClock(new Date('2026-03-02T15:00:00.000Z'));
let t: TestApp;
let orgId: string;
let otherOrgId: string;
let mainLocationId: string;
let otherLocationId: string;
let mainDocumentId: string;
let otherLotDocumentId: string;
let otherOrgDocumentId: string;
const people: Record<string, { id: string; email: string; token: string }> = {};

type Result = { status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
const code = (r: Result) => r.body.errors?.[0]?.extensions?.code ?? 'OK';
const reason = (r: Result) => r.body.errors?.[0]?.extensions?.reason;
const token = (who: string) => ({ token: people[who]!.token });

beforeAll(async () => {
  t = await startTestApp({ clock });
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Pine Lending', permissions: ['documents', 'signing'] });
  orgId = org.organization.id;
  mainLocationId = org.location.id;
  otherLocationId = (await db.location.create({ data: { organizationId: orgId, name: 'Other lot' } })).id;
  const noSigningRole = await db.organizationRole.create({ data: { organizationId: orgId, name: 'Documents only', permissions: ['documents'] } });
  const other = await createOrganization(db, { name: 'Elsewhere Lending' });
  otherOrgId = other.organization.id;
  mainDocumentId = (await createDocument(db, { organizationId: orgId, locationId: mainLocationId, serialNumber: 'SIGN-MAIN-1' })).id;
  otherLotDocumentId = (await createDocument(db, { organizationId: orgId, locationId: otherLocationId, serialNumber: 'SIGN-LOT-2' })).id;
  otherOrgDocumentId = (await createDocument(db, { organizationId: otherOrgId, serialNumber: 'SIGN-ELSEWHERE-3' })).id;

  const make = async (name: string, roles: Array<'ADMIN' | 'MANAGER' | 'SIGNER'>) => {
    const user = await createUser(db, { roles, name, email: `${name.toLowerCase()}@signing.test` });
    people[name] = { id: user.id, email: user.email, token: (await signInAs(t.app.services, user.id)).token };
    return user;
  };
  for (const [name, roles] of [
    ['admin', ['ADMIN']],
    ['manager', ['MANAGER']],
    ['hubManager', ['MANAGER']],
    ['unlinkedManager', ['MANAGER']],
    ['scopedManager', ['MANAGER']],
    ['outOfScopeManager', ['MANAGER']],
    ['otherOrgManager', ['MANAGER']],
    ['noSigningManager', ['MANAGER']],
    ['staff', []],
    ['signerOne', ['SIGNER']],
    ['signerTwo', ['SIGNER']],
    ['lateSigner', ['SIGNER']],
    ['strangerSigner', ['SIGNER']],
    ['noIdentity', ['SIGNER']],
  ] as const) {
    await make(name, [...roles]);
  }
  await addMember(db, { userId: people.manager!.id, organizationId: orgId, roleId: org.role.id });
  await addMember(db, { userId: people.hubManager!.id, organizationId: orgId, roleId: org.role.id });
  await addMember(db, { userId: people.unlinkedManager!.id, organizationId: orgId, roleId: org.role.id });
  await addMember(db, { userId: people.scopedManager!.id, organizationId: orgId, roleId: org.role.id, locationIds: [mainLocationId] });
  await addMember(db, { userId: people.outOfScopeManager!.id, organizationId: orgId, roleId: org.role.id, locationIds: [otherLocationId] });
  await addMember(db, { userId: people.otherOrgManager!.id, organizationId: otherOrgId, roleId: other.role.id });
  await addMember(db, { userId: people.noSigningManager!.id, organizationId: orgId, roleId: noSigningRole.id });
  await addMember(db, { userId: people.staff!.id, organizationId: orgId, roleId: org.role.id });

  const identity = (who: string, kind: 'MANAGER' | 'SIGNER', organizationId = orgId) =>
    db.signingIdentity.create({ data: { userId: people[who]!.id, kind, organizationId, email: people[who]!.email, linkedById: people.admin!.id } });
  // Every manager-only operation needs a manager identity; unlinkedManager has none (signing-consistency.test.ts).
  for (const who of ['manager', 'hubManager', 'scopedManager', 'outOfScopeManager', 'noSigningManager']) await identity(who, 'MANAGER');
  await identity('otherOrgManager', 'MANAGER', otherOrgId);
  await identity('signerOne', 'SIGNER');
  await identity('signerTwo', 'SIGNER');
  // A signer identity linked in another organization: its packages here are someone else's.
  await identity('strangerSigner', 'SIGNER', otherOrgId);
});
afterAll(async () => {
  await t?.close();
});

const packageInput = (overrides: Partial<CreateSigningPackageInput> = {}): CreateSigningPackageInput => ({
  organizationId: orgId,
  locationId: mainLocationId,
  title: 'Retail installment contract',
  message: 'Please sign by Friday.',
  documentIds: [mainDocumentId],
  signers: [
    { name: 'Signer One', email: 'SignerOne@Signing.test' },
    { name: 'Signer Two', email: 'signertwo@signing.test' },
  ],
  ...overrides,
});

async function createPackage(as = 'manager', overrides: Partial<CreateSigningPackageInput> = {}) {
  const result = await t.graphql(CreateSigningPackageDocument, { input: packageInput(overrides) }, token(as));
  expect(result.body.errors).toBeUndefined();
  return result.body.data!.createSigningPackage;
}

async function sentPackage(overrides: Partial<CreateSigningPackageInput> = {}) {
  const created = await createPackage('manager', overrides);
  const sent = await t.graphql(SendSigningPackageDocument, { id: created.id }, token('manager'));
  expect(sent.body.data?.sendSigningPackage.status).toBe('SENT');
  return created.id;
}

const activities = (packageId: string, type?: string) =>
  t.db.prisma.activity.findMany({ where: { packageId, ...(type ? { type } : {}) }, orderBy: { seq: 'asc' } });

describe('createSigningPackage', () => {
  it('a manager with signing creates a DRAFT with ordered signers, matched to signer identities by lower-cased email', async () => {
    const created = await createPackage('manager', {
      documentIds: [otherLotDocumentId, mainDocumentId],
      signers: [
        { name: 'Signer One', email: 'SignerOne@Signing.test' },
        { name: 'Not yet linked', email: 'latesigner@signing.test' },
      ],
    });
    expect(created).toMatchObject({ status: 'DRAFT', sequential: true, version: 1, organization: { id: orgId }, location: { id: mainLocationId } });
    expect(created.documents.map((d) => d.id)).toEqual([otherLotDocumentId, mainDocumentId]);
    expect(created.signers.map((s) => [s.order, s.email, s.status])).toEqual([
      [1, 'signerone@signing.test', 'PENDING'],
      [2, 'latesigner@signing.test', 'PENDING'],
    ]);
    const slots = await t.db.prisma.packageSigner.findMany({ where: { packageId: created.id }, orderBy: { order: 'asc' }, include: { signerIdentity: true } });
    expect(slots[0]!.signerIdentity?.userId).toBe(people.signerOne!.id);
    expect(slots[1]!.signerIdentityId).toBeNull();
    const [audit] = await activities(created.id, 'signing.package.created');
    expect(audit).toMatchObject({ actorUserId: people.manager!.id, organizationId: orgId, ip: expect.any(String) });
  });

  it.each([
    ['otherOrgManager', 'NOT_FOUND'],
    ['staff', 'FORBIDDEN'],
    ['noSigningManager', 'FORBIDDEN'],
    ['outOfScopeManager', 'FORBIDDEN'],
    ['signerOne', 'FORBIDDEN'],
    ['unlinkedManager', 'FORBIDDEN'],
  ])('as %s → %s', async (who, expected) => {
    const result = await t.graphql(CreateSigningPackageDocument, { input: packageInput() }, token(who));
    expect(code(result)).toBe(expected);
  });

  it('a location-scoped manager creates at their location only', async () => {
    expect(code(await t.graphql(CreateSigningPackageDocument, { input: packageInput() }, token('scopedManager')))).toBe('OK');
    expect(code(await t.graphql(CreateSigningPackageDocument, { input: packageInput({ locationId: null }) }, token('scopedManager')))).toBe('FORBIDDEN');
  });

  it('refuses documents of another organization, or outside the manager’s locations, without telling which', async () => {
    const foreign = await t.graphql(CreateSigningPackageDocument, { input: packageInput({ documentIds: [otherOrgDocumentId] }) }, token('manager'));
    expect(foreign.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'DOCUMENT_NOT_FOUND', field: 'documentIds' });
    const outsideScope = await t.graphql(CreateSigningPackageDocument, { input: packageInput({ documentIds: [otherLotDocumentId] }) }, token('scopedManager'));
    expect(reason(outsideScope)).toBe('DOCUMENT_NOT_FOUND');
  });

  it.each([
    ['no documents', { documentIds: [] }],
    ['no signers', { signers: [] }],
    ['duplicate signer emails', { signers: [{ name: 'A', email: 'a@signing.test' }, { name: 'B', email: 'A@SIGNING.TEST' }] }],
    ['a past deadline', { expiresAt: '2026-03-01T00:00:00.000Z' }],
    ['a blank title', { title: '   ' }],
    ['a bad email', { signers: [{ name: 'A', email: 'not-an-email' }] }],
  ])('refuses %s with BAD_USER_INPUT', async (_label, overrides) => {
    const result = await t.graphql(CreateSigningPackageDocument, { input: packageInput(overrides as Partial<CreateSigningPackageInput>) }, token('manager'));
    expect(code(result)).toBe('BAD_USER_INPUT');
  });
});

describe('signingPackage(id)', () => {
  let draftId: string;
  let sentId: string;
  beforeAll(async () => {
    draftId = (await createPackage('manager', { title: 'Draft title SECRET-DRAFT' })).id;
    sentId = await sentPackage({ title: 'Sent title SECRET-SENT' });
  });

  it.each([
    ['admin', 'OK', 'OK'],
    ['manager', 'OK', 'OK'],
    ['scopedManager', 'OK', 'OK'],
    ['outOfScopeManager', 'NOT_FOUND', 'NOT_FOUND'],
    ['otherOrgManager', 'NOT_FOUND', 'NOT_FOUND'],
    ['signerOne', 'NOT_FOUND', 'OK'],
    ['strangerSigner', 'NOT_FOUND', 'NOT_FOUND'],
    ['noIdentity', 'NOT_FOUND', 'NOT_FOUND'],
  ])('as %s: draft → %s, sent → %s; denied reads leak nothing', async (who, draftExpected, sentExpected) => {
    // Signers ask for what a signer sees (the signer-visibility test covers the rest).
    const asSigner = who.toLowerCase().includes('signer') || who === 'noIdentity';
    for (const [id, expected, secret] of [
      [draftId, draftExpected, 'SECRET-DRAFT'],
      [sentId, sentExpected, 'SECRET-SENT'],
    ] as const) {
      const result = asSigner ? await t.graphql(SignerPackageByIdDocument, { id }, token(who)) : await t.graphql(SigningPackageByIdDocument, { id }, token(who));
      expect(code(result)).toBe(expected);
      expect(JSON.stringify(result.body).includes(secret)).toBe(expected === 'OK');
      expect(JSON.stringify(result.body).includes('SIGN-MAIN-1')).toBe(expected === 'OK');
    }
  });

  it('needs a session', async () => {
    expect((await t.graphql(SigningPackageByIdDocument, { id: sentId })).status).toBe(401);
  });
});

describe('sendSigningPackage and voidSigningPackage', () => {
  it('DRAFT → SENT by its manager, with the version; stale versions and repeated sends are CONFLICTs', async () => {
    const created = await createPackage();
    const stale = await t.graphql(SendSigningPackageDocument, { id: created.id, version: 7 }, token('manager'));
    expect(stale.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'STALE_VERSION' });
    const sent = await t.graphql(SendSigningPackageDocument, { id: created.id, version: 1 }, token('manager'));
    expect(sent.body.data?.sendSigningPackage).toMatchObject({ status: 'SENT', version: 2, sentAt: clock.now().toISOString() });
    const again = await t.graphql(SendSigningPackageDocument, { id: created.id }, token('manager'));
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_TRANSITION' });
    expect(await activities(created.id, 'signing.package.sent')).toHaveLength(1);
  });

  it.each([
    ['otherOrgManager', 'NOT_FOUND'],
    ['outOfScopeManager', 'NOT_FOUND'],
    ['strangerSigner', 'FORBIDDEN'],
    ['admin', 'FORBIDDEN'],
  ])('send as %s → %s, and the package stays a DRAFT', async (who, expected) => {
    const created = await createPackage();
    expect(code(await t.graphql(SendSigningPackageDocument, { id: created.id }, token(who)))).toBe(expected);
    expect((await t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id: created.id } })).status).toBe('DRAFT');
  });

  it('voids a DRAFT or a SENT package with a reason; a voided one cannot be voided or sent', async () => {
    const draft = await createPackage();
    const voided = await t.graphql(VoidSigningPackageDocument, { id: draft.id, reason: 'Wrong borrower' }, token('scopedManager'));
    expect(voided.body.data?.voidSigningPackage).toMatchObject({ status: 'VOIDED', voidReason: 'Wrong borrower', version: 2 });
    expect(reason(await t.graphql(VoidSigningPackageDocument, { id: draft.id, reason: 'again' }, token('manager')))).toBe('INVALID_TRANSITION');
    expect(reason(await t.graphql(SendSigningPackageDocument, { id: draft.id }, token('manager')))).toBe('INVALID_TRANSITION');

    const sentId = await sentPackage();
    expect((await t.graphql(VoidSigningPackageDocument, { id: sentId, reason: 'Terms changed' }, token('manager'))).body.data?.voidSigningPackage.status).toBe('VOIDED');
    expect((await t.graphql(SignerQueueDocument, {}, token('signerOne'))).body.data?.signerQueue.map((p) => p.id)).not.toContain(sentId);
    const [audit] = await activities(sentId, 'signing.package.voided');
    expect(audit).toMatchObject({ actorUserId: people.manager!.id, organizationId: orgId, data: { reason: 'Terms changed' } });
  });

  it.each([
    ['otherOrgManager', 'NOT_FOUND'],
    ['outOfScopeManager', 'NOT_FOUND'],
    ['signerOne', 'FORBIDDEN'],
  ])('void as %s → %s', async (who, expected) => {
    const id = await sentPackage();
    expect(code(await t.graphql(VoidSigningPackageDocument, { id, reason: 'nope' }, token(who)))).toBe(expected);
    expect((await t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id } })).status).toBe('SENT');
  });
});

describe('signerQueue', () => {
  it('lists sent packages assigned to the caller’s signer identities; drafts and others’ packages are not in it', async () => {
    const draft = await createPackage('manager', { title: 'Queue draft' });
    const sentId = await sentPackage({ title: 'Queue sent' });
    const queue = (await t.graphql(SignerQueueDocument, {}, token('signerOne'))).body.data!.signerQueue;
    expect(queue.map((p) => p.id)).toContain(sentId);
    expect(queue.map((p) => p.id)).not.toContain(draft.id);
    expect(queue.every((p) => p.status === 'SENT')).toBe(true);
  });

  it('no identity, or nothing assigned, is an empty queue rather than an error', async () => {
    for (const who of ['noIdentity', 'strangerSigner', 'manager']) {
      const result = await t.graphql(SignerQueueDocument, {}, token(who));
      expect(result.body).toEqual({ data: { signerQueue: [] } });
    }
  });

  it('an identity linked after the package was created sees it (matched by email at query time)', async () => {
    const id = await sentPackage({ signers: [{ name: 'Late', email: 'LateSigner@signing.test' }] });
    expect((await t.graphql(SignerQueueDocument, {}, token('lateSigner'))).body.data?.signerQueue).toEqual([]);
    await t.db.prisma.signingIdentity.create({
      data: { userId: people.lateSigner!.id, kind: 'SIGNER', organizationId: orgId, email: people.lateSigner!.email, linkedById: people.manager!.id },
    });
    const queue = (await t.graphql(SignerQueueDocument, {}, token('lateSigner'))).body.data!.signerQueue;
    expect(queue.map((p) => p.id)).toEqual([id]);
    expect(queue[0]!.signers[0]!.isMyTurn).toBe(true);
    expect(code(await t.graphql(SignSigningPackageDocument, { packageId: id }, token('lateSigner')))).toBe('OK');
  });

  it('needs a session', async () => {
    expect((await t.graphql(SignerQueueDocument, {})).status).toBe(401);
  });
});

describe('signing a sequential package', () => {
  let id: string;
  beforeAll(async () => {
    id = await sentPackage();
  });

  it('the second signer must wait: NOT_YOUR_TURN, and isMyTurn says so', async () => {
    const early = await t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerTwo'));
    expect(early.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'NOT_YOUR_TURN' });
    const asOne = (await t.graphql(SignerPackageByIdDocument, { id }, token('signerOne'))).body.data!.signingPackage;
    expect(asOne.signers.map((s) => s.isMyTurn)).toEqual([true, false]);
    const asTwo = (await t.graphql(SignerPackageByIdDocument, { id }, token('signerTwo'))).body.data!.signingPackage;
    expect(asTwo.signers.map((s) => s.isMyTurn)).toEqual([false, false]);
  });

  it('viewing marks the slot VIEWED once', async () => {
    const viewed = await t.graphql(ViewSigningPackageDocument, { packageId: id }, token('signerOne'));
    expect(viewed.body.data?.viewSigningPackage.mySlot).toMatchObject({ order: 1, status: 'VIEWED', viewedAt: clock.now().toISOString() });
    await t.graphql(ViewSigningPackageDocument, { packageId: id }, token('signerOne'));
    expect(await activities(id, 'signing.signer.viewed')).toHaveLength(1);
  });

  it.each([
    ['strangerSigner', 'NOT_FOUND'],
    ['otherOrgManager', 'NOT_FOUND'],
    ['manager', 'FORBIDDEN'],
  ])('view/sign/decline as %s → %s', async (who, expected) => {
    expect(code(await t.graphql(ViewSigningPackageDocument, { packageId: id }, token(who)))).toBe(expected);
    expect(code(await t.graphql(SignSigningPackageDocument, { packageId: id }, token(who)))).toBe(expected);
    expect(code(await t.graphql(DeclineSigningPackageDocument, { packageId: id, reason: 'no' }, token(who)))).toBe(expected);
  });

  it('signs in order; the last signature completes the package once', async () => {
    const first = await t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerOne'));
    expect(first.body.data?.signSigningPackage.status).toBe('SENT');
    expect(reason(await t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerOne')))).toBe('INVALID_TRANSITION');
    const last = await t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerTwo'));
    expect(last.body.data?.signSigningPackage).toMatchObject({ status: 'COMPLETED', completedAt: clock.now().toISOString() });
    const pkg = (await t.graphql(SigningPackageByIdDocument, { id }, token('manager'))).body.data!.signingPackage;
    expect(pkg.signers.map((s) => s.status)).toEqual(['SIGNED', 'SIGNED']);
    expect((await activities(id)).map((a) => a.type)).toEqual([
      'signing.package.created',
      'signing.package.sent',
      'signing.signer.viewed',
      'signing.signer.signed',
      'signing.signer.signed',
      'signing.package.completed',
    ]);
    const completed = await activities(id, 'signing.package.completed');
    expect(completed[0]).toMatchObject({ actorUserId: people.signerTwo!.id, organizationId: orgId });
    // Completed packages leave the queue but stay readable to their signers.
    expect((await t.graphql(SignerQueueDocument, {}, token('signerTwo'))).body.data?.signerQueue.map((p) => p.id)).not.toContain(id);
    expect(code(await t.graphql(SignerPackageByIdDocument, { id }, token('signerTwo')))).toBe('OK');
  });
});

describe('declineSigningPackage', () => {
  it('declines the slot with a reason and ends the package; nobody signs after', async () => {
    const id = await sentPackage({ sequential: false });
    const declined = await t.graphql(DeclineSigningPackageDocument, { packageId: id, reason: 'The payoff amount is wrong' }, token('signerTwo'));
    expect(declined.body.data?.declineSigningPackage.status).toBe('DECLINED');
    expect(declined.body.data?.declineSigningPackage.mySlot).toMatchObject({
      order: 2,
      status: 'DECLINED',
      declinedAt: clock.now().toISOString(),
      declineReason: 'The payoff amount is wrong',
    });
    const asManager = (await t.graphql(SigningPackageByIdDocument, { id }, token('manager'))).body.data?.signingPackage;
    expect(asManager).toMatchObject({ status: 'DECLINED', declinedAt: clock.now().toISOString() });
    expect(reason(await t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerOne')))).toBe('INVALID_TRANSITION');
    expect(reason(await t.graphql(VoidSigningPackageDocument, { id, reason: 'x' }, token('manager')))).toBe('INVALID_TRANSITION');
    expect((await activities(id)).map((a) => a.type).slice(-2)).toEqual(['signing.signer.declined', 'signing.package.declined']);
  });

  it('needs a reason', async () => {
    const id = await sentPackage();
    expect(code(await t.graphql(DeclineSigningPackageDocument, { packageId: id, reason: ' ' }, token('signerOne')))).toBe('BAD_USER_INPUT');
  });
});

describe('concurrent signatures', () => {
  it('ten parallel last signatures by the same signer: one succeeds, the package completes once', async () => {
    const id = await sentPackage();
    expect(code(await t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerOne')))).toBe('OK');
    const results = await Promise.all(Array.from({ length: 10 }, () => t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerTwo'))));
    expect(results.filter((r) => code(r) === 'OK')).toHaveLength(1);
    expect(results.filter((r) => code(r) === 'CONFLICT')).toHaveLength(9);
    const pkg = await t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id } });
    expect(pkg.status).toBe('COMPLETED');
    expect(await activities(id, 'signing.package.completed')).toHaveLength(1);
    expect(await activities(id, 'signing.signer.signed')).toHaveLength(2);
  });

  it('two signers of a parallel package signing at once still complete it exactly once', async () => {
    const id = await sentPackage({ sequential: false });
    const results = await Promise.all(['signerOne', 'signerTwo'].map((who) => t.graphql(SignSigningPackageDocument, { packageId: id }, token(who))));
    expect(results.map(code)).toEqual(['OK', 'OK']);
    expect((await t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id } })).status).toBe('COMPLETED');
    expect(await activities(id, 'signing.package.completed')).toHaveLength(1);
  });
});

describe('listing packages', () => {
  it('signingPackages: managers of the organization, within their locations, with paging and a status filter', async () => {
    const atOtherLot = await createPackage('manager', { locationId: otherLocationId, title: 'At the other lot' });
    const all = (await t.graphql(SigningPackagesDocument, { organizationId: orgId, first: 100 }, token('manager'))).body.data!.signingPackages;
    expect(all.edges.map((e) => e.node.id)).toContain(atOtherLot.id);
    const scoped = (await t.graphql(SigningPackagesDocument, { organizationId: orgId, first: 100 }, token('scopedManager'))).body.data!.signingPackages;
    expect(scoped.edges.length).toBeGreaterThan(0);
    expect(scoped.edges.map((e) => e.node.id)).not.toContain(atOtherLot.id);
    const outOfScope = (await t.graphql(SigningPackagesDocument, { organizationId: orgId, first: 100 }, token('outOfScopeManager'))).body.data!.signingPackages;
    expect(outOfScope.edges.map((e) => e.node.id)).toEqual([atOtherLot.id]);

    const page1 = (await t.graphql(SigningPackagesDocument, { organizationId: orgId, first: 2 }, token('manager'))).body.data!.signingPackages;
    expect(page1.edges).toHaveLength(2);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await t.graphql(SigningPackagesDocument, { organizationId: orgId, first: 2, after: page1.pageInfo.endCursor }, token('manager'))).body.data!
      .signingPackages;
    expect(page2.edges.map((e) => e.node.id)).toEqual(all.edges.slice(2, 4).map((e) => e.node.id));

    const drafts = (await t.graphql(SigningPackagesDocument, { organizationId: orgId, status: 'DRAFT', first: 100 }, token('manager'))).body.data!.signingPackages;
    expect(drafts.edges.length).toBeGreaterThan(0);
    expect(drafts.edges.every((e) => e.node.status === 'DRAFT')).toBe(true);
  });

  it.each([
    ['otherOrgManager', 'NOT_FOUND'],
    ['signerOne', 'FORBIDDEN'],
    ['staff', 'FORBIDDEN'],
    ['noSigningManager', 'FORBIDDEN'],
  ])('signingPackages as %s → %s', async (who, expected) => {
    const result = await t.graphql(SigningPackagesDocument, { organizationId: orgId, first: 10 }, token(who));
    expect(code(result)).toBe(expected);
    expect(JSON.stringify(result.body)).not.toContain('Retail installment contract');
  });

  it('signingDirectory: admins read across organizations; nobody else', async () => {
    const elsewhere = await t.db.prisma.signingPackage.create({ data: { organizationId: otherOrgId, title: 'Elsewhere package', status: 'SENT' } });
    const directory = (await t.graphql(SigningDirectoryDocument, {}, token('admin'))).body.data!.signingDirectory;
    const orgs = new Set(directory.edges.map((e) => e.node.organization.id));
    expect(orgs).toEqual(new Set([orgId, otherOrgId]));
    const sent = (await t.graphql(SigningDirectoryDocument, { status: 'SENT' }, token('admin'))).body.data!.signingDirectory;
    expect(sent.edges.map((e) => e.node.id)).toContain(elsewhere.id);
    expect(sent.edges.every((e) => e.node.status === 'SENT')).toBe(true);
    for (const who of ['manager', 'signerOne']) {
      const denied = await t.graphql(SigningDirectoryDocument, {}, token(who));
      expect(code(denied)).toBe('FORBIDDEN');
      expect(denied.body.data ?? null).toBeNull();
    }
  });

  it('signingHub: needs a manager or admin identity; lists the packages the caller manages', async () => {
    const denied = await t.graphql(SigningHubDocument, {}, token('unlinkedManager'));
    expect(denied.status).toBe(403);
    expect(denied.body.errors?.[0]).toMatchObject({
      message: 'Managing signing packages needs a manager or admin signing identity linked to your account. Ask your organization admin to link one.',
      extensions: { code: 'FORBIDDEN', reason: 'NO_MANAGER_IDENTITY' },
    });
    expect(code(await t.graphql(SigningHubDocument, {}, token('signerOne')))).toBe('FORBIDDEN');

    const hub = (await t.graphql(SigningHubDocument, {}, token('hubManager'))).body.data!.signingHub;
    const managed = await t.db.prisma.signingPackage.count({ where: { organizationId: orgId } });
    expect(hub).toHaveLength(managed);
    const otherOrgHub = (await t.graphql(SigningHubDocument, {}, token('otherOrgManager'))).body.data!.signingHub;
    expect(otherOrgHub.map((p) => p.title)).toEqual(['Elsewhere package']);
  });
});

// Last: it moves the shared clock forward.
describe('automatic expiry', () => {
  it('a package past its deadline is EXPIRED, leaves the queue and refuses signatures', async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000).toISOString();
    const id = await sentPackage({ expiresAt, title: 'Expiring' });
    expect((await t.graphql(SignerQueueDocument, {}, token('signerOne'))).body.data?.signerQueue.map((p) => p.id)).toContain(id);
    clock.advance(2 * 60_000);
    expect((await t.graphql(SignerQueueDocument, {}, token('signerOne'))).body.data?.signerQueue.map((p) => p.id)).not.toContain(id);
    expect((await t.graphql(SignerPackageByIdDocument, { id }, token('signerOne'))).body.data?.signingPackage.status).toBe('EXPIRED');
    // Read as expired; nothing written yet.
    expect((await t.graphql(SigningPackageByIdDocument, { id }, token('manager'))).body.data?.signingPackage).toMatchObject({ status: 'EXPIRED', version: 2 });
    const refused = await t.graphql(SignSigningPackageDocument, { packageId: id }, token('signerOne'));
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PACKAGE_EXPIRED' });
    expect(await activities(id, 'signing.package.expired')).toHaveLength(0);
    // The manager touching it records the expiry, once.
    expect(reason(await t.graphql(VoidSigningPackageDocument, { id, reason: 'late' }, token('manager')))).toBe('PACKAGE_EXPIRED');
    expect(reason(await t.graphql(VoidSigningPackageDocument, { id, reason: 'late' }, token('manager')))).toBe('PACKAGE_EXPIRED');
    expect((await t.graphql(SigningPackageByIdDocument, { id }, token('manager'))).body.data?.signingPackage).toMatchObject({ status: 'EXPIRED', version: 3 });
    const expired = await activities(id, 'signing.package.expired');
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ organizationId: orgId, actorUserId: null });
  });

  it('a draft whose deadline passes expires too and can no longer be sent', async () => {
    const created = await createPackage('manager', { expiresAt: new Date(clock.now().getTime() + 1_000).toISOString() });
    clock.advance(1_000);
    expect(reason(await t.graphql(SendSigningPackageDocument, { id: created.id }, token('manager')))).toBe('PACKAGE_EXPIRED');
    expect((await t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id: created.id } })).status).toBe('EXPIRED');
  });
});
