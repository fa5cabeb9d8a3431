import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

// Tight limits so small queries cross them; the token is valid, so any database work would show in `queries`.
let t: TestApp;
let token: string;
let documentId: string;

beforeAll(async () => {
  t = await startTestApp({
    countQueries: true,
    env: { GRAPHQL_MAX_DEPTH: '2', GRAPHQL_MAX_ALIASES: '2', GRAPHQL_MAX_TOKENS: '60', GRAPHQL_MAX_COST: '10', BODY_LIMIT_BYTES: '2048' },
  });
  const { organization } = await createOrganization(t.db.prisma);
  documentId = (await createDocument(t.db.prisma, { organizationId: organization.id })).id;
  const admin = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  token = (await signInAs(t.app.services, admin.id)).token;
});

afterAll(async () => {
  await t?.close();
});

async function rejectedBeforeDatabase(query: string) {
  t.queries.length = 0;
  const { status, body } = await t.graphql(query, {}, { token });
  expect(t.queries).toEqual([]);
  return { status, message: body.errors?.[0]?.message ?? '', data: body.data };
}

describe('abuse limits', () => {
  it('accepts a query inside every limit (and it does reach the database)', async () => {
    t.queries.length = 0;
    const { body } = await t.graphql(`{ document(id: "${documentId}") { id } }`, {}, { token });
    expect(body.data).toEqual({ document: { id: documentId } });
    expect(t.queries.length).toBeGreaterThan(0);
  });

  it('rejects a query deeper than GRAPHQL_MAX_DEPTH', async () => {
    const { status, message } = await rejectedBeforeDatabase(`{ document(id: "${documentId}") { organization { name } } }`);
    expect(status).toBe(400);
    expect(message).toMatch(/depth/i);
  });

  it('rejects more aliases than GRAPHQL_MAX_ALIASES', async () => {
    const { status, message } = await rejectedBeforeDatabase(
      `{ a: document(id: "${documentId}") { id } b: document(id: "${documentId}") { id } c: document(id: "${documentId}") { id } }`,
    );
    expect(status).toBe(400);
    expect(message).toMatch(/alias/i);
  });

  it('rejects a query longer than GRAPHQL_MAX_TOKENS', async () => {
    const fields = Array.from({ length: 80 }, () => 'id').join(' ');
    const { status, message } = await rejectedBeforeDatabase(`{ document(id: "${documentId}") { ${fields} } }`);
    expect(status).toBe(400);
    expect(message).toMatch(/token/i);
  });

  it('rejects a query costlier than GRAPHQL_MAX_COST', async () => {
    const fields = 'id serialNumber ownerName manufacturer model year city state postalCode status version';
    const { status, message } = await rejectedBeforeDatabase(`{ document(id: "${documentId}") { ${fields} } }`);
    expect(status).toBe(400);
    expect(message).toMatch(/cost/i);
  });

  it('rejects a body larger than BODY_LIMIT_BYTES with 413 without reading it', async () => {
    t.queries.length = 0;
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(4096) } }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { reason: string } }).error.reason).toBe('PAYLOAD_TOO_LARGE');
    expect(t.queries).toEqual([]);
  });

  it('offers field suggestions outside production', async () => {
    const { body } = await t.graphql('{ documen(id: "x") { id } }', {}, { token });
    expect(body.errors?.[0]?.message).toMatch(/Did you mean "document"/);
  });
});

describe('production hardening', () => {
  let prod: TestApp;
  beforeAll(async () => {
    prod = await startTestApp({ env: { NODE_ENV: 'production' } });
  });
  afterAll(async () => {
    await prod?.close();
  });

  it('refuses introspection in production', async () => {
    const { body } = await prod.graphql('{ __schema { types { name } } }');
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('gives no field suggestions in production', async () => {
    const { body } = await prod.graphql('{ documen(id: "x") { id } }');
    expect(body.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('serves no GraphiQL page in production', async () => {
    const response = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type') ?? '').not.toContain('text/html');
  });
});
