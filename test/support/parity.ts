import { randomUUID } from 'node:crypto';
import { getOperationAST, Kind, parse } from 'graphql';
import { hashPassword } from '../../src/lib/password.ts';
import type { GraphqlRouteSpec } from '../../src/rest/graphql-route.ts';
import { PERMISSION_KEYS } from '../../src/modules/auth/permissions.ts';
import type { TestApp } from './app.ts';
import { post, psAuth } from './apps.ts';
import { addMember, createDocument, createOrganization, createUser, exchangedTokenSession, linkManagerIdentity, signInAs } from './factories.ts';

/** Every kind of caller a `/v1` route must answer as its GraphQL twin does. */
export const CALLERS = [
  'admin',
  'owner',
  'managerInScope',
  'managerOutOfScope',
  'staffWithoutPermission',
  'signer',
  'senderSession',
  'signerSession',
  'appKeySession',
  'appOAuthSession',
  'anonymous',
] as const;
export type CallerKind = (typeof CALLERS)[number];

/** Callers whose sessions hold a full account (not limited to one package) and a membership in the home organization. */
export const HOME_MEMBERS: readonly CallerKind[] = ['owner', 'managerInScope', 'managerOutOfScope', 'staffWithoutPermission', 'appKeySession', 'appOAuthSession'];

type Json = Record<string, unknown>;

/**
 * The callers, their organizations and the records they are tried on. The home organization has two locations:
 * "in" (the in-scope manager's) and "out" (the out-of-scope manager's); the other organization has members of its own.
 */
export interface ParityWorld {
  t: TestApp;
  tokens: Record<CallerKind, string | undefined>;
  userIds: Record<Exclude<CallerKind, 'anonymous' | 'senderSession' | 'signerSession' | 'appKeySession' | 'appOAuthSession'> | 'runner' | 'otherManager', string>;
  home: { organizationId: string; inLocationId: string; outLocationId: string; fullRoleId: string; staffRoleId: string };
  other: { organizationId: string; locationId: string };
  /** The signing package the signer, the sender session and the signer session are tied to (home organization). */
  signing: { packageId: string; signerSlotId: string; signerIdentityId: string };
  /** The account behind each caller's session (the run-as user for app sessions; the owner for no token). */
  accountOf: Record<CallerKind, { id: string; email: string }>;
  /**
   * A new account standing where the caller's does (the same platform roles, membership, locations and identities),
   * signed in: for requests that use up their caller (deleting the account). Only for callers with an account of
   * their own; the others keep their world token.
   */
  freshCaller(kind: 'admin' | 'owner' | 'managerInScope' | 'managerOutOfScope' | 'staffWithoutPermission' | 'signer'): Promise<{ token: string; userId: string; email: string }>;
  /** A fresh chattel record (and loan), made directly in the database, so each mutating request gets its own. */
  record(input: { organization: 'home' | 'other'; location?: 'in' | 'out' | null; loan?: boolean | 'BEHIND'; serialNumber?: string }): Promise<{ documentId: string; serialNumber: string; loanId?: string; loanNumber?: string }>;
}

/** The password every account of the world has. */
export const PARITY_PASSWORD = 'parity-password-1';

let sequence = 0;
/** A value no other record in the run carries (serial numbers, loan numbers). */
export const uniqueTag = (prefix: string) => `${prefix}${Date.now().toString(36).toUpperCase()}${(++sequence).toString(36).toUpperCase()}${randomUUID().slice(0, 4).toUpperCase()}`;

export async function buildParityWorld(t: TestApp): Promise<ParityWorld> {
  const db = t.db.prisma;
  const services = t.app.services;
  const home = await createOrganization(db, { name: 'Parity Lending', permissions: ['documents', 'loans', 'rcm', 'signing'] });
  const homeId = home.organization.id;
  const outLocation = await db.location.create({ data: { organizationId: homeId, name: 'Parity outer lot' } });
  const ownerRole = await db.organizationRole.create({ data: { organizationId: homeId, name: 'Owner', permissions: [...PERMISSION_KEYS] } });
  const staffRole = await db.organizationRole.create({ data: { organizationId: homeId, name: 'Front desk', permissions: [] } });
  const other = await createOrganization(db, { name: 'Elsewhere Parity Lending', permissions: ['documents', 'loans', 'rcm', 'signing'] });

  const users = {
    admin: await createUser(db, { roles: ['ADMIN'], name: 'Ada Admin' }),
    owner: await createUser(db, { roles: ['MANAGER'], name: 'Olive Owner' }),
    managerInScope: await createUser(db, { roles: ['MANAGER'], name: 'Ian Inscope' }),
    managerOutOfScope: await createUser(db, { roles: ['MANAGER'], name: 'Otto Outscope' }),
    staffWithoutPermission: await createUser(db, { name: 'Stan Staff' }),
    signer: await createUser(db, { roles: ['SIGNER'], name: 'Sia Signer' }),
    runner: await createUser(db, { name: 'Rita Runner' }),
    otherManager: await createUser(db, { roles: ['MANAGER'], name: 'Elsa Elsewhere' }),
  };
  // Every account has a verified address and a password, as a real one would after sign-up.
  await db.user.updateMany({ where: { id: { in: Object.values(users).map((u) => u.id) } }, data: { emailVerifiedAt: new Date(), passwordHash: await hashPassword(PARITY_PASSWORD) } });
  await addMember(db, { userId: users.owner.id, organizationId: homeId, roleId: ownerRole.id, isOwner: true });
  await addMember(db, { userId: users.managerInScope.id, organizationId: homeId, roleId: home.role.id, locationIds: [home.location.id] });
  await addMember(db, { userId: users.managerOutOfScope.id, organizationId: homeId, roleId: home.role.id, locationIds: [outLocation.id] });
  await addMember(db, { userId: users.staffWithoutPermission.id, organizationId: homeId, roleId: staffRole.id });
  await addMember(db, { userId: users.runner.id, organizationId: homeId, roleId: home.role.id });
  await addMember(db, { userId: users.otherManager.id, organizationId: other.organization.id, roleId: other.role.id });
  await linkManagerIdentity(db, { userId: users.managerInScope.id, organizationId: homeId });
  await linkManagerIdentity(db, { userId: users.owner.id, organizationId: homeId });
  await linkManagerIdentity(db, { userId: users.managerOutOfScope.id, organizationId: homeId });
  await linkManagerIdentity(db, { userId: users.otherManager.id, organizationId: other.organization.id });

  const signerIdentity = await db.signingIdentity.create({
    data: { userId: users.signer.id, kind: 'SIGNER', organizationId: homeId, email: users.signer.email, linkedById: users.managerInScope.id },
  });
  const pkg = await db.signingPackage.create({
    data: {
      organizationId: homeId,
      locationId: home.location.id,
      title: 'Parity closing',
      status: 'SENT',
      createdById: users.managerInScope.id,
      signers: { create: [{ order: 1, email: users.signer.email, name: 'Sia Signer', signerIdentityId: signerIdentity.id }] },
    },
    select: { id: true, signers: { select: { id: true } } },
  });

  const tokens = {} as Record<CallerKind, string | undefined>;
  for (const kind of ['admin', 'owner', 'managerInScope', 'managerOutOfScope', 'staffWithoutPermission', 'signer'] as const) {
    tokens[kind] = (await signInAs(services, users[kind].id)).token;
  }
  tokens.anonymous = undefined;
  const managerToken = tokens.managerInScope!;
  tokens.senderSession = await exchangedTokenSession(t.url, 'sender', { packageId: pkg.id }, managerToken);
  tokens.signerSession = await exchangedTokenSession(t.url, 'signer/multiUse', { packageId: pkg.id, signerId: pkg.signers[0]!.id }, managerToken);

  // App access as the owner grants it: a group holding the runner, a registration for this host, an OAuth client.
  const ownerToken = tokens.owner!;
  const gql = async (query: string, variables: unknown): Promise<Json> => {
    const { body } = await t.graphql<Json, unknown>(query, variables, { token: ownerToken });
    if (body.errors) throw new Error(`world setup failed: ${JSON.stringify(body.errors)}`);
    return body.data as Json;
  };
  const group = (await gql(`mutation($input: CreateUserGroupInput!) { createUserGroup(input: $input) { id } }`, { input: { organizationId: homeId, name: 'Parity scripts' } }))
    .createUserGroup as { id: string };
  await gql(`mutation($input: UserGroupMemberInput!) { addUserGroupMember(input: $input) { id } }`, { input: { groupId: group.id, userId: users.runner.id } });
  const registration = (
    await gql(`mutation($input: CreateApiRegistrationInput!) { createApiRegistration(input: $input) { key apiRegistration { id } } }`, {
      input: { organizationId: homeId, name: 'Parity script', allowedSources: ['127.0.0.1', '::1'], groupIds: [group.id] },
    })
  ).createApiRegistration as { key: string; apiRegistration: { id: string } };
  const client = (
    await gql(`mutation($input: CreateOAuthClientInput!) { createOAuthClient(input: $input) { clientId clientSecret } }`, {
      input: { apiRegistrationId: registration.apiRegistration.id, name: 'Parity back office', runAsUserId: users.runner.id },
    })
  ).createOAuthClient as { clientId: string; clientSecret: string };

  const signAppIn = async (authorization: string) => {
    const answer = await post(`${t.url}/v1/Auth/SignAppIn`, { authorization });
    const token = answer.headers.get('x-access-token');
    if (answer.status !== 200 || !token) throw new Error(`SignAppIn answered ${answer.status}: ${answer.text}`);
    return token;
  };
  tokens.appKeySession = await signAppIn(psAuth(registration.key, users.runner.email));
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`;
  const issued = await post(`${t.url}/v1/Auth/Connect/Token`, { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, 'grant_type=client_credentials');
  if (issued.status !== 200) throw new Error(`token endpoint answered ${issued.status}: ${issued.text}`);
  tokens.appOAuthSession = await signAppIn(`Bearer ${String(issued.body.access_token)}`);

  const locations = { in: home.location.id, out: outLocation.id };
  return {
    t,
    tokens,
    userIds: Object.fromEntries(Object.entries(users).map(([name, user]) => [name, user.id])) as ParityWorld['userIds'],
    home: { organizationId: homeId, inLocationId: home.location.id, outLocationId: outLocation.id, fullRoleId: home.role.id, staffRoleId: staffRole.id },
    other: { organizationId: other.organization.id, locationId: other.location.id },
    signing: { packageId: pkg.id, signerSlotId: pkg.signers[0]!.id, signerIdentityId: signerIdentity.id },
    accountOf: {
      owner: users.owner,
      anonymous: users.owner,
      admin: users.admin,
      managerInScope: users.managerInScope,
      managerOutOfScope: users.managerOutOfScope,
      staffWithoutPermission: users.staffWithoutPermission,
      signer: users.signer,
      senderSession: users.managerInScope,
      signerSession: users.signer,
      appKeySession: users.runner,
      appOAuthSession: users.runner,
    },
    async freshCaller(kind) {
      const standing = {
        admin: { roles: ['ADMIN'] as const, membership: undefined },
        owner: { roles: ['MANAGER'] as const, membership: { roleId: ownerRole.id, isOwner: true, locationIds: [] } },
        managerInScope: { roles: ['MANAGER'] as const, membership: { roleId: home.role.id, isOwner: false, locationIds: [home.location.id] } },
        managerOutOfScope: { roles: ['MANAGER'] as const, membership: { roleId: home.role.id, isOwner: false, locationIds: [outLocation.id] } },
        staffWithoutPermission: { roles: [] as const, membership: { roleId: staffRole.id, isOwner: false, locationIds: [] } },
        signer: { roles: ['SIGNER'] as const, membership: undefined },
      }[kind];
      const user = await createUser(db, { roles: [...standing.roles], name: `Fresh ${kind}` });
      await db.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
      if (standing.membership) await addMember(db, { userId: user.id, organizationId: homeId, ...standing.membership });
      if (kind === 'owner' || kind.startsWith('manager')) await linkManagerIdentity(db, { userId: user.id, organizationId: homeId });
      if (kind === 'signer') await db.signingIdentity.create({ data: { userId: user.id, kind: 'SIGNER', organizationId: homeId, email: user.email, linkedById: users.managerInScope.id } });
      return { token: (await signInAs(services, user.id)).token, userId: user.id, email: user.email };
    },
    async record(input) {
      const organizationId = input.organization === 'home' ? homeId : other.organization.id;
      const locationId = input.organization === 'other' ? other.location.id : input.location === null ? null : locations[input.location ?? 'in'];
      const serialNumber = input.serialNumber ?? uniqueTag('PAR');
      const document = await createDocument(db, { organizationId, locationId: locationId ?? undefined, serialNumber });
      if (!input.loan) return { documentId: document.id, serialNumber };
      const loanNumber = uniqueTag('LN-');
      const loan = await db.loan.create({
        data: { organizationId, documentId: document.id, loanNumber, borrowerName: 'Dana Whitfield', principal: '84000.00', balance: '61250.50', interestRate: '7.2500', status: input.loan === 'BEHIND' ? 'BEHIND' : 'CURRENT', ...(input.loan === 'BEHIND' ? { daysPastDue: 45, pastDueAmount: '1250.00' } : {}) },
      });
      return { documentId: document.id, serialNumber, loanId: loan.id, loanNumber };
    },
  };
}

/** One request to a route, in the route's own terms: path parameters, query parameters (typed), JSON body, If-Match. */
export interface RouteRequest {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  body?: Json;
  ifMatch?: number;
}

/** What a caller got: the status and, for failures, the stable code and reason; the body for successes. */
export interface Answer {
  status: number;
  code?: string;
  reason?: string;
  body?: unknown;
}

const STATUS_OF_CODE: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400, CONFLICT: 409, RATE_LIMITED: 429 };

export function restPath(spec: GraphqlRouteSpec, request: RouteRequest): string {
  const path = spec.path.replace(/:(\w+)/g, (_, name: string) => {
    const value = request.params?.[name];
    if (value === undefined) throw new Error(`${spec.operationId}: no value for path parameter ${name}`);
    return encodeURIComponent(value);
  });
  const query = new URLSearchParams(Object.entries(request.query ?? {}).map(([name, value]) => [name, String(value)]));
  return query.size ? `${path}?${query.toString()}` : path;
}

/** Sends the request as a REST client would: plain fetch, Bearer token, JSON body, `If-Match: "<version>"`. */
export async function callRest(baseUrl: string, spec: GraphqlRouteSpec, request: RouteRequest, token: string | undefined): Promise<{ answer: Answer; headers: Headers; contentType: string | null }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (request.ifMatch !== undefined) headers['if-match'] = `"${request.ifMatch}"`;
  const response = await fetch(`${baseUrl}${restPath(spec, request)}`, { method: spec.method, headers, body: request.body === undefined ? undefined : JSON.stringify(request.body) });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  const contentType = response.headers.get('content-type');
  if (response.status >= 400) {
    const problem = (body ?? {}) as Json;
    return { answer: { status: response.status, code: problem.code as string | undefined, reason: problem.reason as string | undefined }, headers: response.headers, contentType };
  }
  return { answer: { status: response.status, body }, headers: response.headers, contentType };
}

function setAt(target: Json, path: string, value: unknown): void {
  const fields = path.split('.');
  let node = target;
  for (const field of fields.slice(0, -1)) node = (node[field] ??= {}) as Json;
  node[fields.at(-1)!] = value;
}

/** The variables the route's mapping makes of the request, built from the spec alone (not by the server's code). */
export function variablesFor(spec: GraphqlRouteSpec, request: RouteRequest): Json {
  const variables: Json = {};
  if (spec.body) setAt(variables, spec.body, structuredClone(request.body ?? {}));
  for (const [name, value] of Object.entries(request.body ?? {})) {
    const path = spec.bodyFields?.[name];
    if (path) setAt(variables, path, structuredClone(value));
  }
  for (const [name, path] of Object.entries(spec.params ?? {})) setAt(variables, path, request.params?.[name]);
  for (const [name, path] of Object.entries(spec.query ?? {})) if (request.query?.[name] !== undefined) setAt(variables, path, request.query[name]);
  if (spec.ifMatch && request.ifMatch !== undefined) setAt(variables, spec.ifMatch, request.ifMatch);
  return variables;
}

/** The root field's response key of a route's operation (its alias if any). */
function rootFieldOf(spec: GraphqlRouteSpec): string {
  const root = getOperationAST(parse(spec.operation))?.selectionSet.selections[0];
  if (root?.kind !== Kind.FIELD) throw new Error(`${spec.operationId}: cannot find the root field`);
  return root.alias?.value ?? root.name.value;
}

/**
 * Runs the route's operation over POST /graphql with the same token and says what REST should answer for it:
 * the root field's value (a list's nodes, an unwrapped field), or the first error's code and reason with its status.
 */
export async function callGraphql(t: TestApp, spec: GraphqlRouteSpec, request: RouteRequest, token: string | undefined): Promise<Answer> {
  const variables = variablesFor(spec, request);
  let { body } = await t.graphql<Json, Json>(spec.operation, variables, { token });
  // A route with a signer's narrower operation declares that it answers with it when the full one is NOT_FOR_SIGNERS.
  const signerOperation = (spec as { signerOperation?: string }).signerOperation;
  if (signerOperation && body.errors?.some((e) => e.extensions?.reason === 'NOT_FOR_SIGNERS')) body = (await t.graphql<Json, Json>(signerOperation, variables, { token })).body;
  const root = body.data?.[rootFieldOf(spec)] as Json | boolean | null | undefined;
  const error = body.errors?.[0]?.extensions;
  if (error) {
    const code = String(error.code);
    const reason = error.reason as string | undefined;
    const status = reason === 'STALE_VERSION' && spec.ifMatch ? 412 : (STATUS_OF_CODE[code] ?? 500);
    return { status, code, reason };
  }
  if (root === null || root === undefined) return { status: 404, code: 'NOT_FOUND' };
  const value = spec.unwrap ? (root as Json)[spec.unwrap.field] : root;
  if (spec.unwrap && (value === null || value === undefined)) return { status: 404, code: 'NOT_FOUND', reason: spec.unwrap.missing.reason };
  if (spec.noContent) return value === true ? { status: 204 } : { status: 500, code: 'NOT_TRUE' };
  if (spec.list && Array.isArray(value)) return { status: 200, body: { items: value, next: null } };
  if ((spec as { accepted?: boolean }).accepted) return { status: 202, body: value };
  if (spec.list) {
    const connection = value as { edges: Array<{ node: unknown }>; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount?: number };
    return {
      status: 200,
      body: {
        items: connection.edges.map((edge) => edge.node),
        next: connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null,
        ...(connection.totalCount !== undefined ? { totalCount: connection.totalCount } : {}),
      },
    };
  }
  return { status: spec.created ? 201 : 200, body: value };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/**
 * An answer with the values that differ between a record and its twin made the same way replaced by placeholders:
 * the strings in `aliases` (ids, serial and loan numbers, in the same order for both twins) and instants.
 */
export function normalizeTwin(answer: Answer, aliases: readonly string[]): Answer {
  if (answer.body === undefined) return answer;
  const replace = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (ISO_TIME.test(value)) return '<instant>';
      let text = value;
      aliases.forEach((alias, index) => {
        if (alias) text = text.split(alias).join(`<twin ${index}>`);
      });
      return text;
    }
    if (Array.isArray(value)) return value.map(replace);
    // Tokens a twin was issued (accessToken, refreshToken, deviceToken) are its own: only their presence is compared.
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, /Token$/.test(key) && typeof inner === 'string' && inner ? '<token>' : replace(inner)]));
    return value;
  };
  return { ...answer, body: replace(answer.body) };
}

/**
 * The ids a request's twins were given by the server (the new record's, its new children's), paired by where they
 * stand in the two answers: each pair becomes one more alias, so a record's id must still match everywhere it recurs.
 */
export function twinIds(a: unknown, b: unknown, pairs: Array<[string, string]> = []): Array<[string, string]> {
  if (Array.isArray(a) && Array.isArray(b)) a.forEach((item, index) => twinIds(item, b[index], pairs));
  else if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const [key, value] of Object.entries(a)) {
      const other = (b as Record<string, unknown>)[key];
      if (key === 'id' && typeof value === 'string' && typeof other === 'string') pairs.push([value, other]);
      else twinIds(value, other, pairs);
    }
  }
  return pairs;
}

/** Runs `work` over `items` with at most `limit` at a time, in order of the results. */
export async function inBatches<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
