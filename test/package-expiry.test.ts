import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { expireOverduePackages, schedulePackageExpiry } from '../src/modules/signing/signing.service.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, linkManagerIdentity, signInAs } from './support/factories.ts';

const START = new Date('2026-06-01T10:00:00.000Z');
const clock = new ManualClock(START);
let t: TestApp;
let orgId: string;
let documentId: string;
const tokens: Record<string, string> = {};
const userIds: Record<string, string> = {};
const clients: Client[] = [];

const PACKAGE_FIELDS = 'id status version expiresAt expiredAt signers { status isMyTurn }';
const READ = `query($id: ID!) { signingPackage(id: $id) { ${PACKAGE_FIELDS} } }`;
// What a signer may see of a package (SIGNER_VISIBLE_FIELDS): no version or expiredAt.
const SIGNER_FIELDS = 'id status expiresAt mySlot { status isMyTurn }';
const SIGNER_READ = `query($id: ID!) { signingPackage(id: $id) { ${SIGNER_FIELDS} } }`;
type SignerPkg = { id: string; status: string; expiresAt: string; mySlot: { status: string; isMyTurn: boolean } };
type Pkg = { id: string; status: string; version: number; expiresAt: string | null; expiredAt: string | null; signers: Array<{ status: string; isMyTurn: boolean }> };

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Fresh sessions at the clock's current time (access tokens live 10 minutes), signed by `app`'s keys. */
async function signInAll(app: TestApp = t): Promise<void> {
  for (const [name, id] of Object.entries(userIds)) tokens[name] = (await signInAs(app.app.services, id)).token;
}

async function sentPackage(app: TestApp, expiresAt: Date, title = 'Expiring contract'): Promise<string> {
  const created = await app.graphql<{ createSigningPackage: { id: string } }, unknown>(
    'mutation($i: CreateSigningPackageInput!) { createSigningPackage(input: $i) { id } }',
    { i: { organizationId: orgId, title, documentIds: [documentId], expiresAt: expiresAt.toISOString(), signers: [{ name: 'Sky Signer', email: 'sky@expiry.test' }] } },
    { token: tokens.manager },
  );
  expect(created.body.errors).toBeUndefined();
  const id = created.body.data!.createSigningPackage.id;
  const sent = await app.graphql<{ sendSigningPackage: { status: string } }, unknown>('mutation($id: ID!) { sendSigningPackage(id: $id) { status } }', { id }, { token: tokens.manager });
  expect(sent.body.data?.sendSigningPackage.status).toBe('SENT');
  return id;
}

const stored = (id: string) => t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id }, include: { signers: true } });
const expiredActivities = (id: string) => t.db.prisma.activity.count({ where: { packageId: id, type: 'signing.package.expired' } });
/** Statements that write signing data (a session's lastSeenAt may be written by any request, once a minute). */
const signingWrites = () => t.queries.filter((q) => /^\s*(UPDATE|INSERT|DELETE)\b/i.test(q) && !/"LoginSession"/.test(q));

beforeAll(async () => {
  // The app's own sweep is kept out of the way here; the test runs sweeps itself (and checks the app's below).
  t = await startTestApp({ clock, countQueries: true, env: { SIGNING_EXPIRY_SWEEP_SECONDS: '86400' } });
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Deadline Lending', permissions: ['documents', 'signing'] });
  orgId = org.organization.id;
  documentId = (await createDocument(db, { organizationId: orgId, serialNumber: 'EXPIRY-1' })).id;
  const admin = await createUser(db, { roles: ['ADMIN'] });
  const manager = await createUser(db, { roles: ['MANAGER'] });
  const signer = await createUser(db, { roles: ['SIGNER'], email: 'sky@expiry.test' });
  await addMember(db, { userId: manager.id, organizationId: orgId, roleId: org.role.id });
  await linkManagerIdentity(db, { userId: manager.id, organizationId: orgId, linkedById: admin.id });
  await db.signingIdentity.create({ data: { userId: signer.id, kind: 'SIGNER', organizationId: orgId, email: signer.email, linkedById: manager.id } });
  Object.assign(userIds, { admin: admin.id, manager: manager.id, signer: signer.id });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

describe('an overdue package, before its expiry is recorded', () => {
  let id: string;
  let expiresAt: Date;
  beforeAll(async () => {
    clock.set(START);
    await signInAll();
    expiresAt = new Date(START.getTime() + 60_000);
    id = await sentPackage(t, expiresAt);
  });

  it('one millisecond before the deadline it is SENT and the signer’s turn', async () => {
    clock.set(new Date(expiresAt.getTime() - 1));
    const read = await t.graphql<{ signingPackage: SignerPkg }, unknown>(SIGNER_READ, { id }, { token: tokens.signer });
    expect(read.body.data?.signingPackage).toMatchObject({ status: 'SENT', mySlot: { status: 'PENDING', isMyTurn: true } });
    const asManager = await t.graphql<{ signingPackage: Pkg }, unknown>(READ, { id }, { token: tokens.manager });
    expect(asManager.body.data?.signingPackage).toMatchObject({ status: 'SENT', expiredAt: null });
  });

  it('at the deadline every read answers EXPIRED, and no read writes anything', async () => {
    clock.set(expiresAt);
    t.queries.length = 0;
    for (const who of ['manager', 'admin']) {
      const read = await t.graphql<{ signingPackage: Pkg }, unknown>(READ, { id }, { token: tokens[who] });
      expect(read.body.data?.signingPackage).toMatchObject({ status: 'EXPIRED', version: 2, expiredAt: expiresAt.toISOString(), signers: [{ status: 'PENDING', isMyTurn: false }] });
    }
    const asSigner = await t.graphql<{ signingPackage: SignerPkg }, unknown>(SIGNER_READ, { id }, { token: tokens.signer });
    expect(asSigner.body.data?.signingPackage).toMatchObject({ status: 'EXPIRED', mySlot: { status: 'PENDING', isMyTurn: false } });
    const queue = await t.graphql<{ signerQueue: Array<{ id: string }> }, unknown>('{ signerQueue { id } }', {}, { token: tokens.signer });
    expect(queue.body.data?.signerQueue.map((p) => p.id)).not.toContain(id);
    const hubIds = async (status: string) =>
      (await t.graphql<{ signingHub: Array<{ id: string }> }, unknown>('query($s: PackageStatus) { signingHub(status: $s) { id } }', { s: status }, { token: tokens.manager })).body.data!.signingHub.map((p) => p.id);
    expect(await hubIds('EXPIRED')).toContain(id);
    expect(await hubIds('SENT')).not.toContain(id);
    const listIds = async (status: string) =>
      (
        await t.graphql<{ signingPackages: { edges: Array<{ node: { id: string; status: string } }> } }, unknown>(
          'query($o: ID!, $s: PackageStatus) { signingPackages(organizationId: $o, status: $s, first: 50) { edges { node { id status } } } }',
          { o: orgId, s: status },
          { token: tokens.manager },
        )
      ).body.data!.signingPackages.edges.map((e) => e.node.id);
    expect(await listIds('EXPIRED')).toContain(id);
    expect(await listIds('SENT')).not.toContain(id);
    const directory = await t.graphql<{ signingDirectory: { edges: Array<{ node: { id: string; status: string } }> } }, unknown>(
      'query($s: PackageStatus) { signingDirectory(status: $s, first: 50) { edges { node { id status } } } }',
      { s: 'EXPIRED' },
      { token: tokens.admin },
    );
    expect(directory.body.data?.signingDirectory.edges.map((e) => e.node)).toContainEqual({ id, status: 'EXPIRED' });
    expect(t.queries.some((q) => /"SigningPackage"/.test(q))).toBe(true);
    expect(signingWrites()).toEqual([]);
    expect((await stored(id)).status).toBe('SENT');
  });

  it('signing, declining and viewing are refused as for an expired package, without a write', async () => {
    clock.set(new Date(expiresAt.getTime() + 1));
    t.queries.length = 0;
    for (const mutation of [
      'mutation($id: ID!) { signSigningPackage(packageId: $id) { id } }',
      'mutation($id: ID!) { declineSigningPackage(packageId: $id, reason: "Too late") { id } }',
    ]) {
      const refused = await t.graphql(mutation, { id }, { token: tokens.signer });
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PACKAGE_EXPIRED' });
    }
    const viewed = await t.graphql<{ viewSigningPackage: SignerPkg }, unknown>(`mutation($id: ID!) { viewSigningPackage(packageId: $id) { ${SIGNER_FIELDS} } }`, { id }, { token: tokens.signer });
    expect(viewed.body.data?.viewSigningPackage).toMatchObject({ status: 'EXPIRED', mySlot: { status: 'PENDING', isMyTurn: false } });
    expect(signingWrites()).toEqual([]);
    const row = await stored(id);
    expect(row).toMatchObject({ status: 'SENT', version: 2, expiredAt: null });
    expect(row.signers.map((s) => s.status)).toEqual(['PENDING']);
    expect(await expiredActivities(id)).toBe(0);
  });

  it('the sweep records it once: status, one activity row, one live event', async () => {
    const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${tokens.manager}` }, retryAttempts: 0 });
    clients.push(client);
    const events: Array<{ status: string; version: number }> = [];
    const listeners = t.app.services.events.listeners();
    const unsubscribe = client.subscribe<{ signingPackageUpdated: { status: string; version: number } }>(
      { query: 'subscription($id: ID!) { signingPackageUpdated(id: $id) { status version } }', variables: { id } },
      { next: (value) => value.data && events.push(value.data.signingPackageUpdated), error: () => {}, complete: () => {} },
    );
    await until(() => t.app.services.events.listeners() > listeners);

    const sweep = schedulePackageExpiry(t.app.services, 20);
    try {
      await until(async () => (await expiredActivities(id)) === 1 && events.length === 1);
    } finally {
      await sweep.stop();
    }
    expect(events).toEqual([{ status: 'EXPIRED', version: 3 }]);
    const row = await stored(id);
    expect(row).toMatchObject({ status: 'EXPIRED', version: 3, expiredAt: expiresAt });
    const [activity] = await t.db.prisma.activity.findMany({ where: { packageId: id, type: 'signing.package.expired' } });
    expect(activity).toMatchObject({ organizationId: orgId, actorUserId: null, data: { expiresAt: expiresAt.toISOString() } });

    // Later sweeps find nothing to record, so no second row or event.
    expect(await expireOverduePackages(t.app.services)).toBe(0);
    expect(await expireOverduePackages(t.app.services)).toBe(0);
    const read = await t.graphql<{ signingPackage: Pkg }, unknown>(READ, { id }, { token: tokens.manager });
    expect(read.body.data?.signingPackage).toMatchObject({ status: 'EXPIRED', version: 3, expiredAt: expiresAt.toISOString() });
    expect(await expiredActivities(id)).toBe(1);
    expect(events).toHaveLength(1);
    unsubscribe();
  });
});

describe('recording an expiry', () => {
  it('concurrent sweeps record each overdue package exactly once; packages still in time are left alone', async () => {
    clock.set(new Date(START.getTime() + 86_400_000));
    await signInAll();
    const overdue = [await sentPackage(t, new Date(clock.now().getTime() + 1_000), 'Overdue A'), await sentPackage(t, new Date(clock.now().getTime() + 2_000), 'Overdue B')];
    const inTime = await sentPackage(t, new Date(clock.now().getTime() + 3_600_000), 'In time');
    clock.advance(2_000);
    const counts = await Promise.all(Array.from({ length: 5 }, () => expireOverduePackages(t.app.services)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
    for (const id of overdue) {
      expect((await stored(id)).status).toBe('EXPIRED');
      expect(await expiredActivities(id)).toBe(1);
    }
    expect((await stored(inTime)).status).toBe('SENT');
    expect(await expiredActivities(inTime)).toBe(0);
  });

  it('a manager touching an overdue package records its expiry and hears it is expired', async () => {
    clock.set(new Date(START.getTime() + 2 * 86_400_000));
    await signInAll();
    const id = await sentPackage(t, new Date(clock.now().getTime() + 1_000), 'Touched late');
    clock.advance(1_000);
    const voided = await t.graphql('mutation($id: ID!) { voidSigningPackage(id: $id, reason: "Late") { id } }', { id }, { token: tokens.manager });
    expect(voided.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PACKAGE_EXPIRED' });
    expect((await stored(id)).status).toBe('EXPIRED');
    expect(await expiredActivities(id)).toBe(1);
  });

  it('the app runs the sweep every SIGNING_EXPIRY_SWEEP_SECONDS from start to stop', async () => {
    const app = await startTestApp({ clock, database: t.db, env: { SIGNING_EXPIRY_SWEEP_SECONDS: '1' } });
    let id: string;
    try {
      expect(app.config.signing.expirySweepSeconds).toBe(1);
      clock.set(new Date(START.getTime() + 3 * 86_400_000));
      await signInAll(app);
      id = await sentPackage(app, new Date(clock.now().getTime() + 1_000), 'Swept by the app');
      clock.advance(1_000);
      await until(async () => (await stored(id)).status === 'EXPIRED');
      expect(await expiredActivities(id)).toBe(1);
    } finally {
      await app.close();
    }
  });
});
