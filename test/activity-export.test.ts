import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../src/modules/activity/audit-chain.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

// GET /v1/organizations/{id}/activity/export: a time range of the audit log as CSV or NDJSON, streamed in batches.
// 100,000 rows of about 1.5 kB each (some 150 MB of output) pass through while the process's heap stays bounded.
const ROWS = 100_000;
const PAD = 1500;

let t: TestApp;
let organizationId: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Export Lending', permissions: ['orgSettings'] });
  organizationId = org.organization.id;
  const reader = await db.organizationRole.create({ data: { organizationId, name: 'Reader', permissions: [] } });
  const owner = await createUser(db);
  const member = await createUser(db);
  const outsider = await createUser(db);
  await addMember(db, { userId: owner.id, organizationId, roleId: org.role.id, isOwner: true });
  await addMember(db, { userId: member.id, organizationId, roleId: reader.id });
  tokens.owner = (await signInAs(t.app.services, owner.id)).token;
  tokens.member = (await signInAs(t.app.services, member.id)).token;
  tokens.outsider = (await signInAs(t.app.services, outsider.id)).token;
  // INSERT ... SELECT generate_series, 1,000 rows a statement: the insert trigger links every row into the
  // organization's chain as it goes (docs/operations.md: a transaction appending thousands of rows to one chain
  // gets slower with each, as every append moves the chain head).
  for (let start = 1; start <= ROWS; start += 1000) {
    await db.$executeRaw`
      INSERT INTO "Activity" ("id", "type", "occurredAt", "organizationId", "actorUserId", "ip", "data")
      SELECT gen_random_uuid(), 'test.bulk', TIMESTAMPTZ '2026-01-01T00:00:00Z' + g * INTERVAL '1 second', ${organizationId}::uuid, ${owner.id}::uuid,
        '192.0.2.1', jsonb_build_object('i', g, 'note', repeat('x', ${PAD}::int))
      FROM generate_series(${start}::int, ${start + 999}::int) AS g`;
  }
}, 600_000);
afterAll(async () => {
  await t?.close();
});

// A garbage collection on demand, so that the samples measure what is retained, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Reads the response as it arrives, counting lines and sampling this process's live heap (the server runs in it too). */
async function drain(response: Response): Promise<{ lines: number; first: string; last: string; heapGrowth: number; bytes: number }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  gc();
  const baseline = process.memoryUsage().heapUsed;
  let chunks = 0;
  let peak = baseline;
  let lines = 0;
  let bytes = 0;
  let carry = '';
  let first = '';
  let last = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    const text = carry + decoder.decode(value, { stream: true });
    const parts = text.split('\n');
    carry = parts.pop()!;
    for (const line of parts) {
      if (lines === 0) first = line;
      last = line;
      lines += 1;
    }
    if (++chunks % 100 === 0) {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
  }
  return { lines, first, last, heapGrowth: peak - baseline, bytes };
}

const exportUrl = (query: string) => `${t.url}/v1/organizations/${organizationId}/activity/export?${query}`;
const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('exporting the audit log', () => {
  it('streams 100,000 rows as NDJSON in bounded memory, oldest first', async () => {
    const response = await get(exportUrl('format=ndjson'), tokens.owner);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const result = await drain(response);
    expect(result.lines).toBe(ROWS);
    expect(result.bytes).toBeGreaterThan(ROWS * PAD);
    expect(JSON.parse(result.first)).toMatchObject({ type: 'test.bulk', chainSeq: '1', data: { i: 1 } });
    expect(JSON.parse(result.last)).toMatchObject({ chainSeq: String(ROWS), data: { i: ROWS } });
    // Holding the export would take well over the 150 MB it writes; one batch at a time takes a few MB.
    expect(result.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  }, 600_000);

  it('streams a time range as CSV with a header row', async () => {
    const response = await get(exportUrl('format=csv&from=2026-01-01T00:00:11Z&to=2026-01-01T00:00:21Z'), tokens.owner);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const body = await response.text();
    const rows = body.trimEnd().split('\r\n');
    expect(rows[0]).toBe('seq,id,occurredAt,type,actorUserId,actorName,actorEmail,subjectUserId,documentId,packageId,ip,userAgent,sessionKind,data,chainSeq,prevHash,hash');
    expect(rows).toHaveLength(11);
    expect(rows[1]).toContain('2026-01-01T00:00:11.000Z');
    expect(rows[1]).toContain('"{""i"":11,');
  }, 120_000);

  it('streams CSV of every row in bounded memory too', async () => {
    const response = await get(exportUrl('format=csv'), tokens.owner);
    const result = await drain(response);
    expect(result.lines).toBe(ROWS + 1);
    expect(result.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  }, 600_000);

  it('gives a member without orgSettings only what Query.activity gives them, and refuses others', async () => {
    const member = await get(exportUrl('format=ndjson'), tokens.member);
    expect(member.status).toBe(200);
    expect(await member.text()).toBe('');
    const outsider = await get(exportUrl('format=ndjson'), tokens.outsider);
    expect(outsider.status).toBe(404);
    expect(outsider.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await outsider.json()) as { code: string }).code).toBe('NOT_FOUND');
    expect((await get(exportUrl('format=ndjson'))).status).toBe(401);
    const bad = await get(exportUrl('format=xml'), tokens.owner);
    expect(bad.status).toBe(400);
    expect((await get(exportUrl('limit=5'), tokens.owner)).status).toBe(400);
  });

  it('leaves a valid chain of 100,000 links', async () => {
    expect(await verifyChain(t.db.prisma, organizationId)).toEqual({ chain: organizationId, checked: ROWS, ok: true });
  }, 600_000);
});
