import { createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { GraphQLScalarType } from 'graphql';
import { schema } from '../src/graphql/schema.ts';
import type { AppError } from '../src/lib/errors.ts';
import * as validate from '../src/lib/validate.ts';
import { parsePsAuth } from '../src/modules/apps/app-sign-in.service.ts';
import { bearerToken } from '../src/modules/auth/viewer.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createUser, signInAs } from './support/factories.ts';

type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
const extensionsOf = (body: Body) => body.errors?.[0]?.extensions ?? {};

/** Runs `fn` and answers what it throws (or undefined), with how many regular expressions ran meanwhile. */
function attempt(fn: () => unknown): { error: (Error & Partial<AppError>) | undefined; result: unknown; patternsRun: number } {
  // Every pattern use (test, exec, match, replace, split...) goes through one of these two.
  const test = vi.spyOn(RegExp.prototype, 'test');
  const exec = vi.spyOn(RegExp.prototype, 'exec');
  try {
    return { error: undefined, result: fn(), patternsRun: test.mock.calls.length + exec.mock.calls.length };
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    return { error, result: undefined, patternsRun: test.mock.calls.length + exec.mock.calls.length };
  } finally {
    test.mockRestore();
    exec.mockRestore();
  }
}

/** A pattern that fails the test if anything runs it. */
const mustNotRun = {
  test: () => {
    throw new Error('the pattern ran on an over-long value');
  },
  exec: () => {
    throw new Error('the pattern ran on an over-long value');
  },
} as unknown as RegExp;

/** The email that took 3.5 s of CPU in the old signIn: `a@`, many dots, `@`. */
const redosEmail = (dots: number) => `a@${'.'.repeat(dots)}@`;

describe('validators take the length cap first', () => {
  /**
   * One case per exported function of src/lib/validate.ts: an over-long value (one that the pattern would match, or
   * that would make a backtracking pattern work hard) must be refused for its length with no pattern run at all.
   * A new validator without a case here fails the first test.
   */
  const overLong: Record<string, (() => unknown) | { notAValidator: string }> = {
    text: () => validate.text('a'.repeat(201), 'name', { max: 200, pattern: mustNotRun }),
    optionalText: () => validate.optionalText('a'.repeat(101), 'search', { max: 100, pattern: mustNotRun }),
    email: () => validate.email(redosEmail(300)),
    hostName: () => validate.hostName(`${'a'.repeat(60)}.`.repeat(5) + 'example', 'signInDomain'),
    matchesWithin: () => validate.matchesWithin('a'.repeat(65), 64, mustNotRun),
    money: () => validate.money('1'.repeat(16), 'balance'),
    integerInRange: { notAValidator: 'numbers only: no text, no pattern' },
    likeLiteral: { notAValidator: 'escapes text that a validator has already capped' },
  };

  it('has a case for every exported function', () => {
    const functions = Object.entries(validate)
      .filter(([, value]) => typeof value === 'function')
      .map(([name]) => name)
      .sort();
    expect(functions).toEqual(Object.keys(overLong).sort());
  });

  for (const [name, run] of Object.entries(overLong)) {
    if (typeof run !== 'function') continue;
    it(`${name}: an over-long value is refused for its length before any pattern runs`, () => {
      const { error, result, patternsRun } = attempt(run);
      expect(patternsRun).toBe(0);
      if (name === 'matchesWithin') expect(result).toBe(false);
      else expect(error?.toExtensions?.()).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'TOO_LONG', field: expect.any(String) });
    });
  }

  it('values within the caps are checked as before (the allowed cases)', () => {
    expect(validate.text('  Zoë Ångström-Núñez ', 'name', { max: 200 })).toBe('Zoë Ångström-Núñez');
    expect(validate.email(' Ann.Smith@Example.TEST ')).toBe('ann.smith@example.test');
    expect(validate.hostName('App.Lender.Example', 'signInDomain')).toBe('app.lender.example');
    expect(validate.matchesWithin('a'.repeat(64), 64, /^a+$/)).toBe(true);
    expect(validate.money('1234.50', 'balance')).toBe('1234.50');
    // ...and refused by their patterns when malformed, not by their length.
    expect(attempt(() => validate.email(redosEmail(200))).error?.reason).toBe('INVALID_FORMAT');
    expect(attempt(() => validate.email('a@b..c')).error?.reason).toBe('INVALID_FORMAT');
    expect(attempt(() => validate.hostName('http://a.example', 'signInDomain')).error?.reason).toBe('INVALID_FORMAT');
    expect(attempt(() => validate.text('ab', 'serialNumber', { max: 40, pattern: /^\d+$/ })).error?.reason).toBe('INVALID_FORMAT');
  });

  it('refuses control characters, line separators and bidi controls in single-line text; multi-line text keeps its line breaks', () => {
    for (const bad of ['Ann\r\nSmith', 'Ann\nSmith', 'Ann\u001b[31mSmith', 'Ann\u2028Smith', 'Ann\u2029Smith', 'Ann\u202eSmith', 'Ann\u2066Smith', 'Ann\u0085Smith', 'Ann\u007fSmith', 'Ann\tSmith']) {
      expect(attempt(() => validate.text(bad, 'name', { max: 200 })).error?.toExtensions?.(), JSON.stringify(bad)).toMatchObject({ field: 'name', reason: 'CONTROL_CHARACTERS' });
    }
    expect(validate.text('Line one\r\nLine two\n\tindented', 'message', { max: 200, multiline: true })).toBe('Line one\r\nLine two\n\tindented');
    for (const bad of ['One\u001bTwo', 'One\u2028Two', 'One\u202eTwo', 'One\u0000Two']) {
      expect(attempt(() => validate.text(bad, 'message', { max: 200, multiline: true })).error?.reason, JSON.stringify(bad)).toBe('CONTROL_CHARACTERS');
    }
    expect(attempt(() => validate.email('ann\u001b@example.test')).error?.reason).toBe('INVALID_FORMAT');
  });

  it('custom scalars (Decimal, DateTime) cap their input before their patterns', () => {
    for (const name of ['Decimal', 'DateTime']) {
      const scalar = schema.getType(name) as GraphQLScalarType;
      const { error, patternsRun } = attempt(() => scalar.parseValue('2'.repeat(5000)));
      expect(error?.message).toContain(name);
      expect(patternsRun).toBe(0);
    }
    expect((schema.getType('Decimal') as GraphQLScalarType).parseValue('1234.5')).toBe('1234.5');
  });

  it('header parsers refuse over-long values before parsing them', () => {
    const long = `Bearer ${'a'.repeat(9000)}`;
    const { error, patternsRun } = attempt(() => bearerToken(long));
    expect(error?.toExtensions?.()).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' });
    expect(patternsRun).toBe(0);
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');

    const psAuth = `PS-Auth key=k; runas=u; pwd=[${']   '.repeat(2000)}`;
    expect(attempt(() => parsePsAuth(psAuth)).error?.message).toContain('longer than 4096 characters');
    // The password ends at the first `]` followed by `;` or the end, and may itself hold `]` and `;`.
    expect(parsePsAuth('PS-Auth key=k1; runas=ann@x.test; pwd=[a]b;c] ;')).toEqual({ key: 'k1', runAs: 'ann@x.test', password: 'a]b;c' });
    expect(parsePsAuth('PS-Auth pwd=[p]w]  ; key=k1; runas=ann')).toEqual({ key: 'k1', runAs: 'ann', password: 'p]w' });
    expect(attempt(() => parsePsAuth('PS-Auth key=k1; runas=ann; pwd=[no end')).error?.reason).toBe('MALFORMED_AUTHORIZATION');
  });
});

describe('over the wire', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    const user = await createUser(t.db.prisma, { roles: ['ADMIN'] });
    token = (await signInAs(t.app.services, user.id)).token;
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    t.logs.lines.length = 0;
  });

  const SIGN_IN = 'mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }';

  it('signIn refuses the 80,000-dot email for its length (it used to run the pattern for seconds)', async () => {
    const { status, body } = await t.graphql(SIGN_IN, { input: { email: redosEmail(80_000), password: 'whatever-password' } });
    expect(status).toBe(200);
    expect(extensionsOf(body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email', reason: 'TOO_LONG' });
    expect(body.data).toBeUndefined();
  });

  it('five aliased signIns sharing one 40 KB variable are refused once, before any of them runs', async () => {
    const aliases = [1, 2, 3, 4, 5].map((n) => `s${n}: signIn(input: { email: $email, password: "whatever-password" }) { accessToken }`).join(' ');
    const { body } = await t.graphql(`mutation($email: String!) { ${aliases} }`, { email: redosEmail(40_000) });
    expect(body.errors).toHaveLength(1);
    expect(extensionsOf(body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email', reason: 'TOO_LONG' });
    expect(await t.db.prisma.activity.count({ where: { type: { startsWith: 'auth.sign_in' } } })).toBe(0);
  });

  it('signIn caps the email at 254 characters before its pattern, the attempt counter or the activity log', async () => {
    const { body } = await t.graphql(SIGN_IN, { input: { email: redosEmail(300), password: 'whatever-password' } });
    expect(extensionsOf(body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email', reason: 'TOO_LONG' });
    expect(await t.db.prisma.activity.count({ where: { type: { startsWith: 'auth.sign_in' } } })).toBe(0);
    // The allowed case: a well-formed email within the cap is an ordinary failed sign-in.
    const longest = `${'a'.repeat(64)}@${'b'.repeat(180)}.example`;
    expect(longest.length).toBeLessThanOrEqual(254);
    const ordinary = await t.graphql(SIGN_IN, { input: { email: longest, password: 'whatever-password' } });
    expect(extensionsOf(ordinary.body)).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
  });

  it('any string over GRAPHQL_MAX_STRING_LENGTH is refused, nested in variables or inline, naming its field', async () => {
    const huge = 'x'.repeat(t.config.limits.stringLength + 1);
    const signUp = await t.graphql('mutation($i: SignUpInput!) { signUp(input: $i) { email } }', { i: { email: 'n@example.test', password: 'long enough password', name: huge } });
    expect(extensionsOf(signUp.body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name', reason: 'TOO_LONG' });
    expect(await t.db.prisma.user.count({ where: { email: 'n@example.test' } })).toBe(0);

    const inline = await t.graphql(`{ documents(filter: { search: "${huge}" }) { edges { cursor } } }`, {}, { token });
    expect(extensionsOf(inline.body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'search', reason: 'TOO_LONG' });

    const listed = await t.graphql('mutation($i: CreateSigningPackageInput!) { createSigningPackage(input: $i) { id } }', {
      i: { organizationId: '00000000-0000-4000-8000-000000000000', title: 't', documentIds: [], signers: [{ name: 'a', email: 'a@x.test' }, { name: huge, email: 'b@x.test' }] },
    }, { token });
    expect(extensionsOf(listed.body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'signers.name', reason: 'TOO_LONG' });

    // Under the global cap, the field's own (tighter) cap still answers first.
    const search = await t.graphql(`{ documents(filter: { search: "${'x'.repeat(101)}" }) { edges { cursor } } }`, {}, { token });
    expect(extensionsOf(search.body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'search', reason: 'TOO_LONG' });
    const fine = await t.graphql(`{ documents(filter: { search: "${'x'.repeat(100)}" }) { edges { cursor } } }`, {}, { token });
    expect(fine.body).toEqual({ data: { documents: { edges: [] } } });
  });

  it('over WebSocket, a subscription with an over-long argument gets an error for that operation', async () => {
    const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    try {
      const outcome = (id: string) =>
        new Promise<unknown>((resolve) => {
          client.subscribe({ query: 'subscription($id: ID!) { documentUpdated(id: $id) { id } }', variables: { id } }, {
            next: (value) => resolve(value.errors ?? value),
            error: (error) => resolve(error),
            complete: () => resolve('complete'),
          });
        });
      const refused = (await outcome('x'.repeat(t.config.limits.stringLength + 1))) as Array<{ extensions?: Record<string, unknown> }>;
      expect(refused[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id', reason: 'TOO_LONG' });
      // The allowed case: at the cap, the value reaches the resolver, which answers for itself.
      const atCap = (await outcome('x'.repeat(t.config.limits.stringLength))) as Array<{ message: string; extensions?: Record<string, unknown> }>;
      expect(atCap[0]?.message).toBe('id must be a UUID.');
      expect(atCap[0]?.extensions?.reason).toBeUndefined();
    } finally {
      await client.dispose();
    }
  });
});
