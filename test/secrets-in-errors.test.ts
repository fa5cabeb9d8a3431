import { createClient, type Client } from 'graphql-ws';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { schema } from '../src/graphql/schema.ts';
import { startTestApp, type TestApp } from './support/app.ts';

/**
 * A variable that fails type coercion must never come back, in an answer or in any log line: graphql-js quotes the
 * whole value in its message ("got invalid value { email: …, password: … }"), and the masker used to log it.
 */

type GraphQLErrorBody = { message: string; extensions?: Record<string, unknown> };
type Body = { data?: unknown; errors?: GraphQLErrorBody[] };

let t: TestApp;
const consoleOutput: string[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  // graphql-ws reports failures with console.error: that is log output too.
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      consoleOutput.push(args.map((arg) => (arg instanceof Error ? `${arg.message}\n${arg.stack}` : typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
    });
  }
  t = await startTestApp({ logLevel: 'trace' });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await t?.close();
  vi.restoreAllMocks();
});

/** Everything the server wrote anywhere a log could end up. */
const allLogOutput = () => `${t.logs.text}\n${consoleOutput.join('\n')}`;

const SIGN_IN = 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }';

describe('coercion errors name the path and the expected type, never the value', () => {
  it('answers the reported sign-in with an unknown field by path and type only, code BAD_USER_INPUT', async () => {
    const secret = 'Pr0d-Secret-Passw0rd';
    const { body } = await t.graphql(SIGN_IN, { i: { email: 'p@x.test', password: secret, rememberMe: true } } as never);
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.message).toMatch(/^Variable "\$i" got an invalid value at "i\.rememberMe": field "rememberMe" is not defined by type "SignInInput"\./);
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'i.rememberMe' });
    expect(JSON.stringify(body)).not.toContain(secret);
    expect(allLogOutput()).not.toContain(secret);
  });

  it('names a missing field and a wrong type in sign-up and password reset the same way', async () => {
    const secret = 'Sign-Up-Secret-8812';
    const signUp = await t.graphql('mutation($i: SignUpInput!) { signUp(input: $i) { email } }', { i: { email: 'new@x.test', password: secret } } as never);
    expect(signUp.body.errors?.[0]?.message).toBe('Variable "$i" got an invalid value at "i.name": field "name" of required type "String!" was not provided.');
    expect(signUp.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'i.name' });

    const reset = await t.graphql('mutation($p: String!, $t: String!) { resetPassword(newPassword: $p, token: $t) }', { p: { secret }, t: 'reset-token' } as never);
    expect(reset.body.errors?.[0]?.message).toBe('Variable "$p" got an invalid value: expected type "String" (a string), got an object.');
    expect(reset.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'p' });
    expect(JSON.stringify([signUp.body, reset.body])).not.toContain(secret);
    expect(allLogOutput()).not.toContain(secret);
  });

  it('leaves valid variables alone: a well-typed sign-in reaches the resolver', async () => {
    const { body } = await t.graphql(SIGN_IN, { i: { email: 'nobody@x.test', password: 'not-the-password' } } as never);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(body.errors?.[0]?.message).not.toMatch(/Variable/);
  });

  it('strips the value from every form graphql-js quotes it in: enum, Int, Boolean, ID and custom scalars', async () => {
    const secret = 'Quoted-Value-5521';
    const cases: Array<{ query: string; variables: Record<string, unknown>; field: string; expects: RegExp }> = [
      { query: 'query($f: DocumentFilter) { documents(filter: $f) { totalCount } }', variables: { f: { status: secret } }, field: 'f.status', expects: /enum "DocumentStatus"/ },
      { query: 'query($n: Int) { documents(first: $n) { totalCount } }', variables: { n: secret }, field: 'n', expects: /type "Int"/ },
      { query: 'query($n: Int) { documents(first: $n) { totalCount } }', variables: { n: 98765432101 }, field: 'n', expects: /type "Int"/ },
      { query: 'mutation($id: ID!, $v: Int!) { archiveDocument(id: $id, version: $v) { id } }', variables: { id: [secret], v: 1.5 }, field: 'id', expects: /type "ID"/ },
      { query: 'mutation($i: AttachLoanInput!) { attachLoan(input: $i) { id } }', variables: { i: { documentId: '1', borrowerName: 'B', loanNumber: 'L', balance: secret, principal: '1.00' } }, field: 'i.balance', expects: /type "Decimal"/ },
      {
        query: 'mutation($i: CreateSigningPackageInput!) { createSigningPackage(input: $i) { id } }',
        variables: { i: { organizationId: '1', documentIds: ['1'], signers: [], title: 'T', expiresAt: secret, sequential: secret } },
        field: 'i.expiresAt',
        expects: /type "DateTime"/,
      },
    ];
    for (const { query, variables, field, expects } of cases) {
      const { body } = await t.graphql(query, variables as never);
      const text = JSON.stringify(body);
      expect(body.errors?.length, text).toBeGreaterThan(0);
      expect(text).not.toContain(secret);
      expect(text).not.toContain('98765432101');
      expect(body.errors!.every((e) => e.extensions?.code === 'BAD_USER_INPUT' || e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED'), text).toBe(true);
      if (body.errors![0]!.extensions?.code === 'BAD_USER_INPUT') {
        expect(body.errors!.map((e) => e.extensions?.field)).toContain(field);
        expect(body.errors!.find((e) => e.extensions?.field === field)!.message).toMatch(expects);
      }
    }
    expect(allLogOutput()).not.toContain(secret);
    expect(allLogOutput()).not.toContain('98765432101');
  });
});

describe('variables that are not JSON at all', () => {
  it('are refused with 400 BAD_REQUEST without quoting the text, over GET, POST and a form', async () => {
    const secret = 'Not-Json-Secret-7713';
    const query = encodeURIComponent('query($id: ID!) { document(id: $id) { id } }');
    const answers = [
      await fetch(`${t.url}/graphql?query=${query}&variables=${encodeURIComponent(`{"id": "${secret}"`)}`),
      await fetch(`${t.url}/graphql?query=${query}&variables=${encodeURIComponent(secret)}`),
      await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"query":"{ __typename }","variables":{"p":"${secret}"` }),
      await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `query=${query}&variables=${encodeURIComponent(`[${secret}`)}` }),
    ];
    for (const response of answers) {
      const text = await response.text();
      expect(response.status, text).toBe(400);
      expect(text).not.toContain(secret);
      expect((JSON.parse(text) as Body).errors?.[0]?.extensions?.code, text).toBe('BAD_REQUEST');
    }
    // The same requests with readable JSON are served.
    const readable = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}&variables=${encodeURIComponent('{}')}`);
    expect(await readable.json()).toEqual({ data: { __typename: 'Query' } });
    expect(allLogOutput()).not.toContain(secret);
  });
});

/** Argument and input field names that carry a credential. */
const SECRET_NAME = /password|token|secret|key|value/i;

interface SecretSite {
  mutation: string;
  args: readonly GraphQLArgument[];
  /** Argument name, then input field names, down to the secret. */
  path: string[];
  /** The input object holding the secret (undefined when the secret is an argument itself). */
  parentPath: string[] | undefined;
  nonNull: boolean;
}

/** Every String or ID argument or input field of a mutation whose name says it carries a credential. */
function secretSites(): SecretSite[] {
  const sites: SecretSite[] = [];
  const fields = schema.getMutationType()!.getFields();
  for (const field of Object.values(fields)) {
    const visit = (type: GraphQLInputType, path: string[], parentPath: string[] | undefined, depth: number) => {
      const named = getNamedType(type);
      const name = path[path.length - 1]!;
      if (isLeafType(named) && ['String', 'ID'].includes(named.name) && !isListType(getNullableType(type)) && SECRET_NAME.test(name)) {
        sites.push({ mutation: field.name, args: field.args, path, parentPath, nonNull: isNonNullType(type) });
      }
      if (isInputObjectType(named) && !isListType(getNullableType(type)) && depth < 4) {
        for (const inner of Object.values(named.getFields())) visit(inner.type, [...path, inner.name], path, depth + 1);
      }
    };
    for (const arg of field.args) visit(arg.type, [arg.name], undefined, 0);
  }
  return sites;
}

/** A value of the type that coerces, so any failure is the one a case puts in. */
function sample(type: GraphQLInputType, name: string): unknown {
  if (isNonNullType(type)) return sample(type.ofType, name);
  if (isListType(type)) return [sample(type.ofType, name)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((f) => isNonNullType(f.type) && f.defaultValue === undefined)
        .map((f) => [f.name, sample(f.type, f.name)]),
    );
  }
  if (isEnumType(type)) return type.getValues()[0]!.name;
  const scalars: Record<string, unknown> = { Int: 1, Float: 1.5, Boolean: true, ID: '1', DateTime: '2030-01-01T00:00:00Z', Decimal: '1.00' };
  return scalars[type.name] ?? (/email/i.test(name) ? 'someone@example.test' : 'text');
}

function typeAt(args: readonly GraphQLArgument[], path: string[]): GraphQLInputType {
  let type: GraphQLInputType = args.find((a) => a.name === path[0])!.type;
  for (const segment of path.slice(1)) {
    const named = getNamedType(type);
    if (!isInputObjectType(named)) throw new Error(`no field ${segment}`);
    type = named.getFields()[segment]!.type;
  }
  return type;
}

function get(root: Record<string, unknown>, path: string[]): unknown {
  return path.reduce<unknown>((value, key) => (value as Record<string, unknown>)[key], root);
}

function set(root: Record<string, unknown>, path: string[], value: unknown): void {
  const parent = get(root, path.slice(0, -1)) as Record<string, unknown>;
  if (value === undefined) delete parent[path[path.length - 1]!];
  else parent[path[path.length - 1]!] = value;
}

/** The other String fields beside the secret (its siblings, or the other arguments): they carry the secret too. */
function siblingStrings(site: SecretSite, variables: Record<string, unknown>): string[][] {
  const names = site.parentPath
    ? Object.values((getNamedType(typeAt(site.args, site.parentPath)) as { getFields(): Record<string, { name: string; type: GraphQLInputType }> }).getFields()).map((f) => [...site.parentPath!, f.name])
    : site.args.map((a) => [a.name]);
  return names.filter((path) => path.join('.') !== site.path.join('.') && getNamedType(typeAt(site.args, path)).name === 'String' && get(variables, path.slice(0, -1)) !== undefined);
}

interface Case {
  label: string;
  query: string;
  variables: Record<string, unknown>;
  secret: string;
}

let numericSecret = 4_711_000_001;

/** For one secret-carrying place, the variables of every kind of coercion failure, each carrying a fresh secret. */
function casesFor(site: SecretSite): Case[] {
  const declarations = site.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const argumentList = site.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const returned = getNamedType(schema.getMutationType()!.getFields()[site.mutation]!.type);
  const query = `mutation Probe${declarations ? `(${declarations})` : ''} { ${site.mutation}${argumentList ? `(${argumentList})` : ''}${isLeafType(returned) ? '' : ' { __typename }'} }`;
  const base = () => Object.fromEntries(site.args.map((a) => [a.name, sample(a.type, a.name)])) as Record<string, unknown>;
  const label = (kind: string) => `${site.mutation} ${site.path.join('.')}: ${kind}`;
  const cases: Case[] = [];
  const add = (kind: string, build: (variables: Record<string, unknown>, secret: string) => void, secret = `S3cret-${site.mutation}-${cases.length}-zq`) => {
    const variables = base();
    build(variables, secret);
    cases.push({ label: label(kind), query, variables, secret });
  };
  const withSiblings = (variables: Record<string, unknown>, secret: string) => {
    for (const path of siblingStrings(site, variables)) set(variables, path, secret);
  };

  add('an object in place of a string', (v, s) => set(v, site.path, { value: s }));
  add('a list in place of a string', (v, s) => set(v, site.path, [s, s]));
  const number = numericSecret++;
  add('a number in place of a string', (v) => set(v, site.path, number), String(number));
  add('a boolean in place of a string', (v, s) => {
    withSiblings(v, s);
    set(v, site.path, true);
  });
  if (site.nonNull) {
    add('null for a non-null string', (v, s) => {
      withSiblings(v, s);
      set(v, site.path, null);
    });
  }
  if (site.parentPath) {
    const parentPath = site.parentPath;
    add('an unknown field beside it', (v, s) => {
      set(v, site.path, s);
      set(v, [...parentPath, 'rememberMe'], true);
    });
    const parentType = getNamedType(typeAt(site.args, parentPath));
    const required = isInputObjectType(parentType)
      ? Object.values(parentType.getFields()).find((f) => f.name !== site.path[site.path.length - 1] && isNonNullType(f.type) && f.defaultValue === undefined)
      : undefined;
    if (required) {
      add(`its required sibling "${required.name}" missing`, (v, s) => {
        set(v, site.path, s);
        set(v, [...parentPath, required.name], undefined);
      });
    }
    if (!isListType(getNullableType(typeAt(site.args, parentPath)))) {
      add('a list in place of its input object', (v, s) => {
        set(v, site.path, s);
        set(v, parentPath, [get(v, parentPath)]);
      });
    }
  }
  return cases;
}

describe('a secret in a variable that fails coercion', () => {
  it('never reaches an answer or any log line, for every mutation that takes one and every kind of failure', async () => {
    const sites = secretSites();
    // The discovery must find the credentials the report names, or the sweep below proves nothing.
    const covered = new Set(sites.map((s) => s.mutation));
    for (const name of ['signIn', 'signUp', 'resetPassword', 'changePassword', 'refreshSession', 'exchangeAuthenticationToken', 'acceptInvitation', 'createPartner']) {
      expect(covered, name).toContain(name);
    }
    const cases = sites.flatMap(casesFor);
    expect(cases.length).toBeGreaterThan(40);
    const errorLinesBefore = t.logs.entries().filter((e) => e.level === 'error').length;

    for (const { label, query, variables, secret } of cases) {
      const { status, body } = await t.graphql(query, variables as never);
      const text = JSON.stringify(body);
      expect(status, label).toBeLessThan(500);
      expect(text, label).not.toContain(secret);
      expect(body.errors?.length, `${label}: ${text}`).toBeGreaterThan(0);
      for (const error of body.errors!) {
        expect(error.extensions?.code, `${label}: ${text}`).toBe('BAD_USER_INPUT');
        expect(error.extensions?.field, `${label}: ${text}`).toEqual(expect.stringMatching(/^[A-Za-z_]\w*([.[]|$)/));
        expect(error.message, label).toMatch(/^Variable "\$\w+"/);
      }
    }

    const output = allLogOutput();
    for (const { label, secret } of cases) expect(output.includes(secret), label).toBe(false);
    // A client's mistake is not a server error: nothing of it is logged at error level any more.
    expect(t.logs.entries().filter((e) => e.level === 'error')).toHaveLength(errorLinesBefore);
  });
});

function wsClient(): Client {
  const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  clients.push(client);
  return client;
}

function overWebSocket(client: Client, query: string, variables: Record<string, unknown>): Promise<Body> {
  return new Promise((resolve, reject) => {
    let result: Body = {};
    client.subscribe(
      { query, variables },
      {
        next: (value) => (result = value as Body),
        error: (error) => (Array.isArray(error) ? resolve({ errors: error as GraphQLErrorBody[] }) : reject(error)),
        complete: () => resolve(result),
      },
    );
  });
}

async function overServerSentEvents(query: string, variables: Record<string, unknown>): Promise<Body> {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const text = await response.text();
  const data = text.split('\n').find((line) => line.startsWith('data: {'));
  return JSON.parse(data!.slice('data: '.length)) as Body;
}

describe('on every transport', () => {
  const ACTIVITY = 'subscription($org: ID!) { activity(organizationId: $org) { type } }';
  const DOCUMENT = 'query($id: ID!) { document(id: $id) { id } }';

  it('rewrites coercion errors over GET, server-sent events and WebSocket as over POST', async () => {
    const secret = 'Every-Transport-Secret-3307';
    const unknownField = { i: { email: 'p@x.test', password: secret, rememberMe: true } };
    const answers: Array<[string, Body]> = [];

    const get = await fetch(`${t.url}/graphql?query=${encodeURIComponent(DOCUMENT)}&variables=${encodeURIComponent(JSON.stringify({ id: { password: secret } }))}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    answers.push(['GET query', (await get.json()) as Body]);
    answers.push(['SSE mutation', await overServerSentEvents(SIGN_IN, unknownField)]);
    answers.push(['SSE subscription', await overServerSentEvents(ACTIVITY, { org: [secret] })]);
    const client = wsClient();
    answers.push(['WebSocket mutation', await overWebSocket(client, SIGN_IN, unknownField)]);
    answers.push(['WebSocket query', await overWebSocket(client, DOCUMENT, { id: { password: secret } })]);
    answers.push(['WebSocket subscription', await overWebSocket(client, ACTIVITY, { org: [secret] })]);

    for (const [transport, body] of answers) {
      const text = JSON.stringify(body);
      expect(text, transport).not.toContain(secret);
      expect(body.errors?.[0]?.extensions, `${transport}: ${text}`).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(body.errors?.[0]?.message, transport).toMatch(/^Variable "\$(i|id|org)" got an invalid value/);
    }
    expect(answers.find(([name]) => name === 'WebSocket mutation')![1].errors?.[0]?.extensions).toMatchObject({ field: 'i.rememberMe' });
    expect(allLogOutput()).not.toContain(secret);
  });
});
