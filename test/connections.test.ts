import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAGE_SIZE } from '../src/graphql/connections.ts';
import { PERMISSION_KEYS } from '../src/modules/auth/permissions.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, exchangedTokenSession, linkManagerIdentity, signInAs } from './support/factories.ts';

/**
 * The connections that replace the growing lists (signer queue, signing hub, sessions, members, invitations, RCM
 * campaigns and their attempts): each pages with first/after, counts only when asked, refuses a page over
 * MAX_PAGE_SIZE, shows an allowed caller what the deprecated list shows and refuses a denied one as it does, and
 * reads a page of 50 with as many statements as a page of 1.
 */

type Json = Record<string, unknown>;
interface Connection {
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount?: number;
}

/** More than one largest page of N+1 probes, so a page of 50 is full. */
const ROWS = 55;
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000);

let t: TestApp;
const tokens: Record<string, string> = {};
let organizationId: string;
let campaignDocumentId: string;
let attemptDocumentId: string;

beforeAll(async () => {
  t = await startTestApp({ countQueries: true });
  const db = t.db.prisma;
  const { organization, location } = await createOrganization(db);
  organizationId = organization.id;
  const everything = await db.organizationRole.create({ data: { organizationId, name: 'Everything', permissions: [...PERMISSION_KEYS] } });
  const documentsOnly = await db.organizationRole.create({ data: { organizationId, name: 'Documents only', permissions: ['documents', 'rcm'] } });

  const manager = await createUser(db, { roles: ['MANAGER'] });
  await addMember(db, { userId: manager.id, organizationId, roleId: everything.id, isOwner: true });
  await linkManagerIdentity(db, { userId: manager.id, organizationId });
  tokens.manager = (await signInAs(t.app.services, manager.id)).token;
  // The manager's other sessions: live ones, and ones that no list shows.
  await db.loginSession.createMany({ data: Array.from({ length: ROWS }, () => ({ userId: manager.id, kind: 'PASSWORD' as const, expiresAt: day(1) })) });
  await db.loginSession.create({ data: { userId: manager.id, kind: 'PASSWORD', expiresAt: day(1), revokedAt: day(0) } });
  await db.loginSession.create({ data: { userId: manager.id, kind: 'PASSWORD', expiresAt: day(-1) } });

  const staff = await createUser(db, { roles: ['MANAGER'] });
  await addMember(db, { userId: staff.id, organizationId, roleId: documentsOnly.id });
  tokens.staff = (await signInAs(t.app.services, staff.id)).token;
  tokens.outsider = (await signInAs(t.app.services, (await createUser(db)).id)).token;
  for (let i = 0; i < ROWS; i++) {
    const member = await createUser(db);
    await addMember(db, { userId: member.id, organizationId, roleId: documentsOnly.id, locationIds: [location.id] });
  }
  const invitation = (i: number, extra: Json = {}) => ({ organizationId, email: `invitee-${i}@example.test`, roleId: documentsOnly.id, invitedById: manager.id, expiresAt: day(7), ...extra });
  await db.invitation.createMany({ data: Array.from({ length: ROWS }, (_, i) => invitation(i)) });
  await db.invitation.createMany({ data: [invitation(900, { status: 'REVOKED' }), invitation(901, { expiresAt: day(-1) })] });

  const signer = await createUser(db, { roles: ['SIGNER'], email: 'queue.signer@example.test' });
  const identity = await db.signingIdentity.create({ data: { userId: signer.id, kind: 'SIGNER', organizationId, email: signer.email, linkedById: manager.id } });
  tokens.signer = (await signInAs(t.app.services, signer.id)).token;
  const document = await createDocument(db, { organizationId, locationId: location.id });
  let firstPackageId = '';
  for (let i = 0; i < ROWS + 2; i++) {
    const draft = i >= ROWS;
    const pkg = await db.signingPackage.create({
      data: {
        organizationId,
        locationId: location.id,
        title: `Contract ${i}`,
        status: draft ? 'DRAFT' : 'SENT',
        // Sent in the reverse of creation order, so the deprecated queue's order (by sentAt) is not the connection's.
        sentAt: draft ? null : day(-i),
        createdById: manager.id,
        documents: { create: [{ documentId: document.id, position: 0 }] },
        signers: { create: [{ order: 1, name: 'Queue Signer', email: signer.email, signerIdentityId: identity.id }, { order: 2, name: 'Other', email: `other-${i}@example.test` }] },
      },
    });
    firstPackageId ||= pkg.id;
  }
  tokens.sender = await exchangedTokenSession(t.url, 'sender', { packageId: firstPackageId }, tokens.manager);

  const campaignDocument = await createDocument(db, { organizationId, locationId: location.id });
  campaignDocumentId = campaignDocument.id;
  for (let i = 0; i < ROWS; i++) {
    await db.rcmCampaign.create({
      data: { organizationId, documentId: campaignDocumentId, name: `Campaign ${i}`, steps: { create: [{ position: 1, channel: 'EMAIL', template: 't' }] } },
    });
  }
  const attemptDocument = await createDocument(db, { organizationId, locationId: location.id });
  attemptDocumentId = attemptDocument.id;
  await db.rcmCampaign.create({
    data: {
      organizationId,
      documentId: attemptDocumentId,
      name: 'Outreach',
      // Recorded in an order that is neither creation order nor its reverse.
      attempts: { create: Array.from({ length: ROWS }, (_, i) => ({ channel: 'CALL' as const, status: 'NO_RESPONSE' as const, attemptedAt: day(-((i * 7) % ROWS) - 1) })) },
    },
  });
});

afterAll(async () => {
  await t?.close();
});

interface Case {
  name: string;
  /** The operation's variables beside first/after, and their declarations. */
  variables: () => Json;
  declarations: string;
  /** Wraps the connection field (or the deprecated list) in the fields that lead to it. */
  wrap: (field: string) => string;
  /** The connection (or list) in the answer's data. */
  at: (data: Json) => unknown;
  connection: string;
  list: string;
  /** Order of the connection by default: by the node's id, or the deprecated list's own order. */
  defaultOrder: 'id asc' | 'id desc' | 'as list';
  expected: number;
  token: string;
  /** Callers the deprecated list refuses. */
  denied: string[];
}

const root = (field: string) => field;
const first = (data: Json, ...path: string[]) => path.reduce<unknown>((value, key) => (value as Json | null | undefined)?.[key], data);

const CASES: Case[] = [
  {
    name: 'signer queue',
    variables: () => ({}),
    declarations: '',
    wrap: root,
    at: (data) => data.signerQueueConnection ?? data.signerQueue,
    connection: 'signerQueueConnection',
    list: 'signerQueue',
    defaultOrder: 'id asc',
    expected: ROWS,
    token: 'signer',
    denied: ['anonymous', 'sender'],
  },
  {
    name: 'signing hub',
    variables: () => ({}),
    declarations: '',
    wrap: root,
    at: (data) => data.signingHubConnection ?? data.signingHub,
    connection: 'signingHubConnection',
    list: 'signingHub',
    defaultOrder: 'id desc',
    expected: ROWS + 2,
    token: 'manager',
    denied: ['anonymous', 'staff', 'signer'],
  },
  {
    name: 'sessions',
    variables: () => ({}),
    declarations: '',
    wrap: root,
    at: (data) => data.mySessionsConnection ?? data.mySessions,
    connection: 'mySessionsConnection',
    list: 'mySessions',
    defaultOrder: 'id desc',
    // The first sign-in, the others, and the sender session the manager opened.
    expected: ROWS + 2,
    token: 'manager',
    denied: ['anonymous', 'sender'],
  },
  {
    name: 'members',
    variables: () => ({ id: organizationId }),
    declarations: ', $id: ID!',
    wrap: (field) => `organization(id: $id) { ${field} }`,
    at: (data) => first(data, 'organization', 'membersConnection') ?? first(data, 'organization', 'members'),
    connection: 'membersConnection',
    list: 'members',
    defaultOrder: 'id asc',
    expected: ROWS + 2,
    token: 'manager',
    denied: ['anonymous', 'staff', 'outsider', 'sender'],
  },
  {
    name: 'invitations',
    variables: () => ({ id: organizationId }),
    declarations: ', $id: ID!',
    wrap: (field) => `organization(id: $id) { ${field} }`,
    at: (data) => first(data, 'organization', 'invitationsConnection') ?? first(data, 'organization', 'invitations'),
    connection: 'invitationsConnection',
    list: 'invitations',
    defaultOrder: 'id desc',
    expected: ROWS,
    token: 'manager',
    denied: ['anonymous', 'staff', 'outsider', 'sender'],
  },
  {
    name: 'RCM campaigns',
    variables: () => ({ id: campaignDocumentId }),
    declarations: ', $id: ID!',
    wrap: (field) => `document(id: $id) { ${field} }`,
    at: (data) => first(data, 'document', 'campaignsConnection') ?? first(data, 'document', 'campaigns'),
    connection: 'campaignsConnection',
    list: 'campaigns',
    defaultOrder: 'id desc',
    expected: ROWS,
    token: 'staff',
    denied: ['anonymous', 'outsider', 'signer', 'sender'],
  },
  {
    name: 'outreach attempts',
    variables: () => ({ id: attemptDocumentId }),
    declarations: ', $id: ID!',
    wrap: (field) => `document(id: $id) { campaigns { ${field} } }`,
    at: (data) => {
      const campaign = (first(data, 'document', 'campaigns') as Json[] | undefined)?.[0];
      return campaign?.attemptsConnection ?? campaign?.attempts;
    },
    connection: 'attemptsConnection',
    list: 'attempts',
    defaultOrder: 'as list',
    expected: ROWS,
    token: 'staff',
    denied: ['anonymous', 'outsider', 'signer', 'sender'],
  },
];

const PAGE = 'edges { cursor node { id } } pageInfo { hasNextPage endCursor }';

function connectionQuery(c: Case, selection = PAGE, args = 'first: $first, after: $after') {
  const declarations = [args.includes('$first') ? ', $first: Int' : '', args.includes('$after') ? ', $after: String' : '', c.declarations].join('').slice(2);
  return `query Page${declarations ? `(${declarations})` : ''} { ${c.wrap(`${c.connection}(${args}) { ${selection} }`)} }`;
}
const listQuery = (c: Case) => `query List${c.declarations ? `(${c.declarations.slice(2)})` : ''} { ${c.wrap(`${c.list} { id }`)} }`;

async function ask(c: Case, query: string, variables: Json, token?: string) {
  const { body } = await t.graphql(query, { ...c.variables(), ...variables } as never, token ? { token } : {});
  return body as { data?: Json | null; errors?: Array<{ message: string; extensions?: Json }> };
}

/** Every page of the connection, `size` at a time. */
async function allPages(c: Case, size: number) {
  const ids: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const body = await ask(c, connectionQuery(c), { first: size, after }, tokens[c.token]);
    expect(body.errors).toBeUndefined();
    const page = c.at(body.data!) as Connection;
    ids.push(...page.edges.map((edge) => edge.node.id));
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
    if (!page.pageInfo.hasNextPage) return ids;
    expect(page.edges).toHaveLength(size);
    after = page.pageInfo.endCursor;
  }
  throw new Error('the connection never ended');
}

const countStatements = () => t.queries.filter((sql) => /\bcount\s*\(/i.test(sql)).length;

describe.each(CASES)('$name', (c) => {
  it('pages with first and after through exactly what the deprecated list shows', async () => {
    const listed = await ask(c, listQuery(c), {}, tokens[c.token]);
    expect(listed.errors).toBeUndefined();
    const listIds = (c.at(listed.data!) as Array<{ id: string }>).map((row) => row.id);
    expect(listIds).toHaveLength(c.expected);

    const paged = await allPages(c, 7);
    expect(new Set(paged).size).toBe(paged.length);
    expect([...paged].sort()).toEqual([...listIds].sort());
    const ordered = c.defaultOrder === 'as list' ? listIds : [...listIds].sort();
    expect(paged).toEqual(c.defaultOrder === 'id desc' ? ordered.reverse() : ordered);
    // One largest page holds them all but the last few, and says there is more.
    const whole = c.at((await ask(c, connectionQuery(c), { first: MAX_PAGE_SIZE }, tokens[c.token])).data!) as Connection;
    expect(whole.edges.map((edge) => edge.node.id)).toEqual(paged);
    expect(whole.pageInfo.hasNextPage).toBe(false);
  });

  it('orders the other way when asked', async () => {
    const schemaOrder = c.connection === 'attemptsConnection' ? 'EARLIEST_FIRST' : c.defaultOrder === 'id asc' ? 'NEWEST_FIRST' : 'OLDEST_FIRST';
    const defaults = c.at((await ask(c, connectionQuery(c), { first: MAX_PAGE_SIZE }, tokens[c.token])).data!) as Connection;
    const other = await ask(c, connectionQuery(c, PAGE, `first: $first, orderBy: ${schemaOrder}`), { first: MAX_PAGE_SIZE }, tokens[c.token]);
    expect(other.errors).toBeUndefined();
    const reversed = (c.at(other.data!) as Connection).edges.map((edge) => edge.node.id);
    expect(reversed).toEqual(defaults.edges.map((edge) => edge.node.id).reverse());
  });

  it('counts only when totalCount is asked for', async () => {
    t.queries.length = 0;
    const without = await ask(c, connectionQuery(c), { first: 3 }, tokens[c.token]);
    expect(without.errors).toBeUndefined();
    expect(countStatements()).toBe(0);
    t.queries.length = 0;
    const withCount = await ask(c, connectionQuery(c, `${PAGE} totalCount`), { first: 3 }, tokens[c.token]);
    expect(withCount.errors).toBeUndefined();
    expect((c.at(withCount.data!) as Connection).totalCount).toBe(c.expected);
    expect(countStatements()).toBeGreaterThan(0);
    // totalCount alone still counts, under the same rules.
    const only = await ask(c, connectionQuery(c, 'totalCount'), { first: 3 }, tokens[c.token]);
    expect(only.errors).toBeUndefined();
    expect((c.at(only.data!) as Connection).totalCount).toBe(c.expected);
  });

  it(`serves ${MAX_PAGE_SIZE} at most: a larger first or last is BAD_USER_INPUT, not a cost-limit rejection`, async () => {
    for (const field of ['first', 'last'] as const) {
      const refused = await ask(c, connectionQuery(c, PAGE, `${field}: $first`), { first: MAX_PAGE_SIZE + 1 }, tokens[c.token]);
      expect(refused.errors?.[0]?.extensions, field).toMatchObject({ code: 'BAD_USER_INPUT', field, reason: 'PAGE_TOO_LARGE' });
      expect(JSON.stringify(refused.data ?? null)).not.toContain('"edges"');
    }
    // Written into the document, the largest page passes the cost limit; one more is refused for its size.
    const largest = await ask(c, connectionQuery(c, 'edges { node { id } } pageInfo { hasNextPage }', `first: ${MAX_PAGE_SIZE}`), {}, tokens[c.token]);
    expect(largest.errors).toBeUndefined();
    expect((c.at(largest.data!) as Connection).edges).toHaveLength(Math.min(c.expected, MAX_PAGE_SIZE));
    const over = await ask(c, connectionQuery(c, 'edges { node { id } } pageInfo { hasNextPage }', `first: ${MAX_PAGE_SIZE + 1}`), {}, tokens[c.token]);
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', reason: 'PAGE_TOO_LARGE' });
  });

  it('refuses a caller exactly as the deprecated list does', async () => {
    for (const caller of c.denied) {
      const token = caller === 'anonymous' ? undefined : tokens[caller];
      const listed = await ask(c, listQuery(c), {}, token);
      const paged = await ask(c, connectionQuery(c, `${PAGE} totalCount`), { first: 5 }, token);
      const refusal = (body: typeof listed) => ({ code: body.errors?.[0]?.extensions?.code, reason: body.errors?.[0]?.extensions?.reason, message: body.errors?.[0]?.message });
      // A signer, for instance, may read the document that holds campaigns only as far as signing needs.
      expect(refusal(listed).code, caller).toBeDefined();
      expect(refusal(paged), caller).toEqual(refusal(listed));
      expect(c.at(paged.data ?? {}) ?? null, caller).toBeNull();
    }
  });
});

describe('N+1', () => {
  const NESTED: Record<string, string> = {
    signerQueueConnection: 'title status organization { name } documents { id serialNumber } signers { order isMyTurn } mySlot { email }',
    signingHubConnection: 'title status organization { name } location { name } documents { id loan { id } } signers { email status }',
    mySessionsConnection: 'kind current expiresAt',
    membersConnection: 'isOwner user { email } role { name } locations { name } permissions',
    invitationsConnection: 'email role { name } locations { name } organization { name }',
    campaignsConnection: 'name steps { template } attemptsConnection(first: 5) { totalCount edges { node { id } } } loan { id }',
    attemptsConnection: 'channel status attemptedAt',
  };

  it.each(CASES)('$name: a page of 1 and of 50 run the same statements', async (c) => {
    const counts: number[] = [];
    for (const size of [1, 50, 1, 50]) {
      t.queries.length = 0;
      const body = await ask(c, connectionQuery(c, `totalCount edges { node { id ${NESTED[c.connection]} } }`), { first: size }, tokens[c.token]);
      expect(body.errors).toBeUndefined();
      expect((c.at(body.data!) as Connection).edges).toHaveLength(size);
      counts.push(t.queries.length);
    }
    expect(new Set(counts).size, counts.join(', ')).toBe(1);
  });
});
