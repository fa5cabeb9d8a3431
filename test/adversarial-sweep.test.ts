import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, exchangedTokenSession, linkManagerIdentity, signInAs } from './support/factories.ts';

/**
 * Random and hostile values at every argument of every query and mutation, as every kind of session: whatever
 * arrives, the answer is a coded client error or data, never INTERNAL, a 500, a stack trace or a database message,
 * and the server logs no unexpected error. The seed is fixed, so a failure replays; the normal run tries a few
 * cases per field and session, `ADVERSARIAL_RUNS=200 npx vitest run test/adversarial-sweep.test.ts` the full sweep.
 */
const RUNS = Number(process.env.ADVERSARIAL_RUNS ?? 3);
const SEED = Number(process.env.ADVERSARIAL_SEED ?? 20261130);

/** Ends the session every later call uses; its own tests cover it. */
const SKIPPED = new Set(['Mutation.signOut']);

const HOSTILE_STRINGS = [
  '',
  ' ',
  'a'.repeat(20_000),
  `a@${'.'.repeat(20_000)}@`,
  '\u0000',
  'line\r\nInjected-Header: x',
  'name\u001b[31m',
  '\u2028\u2029',
  '\u202Eevil',
  '\uD800',
  "'; DROP TABLE \"User\"; --",
  '%',
  '_',
  '\\',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '{{7*7}}${7*7}',
  '😀'.repeat(500),
  'null',
  'NaN',
  '-1',
  '1e309',
  '0x10',
  '2026-13-45T25:61:61Z',
  'ＡＢＣ＠ｅｘａｍｐｌｅ．ｔｅｓｔ',
  'admin@safeclose.test',
  'https://evil.example/verify',
];
const HOSTILE_NUMBERS = [0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, 1e308, -1e308, 0.5, 1e-300];

const hostileString = () => fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
/** A value of the wrong kind entirely, for coercion failures. */
const wrongKind = () => fc.oneof(fc.constant(null), fc.constantFrom(...HOSTILE_NUMBERS), fc.boolean(), fc.constant({ nested: { deep: 'x' } }), fc.constant([1, 'two']));

function scalarValue(type: GraphQLNamedType, ids: string[]): fc.Arbitrary<unknown> {
  switch (type.name) {
    case 'ID':
      return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: fc.uuid() }, { weight: 1, arbitrary: hostileString() });
    case 'Int':
    case 'Float':
      return fc.oneof(fc.constantFrom(...HOSTILE_NUMBERS), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
    case 'Boolean':
      return fc.boolean();
    case 'DateTime':
      return fc.oneof(
        fc.constantFrom('2099-01-01T00:00:00.000Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z', '2026-02-30T00:00:00Z'),
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        hostileString(),
      );
    case 'Decimal':
      return fc.oneof(
        fc.constantFrom('0', '-0', '1.00', '0.001', '-250.75', '1e1000', '99999999999999999999999999.99', '1.999', ' 12 ', '12,50'),
        hostileString(),
      );
    default:
      return hostileString();
  }
}

function inputValue(type: GraphQLInputType, ids: string[], depth = 0): fc.Arbitrary<unknown> {
  const wellTyped = (): fc.Arbitrary<unknown> => {
    if (isNonNullType(type)) return inputValue(type.ofType, ids, depth);
    if (isListType(type)) return fc.array(inputValue(type.ofType, ids, depth + 1), { maxLength: depth > 1 ? 1 : 4 });
    if (isEnumType(type)) return fc.oneof(fc.constantFrom(...type.getValues().map((v) => v.name)), hostileString());
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      return fc.record(
        Object.fromEntries(fields.map((f) => [f.name, inputValue(f.type, ids, depth + 1)])),
        // Required fields are usually present, optional ones often absent; sometimes an unknown field comes along.
        { requiredKeys: fields.filter((f) => isNonNullType(f.type)).map((f) => f.name) },
      ).chain((value) => fc.oneof({ weight: 5, arbitrary: fc.constant(value) }, { weight: 1, arbitrary: fc.constant({ ...value, unexpected: 'field' }) }));
    }
    return scalarValue(type, ids);
  };
  return fc.oneof({ weight: 8, arbitrary: wellTyped() }, { weight: 1, arbitrary: wrongKind() });
}

interface Probe {
  name: string;
  query: string;
  args: fc.Arbitrary<Record<string, unknown>>;
}

/** Scalar fields of the answer (those that take no required arguments), so resolvers below the root run too. */
function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const type = getNamedType(field.type);
  if (!isObjectType(type)) return '';
  const leaves = Object.values(type.getFields())
    .filter((f) => isLeafType(getNamedType(f.type)) && !f.args.some((a) => isNonNullType(a.type)))
    .map((f) => f.name);
  return ` { __typename ${leaves.join(' ')} }`;
}

function probes(ids: string[]): Probe[] {
  const list: Probe[] = [];
  for (const root of [schema.getQueryType()!, schema.getMutationType()!]) {
    const keyword = root === schema.getQueryType() ? 'query' : 'mutation';
    for (const field of Object.values(root.getFields())) {
      const name = `${root.name}.${field.name}`;
      if (SKIPPED.has(name)) continue;
      const declarations = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
      const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
      list.push({
        name,
        query: `${keyword} Sweep${declarations ? `(${declarations})` : ''} { ${field.name}${args ? `(${args})` : ''}${selectionOf(field)} }`,
        args: fc.record(Object.fromEntries(field.args.map((a) => [a.name, inputValue(a.type, ids)])), {
          requiredKeys: field.args.filter((a) => isNonNullType(a.type)).map((a) => a.name),
        }),
      });
    }
  }
  return list;
}

/** What no answer may contain: stack frames, SQL, Prisma or driver messages. */
const LEAK = /\n\s+at |\bat [\w.]+ \(|prisma|SELECT\s|INSERT\s|UPDATE\s"|violates|constraint|ECONNREFUSED|TypeError|ReferenceError/i;

describe('adversarial sweep: every query and mutation argument, every kind of session', () => {
  let t: TestApp;
  const sessions: Record<string, string | undefined> = {};
  const ids: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    const db = t.db.prisma;
    const org = await createOrganization(db, { name: 'Sweep Lending', permissions: ['documents', 'loans', 'rcm', 'signing', 'members', 'orgSettings'] });
    const other = await createOrganization(db, { name: 'Elsewhere Lending' });
    const admin = await createUser(db, { roles: ['ADMIN'] });
    const manager = await createUser(db, { roles: ['MANAGER'] });
    const signer = await createUser(db, { roles: ['SIGNER'], email: 'sweep.signer@example.test' });
    await addMember(db, { userId: manager.id, organizationId: org.organization.id, roleId: org.role.id, isOwner: true });
    await linkManagerIdentity(db, { userId: manager.id, organizationId: org.organization.id });
    const document = await createDocument(db, { organizationId: org.organization.id, locationId: org.location.id, serialNumber: 'SWEEP-1' });
    const foreign = await createDocument(db, { organizationId: other.organization.id, serialNumber: 'SWEEP-2' });
    const identity = await db.signingIdentity.create({
      data: { userId: signer.id, kind: 'SIGNER', organizationId: org.organization.id, email: signer.email, linkedById: manager.id },
    });
    const pkg = await db.signingPackage.create({
      data: {
        organizationId: org.organization.id,
        title: 'Sweep',
        status: 'SENT',
        createdById: manager.id,
        documents: { create: [{ documentId: document.id, position: 1 }] },
        signers: { create: [{ order: 1, email: signer.email, name: 'Sweep Signer', signerIdentityId: identity.id }] },
      },
      select: { id: true, signers: { select: { id: true } } },
    });
    ids.push(
      org.organization.id,
      org.role.id,
      org.location.id,
      other.organization.id,
      admin.id,
      manager.id,
      signer.id,
      document.id,
      foreign.id,
      identity.id,
      pkg.id,
      pkg.signers[0]!.id,
      randomUUID(),
    );

    sessions.anonymous = undefined;
    sessions.admin = (await signInAs(t.app.services, admin.id)).token;
    sessions.manager = (await signInAs(t.app.services, manager.id)).token;
    sessions.signer = (await signInAs(t.app.services, signer.id)).token;
    const exchanged = (path: 'sender' | 'signer/multiUse', body: unknown) => exchangedTokenSession(t.url, path, body, sessions.manager!);
    sessions.senderToken = await exchanged('sender', { packageId: pkg.id });
    sessions.signerToken = await exchanged('signer/multiUse', { packageId: pkg.id, signerId: pkg.signers[0]!.id });
    for (const [kind, token] of Object.entries(sessions)) if (kind !== 'anonymous') expect(token, kind).toMatch(/^ey/);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  // Limited and signer sessions first: the manager's and admin's calls may archive, void or remove what they reach.
  it.each(['anonymous', 'signerToken', 'senderToken', 'signer', 'manager', 'admin'])(
    'answers every hostile call as %s with a coded client error or data',
    async (kind) => {
      const failures: string[] = [];
      const logsBefore = t.logs.lines.length;
      const list = probes(ids);
      expect(list.length).toBeGreaterThan(60);
      for (const [index, probe] of list.entries()) {
        const result = await fc.check(
          fc.asyncProperty(probe.args, async (variables) => {
            const response = await fetch(`${t.url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...(sessions[kind] ? { authorization: `Bearer ${sessions[kind]}` } : {}) },
              body: JSON.stringify({ query: probe.query, variables }),
            });
            const text = await response.text();
            const body = JSON.parse(text) as { errors?: Array<{ message: string; extensions?: { code?: string } }> };
            const codes = (body.errors ?? []).map((e) => e.extensions?.code);
            const problem =
              response.status >= 500 && !(response.status === 503 && codes.every((c) => c === 'OVERLOADED'))
                ? `status ${response.status}`
                : codes.includes('INTERNAL')
                  ? 'INTERNAL'
                  : LEAK.test(text)
                    ? `leak: ${text.slice(0, 300)}`
                    : undefined;
            if (problem) throw new Error(problem);
          }),
          { seed: SEED + index, numRuns: RUNS, endOnFailure: true },
        );
        if (result.failed) {
          failures.push(`${probe.name}: ${String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance)} with ${JSON.stringify(result.counterexample).slice(0, 300)}`);
        }
      }
      expect(failures).toEqual([]);
      // The masker logs every error it hides from the client; none may have happened.
      const unexpected = t.logs.entries().slice(logsBefore).filter((entry) => entry.msg === 'unexpected error' || entry.msg === 'request failed');
      expect(unexpected).toEqual([]);
    },
    600_000,
  );
});

describe('the sweep itself', () => {
  it('builds well-typed values that reach resolvers, hostile values and wrong kinds', () => {
    const type = schema.getType('SignInInput');
    if (!type || !isInputObjectType(type)) throw new Error('SignInInput is not an input type');
    const samples = fc.sample(inputValue(type, [randomUUID()]), { seed: SEED, numRuns: 200 });
    const objects = samples.filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null && !Array.isArray(s));
    expect(objects.some((o) => typeof o.email === 'string' && typeof o.password === 'string')).toBe(true);
    expect(samples.some((s) => s === null || typeof s !== 'object')).toBe(true);
    expect(objects.some((o) => 'unexpected' in o)).toBe(true);
    expect(isScalarType(schema.getType('Decimal'))).toBe(true);
  });
});
