import { randomUUID } from 'node:crypto';
import {
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { schema } from '../src/graphql/schema.ts';
import { PERMISSION_KEYS } from '../src/modules/auth/permissions.ts';
import { SIGNER_ENTRY_TYPES, SIGNER_VISIBLE_FIELDS } from '../src/modules/signing/signing.policy.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, exchangedTokenSession, linkManagerIdentity, signInAs } from './support/factories.ts';

/**
 * Walks every field a signer can reach, from each of a signer's entry points, as each kind of signer session, and
 * checks each answer against SIGNER_VISIBLE_FIELDS: a field off the list answers nothing, a field on it answers.
 * The fixture fills every column, even ones a sent package would not have yet, so a leak cannot hide behind a null,
 * and writes "leak" into everything lender-internal or belonging to other signers, so any leak shows in the text.
 */

type Json = Record<string, unknown>;
interface Answer {
  data?: Json | null;
  errors?: Array<{ message: string; extensions?: Json }>;
  timedOut?: boolean;
}
type RootName = 'query' | 'mutation' | 'subscription';

/** A signer's ways in that can be asked again and again: each is walked field by field. */
const ENTRIES: Array<{ operation: RootName; field: string; packageArg?: string }> = [
  { operation: 'query', field: 'signingPackage', packageArg: 'id' },
  { operation: 'query', field: 'signerQueue' },
  { operation: 'query', field: 'signerQueueConnection' },
  { operation: 'query', field: 'me' },
  { operation: 'mutation', field: 'viewSigningPackage', packageArg: 'packageId' },
  { operation: 'subscription', field: 'signingPackageUpdated', packageArg: 'id' },
  { operation: 'subscription', field: 'signerQueueUpdated' },
];
/** A signer's ways in that change the package for good: each is answered once, with every field it may show. */
const ONE_SHOT = ['Mutation.signSigningPackage', 'Mutation.declineSigningPackage'];

const LEAK = /leak/i;
const rootTypes: Record<RootName, GraphQLObjectType> = {
  query: schema.getQueryType()!,
  mutation: schema.getMutationType()!,
  subscription: schema.getSubscriptionType()!,
};

let t: TestApp;
let organizationId: string;
let mainPackageId: string;
let documentId: string;
let managerToken: string;
let fullSignerToken: string;
const viewerSlotIds = new Set<string>();
const onePackageSessions: Record<string, { token: string; packageId: string }> = {};
const clients: Client[] = [];

const day = (offset: number) => new Date(Date.UTC(2026, 0, 15) + offset * 86_400_000);
const future = () => new Date(Date.now() + 30 * 86_400_000);

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await db.organization.create({
    data: { name: 'Harbor Lending', slug: 'leak-harbor-lending', signInDomain: 'leak.harbor.test', subscriptionStatus: 'ACTIVE' },
  });
  organizationId = org.id;
  const location = await db.location.create({
    data: { organizationId, name: 'Harbor Main Lot', code: 'LEAK-LOT', addressLine1: '1 Leak Wharf', city: 'Leakport', state: 'ME', postalCode: '04000' },
  });
  const everything = await db.organizationRole.create({ data: { organizationId, name: 'Everything', permissions: [...PERMISSION_KEYS] } });
  const documentsOnly = await db.organizationRole.create({ data: { organizationId, name: 'Documents only', permissions: ['documents'] } });
  const manager = await db.user.create({ data: { email: 'morgan@harbor.test', name: 'Morgan Sender', roles: ['MANAGER'] } });
  await addMember(db, { userId: manager.id, organizationId, roleId: everything.id });
  await linkManagerIdentity(db, { userId: manager.id, organizationId });
  managerToken = (await signInAs(t.app.services, manager.id)).token;

  const document = await db.document.create({
    data: {
      organizationId,
      locationId: location.id,
      collateralKind: 'MANUFACTURED_HOME',
      manufacturer: 'Clayton',
      model: 'Tempo 32',
      year: 2019,
      serialNumber: 'CLW-HARBOR-1',
      hudLabelNumber: 'NTA1234567',
      titleNumber: 'GA-778899',
      ownerName: 'Leak Owner',
      ownerEmail: 'leak.owner@example.test',
      ownerPhone: '555-LEAK',
      addressLine1: '12 Pine Lane',
      addressLine2: 'Lot 4',
      city: 'Athens',
      state: 'GA',
      postalCode: '30601',
      county: 'Clarke',
      archivedAt: day(-1),
      createdById: manager.id,
    },
  });
  documentId = document.id;
  const loan = await db.loan.create({
    data: {
      organizationId,
      documentId,
      loanNumber: 'LEAK-LN-1',
      borrowerName: 'Leak Borrower',
      status: 'BEHIND',
      principal: '120000.00',
      balance: '98765.43',
      paymentAmount: '812.50',
      pastDueAmount: '2345.67',
      interestRate: '7.2500',
      daysPastDue: 47,
      originatedOn: day(-900),
      maturityOn: day(9000),
      nextPaymentOn: day(10),
    },
  });
  await db.rcmCampaign.create({
    data: {
      organizationId,
      documentId,
      loanId: loan.id,
      name: 'Leak collections',
      status: 'ACTIVE',
      completionReason: 'LEAK reason',
      createdById: manager.id,
      startedAt: day(-20),
      pausedAt: day(-15),
      completedAt: day(-10),
      cancelledAt: day(-5),
      steps: { create: [{ position: 1, channel: 'CALL', delayHours: 24, template: 'LEAK script: ask about the arrears' }] },
      attempts: { create: [{ channel: 'CALL', status: 'NO_RESPONSE', notes: 'LEAK notes: no answer', attemptedAt: day(-4), recordedById: manager.id }] },
    },
  });

  const signer = await db.user.create({ data: { email: 'vera@borrower.test', name: 'Vera Signer', roles: ['SIGNER'] } });
  const identity = await db.signingIdentity.create({
    data: { userId: signer.id, kind: 'SIGNER', organizationId, locationId: location.id, email: signer.email, linkedById: manager.id },
  });
  fullSignerToken = (await signInAs(t.app.services, signer.id)).token;

  /** A sent package of the document: `viewer` in slot 2, other signers who viewed, signed and declined around them. */
  const createPackage = async (title: string, viewer: { name: string; email: string; signerIdentityId?: string }) => {
    const other = (order: number, status: 'SIGNED' | 'VIEWED' | 'DECLINED') => ({
      order,
      name: `Leak Signer ${order}`,
      email: `leak.signer${order}@example.test`,
      status,
      viewedAt: day(1),
      signedAt: day(2),
      declinedAt: day(3),
      declineReason: `LEAK: signer ${order} thinks the payoff is wrong`,
    });
    const pkg = await db.signingPackage.create({
      data: {
        organizationId,
        locationId: location.id,
        title,
        message: 'Please sign by Friday.',
        status: 'SENT',
        sequential: false,
        expiresAt: future(),
        createdById: manager.id,
        sentAt: day(0),
        completedAt: day(4),
        declinedAt: day(3),
        expiredAt: day(5),
        voidedAt: day(6),
        voidReason: 'LEAK void note',
        documents: { create: [{ documentId, position: 0 }] },
        signers: {
          create: [
            other(1, 'SIGNED'),
            { order: 2, ...viewer, status: 'VIEWED', viewedAt: day(1), signedAt: day(2), declinedAt: day(3), declineReason: 'My own note' },
            other(3, 'VIEWED'),
            other(4, 'DECLINED'),
          ],
        },
      },
      select: { id: true, signers: { where: { order: 2 }, select: { id: true } } },
    });
    return { packageId: pkg.id, viewerSlotId: pkg.signers[0]!.id };
  };
  const vera = { name: 'Vera Signer', email: signer.email, signerIdentityId: identity.id };
  const main = await createPackage('Retail installment contract', vera);
  mainPackageId = main.packageId;
  // Another package of the same document, not the signer's: it must not show through the document.
  await createPackage('Leak: someone else’s package', { name: 'Leak Stranger', email: 'leak.stranger@example.test' });

  const exchanged = (path: 'sender' | 'signer/multiUse' | 'signer/singleUse', body: Json) => exchangedTokenSession(t.url, path, body, managerToken);

  for (const [name, path] of [
    ['signerMultiUse', 'signer/multiUse'],
    ['signerSingleUse', 'signer/singleUse'],
    ['signSession', 'signer/multiUse'],
    ['declineSession', 'signer/multiUse'],
  ] as const) {
    const pkg = name === 'signerMultiUse' || name === 'signerSingleUse' ? main : await createPackage(`Contract for ${name}`, vera);
    viewerSlotIds.add(pkg.viewerSlotId);
    onePackageSessions[name] = { token: await exchanged(path, { packageId: pkg.packageId, signerId: pkg.viewerSlotId }), packageId: pkg.packageId };
  }
  viewerSlotIds.add(main.viewerSlotId);
  onePackageSessions.sender = { token: await exchanged('sender', { packageId: mainPackageId }), packageId: mainPackageId };

  // A member of the lender who may read its documents (not manage signing) and is also asked to sign.
  const clerk = await db.user.create({ data: { email: 'clerk@harbor.test', name: 'Clerk Signer', roles: ['SIGNER'] } });
  await addMember(db, { userId: clerk.id, organizationId, roleId: documentsOnly.id });
  const clerkIdentity = await db.signingIdentity.create({ data: { userId: clerk.id, kind: 'SIGNER', organizationId, email: clerk.email, linkedById: manager.id } });
  const clerkPackage = await createPackage('Clerk’s own contract', { name: 'Clerk Signer', email: clerk.email, signerIdentityId: clerkIdentity.id });
  onePackageSessions.clerk = { token: (await signInAs(t.app.services, clerk.id)).token, packageId: clerkPackage.packageId };
  const admin = await db.user.create({ data: { email: 'admin@platform.test', name: 'Platform Admin', roles: ['ADMIN'] } });
  onePackageSessions.admin = { token: (await signInAs(t.app.services, admin.id)).token, packageId: mainPackageId };
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await t?.close();
});

/** A value of the input type that passes validation. */
function sampleValue(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sampleValue(type.ofType);
  if (isListType(type)) return [sampleValue(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, sampleValue(f.type)]));
  }
  return ({ ID: randomUUID(), Int: 1, Boolean: true, DateTime: '2099-01-01T00:00:00.000Z', Decimal: '1.00' } as Record<string, unknown>)[type.name] ?? 'probe';
}

interface Hop {
  parentType: string;
  field: string;
}
interface Probe {
  hops: Hop[];
  parentType: string;
  field: GraphQLField<unknown, unknown>;
}

type Entry = (typeof ENTRIES)[number];

/**
 * One operation selecting the probed fields (each at the end of its hops), with the id of each PackageSigner beside
 * them: for a single probe, just that field.
 */
function operationFor(entry: Entry, probes: Probe[], packageId: string) {
  const declarations: string[] = [];
  const variables: Json = {};
  const argsOf = (field: GraphQLField<unknown, unknown>, fixed: Json = {}) => {
    const parts: string[] = [];
    for (const arg of field.args) {
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      if (!(arg.name in fixed) && !required) continue;
      const name = `v${declarations.length}`;
      declarations.push(`$${name}: ${String(arg.type)}`);
      variables[name] = arg.name in fixed ? fixed[arg.name] : sampleValue(arg.type);
      parts.push(`${arg.name}: $${name}`);
    }
    return parts.length ? `(${parts.join(', ')})` : '';
  };
  interface Node {
    field: GraphQLField<unknown, unknown>;
    typeName: string;
    children: Map<string, Node>;
  }
  const node = (field: GraphQLField<unknown, unknown>): Node => ({ field, typeName: getNamedType(field.type).name, children: new Map() });
  const rootField = rootTypes[entry.operation].getFields()[entry.field]!;
  const root = node(rootField);
  for (const probe of probes) {
    let at = root;
    for (const hop of probe.hops) {
      const field = (schema.getType(at.typeName) as GraphQLObjectType).getFields()[hop.field]!;
      if (!at.children.has(hop.field)) at.children.set(hop.field, node(field));
      at = at.children.get(hop.field)!;
    }
    at.children.set(probe.field.name, node(probe.field));
  }
  const print = (n: Node, fixed: Json = {}): string => {
    const args = argsOf(n.field, fixed);
    if (!isCompositeType(getNamedType(n.field.type))) return `${n.field.name}${args}`;
    const inner = [...n.children.values()].map((child) => print(child));
    if (n.typeName === 'PackageSigner') inner.unshift('slotId: id');
    return `${n.field.name}${args} { ${inner.length ? inner.join(' ') : '__typename'} }`;
  };
  const selection = print(root, entry.packageArg ? { [entry.packageArg]: packageId } : {});
  return { query: `${entry.operation} Probe${declarations.length ? `(${declarations.join(', ')})` : ''} { ${selection} }`, variables };
}

/** Every parent object the probe reached, with the probed field's answer and, for signer slots, the slot's id. */
function answersAt(answer: Answer, entryField: string, probe: Probe): Array<{ value: unknown; slotId?: unknown }> {
  let level: unknown[] = [answer.data?.[entryField]].flat(Infinity);
  for (const hop of probe.hops) level = level.flatMap((node) => (node && typeof node === 'object' ? [(node as Json)[hop.field]] : [])).flat(Infinity);
  return level
    .flat(Infinity)
    .filter((node): node is Json => node !== null && typeof node === 'object')
    .map((node) => ({ value: node[probe.field.name], slotId: node.slotId }));
}

const present = (value: unknown) => value !== null && value !== undefined;
const hasObjects = (value: unknown): boolean => (Array.isArray(value) ? value.some(hasObjects) : value !== null && typeof value === 'object');

async function mapLimit<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!);
      }
    }),
  );
  return results;
}

function subscriber(token: string) {
  const client = createClient({
    url: `${t.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  clients.push(client);
  let seq = 1_000_000;
  const publish = (packageId: string) =>
    t.app.services.events.pubSub.publish('activity', {
      id: randomUUID(),
      seq: String(++seq),
      type: 'signing.package.viewed',
      occurredAt: new Date().toISOString(),
      actorUserId: null,
      organizationId,
      documentId: null,
      packageId,
    });
  /** The first answer of a subscription, nudged by activity on the package until it comes. */
  return (query: string, variables: Json, packageId: string) =>
    new Promise<Answer>((resolve) => {
      let settled = false;
      // graphql-ws does not say when a subscription has started listening: nudge until it answers.
      const first = setTimeout(() => publish(packageId), 30);
      const nudge = setInterval(() => publish(packageId), 100);
      const give = setTimeout(() => finish({ timedOut: true }), 8000);
      const stop = client.subscribe(
        { query, variables },
        {
          next: (value) => finish(value as Answer),
          error: (error) => finish({ errors: (Array.isArray(error) ? error : [{ message: String(error) }]) as Answer['errors'] }),
          complete: () => finish({ errors: [{ message: 'completed without an answer' }] }),
        },
      );
      function finish(answer: Answer) {
        if (settled) return;
        settled = true;
        clearTimeout(first);
        clearInterval(nudge);
        clearTimeout(give);
        stop();
        resolve(answer);
      }
    });
}

interface Walked {
  probe: Probe;
  answer: Answer;
  text: string;
}

/**
 * Breadth first from the entry point: every field of each type reached, at the shortest path; a field that answered
 * objects leads on to its type (once per field, so cycles end), as deep as the answers go. Fields expected to be
 * refused outright are asked one by one; the rest of a level is asked in one operation, split in halves again and
 * again while an answer carries errors, so every field's answer is one in which nothing else failed.
 */
async function walk(entry: Entry, token: string, packageId: string, options: { descendInto?: (typeName: string) => boolean; alone?: (probe: Probe) => boolean } = {}) {
  const rootField = rootTypes[entry.operation].getFields()[entry.field]!;
  const subscribe = entry.operation === 'subscription' ? subscriber(token) : undefined;
  const ask = async (probes: Probe[]): Promise<Walked[]> => {
    const { query, variables } = operationFor(entry, probes, packageId);
    const answer = subscribe ? await subscribe(query, variables, packageId) : ((await t.graphql(query, variables as never, { token })).body as Answer);
    if ((answer.errors || answer.timedOut) && probes.length > 1) {
      const half = Math.ceil(probes.length / 2);
      return [...(await ask(probes.slice(0, half))), ...(await ask(probes.slice(half)))];
    }
    const text = JSON.stringify(answer);
    return probes.map((probe) => ({ probe, answer, text }));
  };
  const walked: Walked[] = [];
  const followed = new Set<string>();
  let frontier: Array<{ type: GraphQLObjectType; hops: Hop[] }> = [{ type: getNamedType(rootField.type) as GraphQLObjectType, hops: [] }];
  while (frontier.length > 0) {
    const probes = frontier.flatMap(({ type, hops }) => Object.values(type.getFields()).map((field) => ({ hops, parentType: type.name, field })));
    frontier = [];
    const alone = probes.filter((probe) => options.alone?.(probe));
    const together = probes.filter((probe) => !options.alone?.(probe));
    const batches = [...alone.map((probe) => [probe]), ...(together.length ? [together] : [])];
    const answers = (await mapLimit(batches, 4, ask)).flat();
    for (const result of answers) {
      walked.push(result);
      const { probe } = result;
      const child = getNamedType(probe.field.type);
      const edge = `${probe.parentType}.${probe.field.name}`;
      if (!isObjectType(child) || followed.has(edge) || !(options.descendInto?.(child.name) ?? true)) continue;
      if (!answersAt(result.answer, entry.field, probe).some(({ value }) => hasObjects(value))) continue;
      followed.add(edge);
      frontier.push({ type: child, hops: [...probe.hops, { parentType: probe.parentType, field: probe.field.name }] });
    }
  }
  return walked;
}

/** Whether the object at the end of the probe's path is seen as a signer sees it (reached through a signer's entry record). */
const inSignerView = (probe: Probe) => SIGNER_ENTRY_TYPES.has(probe.parentType) || probe.hops.some((hop) => SIGNER_ENTRY_TYPES.has(hop.parentType));
const label = (entryField: string, probe: Probe) => [entryField, ...probe.hops.map((h) => h.field), probe.field.name].join('.');

describe('the policy', () => {
  it('names only types and fields that exist, and its entry records', () => {
    const unknown: string[] = [];
    for (const [typeName, entry] of Object.entries(SIGNER_VISIBLE_FIELDS)) {
      const type = schema.getType(typeName);
      if (!type || !isObjectType(type)) {
        unknown.push(typeName);
        continue;
      }
      for (const field of [...entry.fields, ...(entry.ownSlotFields ?? [])]) if (!type.getFields()[field]) unknown.push(`${typeName}.${field}`);
      expect(entry.reason.length).toBeGreaterThan(10);
    }
    for (const typeName of SIGNER_ENTRY_TYPES) if (!SIGNER_VISIBLE_FIELDS[typeName]) unknown.push(`entry ${typeName}`);
    expect(unknown).toEqual([]);
  });

  it('the walk covers every root field a signer session may call that returns records', () => {
    const signerRoots = Object.values(rootTypes).flatMap((root) =>
      Object.values(root.getFields())
        .filter((field) => {
          const scopes = (field.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes;
          return typeof scopes === 'object' && scopes !== null && (scopes as Json).signerSession === true && isCompositeType(getNamedType(field.type));
        })
        .map((field) => `${root.name}.${field.name}`),
    );
    const walked = ENTRIES.map((e) => `${rootTypes[e.operation].name}.${e.field}`);
    expect(signerRoots.sort()).toEqual([...walked, ...ONE_SHOT].sort());
  });
});

/** A field the policy does not show a signer, that cannot answer null: asked alone, as its refusal voids the answer. */
const refusedOutright = (probe: Probe) =>
  inSignerView(probe) && isNonNullType(probe.field.type) && !(SIGNER_VISIBLE_FIELDS[probe.parentType]?.fields.includes(probe.field.name) ?? false);

// Single-use and multi-use signer tokens open the same kind of session; the multi-use one is walked.
describe.each([
  ['a full signer session (no membership)', () => ({ token: fullSignerToken, packageId: mainPackageId, identities: true })],
  ['a signer token session', () => ({ ...onePackageSessions.signerMultiUse!, identities: false })],
])('%s, walking every field it can reach', (_label, session) => {
  it.each(ENTRIES.map((entry) => [`${entry.operation} ${entry.field}`, entry] as const))('%s', async (_name, entry) => {
    const { token, packageId, identities } = session();
    const walked = await walk(entry, token, packageId, { alone: refusedOutright });
    const leaked: string[] = [];
    const silent: string[] = [];
    let checked = 0;
    for (const { probe, answer, text } of walked) {
      const where = label(entry.field, probe);
      expect(answer.timedOut, where).toBeUndefined();
      if (LEAK.test(text)) leaked.push(`${where}: ${text.slice(0, 200)}`);
      if (!inSignerView(probe)) continue;
      const visible = SIGNER_VISIBLE_FIELDS[probe.parentType];
      const allowedFor = (slotId: unknown) =>
        (visible?.fields.includes(probe.field.name) ?? false) || (viewerSlotIds.has(String(slotId)) && (visible?.ownSlotFields?.includes(probe.field.name) ?? false));
      const found = answersAt(answer, entry.field, probe);
      for (const { value, slotId } of found) if (!allowedFor(slotId) && present(value)) leaked.push(`${where} answered ${JSON.stringify(value).slice(0, 120)}`);
      // The allowed case: a listed field answers on every object it was asked of.
      if (found.length === 0 || !found.every(({ slotId }) => allowedFor(slotId))) continue;
      checked++;
      if (answer.errors || !found.every(({ value }) => present(value))) silent.push(`${where}: ${text.slice(0, 200)}`);
    }
    expect(leaked).toEqual([]);
    expect(silent).toEqual([]);
    // A signer's own identities (full sessions only) are the signer records reached through me.
    expect(checked).toBeGreaterThan(entry.field === 'me' ? (identities ? 5 : -1) : 30);
  });
});

describe('those who read the records on their own see them whole through the same paths', () => {
  // Legitimately empty in the fixture: the loan is BEHIND (so nothing stops RCM), and these viewers hold no signer slot.
  const EMPTY_FOR_MEMBERS = new Set(['RcmEligibility.reason', 'SigningPackage.mySlot']);
  // Refused by the organization's own permissions, not by what signers see: settings, billing and people need
  // permissions that a sender session (limited to its package) and a platform admin do not hold.
  const ORGANIZATION_PERMISSIONS = /\.(organization\.(settings|billing|locations|roles|members|membersConnection|invitations|invitationsConnection|apiRegistrations|userGroups)|signingPackages)$/;

  it.each([
    ['the lender’s manager', () => ({ token: managerToken, packageId: mainPackageId, limitedByOrganization: false })],
    ['a sender token session', () => ({ ...onePackageSessions.sender!, limitedByOrganization: true })],
    ['a platform admin', () => ({ ...onePackageSessions.admin!, limitedByOrganization: true })],
  ])('%s', async (_label, session) => {
    const { token, packageId, limitedByOrganization } = session();
    const walked = await walk(ENTRIES[0]!, token, packageId, {
      descendInto: (typeName) => typeName in SIGNER_VISIBLE_FIELDS,
      alone: (probe) => limitedByOrganization && ORGANIZATION_PERMISSIONS.test(label('signingPackage', probe)),
    });
    expect(walked.map(({ text }) => text).filter((text) => text.includes('NOT_FOR_SIGNERS'))).toEqual([]);
    const missing = walked
      .filter(({ probe, answer }) => {
        if (EMPTY_FOR_MEMBERS.has(`${probe.parentType}.${probe.field.name}`)) return false;
        if (limitedByOrganization && ORGANIZATION_PERMISSIONS.test(label('signingPackage', probe))) return false;
        const found = answersAt(answer, 'signingPackage', probe);
        return answer.errors !== undefined || found.length === 0 || !found.every(({ value }) => present(value));
      })
      .map(({ probe, text }) => `${label('signingPackage', probe)}: ${text.slice(0, 160)}`);
    expect(missing).toEqual([]);
    const paths = new Set(walked.map(({ probe }) => label('signingPackage', probe)));
    for (const path of [
      'signingPackage.documents.loan.balance',
      'signingPackage.documents.loan.pastDueAmount',
      'signingPackage.documents.loan.daysPastDue',
      'signingPackage.documents.campaigns.steps.template',
      'signingPackage.documents.campaigns.attempts.notes',
      'signingPackage.signers.email',
      'signingPackage.signers.declineReason',
    ]) {
      expect(paths, path).toContain(path);
    }
  });
});

describe('document(id) and the nested path agree', () => {
  const NESTED = `query($id: ID!) { signingPackage(id: $id) { documents { id serialNumber loan { balance } } signers { id viewedAt declineReason } mySlot { email } } }`;
  const DIRECT = `query($id: ID!) { document(id: $id) { id serialNumber loan { balance } } }`;

  it.each([
    ['a full signer', () => ({ token: fullSignerToken, packageId: mainPackageId }), 'NOT_FOUND', undefined],
    ['a signer token session', () => onePackageSessions.signerMultiUse!, 'FORBIDDEN', 'LIMITED_SESSION'],
  ])('%s: document(id) refuses, and the package shows the collateral but not the loan', async (_label, session, code, reason) => {
    const { token, packageId } = session();
    const direct = await t.graphql(DIRECT, { id: documentId }, { token });
    expect(direct.body.errors?.[0]?.extensions).toMatchObject({ code, ...(reason ? { reason } : {}) });
    expect(JSON.stringify(direct.body)).not.toContain('98765.43');
    const nested = await t.graphql(NESTED, { id: packageId }, { token });
    expect(nested.body.errors).toBeUndefined();
    expect(nested.body.data).toMatchObject({
      signingPackage: { documents: [{ id: documentId, serialNumber: 'CLW-HARBOR-1', loan: null }], mySlot: { email: 'vera@borrower.test' } },
    });
    const others = (nested.body.data as { signingPackage: { signers: Array<{ id: string; viewedAt: unknown; declineReason: unknown }> } }).signingPackage.signers;
    expect(others.filter((s) => !viewerSlotIds.has(s.id)).map((s) => [s.viewedAt, s.declineReason])).toEqual([
      [null, null],
      [null, null],
      [null, null],
    ]);
  });

  it('a member who may read the document sees its loan both ways, but other signers only as a signer does', async () => {
    const { token, packageId } = onePackageSessions.clerk!;
    const direct = await t.graphql(DIRECT, { id: documentId }, { token });
    expect(direct.body.data).toMatchObject({ document: { id: documentId, loan: { balance: '98765.43' } } });
    const nested = await t.graphql(NESTED, { id: packageId }, { token });
    expect(nested.body.errors).toBeUndefined();
    const pkg = (nested.body.data as { signingPackage: { documents: unknown[]; signers: Array<{ viewedAt: unknown; declineReason: unknown }>; mySlot: unknown } })
      .signingPackage;
    expect(pkg.documents).toEqual([{ id: documentId, serialNumber: 'CLW-HARBOR-1', loan: { balance: '98765.43' } }]);
    expect(pkg.mySlot).toEqual({ email: 'clerk@harbor.test' });
    expect(pkg.signers.map((s) => s.declineReason)).toEqual([null, 'My own note', null, null]);
    // The same member asking for another signer's email is refused outright, not answered with a null.
    const email = await t.graphql(`query($id: ID!) { signingPackage(id: $id) { signers { email } } }`, { id: packageId }, { token });
    expect(email.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_FOR_SIGNERS' });
    expect(email.body.data ?? null).toBeNull();
  });
});

describe('signing and declining answer as a signer sees', () => {
  /** Everything a signer may see of a package, and every field that may answer null that they may not. */
  const BROAD = `
    id title message status sequential expiresAt sentAt completedAt senderName declinedAt voidedAt voidReason expiredAt location { id name code addressLine1 }
    organization { id name }
    documents { id collateralKind manufacturer model year serialNumber hudLabelNumber titleNumber addressLine1 addressLine2 city state postalCode county
      ownerEmail ownerPhone archivedAt loan { balance pastDueAmount daysPastDue } location { name code } signingPackages { id title } }
    signers { id order isMyTurn viewedAt signedAt declinedAt declineReason }
    mySlot { id order name email status viewedAt signedAt declinedAt declineReason isMyTurn }`;

  it.each([
    ['signSigningPackage', 'signSession', 'SIGNED'],
    ['declineSigningPackage', 'declineSession', 'DECLINED'],
  ])('%s', async (mutation, sessionName, status) => {
    const { token, packageId } = onePackageSessions[sessionName]!;
    const args = mutation === 'declineSigningPackage' ? '(packageId: $id, reason: "Not today")' : '(packageId: $id)';
    const result = await t.graphql(`mutation($id: ID!) { ${mutation}${args} { ${BROAD} } }`, { id: packageId }, { token });
    expect(result.body.errors).toBeUndefined();
    expect(JSON.stringify(result.body)).not.toMatch(LEAK);
    const pkg = (result.body.data as Record<string, Json>)[mutation]!;
    expect(pkg).toMatchObject({ senderName: 'Morgan Sender', declinedAt: null, voidReason: null, location: { name: 'Harbor Main Lot', code: null } });
    expect(pkg.documents).toEqual([expect.objectContaining({ serialNumber: 'CLW-HARBOR-1', county: 'Clarke', loan: null, ownerEmail: null, signingPackages: null })]);
    expect(pkg.mySlot).toMatchObject({ email: 'vera@borrower.test', status });
  });
});
