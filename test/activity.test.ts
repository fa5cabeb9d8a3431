import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { applyMigrations } from '../src/db/migrator.ts';
import { createLogger } from '../src/lib/logger.ts';
import { mayReadActivity } from '../src/modules/activity/activity.policy.ts';
import { recordActivity } from '../src/modules/activity/activity.service.ts';
import { allChains, verifyChain } from '../src/modules/activity/audit-chain.ts';
import { authenticate } from '../src/modules/auth/viewer.ts';
import type { paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { testDatabaseKind } from './support/database.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

// The audit log: Query.activity and its REST list under one policy with the live feed, the append-only table and
// its hash chains, and audit:verify.
let t: TestApp;
let organizationId: string;
let otherOrganizationId: string;
let athensId: string;
let maconId: string;
const ids: Record<'athensDoc' | 'maconDoc' | 'package' | 'loan', string> = { athensDoc: '', maconDoc: '', package: randomUUID(), loan: randomUUID() };
const people: Record<string, { id: string; email: string; name: string }> = {};
const tokens: Record<string, string> = {};

const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });

const ACTIVITY_QUERY = /* GraphQL */ `
  query Activity($organizationId: ID, $filter: ActivityFilter, $first: Int, $after: String) {
    activity(organizationId: $organizationId, filter: $filter, first: $first, after: $after) {
      edges { node { id type actorUserId actor { id name } documentId packageId ip sessionKind data chainSeq hash prevHash } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

interface Page {
  activity: { edges: Array<{ node: { id: string; type: string; actorUserId: string | null; actor: { id: string; name: string } | null; documentId: string | null; packageId: string | null; ip: string | null; sessionKind: string | null; data: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

async function activity(token: string, variables: Record<string, unknown>) {
  return t.graphql<Page, Record<string, unknown>>(ACTIVITY_QUERY, variables, { token });
}

const typesOf = (page: { data?: Page | null }) => page.data!.activity.edges.map((e) => e.node.type);

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Audit Lending', permissions: ['orgSettings', 'documents'] });
  organizationId = org.organization.id;
  athensId = org.location.id;
  maconId = (await db.location.create({ data: { organizationId, name: 'Macon' } })).id;
  const readOnly = await db.organizationRole.create({ data: { organizationId, name: 'Reader', permissions: [] } });
  const other = await createOrganization(db, { name: 'Other Lending' });
  otherOrganizationId = other.organization.id;
  for (const name of ['owner', 'reader', 'maconOnly', 'outsider', 'admin']) {
    people[name] = await createUser(db, name === 'admin' ? { roles: ['ADMIN'] } : {});
  }
  await addMember(db, { userId: people.owner!.id, organizationId, roleId: org.role.id, isOwner: true });
  await addMember(db, { userId: people.reader!.id, organizationId, roleId: readOnly.id });
  await addMember(db, { userId: people.maconOnly!.id, organizationId, roleId: readOnly.id, locationIds: [maconId] });
  await addMember(db, { userId: people.outsider!.id, organizationId: otherOrganizationId, roleId: other.role.id });
  for (const [name, user] of Object.entries(people)) tokens[name] = (await signInAs(t.app.services, user.id)).token;

  ids.athensDoc = (await createDocument(db, { organizationId, locationId: athensId })).id;
  ids.maconDoc = (await createDocument(db, { organizationId, locationId: maconId })).id;
  const owner = people.owner!.id;
  const client = { ip: '203.0.113.7', userAgent: 'audit-test' };
  await db.$transaction(async (tx) => {
    await recordActivity(tx, { type: 'organization.settings_changed', actorUserId: owner, organizationId, ...client, sessionKind: 'PASSWORD', data: { changed: ['name'] } });
    await recordActivity(tx, { type: 'document.registered', actorUserId: owner, organizationId, documentId: ids.athensDoc, ...client, data: {} });
    await recordActivity(tx, { type: 'document.registered', actorUserId: owner, organizationId, documentId: ids.maconDoc, ...client, data: {} });
    await recordActivity(tx, { type: 'loan.attached', actorUserId: people.reader!.id, organizationId, documentId: ids.athensDoc, ...client, data: { loanId: ids.loan } });
    await recordActivity(tx, { type: 'signing.package.sent', actorUserId: owner, organizationId, packageId: ids.package, ...client });
    await recordActivity(tx, { type: 'member.removed', actorUserId: owner, organizationId: otherOrganizationId, ...client });
    await recordActivity(tx, { type: 'auth.sign_in', actorUserId: owner, subjectUserId: owner, ...client, sessionKind: 'PASSWORD' });
  });
});
afterAll(async () => {
  await t?.close();
});

describe('Query.activity and its policy', () => {
  it('gives an owner with orgSettings the organization events and the records, newest first, with who, where and how', async () => {
    const page = await activity(tokens.owner!, { organizationId });
    expect(page.body.errors).toBeUndefined();
    expect(typesOf(page.body)).toEqual(['loan.attached', 'document.registered', 'document.registered', 'organization.settings_changed']);
    const settings = page.body.data!.activity.edges.at(-1)!.node;
    expect(settings).toMatchObject({ actorUserId: people.owner!.id, actor: { id: people.owner!.id, name: people.owner!.name }, ip: '203.0.113.7', sessionKind: 'PASSWORD' });
    expect(JSON.parse(settings.data)).toEqual({ changed: ['name'] });
  });

  it('gives a member without orgSettings the records only, and a location-scoped member only their locations', async () => {
    expect(typesOf((await activity(tokens.reader!, { organizationId })).body)).toEqual(['loan.attached', 'document.registered', 'document.registered']);
    const macon = await activity(tokens.maconOnly!, { organizationId });
    expect(macon.body.data!.activity.edges.map((e) => e.node.documentId)).toEqual([ids.maconDoc]);
  });

  it('shows package events to those who manage the package (admins here), not to an owner who does not', async () => {
    const admin = await activity(tokens.admin!, { organizationId });
    expect(typesOf(admin.body)).toContain('signing.package.sent');
    expect(typesOf((await activity(tokens.owner!, { organizationId })).body)).not.toContain('signing.package.sent');
  });

  it('answers NOT_FOUND to a non-member, and the platform chain to admins only', async () => {
    const outsider = await activity(tokens.outsider!, { organizationId });
    expect(outsider.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(typesOf((await activity(tokens.admin!, {})).body)).toEqual(['auth.sign_in']);
    expect((await activity(tokens.owner!, {})).body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('filters by actor, action, subject and time range', async () => {
    expect(typesOf((await activity(tokens.owner!, { organizationId, filter: { actorUserId: people.reader!.id } })).body)).toEqual(['loan.attached']);
    expect(typesOf((await activity(tokens.owner!, { organizationId, filter: { type: 'document.*' } })).body)).toEqual(['document.registered', 'document.registered']);
    expect(typesOf((await activity(tokens.owner!, { organizationId, filter: { type: 'organization.settings_changed' } })).body)).toEqual(['organization.settings_changed']);
    expect(typesOf((await activity(tokens.owner!, { organizationId, filter: { subjectId: ids.loan } })).body)).toEqual(['loan.attached']);
    expect(typesOf((await activity(tokens.owner!, { organizationId, filter: { subjectId: ids.athensDoc } })).body)).toEqual(['loan.attached', 'document.registered']);
    expect(typesOf((await activity(tokens.owner!, { organizationId, filter: { to: '2000-01-01T00:00:00Z' } })).body)).toEqual([]);
    expect(typesOf((await activity(tokens.owner!, { organizationId, filter: { from: '2000-01-01T00:00:00Z' } })).body)).toHaveLength(4);
  });

  it('pages with cursors, and refuses a page over 100', async () => {
    const first = await activity(tokens.owner!, { organizationId, first: 3 });
    expect(first.body.data!.activity.pageInfo.hasNextPage).toBe(true);
    const second = await activity(tokens.owner!, { organizationId, first: 3, after: first.body.data!.activity.pageInfo.endCursor });
    expect(typesOf(second.body)).toEqual(['organization.settings_changed']);
    expect(second.body.data!.activity.pageInfo.hasNextPage).toBe(false);
    const tooLarge = await activity(tokens.owner!, { organizationId, first: 101 });
    expect(tooLarge.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PAGE_TOO_LARGE' });
    const negative = await activity(tokens.owner!, { organizationId, first: -1 });
    expect(negative.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_PAGINATION' });
    const badCursor = await activity(tokens.owner!, { organizationId, after: 'bm90LWEtY3Vyc29y' });
    expect(badCursor.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_CURSOR' });
  });

  it('is the rule the live feed applies to each event', async () => {
    const rows = await t.db.prisma.activity.findMany({ where: { organizationId }, select: { id: true, type: true, organizationId: true } });
    const settings = rows.find((r) => r.type === 'organization.settings_changed')!;
    const document = rows.find((r) => r.type === 'loan.attached')!;
    const viewer = async (name: string) => (await authenticate(t.app.services, tokens[name]!))!;
    expect(await mayReadActivity(t.db.prisma, await viewer('owner'), settings)).toBe(true);
    expect(await mayReadActivity(t.db.prisma, await viewer('reader'), settings)).toBe(false);
    expect(await mayReadActivity(t.db.prisma, await viewer('reader'), document)).toBe(true);
    expect(await mayReadActivity(t.db.prisma, await viewer('outsider'), document)).toBe(false);
  });
});

describe('GET /v1/organizations/{id}/activity', () => {
  it('lists the same entries with a next link', async () => {
    const { data, response } = await api(tokens.owner).GET('/v1/organizations/{id}/activity', { params: { path: { id: organizationId }, query: { first: 2 } } });
    expect(response.status).toBe(200);
    expect(data!.items.map((e) => e.type)).toEqual(['loan.attached', 'document.registered']);
    expect(response.headers.get('link')).toMatch(/rel="next"/);
    const filtered = await api(tokens.owner).GET('/v1/organizations/{id}/activity', { params: { path: { id: organizationId }, query: { type: 'organization.*' } } });
    expect(filtered.data!.items.map((e) => e.type)).toEqual(['organization.settings_changed']);
  });

  it('answers 404 to a non-member and 401 without a token, as problem details', async () => {
    const outsider = await api(tokens.outsider).GET('/v1/organizations/{id}/activity', { params: { path: { id: organizationId } } });
    expect(outsider.response.status).toBe(404);
    expect(outsider.response.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect((outsider.error as { code?: string }).code).toBe('NOT_FOUND');
    const anonymous = await api().GET('/v1/organizations/{id}/activity', { params: { path: { id: organizationId } } });
    expect(anonymous.response.status).toBe(401);
  });
});

describe('the append-only, chained table', () => {
  it('refuses UPDATE and DELETE, and keeps the history of a deleted record', async () => {
    const db = t.db.prisma;
    await expect(db.activity.updateMany({ where: { organizationId }, data: { type: 'rewritten' } })).rejects.toThrow();
    await expect(db.activity.deleteMany({ where: { organizationId } })).rejects.toThrow();
    const before = await db.activity.count({ where: { documentId: ids.maconDoc } });
    await db.document.delete({ where: { id: ids.maconDoc } });
    expect(before).toBe(1);
    expect(await db.activity.count({ where: { documentId: ids.maconDoc } })).toBe(1);
  });

  it('links concurrent writers to one chain one after the other', async () => {
    const db = t.db.prisma;
    const { organization } = await createOrganization(db);
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        db.$transaction(async (tx) => {
          await recordActivity(tx, { type: 'test.concurrent', organizationId: organization.id, data: { i } });
          await recordActivity(tx, { type: 'test.concurrent.platform', data: { i } });
        }),
      ),
    );
    expect(await verifyChain(db, organization.id)).toEqual({ chain: organization.id, checked: 24, ok: true });
    expect((await verifyChain(db, 'platform')).ok).toBe(true);
    expect(await allChains(db)).toEqual(expect.arrayContaining(['platform', organizationId, organization.id]));
  });

  it('lets audit:verify find a row changed behind its back (the guard disabled for that one write)', async () => {
    const db = t.db.prisma;
    expect(await verifyChain(db, organizationId)).toMatchObject({ ok: true, checked: 5 });
    const target = await db.activity.findFirstOrThrow({ where: { organizationId, type: 'loan.attached' } });
    await db.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('ALTER TABLE "Activity" DISABLE TRIGGER activity_append_only');
      await tx.$executeRaw`UPDATE "Activity" SET "data" = '{"loanId":"forged"}'::jsonb WHERE "id" = ${target.id}::uuid`;
      await tx.$executeRawUnsafe('ALTER TABLE "Activity" ENABLE TRIGGER activity_append_only');
    });
    const report = await verifyChain(db, organizationId);
    expect(report).toMatchObject({ ok: false, checked: Number(target.chainSeq) - 1, broken: { chainSeq: String(target.chainSeq), id: target.id } });
    expect(report.broken!.problem).toMatch(/content does not match its hash/);
    expect((await verifyChain(db, otherOrganizationId)).ok).toBe(true);
  });
});

describe('npm run audit:verify', () => {
  it('exits 0 on intact chains and 1 naming the first broken link', async () => {
    // The command opens the database itself: PostgreSQL by URL, or an embedded one in a directory of its own.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'safeclose-audit-'));
    const env: Record<string, string> = { ...(process.env as Record<string, string>), LOG_LEVEL: 'warn' };
    if (testDatabaseKind === 'postgres') env.DATABASE_URL = t.db.url!;
    else {
      delete env.DATABASE_URL;
      env.DATA_DIR = dataDir;
    }
    // The embedded database takes one process at a time: open it around each step, closed while the command runs.
    const withDatabase = async <T>(work: (db: typeof t.db.prisma) => Promise<T>): Promise<T> => {
      if (testDatabaseKind === 'postgres') return work(t.db.prisma);
      const database = await openDatabase({ kind: 'pglite', dataDir: path.join(dataDir, 'pglite') }, { logger: createLogger({ level: 'silent' }) });
      try {
        await applyMigrations(database.migrationTarget);
        return await work(database.prisma);
      } finally {
        await database.close();
      }
    };
    const run = (args: string[]) =>
      promisify(execFile)('npx', ['tsx', 'src/modules/activity/audit-verify.cli.ts', ...args], { env, cwd: process.cwd() }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    try {
      const chain = await withDatabase(async (db) => {
        const { organization } = await createOrganization(db);
        for (let i = 0; i < 3; i++) await recordActivity(db, { type: 'test.cli', organizationId: organization.id, data: { i } });
        return organization.id;
      });
      expect(await run([chain])).toMatchObject({ code: 0, stdout: expect.stringContaining(`ok     ${chain}: 3 rows`) });
      const secondId = await withDatabase(async (db) => {
        const second = await db.activity.findFirstOrThrow({ where: { organizationId: chain, chainSeq: 2 } });
        await db.$transaction(async (tx) => {
          await tx.$executeRawUnsafe('ALTER TABLE "Activity" DISABLE TRIGGER activity_append_only');
          await tx.$executeRaw`UPDATE "Activity" SET "ip" = '198.51.100.1' WHERE "id" = ${second.id}::uuid`;
          await tx.$executeRawUnsafe('ALTER TABLE "Activity" ENABLE TRIGGER activity_append_only');
        });
        return second.id;
      });
      const broken = await run([chain]);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain(`BROKEN ${chain}: first broken link at position 2 (row ${secondId})`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the session a row was written in', () => {
  it('is recorded for the signed-in actor of any flow, and left empty for a request without a session', async () => {
    const updated = await t.graphql('mutation($i: UpdateDocumentInput!) { updateDocument(input: $i) { version } }', { i: { id: ids.athensDoc, version: 1, ownerName: 'Session Kind' } }, { token: tokens.owner! });
    expect(updated.body.errors).toBeUndefined();
    const row = await t.db.prisma.activity.findFirstOrThrow({ where: { documentId: ids.athensDoc, type: 'document.updated' }, orderBy: { seq: 'desc' } });
    expect(row).toMatchObject({ actorUserId: people.owner!.id, sessionKind: 'PASSWORD' });

    const failed = await t.graphql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', { i: { email: 'nobody@audit.test', password: 'not a password at all' } });
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const failure = await t.db.prisma.activity.findFirstOrThrow({ where: { type: { contains: 'sign_in' } }, orderBy: { seq: 'desc' } });
    expect(failure.sessionKind).toBeNull();
  });
});
