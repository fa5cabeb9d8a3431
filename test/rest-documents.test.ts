import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

// The documents and loans resources under /v1, through a client generated from the served OpenAPI document.
let t: TestApp;
let organizationId: string;
let athensId: string;
let maconId: string;
let otherOrganizationId: string;
const tokens: Record<string, string> = {};

const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });

let serial = 0;
const chattel = (overrides: Record<string, unknown> = {}) => ({
  organizationId,
  locationId: athensId,
  manufacturer: 'Clayton',
  serialNumber: `REST-${++serial}-${Date.now()}`,
  ownerName: 'Dana Whitfield',
  addressLine1: '12 Pine Lane',
  city: 'Athens',
  state: 'GA',
  postalCode: '30601',
  ...overrides,
});

async function register(token = tokens.manager, overrides: Record<string, unknown> = {}) {
  const { data, response } = await api(token).POST('/v1/documents', { body: chattel(overrides) as never });
  expect(response.status).toBe(201);
  return data!;
}

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Rest Lending', permissions: ['documents', 'loans'] });
  organizationId = org.organization.id;
  athensId = org.location.id;
  maconId = (await db.location.create({ data: { organizationId, name: 'Macon' } })).id;
  const readOnly = await db.organizationRole.create({ data: { organizationId, name: 'Viewer', permissions: [] } });
  const other = await createOrganization(db, { name: 'Other Rest Lending', permissions: ['documents', 'loans'] });
  otherOrganizationId = other.organization.id;
  const people = {
    manager: await createUser(db, { roles: ['MANAGER'] }),
    maconOnly: await createUser(db, { roles: ['MANAGER'] }),
    viewer: await createUser(db),
    outsider: await createUser(db, { roles: ['MANAGER'] }),
  };
  await addMember(db, { userId: people.manager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: people.maconOnly.id, organizationId, roleId: org.role.id, locationIds: [maconId] });
  await addMember(db, { userId: people.viewer.id, organizationId, roleId: readOnly.id });
  await addMember(db, { userId: people.outsider.id, organizationId: other.organization.id, roleId: other.role.id });
  for (const [name, user] of Object.entries(people)) tokens[name] = (await signInAs(t.app.services, user.id)).token;
});
afterAll(async () => {
  await t?.close();
});

describe('documents under /v1', () => {
  it('registers a chattel record: 201 with Location and ETag, and the record reads back at Location', async () => {
    const { data, response } = await api(tokens.manager).POST('/v1/documents', { body: chattel({ serialNumber: 'rest-lower-1' }) as never });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ serialNumber: 'REST-LOWER-1', status: 'ACTIVE', version: 1, organization: { id: organizationId }, loan: null });
    expect(response.headers.get('location')).toBe(`http://safeclose.test/v1/documents/${data!.id}`);
    expect(response.headers.get('etag')).toBe('"1"');
    const read = await api(tokens.manager).GET('/v1/documents/{id}', { params: { path: { id: data!.id } } });
    expect(read.response.status).toBe(200);
    expect(read.data).toEqual(data);
    expect(read.response.headers.get('cache-control')).toBe('private, no-cache');
  });

  it('refuses a member without the documents permission (403) and an anonymous caller (401), creating nothing', async () => {
    const before = await t.db.prisma.document.count();
    const denied = await api(tokens.viewer).POST('/v1/documents', { body: chattel() as never });
    expect(denied.response.status).toBe(403);
    expect(denied.response.headers.get('content-type')).toBe('application/problem+json');
    expect(denied.error).toMatchObject({ type: 'about:blank', title: 'Forbidden', status: 403, code: 'FORBIDDEN', requestId: expect.any(String) });
    const anonymous = await api().POST('/v1/documents', { body: chattel() as never });
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.response.headers.get('www-authenticate')).toBe('Bearer');
    expect(anonymous.error).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await t.db.prisma.document.count()).toBe(before);
  });

  it('names the body field at fault, in REST terms, and refuses fields that come from the path or If-Match', async () => {
    const bad = await api(tokens.manager).POST('/v1/documents', { body: chattel({ year: 'last year' }) as never });
    expect(bad.response.status).toBe(400);
    expect(bad.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'year' });
    expect(bad.error!.detail).not.toContain('$input');
    const document = await register();
    const smuggled = await api(tokens.manager).PATCH('/v1/documents/{id}', {
      params: { path: { id: document.id }, header: { 'If-Match': '"1"' } },
      body: { version: 7, ownerName: 'Someone' } as never,
    });
    expect(smuggled.response.status).toBe(400);
    expect(smuggled.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'version' });
  });

  it('reads another organization’s record or a missing one as 404, and a location-scoped member’s other location as 404', async () => {
    const document = await register();
    for (const token of [tokens.outsider, tokens.maconOnly]) {
      const { response, error } = await api(token).GET('/v1/documents/{id}', { params: { path: { id: document.id } } });
      expect(response.status).toBe(404);
      expect(error).toMatchObject({ code: 'NOT_FOUND' });
    }
    const missing = await api(tokens.manager).GET('/v1/documents/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } });
    expect(missing.response.status).toBe(404);
  });

  it('answers 304 to If-None-Match with the current ETag, and the record once it changed', async () => {
    const document = await register();
    const fresh = await fetch(`${t.url}/v1/documents/${document.id}`, { headers: { authorization: `Bearer ${tokens.manager}`, 'if-none-match': '"1"' } });
    expect(fresh.status).toBe(304);
    expect(fresh.headers.get('etag')).toBe('"1"');
    await api(tokens.manager).PATCH('/v1/documents/{id}', { params: { path: { id: document.id }, header: { 'If-Match': '"1"' } }, body: { ownerName: 'Changed' } });
    const stale = await fetch(`${t.url}/v1/documents/${document.id}`, { headers: { authorization: `Bearer ${tokens.manager}`, 'if-none-match': '"1"' } });
    expect(stale.status).toBe(200);
    expect(stale.headers.get('etag')).toBe('"2"');
  });

  it('updates with If-Match: 200 with the new ETag; a stale ETag is 412 and changes nothing; none is 428', async () => {
    const document = await register();
    const updated = await api(tokens.manager).PATCH('/v1/documents/{id}', { params: { path: { id: document.id }, header: { 'If-Match': '"1"' } }, body: { ownerName: 'New Owner' } });
    expect(updated.response.status).toBe(200);
    expect(updated.data).toMatchObject({ ownerName: 'New Owner', version: 2 });
    expect(updated.response.headers.get('etag')).toBe('"2"');

    const stale = await api(tokens.manager).PATCH('/v1/documents/{id}', { params: { path: { id: document.id }, header: { 'If-Match': '"1"' } }, body: { ownerName: 'Lost Update' } });
    expect(stale.response.status).toBe(412);
    expect(stale.error).toMatchObject({ code: 'CONFLICT', reason: 'STALE_VERSION' });

    const unconditional = await fetch(`${t.url}/v1/documents/${document.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${tokens.manager}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ownerName: 'Blind Write' }),
    });
    expect(unconditional.status).toBe(428);
    expect(await unconditional.json()).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PRECONDITION_REQUIRED', field: 'If-Match' });

    const weak = await api(tokens.manager).PATCH('/v1/documents/{id}', { params: { path: { id: document.id }, header: { 'If-Match': 'W/"2"' } }, body: { ownerName: 'Weak' } });
    expect(weak.response.status).toBe(400);
    expect(weak.error).toMatchObject({ reason: 'INVALID_PRECONDITION' });
    expect((await t.db.prisma.document.findUniqueOrThrow({ where: { id: document.id } })).ownerName).toBe('New Owner');
  });

  it('archives with If-Match; the archived record leaves the default list', async () => {
    const document = await register();
    const archived = await api(tokens.manager).POST('/v1/documents/{id}/archive', { params: { path: { id: document.id }, header: { 'If-Match': '"1"' } } });
    expect(archived.response.status).toBe(200);
    expect(archived.data).toMatchObject({ status: 'ARCHIVED', version: 2 });
    const denied = await api(tokens.viewer).POST('/v1/documents/{id}/archive', { params: { path: { id: (await register()).id }, header: { 'If-Match': '"1"' } } });
    expect(denied.response.status).toBe(403);
  });

  it('lists in pages with next and an RFC 8288 Link, filters and searches, and refuses what it does not know', async () => {
    const marker = `Pager${Date.now()}`;
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await register(tokens.manager, { ownerName: `${marker} ${i}` }));
    const first = await api(tokens.manager).GET('/v1/documents', { params: { query: { search: marker, first: 2 } } });
    expect(first.response.status).toBe(200);
    expect(first.data!.items).toHaveLength(2);
    expect(first.data!.next).toEqual(expect.any(String));
    const link = first.response.headers.get('link')!;
    expect(link).toMatch(/^<http:\/\/safeclose\.test\/v1\/documents\?.*after=.*>; rel="next"$/);
    const nextUrl = new URL(link.slice(1, link.indexOf('>')));
    expect(nextUrl.searchParams.get('search')).toBe(marker);
    expect(nextUrl.searchParams.get('first')).toBe('2');
    const second = await api(tokens.manager).GET('/v1/documents', { params: { query: { search: marker, first: 2, after: first.data!.next! } } });
    expect(second.data!.items).toHaveLength(1);
    expect(second.data!.next).toBeNull();
    expect(second.response.headers.get('link')).toBeNull();
    expect([...first.data!.items, ...second.data!.items].map((d) => d.id).sort()).toEqual(made.map((d) => d.id).sort());

    // What the caller may not read is not listed: another organization's manager sees none of them.
    const outsider = await api(tokens.outsider).GET('/v1/documents', { params: { query: { search: marker } } });
    expect(outsider.data!.items).toEqual([]);

    for (const [query, field] of [
      [{ first: 'two' }, 'first'],
      [{ status: 'LOST' }, 'status'],
      [{ sort: 'name' }, 'sort'],
      [{ first: '101' }, 'first'],
    ] as const) {
      const response = await fetch(`${t.url}/v1/documents?${new URLSearchParams(query as Record<string, string>)}`, { headers: { authorization: `Bearer ${tokens.manager}` } });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(await response.json()).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });

  it('answers 405 with Allow, as problem details, for a method the resource does not have', async () => {
    const document = await register();
    const response = await fetch(`${t.url}/v1/documents/${document.id}`, { method: 'PUT', headers: { authorization: `Bearer ${tokens.manager}` } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, PATCH');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 405, reason: 'METHOD_NOT_ALLOWED' });
  });

  it('answers an invalid token with 401 invalid_token, never 500', async () => {
    const response = await fetch(`${t.url}/v1/documents`, { headers: { authorization: 'Bearer not.a.token' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await response.json()).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' });
  });
});

describe('loans under /v1', () => {
  it('attaches (201, Location at the document’s loan), reads, updates with If-Match and detaches (204)', async () => {
    const document = await register();
    const none = await api(tokens.manager).GET('/v1/documents/{id}/loan', { params: { path: { id: document.id } } });
    expect(none.response.status).toBe(404);
    expect(none.error).toMatchObject({ code: 'NOT_FOUND', reason: 'NO_LOAN_ATTACHED' });

    const attached = await api(tokens.manager).POST('/v1/documents/{id}/loan', {
      params: { path: { id: document.id } },
      body: { loanNumber: 'LN-REST-1', borrowerName: 'Dana Whitfield', principal: '85000.00', balance: '61234.50' },
    });
    expect(attached.response.status).toBe(201);
    expect(attached.response.headers.get('location')).toBe(`http://safeclose.test/v1/documents/${document.id}/loan`);
    expect(attached.data).toMatchObject({ loanNumber: 'LN-REST-1', balance: '61234.5', principal: '85000', version: 1 });

    const read = await api(tokens.manager).GET('/v1/documents/{id}/loan', { params: { path: { id: document.id } } });
    expect(read.data).toEqual(attached.data);
    const withLoan = await api(tokens.manager).GET('/v1/documents/{id}', { params: { path: { id: document.id } } });
    expect(withLoan.data!.loan).toEqual(attached.data);

    const loanId = attached.data!.id;
    const updated = await api(tokens.manager).PATCH('/v1/loans/{id}', { params: { path: { id: loanId }, header: { 'If-Match': '"1"' } }, body: { balance: '60000.00' } });
    expect(updated.response.status).toBe(200);
    expect(updated.data).toMatchObject({ balance: '60000', version: 2 });
    const stale = await api(tokens.manager).PATCH('/v1/loans/{id}', { params: { path: { id: loanId }, header: { 'If-Match': '"1"' } }, body: { balance: '1.00' } });
    expect(stale.response.status).toBe(412);

    const outsider = await api(tokens.outsider).DELETE('/v1/loans/{id}', { params: { path: { id: loanId } } });
    expect(outsider.response.status).toBe(404);
    const detached = await api(tokens.manager).DELETE('/v1/loans/{id}', { params: { path: { id: loanId } } });
    expect(detached.response.status).toBe(204);
    expect(await detached.response.text()).toBe('');
    expect(await t.db.prisma.loan.findUniqueOrThrow({ where: { id: loanId } })).toMatchObject({ documentId: null, detachedAt: expect.any(Date) });
    const gone = await api(tokens.manager).GET('/v1/documents/{id}/loan', { params: { path: { id: document.id } } });
    expect(gone.response.status).toBe(404);
  });
});

describe('Idempotency-Key on /v1 resources', () => {
  it('answers a retry from the stored first answer and registers once; another body under the key is 422', async () => {
    const body = chattel();
    const send = (payload: unknown, key = 'register-once') =>
      fetch(`${t.url}/v1/documents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.manager}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(payload),
      });
    const first = await send(body);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const retry = await send(body);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    expect(await retry.json()).toEqual(await first.json());
    expect(await t.db.prisma.document.count({ where: { serialNumber: body.serialNumber.toUpperCase() } })).toBe(1);

    const other = await send({ ...body, ownerName: 'Someone Else' });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_REUSED' });

    // Keys belong to their caller: the same key from another account runs its own request.
    const theirs = await fetch(`${t.url}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.outsider}`, 'content-type': 'application/json', 'idempotency-key': 'register-once' },
      body: JSON.stringify({ ...body, organizationId: otherOrganizationId, locationId: undefined }),
    });
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
  });

  it('runs concurrent retries once: one record, every answer the same or 409 while the first runs', async () => {
    const body = chattel();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`${t.url}/v1/documents`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens.manager}`, 'content-type': 'application/json', 'idempotency-key': 'concurrent-register' },
          body: JSON.stringify(body),
        }).then(async (r) => ({ status: r.status, replayed: r.headers.get('idempotent-replayed'), body: (await r.json()) as Record<string, unknown> })),
      ),
    );
    expect(await t.db.prisma.document.count({ where: { serialNumber: body.serialNumber.toUpperCase() } })).toBe(1);
    const created = answers.filter((a) => a.status === 201);
    expect(created.filter((a) => a.replayed === null)).toHaveLength(1);
    for (const answer of created) expect(answer.body.id).toBe(created[0]!.body.id);
    for (const answer of answers.filter((a) => a.status !== 201)) {
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ reason: 'IDEMPOTENCY_KEY_IN_USE' });
    }
  });

  it('refuses a key from an anonymous caller (no key space) and a malformed key, before anything runs', async () => {
    const before = await t.db.prisma.document.count();
    const anonymous = await fetch(`${t.url}/v1/documents`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'anon' }, body: JSON.stringify(chattel()) });
    expect(anonymous.status).toBe(400);
    expect(await anonymous.json()).toMatchObject({ reason: 'IDEMPOTENCY_NOT_SUPPORTED', field: 'Idempotency-Key' });
    const malformed = await fetch(`${t.url}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.manager}`, 'content-type': 'application/json', 'idempotency-key': 'x'.repeat(300) },
      body: JSON.stringify(chattel()),
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ reason: 'INVALID_IDEMPOTENCY_KEY', field: 'Idempotency-Key' });
    expect(await t.db.prisma.document.count()).toBe(before);
  });
});
