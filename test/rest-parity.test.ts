import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphqlRouteSpec } from '../src/rest/graphql-route.ts';
import { resourceSpecs } from '../src/rest/resources.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import {
  buildParityWorld,
  callGraphql,
  callRest,
  CALLERS,
  inBatches,
  normalizeTwin,
  variablesFor,
  uniqueTag,
  type Answer,
  type CallerKind,
  type ParityWorld,
  type RouteRequest,
} from './support/parity.ts';

/**
 * Every `/v1` resource route against its GraphQL twin, as every kind of caller: the same data and the same denials.
 * Each route has a request factory below (keyed by operationId); a route without one fails the completeness test.
 */

/** A request made from the world, with what identifies its own records (for comparing twins) and their state. */
interface Prepared {
  request: RouteRequest;
  /** Values that differ between this request's records and its twin's (ids, serial and loan numbers), in a fixed order. */
  aliases?: string[];
  /** The state a mutation changes, read from the database: unchanged after a refusal, changed after success. */
  state?: () => Promise<unknown>;
}

/** The status each caller kind must get: so REST and GraphQL cannot be wrong in the same way. */
type Expected = Partial<Record<CallerKind, number>>;

interface ParityCase {
  name: string;
  /** Builds the request. Mutating routes call it once per caller and protocol, so each request has its own records. */
  make(world: ParityWorld, caller: CallerKind): Promise<Prepared>;
  expected: Expected;
  /** For list cases: how many items each caller kind sees. */
  itemCounts?: Partial<Record<CallerKind, number>>;
}

type RouteFactory = ParityCase[];

const LIMITED: Expected = { senderSession: 403, signerSession: 403, anonymous: 401 };

/** A caller-kind table: `home` for full members of the home organization, then per-kind overrides. */
function statuses(base: { members?: number; admin?: number; signer?: number }, overrides: Expected = {}): Expected {
  const table: Expected = { ...LIMITED };
  if (base.admin !== undefined) table.admin = base.admin;
  if (base.signer !== undefined) table.signer = base.signer;
  if (base.members !== undefined) for (const kind of ['owner', 'managerInScope', 'managerOutOfScope', 'staffWithoutPermission', 'appKeySession', 'appOAuthSession'] as const) table[kind] = base.members;
  return { ...table, ...overrides };
}

/** Reading a record at the in-scope location of the home organization. */
const READ_HOME = statuses({ members: 200, admin: 200, signer: 404 }, { managerOutOfScope: 404 });
/** Reading another organization's record: only the platform admin may. */
const READ_OTHER = statuses({ members: 404, admin: 200, signer: 404 });
/** Changing a home record with the documents or loans permission: admin's global access is read-only. */
const WRITE_HOME = statuses({ members: 200, admin: 403, signer: 404 }, { managerOutOfScope: 404, staffWithoutPermission: 403 });
const WRITE_OTHER = statuses({ members: 404, admin: 403, signer: 404 });
const STALE_HOME = statuses({ members: 412, admin: 403, signer: 404 }, { managerOutOfScope: 404, staffWithoutPermission: 403 });
/** Input refused before the record is looked at: every full session gets 400. */
const INVALID = statuses({ members: 400, admin: 400, signer: 400 });

const loanBody = (loanNumber: string) => ({ loanNumber, borrowerName: 'Dana Whitfield', principal: '92000.00', balance: '88500.25', interestRate: '6.5', daysPastDue: 0 });

let listTag = '';

const factories: Record<string, RouteFactory> = {
  listDocuments: [
    {
      name: 'everything matching a search',
      make: async () => ({ request: { query: { search: listTag, first: 10 } } }),
      expected: statuses({ members: 200, admin: 200, signer: 200 }),
      // Home: two at the in-scope location, one at the other, one without a location; one in the other organization.
      itemCounts: { admin: 5, owner: 4, managerInScope: 2, managerOutOfScope: 1, staffWithoutPermission: 4, signer: 0, appKeySession: 4, appOAuthSession: 4 },
    },
    {
      name: 'a page with a next cursor',
      make: async () => ({ request: { query: { search: listTag, first: 1, status: 'ACTIVE' } } }),
      expected: statuses({ members: 200, admin: 200, signer: 200 }),
    },
    {
      name: "another organization's filter",
      make: async (w) => ({ request: { query: { organizationId: w.other.organizationId, first: 5 } } }),
      expected: statuses({}),
    },
    {
      name: 'a page over the largest size',
      make: async () => ({ request: { query: { first: 101 } } }),
      expected: INVALID,
    },
  ],
  registerDocument: [
    {
      name: 'at the in-scope location',
      make: async (w) => {
        const serialNumber = uniqueTag('REG');
        return {
          request: { body: { organizationId: w.home.organizationId, locationId: w.home.inLocationId, manufacturer: 'Clayton', serialNumber, ownerName: 'Dana Whitfield', addressLine1: '12 Pine Lane', city: 'Athens', state: 'GA', postalCode: '30601' } },
          aliases: [serialNumber],
          state: () => w.t.db.prisma.document.count({ where: { serialNumber } }),
        };
      },
      expected: statuses({ members: 201, admin: 404, signer: 404 }, { managerOutOfScope: 403, staffWithoutPermission: 403 }),
    },
    {
      name: 'in another organization',
      make: async (w) => {
        const serialNumber = uniqueTag('REG');
        return {
          request: { body: { organizationId: w.other.organizationId, manufacturer: 'Clayton', serialNumber, ownerName: 'Dana Whitfield', addressLine1: '12 Pine Lane', city: 'Athens', state: 'GA', postalCode: '30601' } },
          aliases: [serialNumber],
          state: () => w.t.db.prisma.document.count({ where: { serialNumber } }),
        };
      },
      expected: statuses({ members: 404, admin: 404, signer: 404 }),
    },
    {
      name: 'with a malformed ZIP code',
      make: async (w) => {
        const serialNumber = uniqueTag('REG');
        return {
          request: { body: { organizationId: w.home.organizationId, locationId: w.home.inLocationId, manufacturer: 'Clayton', serialNumber, ownerName: 'Dana Whitfield', addressLine1: '12 Pine Lane', city: 'Athens', state: 'GA', postalCode: 'ABCDE' } },
          aliases: [serialNumber],
          state: () => w.t.db.prisma.document.count({ where: { serialNumber } }),
        };
      },
      expected: statuses({ members: 400 }, { managerOutOfScope: 403, staffWithoutPermission: 403, admin: 404, signer: 404 }),
    },
  ],
  getDocument: [
    { name: 'a home record', make: async (w) => ({ request: { params: { id: (await w.record({ organization: 'home', loan: true })).documentId } } }), expected: READ_HOME },
    { name: "another organization's record", make: async (w) => ({ request: { params: { id: (await w.record({ organization: 'other' })).documentId } } }), expected: READ_OTHER },
    { name: 'an id that names nothing', make: async () => ({ request: { params: { id: randomUUID() } } }), expected: statuses({ members: 404, admin: 404, signer: 404 }) },
  ],
  updateDocument: [
    documentChange('a home record', { organization: 'home' }, 1, { ownerName: 'Dana Whitfield-Ray', city: 'Macon' }, WRITE_HOME),
    documentChange("another organization's record", { organization: 'other' }, 1, { ownerName: 'Mallory' }, WRITE_OTHER),
    documentChange('a stale version', { organization: 'home' }, 2, { ownerName: 'Late Edit' }, STALE_HOME),
    documentChange('a malformed state', { organization: 'home' }, 1, { state: 'Georgia' }, INVALID),
  ],
  archiveDocument: [
    documentChange('a home record', { organization: 'home' }, 1, undefined, WRITE_HOME),
    documentChange("another organization's record", { organization: 'other' }, 1, undefined, WRITE_OTHER),
    documentChange('a stale version', { organization: 'home' }, 3, undefined, STALE_HOME),
  ],
  getDocumentLoan: [
    { name: 'a home record with a loan', make: async (w) => ({ request: { params: { id: (await w.record({ organization: 'home', loan: true })).documentId } } }), expected: READ_HOME },
    { name: 'a home record without one', make: async (w) => ({ request: { params: { id: (await w.record({ organization: 'home' })).documentId } } }), expected: statuses({ members: 404, admin: 404, signer: 404 }) },
    { name: "another organization's record", make: async (w) => ({ request: { params: { id: (await w.record({ organization: 'other', loan: true })).documentId } } }), expected: READ_OTHER },
  ],
  attachLoan: [
    loanAttach('a home record', { organization: 'home' }, WRITE_HOME, (n) => loanBody(n), 201),
    loanAttach("another organization's record", { organization: 'other' }, WRITE_OTHER, (n) => loanBody(n)),
    loanAttach('a record that has a loan', { organization: 'home', loan: true }, statuses({ members: 409, admin: 403, signer: 404 }, { managerOutOfScope: 404, staffWithoutPermission: 403 }), (n) => loanBody(n)),
    loanAttach('a malformed loan number', { organization: 'home' }, INVALID, (n) => ({ ...loanBody(n), loanNumber: `${n} !` })),
  ],
  updateLoan: [
    loanChange('a home loan', 'home', 1, { status: 'BEHIND', balance: '60000.00', daysPastDue: 45 }, WRITE_HOME),
    loanChange("another organization's loan", 'other', 1, { status: 'BEHIND' }, WRITE_OTHER),
    loanChange('a stale version', 'home', 4, { balance: '1.00' }, STALE_HOME),
    loanChange('a rate out of range', 'home', 1, { interestRate: '123.5' }, INVALID),
    // A variable GraphQL cannot coerce is refused before any rule runs, for every caller, signed in or not.
    loanChange('a rate that is not a number', 'home', 1, { interestRate: 'abc' }, { ...INVALID, senderSession: 400, signerSession: 400, anonymous: 400 }),
  ],
  detachLoan: [
    loanChange('a home loan', 'home', undefined, undefined, statuses({ members: 204, admin: 403, signer: 404 }, { managerOutOfScope: 404, staffWithoutPermission: 403 })),
    loanChange("another organization's loan", 'other', undefined, undefined, WRITE_OTHER),
  ],
};

/** A change to a fresh chattel record: PATCH with a body, or a state change (archive) without one. */
function documentChange(name: string, where: { organization: 'home' | 'other' }, ifMatch: number, body: Record<string, unknown> | undefined, expected: Expected): ParityCase {
  return {
    name,
    expected,
    make: async (w) => {
      const record = await w.record({ ...where, loan: true });
      return {
        request: { params: { id: record.documentId }, ifMatch, ...(body ? { body } : {}) },
        aliases: [record.documentId, record.serialNumber, record.loanId!, record.loanNumber!],
        state: () => w.t.db.prisma.document.findUnique({ where: { id: record.documentId } }),
      };
    },
  };
}

function loanAttach(name: string, where: { organization: 'home' | 'other'; loan?: boolean }, expected: Expected, body: (loanNumber: string) => Record<string, unknown>, success = 201): ParityCase {
  if (expected.owner === 200) expected = { ...expected, owner: success, managerInScope: success, appKeySession: success, appOAuthSession: success };
  return {
    name,
    expected,
    make: async (w) => {
      const record = await w.record(where);
      const loanNumber = uniqueTag('AT-');
      return {
        request: { params: { id: record.documentId }, body: body(loanNumber) },
        aliases: [record.documentId, record.serialNumber, loanNumber, record.loanNumber ?? ''],
        state: () => w.t.db.prisma.loan.findMany({ where: { documentId: record.documentId } }),
      };
    },
  };
}

/** A change to a fresh record's loan: PATCH with If-Match, or DELETE (detach) without either. */
function loanChange(name: string, organization: 'home' | 'other', ifMatch: number | undefined, body: Record<string, unknown> | undefined, expected: Expected): ParityCase {
  return {
    name,
    expected,
    make: async (w) => {
      const record = await w.record({ organization, loan: true });
      return {
        request: { params: { id: record.loanId! }, ...(ifMatch !== undefined ? { ifMatch } : {}), ...(body ? { body } : {}) },
        aliases: [record.loanId!, record.documentId, record.serialNumber, record.loanNumber!],
        state: () => w.t.db.prisma.loan.findUnique({ where: { id: record.loanId! } }),
      };
    },
  };
}

/** One caller's REST answer and GraphQL answer for one case, and what did not match. */
interface PairResult {
  key: string;
  caller: CallerKind;
  rest: Answer;
  graphql: Answer;
  problems: string[];
}

const isMutation = (spec: GraphqlRouteSpec) => spec.method !== 'GET';
const jsonOf = (value: unknown) => JSON.stringify(value);

let t: TestApp;
let world: ParityWorld;

beforeAll(async () => {
  t = await startTestApp();
  world = await buildParityWorld(t);
  listTag = uniqueTag('PLIST');
  for (const where of [{ location: 'in' }, { location: 'in' }, { location: 'out' }, { location: null }] as const) {
    await world.record({ organization: 'home', location: where.location, loan: true, serialNumber: uniqueTag(listTag) });
  }
  await world.record({ organization: 'other', serialNumber: uniqueTag(listTag) });
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** Runs one case as one caller over both protocols and lists every way the answers differ. */
async function runPair(spec: GraphqlRouteSpec, parityCase: ParityCase, caller: CallerKind, shared: Promise<Prepared> | undefined): Promise<PairResult> {
  const token = world.tokens[caller];
  const problems: string[] = [];
  const restPrepared = shared ? await shared : await parityCase.make(world, caller);
  const graphqlPrepared = shared ? restPrepared : await parityCase.make(world, caller);
  const before = await Promise.all([restPrepared.state?.(), graphqlPrepared.state?.()]);
  const { answer: rest, headers, contentType } = await callRest(t.url, spec, restPrepared.request, token);
  const graphql = await callGraphql(t, spec, graphqlPrepared.request, token);
  const after = await Promise.all([restPrepared.state?.(), graphqlPrepared.state?.()]);

  const restOk = rest.status < 400;
  const graphqlOk = graphql.status < 400;
  if (rest.status !== graphql.status || rest.code !== graphql.code || rest.reason !== graphql.reason) {
    problems.push(`REST ${rest.status} ${rest.code ?? ''} ${rest.reason ?? ''} vs GraphQL ${graphql.status} ${graphql.code ?? ''} ${graphql.reason ?? ''}`);
  }
  if (restOk && graphqlOk) {
    const aliases = [...(restPrepared.aliases ?? [])];
    const twinAliases = [...(graphqlPrepared.aliases ?? [])];
    const restId = (rest.body as { id?: unknown } | undefined)?.id;
    const graphqlId = (graphql.body as { id?: unknown } | undefined)?.id;
    if (typeof restId === 'string' && typeof graphqlId === 'string') {
      aliases.push(restId);
      twinAliases.push(graphqlId);
    }
    const restBody = shared ? rest : normalizeTwin(rest, aliases);
    const graphqlBody = shared ? graphql : normalizeTwin(graphql, twinAliases);
    if (jsonOf(restBody.body) !== jsonOf(graphqlBody.body)) problems.push(`bodies differ:\n  REST    ${jsonOf(restBody.body)}\n  GraphQL ${jsonOf(graphqlBody.body)}`);
    const record = rest.body as { id?: string; version?: unknown } | undefined;
    if (spec.created) {
      const location = `${t.config.publicUrl.replace(/\/$/, '')}${spec.created(rest.body as Record<string, unknown>, variablesFor(spec, restPrepared.request))}`;
      if (headers.get('location') !== location) problems.push(`Location ${String(headers.get('location'))}, not ${location}`);
    }
    if (spec.method === 'GET' && !spec.list && typeof record?.version === 'number' && headers.get('etag') !== `"${record.version}"`) problems.push(`ETag ${String(headers.get('etag'))}`);
  }
  if (!restOk && !contentType?.startsWith('application/problem+json')) problems.push(`failure answered as ${String(contentType)}`);
  if (rest.status === 401 && !headers.get('www-authenticate')?.startsWith('Bearer')) problems.push('401 without WWW-Authenticate: Bearer');
  if (isMutation(spec) && restPrepared.state) {
    const [restBefore, graphqlBefore] = before.map(jsonOf);
    const [restAfter, graphqlAfter] = after.map(jsonOf);
    if (!restOk && restBefore !== restAfter) problems.push('a refused REST request changed its record');
    if (!graphqlOk && graphqlBefore !== graphqlAfter) problems.push('a refused GraphQL request changed its record');
    if (restOk && restBefore === restAfter) problems.push('a successful REST request left its record as it was');
    if (graphqlOk && graphqlBefore === graphqlAfter) problems.push('a successful GraphQL request left its record as it was');
  }
  return { key: `${parityCase.name} / ${caller}`, caller, rest, graphql, problems };
}

describe('REST routes and their GraphQL twins', () => {
  it('has a request factory for every route in resourceSpecs, and none for a route that does not exist', () => {
    const ids = resourceSpecs.map((spec) => spec.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => !factories[id])).toEqual([]);
    expect(Object.keys(factories).filter((id) => !ids.includes(id))).toEqual([]);
  });

  it('builds every kind of caller', () => {
    expect(Object.keys(world.tokens).sort()).toEqual([...CALLERS].sort());
    for (const caller of CALLERS) expect(typeof world.tokens[caller]).toBe(caller === 'anonymous' ? 'undefined' : 'string');
  });

  it.each(resourceSpecs.map((spec) => [`${spec.method} ${spec.path} (${spec.operationId})`, spec] as const))('%s answers as its GraphQL twin, as every caller', async (_name, spec) => {
    const cases = factories[spec.operationId];
    expect(cases, `no request factory for ${spec.operationId}: add one to test/rest-parity.test.ts`).toBeDefined();
    const pairs = cases!.flatMap((parityCase) => {
      const shared = isMutation(spec) ? undefined : parityCase.make(world, 'anonymous');
      return CALLERS.map((caller) => ({ parityCase, caller, shared }));
    });
    const results = await inBatches(pairs, 6, ({ parityCase, caller, shared }) => runPair(spec, parityCase, caller, shared));

    const mismatches = results.filter((r) => r.problems.length).map((r) => `${r.key}: ${r.problems.join('; ')}`);
    expect(mismatches).toEqual([]);

    const outcomes: Record<string, number> = {};
    const expected: Record<string, number> = {};
    results.forEach((result, index) => {
      const { parityCase, caller } = pairs[index]!;
      const status = parityCase.expected[caller];
      if (status === undefined) return;
      outcomes[result.key] = result.rest.status;
      expected[result.key] = status;
      const count = parityCase.itemCounts?.[caller];
      if (count !== undefined) {
        outcomes[`${result.key} items`] = (result.rest.body as { items: unknown[] }).items.length;
        expected[`${result.key} items`] = count;
      }
    });
    expect(outcomes).toEqual(expected);
    // Every caller kind of every case is pinned down except where a case says otherwise.
    expect(Object.keys(expected).length).toBeGreaterThan(0);
  });
});
