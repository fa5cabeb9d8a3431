import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_COLUMNS } from '../src/modules/documents/documents.import.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

// CSV import of chattel records with their loans (GraphQL upload and REST multipart), its report, and the export.
let t: TestApp;
let organizationId: string;
let locationId: string;
let maconId: string;
let secondOrganizationId: string;
let otherOrganizationId: string;
let managerId: string;
const tokens: Record<string, string> = {};

const HEADER = 'locationId,manufacturer,model,year,serialNumber,ownerName,ownerEmail,addressLine1,city,state,postalCode,loanNumber,borrowerName,loanStatus,principal,balance,originatedOn';
let run = 0;

/** A CSV of the given rows (cells in HEADER's order); each call's serial and loan numbers are its own. */
function csv(rows: string[][], header = HEADER): string {
  return `${header}\r\n${rows.map((cells) => cells.join(',')).join('\r\n')}\r\n`;
}
const validRow = (n: number, loan = true) => [
  locationId, 'Clayton', 'Tempo', '2019', `IMP-${run}-${n}`, `"Owner ${n}, Jr."`, `owner${n}@example.test`, '12 Pine Lane', 'Athens', 'GA', '30601',
  ...(loan ? [`L-${run}-${n}`, `Borrower ${n}`, 'CURRENT', '85000.00', '61000.50', '2020-05-01'] : ['', '', '', '', '', '']),
];

/** Valid rows 2 and 3, then row 4 with two bad cells, row 5 without an owner, row 6 reusing row 2's loan number, row 7 in another organization's location. */
function mixedFile(): string {
  run++;
  const badCells = validRow(3);
  badCells[3] = '1800';
  badCells[10] = '3060';
  badCells[11] = `L-${run}-bad`;
  const noOwner = validRow(4);
  noOwner[5] = '';
  noOwner[11] = `L-${run}-noowner`;
  const duplicateLoan = validRow(5);
  duplicateLoan[11] = `L-${run}-1`;
  const foreignLocation = validRow(6);
  foreignLocation[0] = '01890000-0000-7000-8000-000000000000';
  return csv([validRow(1), validRow(2, false), badCells, noOwner, duplicateLoan, foreignLocation]);
}

async function restImport(token: string | undefined, body: { organizationId?: string; mode?: string; file?: string; fileType?: string }) {
  const form = new FormData();
  if (body.organizationId) form.set('organizationId', body.organizationId);
  if (body.mode) form.set('mode', body.mode);
  if (body.file !== undefined) form.set('file', new Blob([body.file], { type: body.fileType ?? 'text/csv' }), 'portfolio.csv');
  const response = await fetch(`${t.url}/v1/document-imports`, { method: 'POST', body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { response, body: (await response.json()) as Record<string, unknown> };
}

const IMPORT_MUTATION = /* GraphQL */ `
  mutation Import($input: ImportDocumentsInput!) {
    importDocuments(input: $input) { id mode status rows imported failed replayed reportPath sha256 }
  }
`;

/** The GraphQL multipart request spec: the operation, the map from file part to variable, then the file. */
async function graphqlImport(token: string, input: { organizationId: string; mode: string }, file: string, fileType = 'text/csv') {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: IMPORT_MUTATION, variables: { input: { ...input, file: null } } }));
  form.set('map', JSON.stringify({ 0: ['variables.input.file'] }));
  form.set('0', new Blob([file], { type: fileType }), 'portfolio.csv');
  const response = await fetch(`${t.url}/graphql`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}`, accept: 'application/graphql-response+json' } });
  return { status: response.status, body: (await response.json()) as { data?: { importDocuments: Record<string, unknown> } | null; errors?: Array<{ extensions?: Record<string, unknown> }> } };
}

async function getCsv(path: string, token?: string) {
  const response = await fetch(`${t.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { response, text: await response.text() };
}

const reportRows = (text: string) => text.trim().split('\r\n').slice(1).map((line) => line.split(',').slice(0, 3).join(' '));

beforeAll(async () => {
  t = await startTestApp({ env: { IMPORT_MAX_BYTES: '200000' } });
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Import Lending', permissions: ['documents', 'loans'] });
  organizationId = org.organization.id;
  locationId = org.location.id;
  maconId = (await db.location.create({ data: { organizationId, name: 'Macon' } })).id;
  const documentsOnly = await db.organizationRole.create({ data: { organizationId, name: 'Clerk', permissions: ['documents'] } });
  const readOnly = await db.organizationRole.create({ data: { organizationId, name: 'Viewer', permissions: [] } });
  const second = await createOrganization(db, { name: 'Import Lending Two', permissions: ['documents', 'loans'] });
  secondOrganizationId = second.organization.id;
  const other = await createOrganization(db, { name: 'Other Lending', permissions: ['documents', 'loans'] });
  otherOrganizationId = other.organization.id;
  const people = {
    manager: await createUser(db),
    clerk: await createUser(db),
    maconOnly: await createUser(db),
    viewer: await createUser(db),
    outsider: await createUser(db),
  };
  await addMember(db, { userId: people.manager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: people.manager.id, organizationId: secondOrganizationId, roleId: second.role.id });
  await addMember(db, { userId: people.clerk.id, organizationId, roleId: documentsOnly.id });
  await addMember(db, { userId: people.maconOnly.id, organizationId, roleId: org.role.id, locationIds: [maconId] });
  await addMember(db, { userId: people.viewer.id, organizationId, roleId: readOnly.id });
  await addMember(db, { userId: people.outsider.id, organizationId: otherOrganizationId, roleId: other.role.id });
  managerId = people.manager.id;
  for (const [name, user] of Object.entries(people)) tokens[name] = (await signInAs(t.app.services, user.id)).token;
});
afterAll(async () => {
  await t?.close();
});

describe('importing chattel records from CSV', () => {
  it('VALID_ROWS over a GraphQL upload writes the valid rows, reports the others cell by cell, and records one activity row', async () => {
    const file = mixedFile();
    const before = await t.db.prisma.document.count({ where: { organizationId } });
    const { status, body } = await graphqlImport(tokens.manager!, { organizationId, mode: 'VALID_ROWS' }, file);
    expect(status).toBe(200);
    const result = body.data!.importDocuments;
    expect(result).toMatchObject({ mode: 'VALID_ROWS', status: 'COMPLETED', rows: 6, imported: 2, failed: 4, replayed: false });
    expect(await t.db.prisma.document.count({ where: { organizationId } })).toBe(before + 2);
    const withLoan = await t.db.prisma.document.findFirstOrThrow({ where: { organizationId, serialNumber: `IMP-${run}-1` }, include: { loan: true } });
    expect(withLoan).toMatchObject({ ownerName: 'Owner 1, Jr.', year: 2019, locationId, status: 'ACTIVE', loan: { loanNumber: `L-${run}-1`, status: 'CURRENT' } });
    expect(withLoan.loan!.balance.toString()).toBe('61000.5');
    expect((await t.db.prisma.document.findFirstOrThrow({ where: { organizationId, serialNumber: `IMP-${run}-2` }, include: { loan: true } })).loan).toBeNull();

    const report = await getCsv(String(result.reportPath), tokens.manager);
    expect(report.response.status).toBe(200);
    expect(report.response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(report.text.split('\r\n')[0]).toBe('rowNumber,column,reason,message');
    expect(reportRows(report.text)).toEqual([
      '4 postalCode INVALID_FORMAT',
      '4 year INVALID_VALUE',
      '5 ownerName REQUIRED',
      '6 loanNumber DUPLICATE_LOAN_NUMBER',
      '7 locationId UNKNOWN_LOCATION',
    ]);
    expect(report.text).not.toContain('3060,');

    const activity = await t.db.prisma.activity.findMany({ where: { organizationId, type: 'documents.imported' } });
    expect(activity).toHaveLength(1);
    expect(activity[0]!.data).toEqual({ importId: result.id, mode: 'VALID_ROWS', status: 'COMPLETED', rows: 6, imported: 2, failed: 4 });
  });

  it('answers a re-run of the same file with the first import, writing nothing (REST multipart, 200 and replayed)', async () => {
    const file = mixedFile();
    const first = await restImport(tokens.manager, { organizationId, mode: 'VALID_ROWS', file });
    expect(first.response.status).toBe(201);
    expect(first.response.headers.get('location')).toBe(`/v1/document-imports/${first.body.id}`);
    const documents = await t.db.prisma.document.count();
    const activities = await t.db.prisma.activity.count();
    const again = await restImport(tokens.manager, { organizationId, mode: 'VALID_ROWS', file });
    expect(again.response.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, replayed: true, imported: 2, failed: 4 });
    // After rows were written, another mode answers that import as well.
    const otherMode = await restImport(tokens.manager, { organizationId, mode: 'ALL_OR_NOTHING', file });
    expect(otherMode.body).toMatchObject({ id: first.body.id, replayed: true });
    expect(await t.db.prisma.document.count()).toBe(documents);
    expect(await t.db.prisma.activity.count()).toBe(activities);
    // Another organization's copy of the same file is its own import.
    const elsewhere = await restImport(tokens.manager, { organizationId: secondOrganizationId, mode: 'VALID_ROWS', file: file.replaceAll(locationId, '') });
    expect(elsewhere.response.status).toBe(201);
    expect(elsewhere.body.id).not.toBe(first.body.id);
  });

  it('ALL_OR_NOTHING writes nothing when a row fails and reports every failure; the same file can then be imported VALID_ROWS', async () => {
    const file = mixedFile();
    const documents = await t.db.prisma.document.count();
    const loans = await t.db.prisma.loan.count();
    const rejected = await restImport(tokens.manager, { organizationId, mode: 'ALL_OR_NOTHING', file });
    expect(rejected.response.status).toBe(201);
    expect(rejected.body).toMatchObject({ status: 'REJECTED', rows: 6, imported: 0, failed: 4, replayed: false });
    expect(await t.db.prisma.document.count()).toBe(documents);
    expect(await t.db.prisma.loan.count()).toBe(loans);
    expect(reportRows((await getCsv(String(rejected.body.reportPath), tokens.manager)).text)).toEqual([
      '4 postalCode INVALID_FORMAT',
      '4 year INVALID_VALUE',
      '5 ownerName REQUIRED',
      '6 loanNumber DUPLICATE_LOAN_NUMBER',
      '7 locationId UNKNOWN_LOCATION',
    ]);
    const again = await restImport(tokens.manager, { organizationId, mode: 'ALL_OR_NOTHING', file });
    expect(again.body).toMatchObject({ id: rejected.body.id, replayed: true, status: 'REJECTED' });
    const validRows = await restImport(tokens.manager, { organizationId, mode: 'VALID_ROWS', file });
    expect(validRows.body).toMatchObject({ status: 'COMPLETED', imported: 2, failed: 4, replayed: false });
    expect(await t.db.prisma.document.count()).toBe(documents + 2);
  });

  it('ALL_OR_NOTHING writes every row of a valid file, and rolls all back when a loan number clashes across batches', async () => {
    run++;
    const rows = Array.from({ length: 3 }, (_, i) => validRow(i));
    const done = await restImport(tokens.manager, { organizationId, mode: 'ALL_OR_NOTHING', file: csv(rows) });
    expect(done.body).toMatchObject({ status: 'COMPLETED', rows: 3, imported: 3, failed: 0 });
    expect(await t.db.prisma.loan.count({ where: { organizationId, loanNumber: { startsWith: `L-${run}-` } } })).toBe(3);

    run++;
    const many = Array.from({ length: 600 }, (_, i) => validRow(i));
    many[550]![11] = `L-${run}-3`;
    const documents = await t.db.prisma.document.count();
    const clash = await restImport(tokens.manager, { organizationId, mode: 'ALL_OR_NOTHING', file: csv(many) });
    expect(clash.body).toMatchObject({ status: 'REJECTED', rows: 600, imported: 0, failed: 1 });
    expect(await t.db.prisma.document.count()).toBe(documents);
    expect(reportRows((await getCsv(String(clash.body.reportPath), tokens.manager)).text)).toEqual(['552 loanNumber LOAN_NUMBER_TAKEN']);
  }, 60_000);

  it('holds a location-scoped member to their locations, row by row', async () => {
    run++;
    const inMacon = validRow(1);
    inMacon[0] = maconId;
    const { body } = await restImport(tokens.maconOnly, { organizationId, mode: 'VALID_ROWS', file: csv([inMacon, validRow(2)]) });
    expect(body).toMatchObject({ imported: 1, failed: 1 });
    expect(reportRows((await getCsv(String(body.reportPath), tokens.maconOnly)).text)).toEqual(['3 locationId LOCATION_NOT_ALLOWED']);
  });

  it('refuses callers without the permission, outside the organization or signed out, writing nothing', async () => {
    run++;
    const withLoans = csv([validRow(1)]);
    const withoutLoans = csv([validRow(2, false)]);
    const imports = await t.db.prisma.documentImport.count();

    const viewer = await restImport(tokens.viewer, { organizationId, mode: 'VALID_ROWS', file: withoutLoans });
    expect(viewer.response.status).toBe(403);
    expect(viewer.response.headers.get('content-type')).toBe('application/problem+json');
    expect(viewer.body.code).toBe('FORBIDDEN');
    const clerkLoans = await restImport(tokens.clerk, { organizationId, mode: 'VALID_ROWS', file: withLoans });
    expect(clerkLoans.response.status).toBe(403);
    const outsider = await restImport(tokens.outsider, { organizationId, mode: 'VALID_ROWS', file: withoutLoans });
    expect(outsider.response.status).toBe(404);
    expect(outsider.body.code).toBe('NOT_FOUND');
    const anonymous = await restImport(undefined, { organizationId, mode: 'VALID_ROWS', file: withoutLoans });
    expect(anonymous.response.status).toBe(401);
    const graphqlViewer = await graphqlImport(tokens.viewer!, { organizationId, mode: 'VALID_ROWS' }, withoutLoans);
    expect(graphqlViewer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await t.db.prisma.documentImport.count()).toBe(imports);

    // A clerk (documents, no loans) may import a file without loan columns.
    const clerk = await restImport(tokens.clerk, { organizationId, mode: 'VALID_ROWS', file: csv([validRow(3, false).slice(0, 11)], HEADER.split(',').slice(0, 11).join(',')) });
    expect(clerk.response.status).toBe(201);
    expect(clerk.body).toMatchObject({ imported: 1, failed: 0 });
  });

  it('lets only those who may import read an import and its report', async () => {
    run++;
    const { body } = await restImport(tokens.manager, { organizationId, mode: 'VALID_ROWS', file: csv([validRow(1)]) });
    const read = await fetch(`${t.url}/v1/document-imports/${body.id}`, { headers: { authorization: `Bearer ${tokens.manager}` } });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: body.id, imported: 1, replayed: false });
    for (const token of [tokens.outsider, tokens.viewer]) {
      const denied = await getCsv(String(body.reportPath), token);
      expect(denied.response.status).toBe(404);
      expect(denied.response.headers.get('content-type')).toBe('application/problem+json');
    }
    expect((await getCsv(String(body.reportPath))).response.status).toBe(401);
    const gql = await t.graphql(`query($id: ID!) { documentImport(id: $id) { id imported } }`, { id: body.id }, { token: tokens.outsider });
    expect(gql.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const own = await t.graphql(`query($id: ID!) { documentImport(id: $id) { id imported } }`, { id: body.id }, { token: tokens.manager });
    expect(own.body.data).toEqual({ documentImport: { id: body.id, imported: 1 } });
  });

  it('refuses files that are not CSV with known columns, and uploads over IMPORT_MAX_BYTES, leaving no import behind', async () => {
    const imports = await t.db.prisma.documentImport.count();
    const cases: Array<[Parameters<typeof restImport>[1], number, string]> = [
      [{ organizationId, mode: 'VALID_ROWS', file: 'serialNumber,colour\r\nX1,red\r\n' }, 400, 'UNKNOWN_COLUMN'],
      [{ organizationId, mode: 'VALID_ROWS', file: 'serialNumber,ownerName\r\nX1,A\r\n' }, 400, 'MISSING_COLUMN'],
      [{ organizationId, mode: 'VALID_ROWS', file: '' }, 400, 'EMPTY_FILE'],
      [{ organizationId, mode: 'VALID_ROWS', file: csv([validRow(1)]), fileType: 'image/png' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [{ organizationId, mode: 'VALID_ROWS', file: `${HEADER}\r\n${'x'.repeat(210_000)}\r\n` }, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [body, status, reason] of cases) {
      const { response, body: problem } = await restImport(tokens.manager, body);
      expect([response.status, problem.reason]).toEqual([status, reason]);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
    const json = await fetch(`${t.url}/v1/document-imports`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${tokens.manager}`, 'content-type': 'application/json' } });
    expect(json.status).toBe(415);
    const missingMode = await restImport(tokens.manager, { organizationId, file: csv([validRow(1)]) });
    expect([missingMode.response.status, missingMode.body.field]).toEqual([400, 'mode']);
    const graphqlPng = await graphqlImport(tokens.manager!, { organizationId, mode: 'VALID_ROWS' }, csv([validRow(1)]), 'image/png');
    expect(graphqlPng.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(await t.db.prisma.documentImport.count()).toBe(imports);
  });
});

describe('exporting chattel records as CSV', () => {
  it("exports the import's columns, and the export imports again into another organization as the same records", async () => {
    const exported = await getCsv(`/v1/documents/export?organizationId=${organizationId}`, tokens.manager);
    expect(exported.response.status).toBe(200);
    expect(exported.response.headers.get('content-disposition')).toBe('attachment; filename="documents.csv"');
    const lines = exported.text.trim().split('\r\n');
    expect(lines[0]).toBe(IMPORT_COLUMNS.join(','));
    expect(lines.length - 1).toBe(await t.db.prisma.document.count({ where: { organizationId, status: { not: 'ARCHIVED' } } }));

    const target = await createOrganization(t.db.prisma, { name: 'Round Trip Lending', permissions: ['documents', 'loans'] });
    await addMember(t.db.prisma, { userId: managerId, organizationId: target.organization.id, roleId: target.role.id });
    const token = (await signInAs(t.app.services, managerId)).token;
    const withoutLocations = lines.map((line, i) => (i === 0 ? line : line.replace(/^[^,]*/, ''))).join('\r\n');
    const imported = await restImport(token, { organizationId: target.organization.id, mode: 'ALL_OR_NOTHING', file: withoutLocations });
    expect(imported.body).toMatchObject({ status: 'COMPLETED', failed: 0, imported: lines.length - 1 });
    const again = await getCsv(`/v1/documents/export?organizationId=${target.organization.id}`, token);
    const sortedRows = (text: string) => text.trim().split('\r\n').slice(1).map((line) => line.replace(/^[^,]*/, '')).sort();
    expect(sortedRows(again.text)).toEqual(sortedRows(exported.text));
  });

  it('narrows by the list filters, and refuses outsiders, signed-out callers and unknown parameters', async () => {
    const behind = await getCsv(`/v1/documents/export?organizationId=${organizationId}&loanStatus=BEHIND`, tokens.manager);
    expect(behind.text.trim().split('\r\n')).toHaveLength(1);
    const outsider = await getCsv(`/v1/documents/export?organizationId=${organizationId}`, tokens.outsider);
    expect(outsider.response.status).toBe(404);
    expect(outsider.response.headers.get('content-type')).toBe('application/problem+json');
    expect((await getCsv(`/v1/documents/export?organizationId=${organizationId}`)).response.status).toBe(401);
    const unknown = await getCsv(`/v1/documents/export?organizationId=${organizationId}&colour=red`, tokens.manager);
    expect(unknown.response.status).toBe(400);
    const badStatus = await getCsv(`/v1/documents/export?organizationId=${organizationId}&status=GONE`, tokens.manager);
    expect([badStatus.response.status, JSON.parse(badStatus.text).field]).toEqual([400, 'status']);
  });
});

describe('bounded memory', () => {
  const ROWS = 100_000;

  it(`imports and exports ${ROWS} rows with the heap staying flat`, async () => {
    const big = await startTestApp({ database: t.db, env: { IMPORT_MAX_BYTES: String(64 * 1024 * 1024) } });
    try {
      const target = await createOrganization(t.db.prisma, { name: 'Big Portfolio', permissions: ['documents', 'loans'] });
      const user = await createUser(t.db.prisma);
      await addMember(t.db.prisma, { userId: user.id, organizationId: target.organization.id, roleId: target.role.id });
      const token = (await signInAs(big.app.services, user.id)).token;
      run++;
      const parts: string[] = [HEADER.replace('locationId,', '')];
      for (let i = 0; i < ROWS; i++) parts.push(validRow(i).slice(1).join(','));
      const file = new Blob([parts.join('\r\n')], { type: 'text/csv' });
      parts.length = 0;

      // The live heap, after a full collection: garbage waiting for the collector is not memory the import holds.
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const liveHeap = () => {
        gc();
        return process.memoryUsage().heapUsed;
      };
      const measure = async <T>(work: () => Promise<T>) => {
        const baseline = liveHeap();
        let peak = baseline;
        const sampler = setInterval(() => (peak = Math.max(peak, liveHeap())), 2000);
        const started = Date.now();
        try {
          return { result: await work(), growth: peak - baseline, seconds: (Date.now() - started) / 1000 };
        } finally {
          clearInterval(sampler);
        }
      };

      const form = new FormData();
      form.set('organizationId', target.organization.id);
      form.set('mode', 'VALID_ROWS');
      form.set('file', file, 'big.csv');
      // Over node:http rather than fetch, whose client gives up waiting for the answer's headers after 300 s.
      const encoded = new Response(form);
      const body = Buffer.from(await encoded.arrayBuffer());
      const imported = await measure(
        () =>
          new Promise<Record<string, unknown>>((resolve, reject) => {
            const request = http.request(`${big.url}/v1/document-imports`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': encoded.headers.get('content-type')!, 'content-length': body.length },
            });
            request.on('error', reject).on('response', (response) => {
              const chunks: Buffer[] = [];
              response.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>));
            });
            request.end(body);
          }),
      );
      expect(imported.result, big.logs.lines.filter((l) => l.includes('"err"')).slice(0, 2).join('\n')).toMatchObject({ status: 'COMPLETED', rows: ROWS, imported: ROWS, failed: 0 });
      // Every row held at once would take several hundred MB (a row's cells, its records and their Prisma inputs).
      expect(imported.growth, `live heap growth over ${imported.seconds} s`).toBeLessThan(64 * 1024 * 1024);

      const exported = await measure(async () => {
        const response = await fetch(`${big.url}/v1/documents/export?organizationId=${target.organization.id}`, { headers: { authorization: `Bearer ${token}` } });
        let lines = 0;
        const decoder = new TextDecoder();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) lines += decoder.decode(chunk, { stream: true }).split('\n').length - 1;
        return lines;
      });
      expect(exported.result).toBe(ROWS + 1);
      expect(exported.growth, `live heap growth over ${exported.seconds} s`).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await big.close();
    }
  }, 600_000);
});
