import fs from 'node:fs';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

/** Every code docs/errors.md documents: the table's and the ones named in its text, each in backquotes. */
const DOCUMENTED_CODES = new Set([...fs.readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8').matchAll(/`([A-Z][A-Z_]{3,})`/g)].map((m) => m[1]!));

async function post(t: TestApp, query: string, variables?: unknown, options: { token?: string; accept?: string } = {}) {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: options.accept ?? 'application/graphql-response+json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as Body };
}

/** One operation over graphql-ws: its result, or the errors of its `error` message. */
async function overWebSocket(t: TestApp, query: string, variables?: Record<string, unknown>, token?: string): Promise<Body> {
  const client = createClient({
    url: `${t.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  try {
    return await new Promise<Body>((resolve, reject) => {
      let result: Body = {};
      client.subscribe(
        { query, variables },
        {
          next: (value) => (result = value as Body),
          error: (error) => (Array.isArray(error) ? resolve({ errors: error as Body['errors'] }) : reject(error)),
          complete: () => resolve(result),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

async function adminWithOrganization(t: TestApp) {
  const user = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  const { organization, role } = await createOrganization(t.db.prisma);
  await addMember(t.db.prisma, { userId: user.id, organizationId: organization.id, roleId: role.id, isOwner: true });
  return { organization, token: (await signInAs(t.app.services, user.id)).token };
}

describe('every error carries a documented code', () => {
  let t: TestApp;
  let token: string;
  let organizationId: string;
  beforeAll(async () => {
    t = await startTestApp();
    const admin = await adminWithOrganization(t);
    token = admin.token;
    organizationId = admin.organization.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('documents the codes this test checks against', () => {
    for (const code of ['BAD_USER_INPUT', 'INTERNAL', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE']) {
      expect(DOCUMENTED_CODES).toContain(code);
    }
    expect(DOCUMENTED_CODES).not.toContain('INTERNAL_SERVER_ERROR');
  });

  // Each malformed request, and the field its BAD_USER_INPUT must name (undefined: any documented code will do).
  const malformed: Array<{ name: string; query: string; variables?: Record<string, unknown>; field?: string }> = [
    { name: 'a garbage after cursor', query: '{ documents(after: "garbage!!") { edges { cursor } } }', field: 'after' },
    { name: 'a base64 before cursor of nothing', query: '{ documents(before: "Z2FyYmFnZQ==", last: 1) { edges { cursor } } }', field: 'before' },
    { name: 'a cursor from a variable', query: 'query($c: String) { documents(after: $c) { edges { cursor } } }', variables: { c: 'T2Zmc2V0Q29ubmVjdGlvbjox' }, field: 'after' },
    { name: 'first: -1', query: '{ documents(first: -1) { edges { cursor } } }', field: 'first' },
    { name: 'last: -1', query: '{ documents(last: -1) { edges { cursor } } }', field: 'last' },
    { name: 'after with last', query: '{ documents(after: "x", last: 1) { edges { cursor } } }', field: 'last' },
    { name: 'first: -1 on the signing directory', query: '{ signingDirectory(first: -1) { edges { cursor } } }', field: 'first' },
    { name: 'a garbage cursor on signing packages', query: 'query($o: ID!) { signingPackages(organizationId: $o, after: "%%%") { edges { cursor } } }', field: 'after' },
    { name: 'an Int given a string', query: 'query($n: Int) { documents(first: $n) { edges { cursor } } }', variables: { n: 'abc' }, field: 'n' },
    { name: 'an Int overflow', query: 'query($n: Int) { documents(first: $n) { edges { cursor } } }', variables: { n: 2 ** 40 }, field: 'n' },
    { name: 'an unknown enum value in variables', query: 'query($f: DocumentFilter) { documents(filter: $f) { edges { cursor } } }', variables: { f: { status: 'ACTIV' } }, field: 'f.status' },
    { name: 'an unknown enum value inline', query: '{ documents(filter: { status: ACTIV }) { edges { cursor } } }' },
    { name: 'an unknown field', query: '{ documentz { id } }' },
    { name: 'a syntax error', query: '{ documents(' },
    { name: 'a NUL in a search', query: 'query($f: DocumentFilter) { documents(filter: $f) { edges { cursor } } }', variables: { f: { search: 'a\u0000b' } }, field: 'search' },
  ];

  it('answers each malformed request with documented codes, BAD_USER_INPUT naming the field, and logs none as unexpected', async () => {
    for (const request of malformed) {
      const variables = request.name.includes('signing packages') ? { o: organizationId } : request.variables;
      const { body } = await post(t, request.query, variables, { token });
      expect(body.errors?.length, request.name).toBeGreaterThan(0);
      for (const error of body.errors ?? []) {
        expect(DOCUMENTED_CODES, `${request.name}: ${error.message}`).toContain(error.extensions?.code);
        expect(error.extensions?.code, request.name).not.toBe('INTERNAL');
      }
      if (request.field) expect(body.errors?.[0]?.extensions, request.name).toMatchObject({ code: 'BAD_USER_INPUT', field: request.field });
    }
    // The cursor sent is never repeated.
    const { body } = await post(t, '{ documents(after: "garbage!!") { edges { cursor } } }', undefined, { token });
    expect(JSON.stringify(body)).not.toContain('garbage!!');
    expect(t.logs.entries().filter((e) => e.level === 'error' || e.msg === 'unexpected error')).toEqual([]);
  });

  it('keeps well-formed pagination working (allowed case)', async () => {
    const { body } = await post(t, '{ documents(first: 0) { edges { cursor } } d: documents(first: 5) { edges { cursor } } }', undefined, { token });
    expect(body.errors).toBeUndefined();
  });

  it('codes connection argument errors over WebSocket too', async () => {
    const body = await overWebSocket(t, '{ documents(first: -1) { edges { cursor } } }', undefined, token);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });
});

describe('suggestions', () => {
  let production: TestApp;
  let development: TestApp;
  let productionToken: string;
  let developmentToken: string;
  beforeAll(async () => {
    production = await startTestApp({ env: { NODE_ENV: 'production' } });
    development = await startTestApp();
    productionToken = (await adminWithOrganization(production)).token;
    developmentToken = (await adminWithOrganization(development)).token;
  });
  afterAll(async () => {
    await production?.close();
    await development?.close();
  });

  const kinds: Array<{ kind: string; query: string; variables?: Record<string, unknown>; hint: RegExp }> = [
    { kind: 'an inline enum value', query: '{ documents(filter: { status: ACTIV }) { edges { cursor } } }', hint: /ACTIVE/ },
    { kind: 'a field', query: '{ documentz { id } }', hint: /"documents?"/ },
    { kind: 'an argument', query: '{ documents(firts: 1) { edges { cursor } } }', hint: /"first"/ },
    { kind: 'a type', query: 'query($f: DocumentFiltr) { documents(filter: $f) { edges { cursor } } }', hint: /"DocumentFilter"/ },
    { kind: 'an inline input field', query: '{ documents(filter: { statuss: ACTIVE }) { edges { cursor } } }', hint: /"status"/ },
    { kind: 'an input field in variables', query: 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', variables: { i: { emial: 'a@b.test', password: 'x' } }, hint: /\bemail\b.*\bpassword\b/ },
    { kind: 'an enum value in variables', query: 'query($f: DocumentFilter) { documents(filter: $f) { edges { cursor } } }', variables: { f: { status: 'ACTIV' } }, hint: /ACTIVE/ },
  ];

  it('names nothing of the schema the client did not write, in production, over HTTP and WebSocket', async () => {
    for (const { kind, query, variables, hint } of kinds) {
      for (const body of [(await post(production, query, variables, { token: productionToken })).body, await overWebSocket(production, query, variables, productionToken)]) {
        const messages = (body.errors ?? []).map((e) => e.message).join('\n');
        expect(messages, kind).not.toBe('');
        expect(messages, kind).not.toMatch(/did you mean/i);
        expect(messages, kind).not.toMatch(hint);
      }
    }
  });

  it('still suggests in development (allowed case)', async () => {
    for (const { kind, query, variables, hint } of kinds) {
      const { body } = await post(development, query, variables, { token: developmentToken });
      expect((body.errors ?? []).map((e) => e.message).join('\n'), kind).toMatch(hint);
    }
  });
});

describe('control characters at the edge', () => {
  let t: TestApp;
  let token: string;
  let organizationId: string;
  beforeAll(async () => {
    t = await startTestApp();
    const admin = await adminWithOrganization(t);
    token = admin.token;
    organizationId = admin.organization.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const signIn = 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }';
  const chattel = (overrides: Record<string, string>) => ({
    organizationId,
    serialNumber: 'SN-CTRL-1',
    manufacturer: 'Clayton',
    ownerName: 'Dana Reyes',
    addressLine1: '1 Main St',
    city: 'Austin',
    state: 'TX',
    postalCode: '78701',
    ...overrides,
  });
  const requests: Array<{ name: string; query: string; variables?: Record<string, unknown>; field: string }> = [
    { name: 'signIn email', query: signIn, variables: { i: { email: 'dana\u0000@example.test', password: 'long-enough-1' } }, field: 'email' },
    { name: 'signIn password', query: signIn, variables: { i: { email: 'dana@example.test', password: 'long\u0000enough' } }, field: 'password' },
    { name: 'signUp email', query: 'mutation($i: SignUpInput!) { signUp(input: $i) { email } }', variables: { i: { email: 'x\u0000@example.test', name: 'Dana', password: 'long-enough-1' } }, field: 'email' },
    { name: 'requestPasswordReset inline', query: 'mutation { requestPasswordReset(email: "dana\\u0000@example.test") }', field: 'email' },
    { name: 'requestPasswordReset variable', query: 'mutation($e: String!) { requestPasswordReset(email: $e) }', variables: { e: 'dana@example.test\u0000' }, field: 'email' },
    { name: 'registerChattel ownerName', query: 'mutation($i: RegisterChattelInput!) { registerChattel(input: $i) { id } }', variables: { i: chattel({ ownerName: 'Dana\u0000Reyes' }) }, field: 'ownerName' },
    { name: 'registerChattel serialNumber (other C0)', query: 'mutation($i: RegisterChattelInput!) { registerChattel(input: $i) { id } }', variables: { i: chattel({ serialNumber: 'SN\u0001' }) }, field: 'serialNumber' },
    { name: 'documents search', query: 'query($f: DocumentFilter) { documents(filter: $f) { edges { cursor } } }', variables: { f: { search: '\u0000' } }, field: 'search' },
    { name: 'documents search inline (escape)', query: '{ documents(filter: { search: "a\\u001bb" }) { edges { cursor } } }', field: 'search' },
  ];

  it('refuses NUL and other C0 controls in any string as BAD_USER_INPUT naming the field, over HTTP and WebSocket', async () => {
    for (const request of requests) {
      const overHttp = (await post(t, request.query, request.variables, { token })).body;
      const overWs = await overWebSocket(t, request.query, request.variables, token);
      for (const body of [overHttp, overWs]) {
        expect(body.errors?.[0]?.extensions, request.name).toEqual({ code: 'BAD_USER_INPUT', reason: 'CONTROL_CHARACTERS', field: request.field });
      }
    }
    expect(await t.db.prisma.document.count({ where: { organizationId } })).toBe(0);
    expect(t.logs.entries().filter((e) => e.level === 'error')).toEqual([]);
  });

  it('lets tab, line feed and carriage return through to the resolver (allowed case)', async () => {
    const { body } = await post(t, signIn, { i: { email: 'nobody@example.test', password: 'tab\there\nline\rend' } });
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const created = await post(t, 'mutation($i: RegisterChattelInput!) { registerChattel(input: $i) { id } }', { i: chattel({}) }, { token });
    expect(created.body.errors).toBeUndefined();
  });

  it('refuses them in REST JSON bodies, forms, query strings and path parameters', async () => {
    const json = await fetch(`${t.url}/api/cs-authenticationTokens/exchange`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 'abc\u0000' }) });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT', reason: 'CONTROL_CHARACTERS', field: 'value' } });

    const form = await fetch(`${t.url}/v1/Auth/Connect/Token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&client_id=a%00b' });
    // The OAuth endpoints answer in RFC 6749's error format.
    expect(form.status).toBe(400);
    expect(await form.json()).toEqual({ error: 'invalid_request', error_description: 'client_id must not contain control characters.' });

    const query = await fetch(`${t.url}/auth?authenticationToken=a%01b&target=%2F`, { redirect: 'manual' });
    expect(query.status).toBe(400);
    expect(await query.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT', reason: 'CONTROL_CHARACTERS', field: 'authenticationToken' } });

    const path = await fetch(`${t.url}/api/v1/integrations/customer/a%00b/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(path.status).toBe(400);
    expect(await path.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT', reason: 'CONTROL_CHARACTERS', field: 'customerId' } });

    // Allowed case: the same JSON endpoint without the control character reaches its handler.
    const plain = await fetch(`${t.url}/api/cs-authenticationTokens/exchange`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 'abc' }) });
    expect((await plain.json()) as unknown).not.toMatchObject({ error: { reason: 'CONTROL_CHARACTERS' } });
    expect(t.logs.entries().filter((e) => e.level === 'error')).toEqual([]);
  });
});

describe('HTTP status of GraphQL errors by Accept header', () => {
  let t: TestApp;
  const clock = new ManualClock(Date.now());
  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const aliases = `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
  const cases: Array<{ name: string; query: string; code: string; json: number; graphqlResponse: number }> = [
    { name: 'a syntax error', query: '{ documents(', code: 'GRAPHQL_PARSE_FAILED', json: 200, graphqlResponse: 400 },
    { name: 'a validation error', query: '{ nope }', code: 'GRAPHQL_VALIDATION_FAILED', json: 200, graphqlResponse: 400 },
    { name: 'an abuse limit', query: aliases, code: 'GRAPHQL_VALIDATION_FAILED', json: 200, graphqlResponse: 400 },
    { name: 'an input limit', query: `mutation { requestPasswordReset(email: "${'x'.repeat(20_000)}") }`, code: 'BAD_USER_INPUT', json: 200, graphqlResponse: 200 },
    { name: 'a request-level code (no session)', query: '{ documents(first: -1) { edges { cursor } } }', code: 'UNAUTHENTICATED', json: 401, graphqlResponse: 401 },
  ];

  it('answers validation and limit errors 200 to application/json and 400 to application/graphql-response+json', async () => {
    for (const { name, query, code, json, graphqlResponse } of cases) {
      const asJson = await post(t, query, undefined, { accept: 'application/json' });
      const asGraphQLResponse = await post(t, query, undefined, { accept: 'application/graphql-response+json' });
      expect([asJson.status, asJson.body.errors?.[0]?.extensions?.code], name).toEqual([json, code]);
      expect([asGraphQLResponse.status, asGraphQLResponse.body.errors?.[0]?.extensions?.code], name).toEqual([graphqlResponse, code]);
    }
  });

  it('answers INTERNAL with 500 to both when the whole request fails, and never says why', async () => {
    const user = await createUser(t.db.prisma);
    const { token } = await signInAs(t.app.services, user.id);
    const now = clock.now.bind(clock);
    clock.now = () => {
      throw new Error('clock source failed at /secret/path');
    };
    try {
      for (const accept of ['application/json', 'application/graphql-response+json']) {
        const { status, body } = await post(t, '{ me { id } }', undefined, { token, accept });
        expect(status, accept).toBe(500);
        expect(body.errors).toEqual([{ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } }]);
      }
    } finally {
      clock.now = now;
    }
  });
});
