import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentByIdDocument } from './generated/graphql.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

let t: TestApp;
let adminToken: string;
let memberToken: string;
let outsiderToken: string;
let documentId: string;

beforeAll(async () => {
  t = await startTestApp({ countQueries: true });
  const { db } = t;
  const services = t.app.services;
  const { organization, role } = await createOrganization(db.prisma, { name: 'Peachtree Lending' });
  const other = await createOrganization(db.prisma, { name: 'Other Lender' });
  const document = await createDocument(db.prisma, { organizationId: organization.id, serialNumber: 'GAFL123A45678', ownerName: 'Dana Whitfield' });
  documentId = document.id;
  await db.prisma.loan.create({
    data: { organizationId: organization.id, documentId, loanNumber: 'L-1001', borrowerName: 'Dana Whitfield', principal: '85000.00', balance: '61234.56', status: 'BEHIND' },
  });
  const admin = await createUser(db.prisma, { roles: ['ADMIN'] });
  const member = await createUser(db.prisma, { roles: ['MANAGER'] });
  const outsider = await createUser(db.prisma, { roles: ['MANAGER'] });
  await addMember(db.prisma, { userId: member.id, organizationId: organization.id, roleId: role.id });
  await addMember(db.prisma, { userId: outsider.id, organizationId: other.organization.id, roleId: other.role.id });
  adminToken = (await signInAs(services, admin.id)).token;
  memberToken = (await signInAs(services, member.id)).token;
  outsiderToken = (await signInAs(services, outsider.id)).token;
});

afterAll(async () => {
  await t?.close();
});

describe('GraphQL over HTTP', () => {
  it('serves a document to a member of its organization, with its loan and exact decimal money', async () => {
    const { status, body } = await t.graphql(DocumentByIdDocument, { id: documentId }, { token: memberToken });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.document).toMatchObject({
      id: documentId,
      serialNumber: 'GAFL123A45678',
      organization: { name: 'Peachtree Lending' },
      loan: { loanNumber: 'L-1001', status: 'BEHIND', balance: '61234.56' },
    });
  });

  it('serves any document to an admin (global read)', async () => {
    const { body } = await t.graphql(DocumentByIdDocument, { id: documentId }, { token: adminToken });
    expect(body.data?.document?.id).toBe(documentId);
  });

  it("answers NOT_FOUND, with no data, for another organization's manager", async () => {
    const { body } = await t.graphql(DocumentByIdDocument, { id: documentId }, { token: outsiderToken });
    expect(body.data).toBeNull();
    expect(body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(JSON.stringify(body)).not.toContain('GAFL123A45678');
  });

  it('answers 401 UNAUTHENTICATED without a token', async () => {
    const { status, body, headers } = await t.graphql(DocumentByIdDocument, { id: documentId });
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer');
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('answers 401 with error="invalid_token" for a tampered token', async () => {
    const tampered = `${memberToken.slice(0, -4)}AAAA`;
    const { status, body, headers } = await t.graphql(DocumentByIdDocument, { id: documentId }, { token: tampered });
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('rejects a malformed id with BAD_USER_INPUT rather than a database error', async () => {
    const { body } = await t.graphql(DocumentByIdDocument, { id: 'not-a-uuid' }, { token: memberToken });
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
  });

  it('serves GET requests for queries, per the GraphQL-over-HTTP spec', async () => {
    const query = encodeURIComponent('query($id: ID!) { document(id: $id) { id } }');
    const variables = encodeURIComponent(JSON.stringify({ id: documentId }));
    const response = await fetch(`${t.url}/graphql?query=${query}&variables=${variables}`, {
      headers: { authorization: `Bearer ${memberToken}`, accept: 'application/graphql-response+json' },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: { document: { id: string } } }).data.document.id).toBe(documentId);
  });

  it('refuses a mutation over GET', async () => {
    const response = await fetch(`${t.url}/graphql?query=${encodeURIComponent('mutation { __typename }')}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(response.status).toBe(405);
  });

  it('answers malformed JSON with 400 and a clear message', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: '{"query": "{ __typename }",',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ message: string }> };
    expect(body.errors[0]?.message).toMatch(/invalid JSON/i);
  });

  it('answers a syntax error with 400 and where it is', async () => {
    const { status, body } = await t.graphql('{ document(id: "x") { id }');
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/Syntax Error/);
  });

  it('refuses batched requests', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(response.status).toBe(400);
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const kept = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(65) } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const response = await fetch(`${t.url}/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No such endpoint.' } });
  });

  it('publishes the public signing keys, and never a private part', async () => {
    const response = await fetch(`${t.url}/.well-known/jwks.json`);
    const jwks = (await response.json()) as { keys: Array<Record<string, string>> };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });
});

describe('CSRF prevention for cookie-carrying browser requests', () => {
  const get = (headers: Record<string, string>) =>
    fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/graphql-response+json', ...headers } });

  it('refuses a simple GET that carries a cookie but no CSRF header', async () => {
    const response = await get({ cookie: 'sc_session=abc' });
    expect(response.status).toBe(403);
    const body = (await response.json()) as { errors: Array<{ extensions: { reason: string } }> };
    expect(body.errors[0]?.extensions.reason).toBe('CSRF');
  });

  it('accepts the same GET with the x-safeclose-csrf header', async () => {
    const response = await get({ cookie: 'sc_session=abc', 'x-safeclose-csrf': '1' });
    expect(response.status).toBe(200);
  });

  it('accepts a cookie-less GET (Bearer clients are not at risk)', async () => {
    expect((await get({})).status).toBe(200);
  });
});

describe('request bodies', () => {
  it('asks for a Content-Length on chunked POSTs (411) rather than buffering an unbounded body', async () => {
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const target = new URL(t.url);
      const request = http.request({ host: target.hostname, port: target.port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      request.end(JSON.stringify({ query: '{ __typename }' }));
    });
    expect(response.status).toBe(411);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'BAD_USER_INPUT', reason: 'LENGTH_REQUIRED' } });
  });
});
