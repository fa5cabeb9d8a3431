import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphqlRouteSpec } from '../src/rest/graphql-route.ts';
import { hashPassword } from '../src/lib/password.ts';
import { hashSecret } from '../src/lib/tokens.ts';
import { resourceSpecs } from '../src/rest/resources.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization } from './support/factories.ts';
import {
  buildParityWorld,
  callGraphql,
  callRest,
  CALLERS,
  HOME_MEMBERS,
  inBatches,
  normalizeTwin,
  PARITY_PASSWORD,
  twinIds,
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
  /** A token of the caller's kind for this request only (see ParityWorld.freshCaller); the world's token otherwise. */
  token?: string;
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
  /** The case changes a record every caller shares: callers run one after another, in this order. */
  serial?: boolean;
  callers?: readonly CallerKind[];
}

type RouteFactory = ParityCase[];

const LIMITED: Expected = { senderSession: 403, signerSession: 403, anonymous: 401 };

/**
 * A caller-kind table: `members` for every full session of a home-organization member (HOME_MEMBERS), the admin, the
 * signer; token sessions 403 and no token 401 unless overridden.
 */
function statuses(base: { members?: number; admin?: number; signer?: number }, overrides: Expected = {}): Expected {
  const table: Expected = { ...LIMITED };
  if (base.admin !== undefined) table.admin = base.admin;
  if (base.signer !== undefined) table.signer = base.signer;
  if (base.members !== undefined) for (const kind of HOME_MEMBERS) table[kind] = base.members;
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
/** Reading the home organization itself (any member, whatever their locations) or another one. */
const READ_HOME_ORGANIZATION = statuses({ members: 200, admin: 200, signer: 404 });

const KNOWN_PASSWORD = PARITY_PASSWORD;
const NEW_PASSWORD = 'parity-password-2-new';
let knownHash: Promise<string> | undefined;
const knownPasswordHash = () => (knownHash ??= hashPassword(KNOWN_PASSWORD));

const loanBody = (loanNumber: string) => ({ loanNumber, borrowerName: 'Dana Whitfield', principal: '92000.00', balance: '88500.25', interestRate: '6.5', daysPastDue: 0 });

let listTag = '';

const documentFactories: Record<string, RouteFactory> = {
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
      // Filtering by an organization the caller cannot read is an empty list, not an error.
      expected: statuses({ members: 200, admin: 200, signer: 200 }),
      itemCounts: { owner: 0, managerInScope: 0, managerOutOfScope: 0, staffWithoutPermission: 0, signer: 0, appKeySession: 0, appOAuthSession: 0 },
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

const FULL_SESSIONS = statuses({ members: 200, admin: 200, signer: 200 });
/** Account operations an app sign-in session may not use (APP_SESSION). */
const ACCOUNT_ONLY = (status: number) => statuses({ members: status, admin: status, signer: status }, { appKeySession: 403, appOAuthSession: 403 });
/** An organization-level permission only the owner holds (orgSettings, members, billing). */
const OWNER_ONLY = (status: number) => statuses({ members: 403, admin: 403, signer: 404 }, { owner: status });
const OTHER_ORGANIZATION = statuses({ members: 404, admin: 403, signer: 404 });
/** Changing a record addressed by its own id (a role, a location, a member): the admin, a member of none, finds none. */
const OWNER_ONLY_BY_ID = (status: number) => ({ ...OWNER_ONLY(status), admin: 404 });
const OTHER_ORGANIZATION_BY_ID = { ...OTHER_ORGANIZATION, admin: 404 };
/** Members and invitations: the admin's global read access covers them. */
const OWNER_OR_ADMIN = (organization: 'home' | 'other') => (organization === 'home' ? { ...OWNER_ONLY(200), admin: 200 } : { ...OTHER_ORGANIZATION, admin: 200 });
const db = () => world.t.db.prisma;

/** A fresh member of the home organization (a new account on the full role), to change or remove. */
async function freshMember(w: ParityWorld) {
  const user = await db().user.create({ data: { email: `${uniqueTag('member-').toLowerCase()}@example.test`, name: 'Mo Member', emailVerifiedAt: new Date() } });
  const membership = await db().membership.create({ data: { userId: user.id, organizationId: w.home.organizationId, roleId: w.home.fullRoleId } });
  return { user, membership };
}

/**
 * A new organization where the owner is an owner, the in-scope manager a location-scoped member and the staff member
 * a member without organization permissions: for requests that use an organization up (transfer, close).
 */
async function organizationOfTheCallers(w: ParityWorld) {
  const org = await createOrganization(db(), { name: uniqueTag('Handover '), permissions: ['documents', 'loans', 'rcm', 'signing'] });
  const ownerRole = await db().organizationRole.create({ data: { organizationId: org.organization.id, name: 'Owner', permissions: ['orgSettings', 'members'] } });
  const id = org.organization.id;
  await addMember(db(), { userId: w.userIds.owner, organizationId: id, roleId: ownerRole.id, isOwner: true });
  await addMember(db(), { userId: w.userIds.managerInScope, organizationId: id, roleId: org.role.id, locationIds: [org.location.id] });
  await addMember(db(), { userId: w.userIds.staffWithoutPermission, organizationId: id, roleId: org.role.id });
  return { org, ownerRole, id };
}

/** A pending invitation with a known token, as inviteMember stores it. */
async function invitation(w: ParityWorld, input: { organizationId: string; roleId: string; email: string }) {
  const token = uniqueTag('invite-token-');
  const expiresAt = new Date(Date.now() + 7 * 24 * 3600_000);
  const created = await db().invitation.create({ data: { ...input, invitedById: w.userIds.owner, expiresAt } });
  await db().authToken.create({
    data: { purpose: 'ORGANIZATION_INVITATION', tokenHash: hashSecret(token), organizationId: input.organizationId, invitationId: created.id, createdById: w.userIds.owner, maxUses: 1, expiresAt },
  });
  return { id: created.id, token };
}

const organizationState = (id: string) => () => db().organization.findUnique({ where: { id }, select: { name: true, slug: true, signInDomain: true, plan: true, seats: true } });

const accountFactories: Record<string, RouteFactory> = {
  getMe: [{ name: 'the signed-in account', make: async () => ({ request: {} }), expected: { ...FULL_SESSIONS, senderSession: 200, signerSession: 200 } }],
  listMySessions: [
    { name: 'a page of sessions', make: async () => ({ request: { query: { first: 5 } } }), expected: ACCOUNT_ONLY(200) },
    { name: 'a page over the largest size', make: async () => ({ request: { query: { first: 101 } } }), expected: INVALID },
  ],
  revokeMySession: [
    {
      name: "one of the caller's other sessions",
      make: async (w, caller) => {
        const session = await db().loginSession.create({ data: { userId: w.accountOf[caller].id, kind: 'PASSWORD', expiresAt: new Date(Date.now() + 3600_000) } });
        return { request: { params: { id: session.id } }, aliases: [session.id], state: () => db().loginSession.findUnique({ where: { id: session.id }, select: { revokedAt: true } }) };
      },
      expected: ACCOUNT_ONLY(204),
    },
    {
      name: "another account's session",
      make: async (w) => {
        const session = await db().loginSession.create({ data: { userId: w.userIds.otherManager, kind: 'PASSWORD', expiresAt: new Date(Date.now() + 3600_000) } });
        return { request: { params: { id: session.id } }, aliases: [session.id], state: () => db().loginSession.findUnique({ where: { id: session.id }, select: { revokedAt: true } }) };
      },
      expected: ACCOUNT_ONLY(404),
    },
  ],
  changeMyEmail: [
    {
      name: 'a wrong password',
      make: async (w, caller) => ({
        request: { body: { newEmail: `moved-${randomUUID()}@parity.test`, password: 'not-the-password' } },
        state: () => db().authToken.findFirst({ where: { userId: w.accountOf[caller].id, purpose: 'EMAIL_VERIFICATION' }, orderBy: { createdAt: 'desc' }, select: { id: true } }),
      }),
      expected: ACCOUNT_ONLY(400),
    },
    {
      name: 'the right password',
      serial: true,
      make: async (w, caller) => {
        await db().user.update({ where: { id: w.accountOf[caller].id }, data: { passwordHash: await knownPasswordHash() } });
        return {
          request: { body: { newEmail: `moved-${randomUUID()}@parity.test`, password: KNOWN_PASSWORD } },
          state: () => db().authToken.findFirst({ where: { userId: w.accountOf[caller].id, purpose: 'EMAIL_VERIFICATION' }, orderBy: { createdAt: 'desc' }, select: { id: true } }),
        };
      },
      expected: ACCOUNT_ONLY(204),
    },
  ],
  changeMyPassword: [
    {
      name: 'a wrong current password',
      make: async (w, caller) => ({
        request: { body: { currentPassword: 'not-the-password', newPassword: NEW_PASSWORD } },
        state: () => db().user.findUnique({ where: { id: w.accountOf[caller].id }, select: { passwordHash: true } }),
      }),
      expected: ACCOUNT_ONLY(400),
    },
    {
      name: 'the right current password',
      // Each request starts from the known password. Limited sessions first: a change ends the account's other sessions.
      serial: true,
      callers: ['anonymous', 'senderSession', 'signerSession', 'appOAuthSession', 'appKeySession', 'admin', 'managerOutOfScope', 'staffWithoutPermission', 'signer', 'managerInScope', 'owner'],
      make: async (w, caller) => {
        await db().user.update({ where: { id: w.accountOf[caller].id }, data: { passwordHash: await knownPasswordHash() } });
        return {
          request: { body: { currentPassword: KNOWN_PASSWORD, newPassword: NEW_PASSWORD } },
          state: () => db().user.findUnique({ where: { id: w.accountOf[caller].id }, select: { passwordHash: true } }),
        };
      },
      expected: ACCOUNT_ONLY(204),
    },
  ],
};

/** A new account with the known password, to sign in as. */
async function accountWithPassword() {
  const email = `${uniqueTag('signin-').toLowerCase()}@example.test`;
  const user = await db().user.create({ data: { email, name: 'Sam Signin', passwordHash: await knownPasswordHash(), emailVerifiedAt: new Date() } });
  return { user, email };
}

/** Sign-up answers 202 when it only mails a verification link (the route says `accepted`), 201 when it opens a session. */
const SIGN_UP_STATUS = (resourceSpecs.find((spec) => spec.operationId === 'signUp') as { accepted?: boolean } | undefined)?.accepted ? 202 : 201;

/** Everyone may sign up, sign in and refresh, signed in or not: the body is the credential. */
const PUBLIC = (status: number) => Object.fromEntries(CALLERS.map((caller) => [caller, status])) as Expected;

const signInFactories: Record<string, RouteFactory> = {
  signUp: [
    {
      name: 'a new account',
      make: async () => {
        const email = `${uniqueTag('signup-').toLowerCase()}@example.test`;
        return { request: { body: { email, name: 'Nia Newcomer', password: NEW_PASSWORD } }, aliases: [email], state: () => db().user.count({ where: { email } }) };
      },
      expected: PUBLIC(SIGN_UP_STATUS),
    },
    {
      name: 'a password that is too short',
      make: async () => {
        const email = `${uniqueTag('signup-').toLowerCase()}@example.test`;
        return { request: { body: { email, name: 'Nia Newcomer', password: 'short' } }, aliases: [email], state: () => db().user.count({ where: { email } }) };
      },
      expected: PUBLIC(400),
    },
  ],
  signIn: [
    {
      name: 'the right password',
      make: async () => {
        const { user, email } = await accountWithPassword();
        return { request: { body: { email, password: KNOWN_PASSWORD } }, aliases: [email, user.id], state: () => db().loginSession.count({ where: { userId: user.id } }) };
      },
      expected: PUBLIC(200),
    },
    {
      name: 'a wrong password',
      make: async () => {
        const { user, email } = await accountWithPassword();
        return { request: { body: { email, password: 'not-the-password' } }, aliases: [email, user.id], state: () => db().loginSession.count({ where: { userId: user.id } }) };
      },
      expected: PUBLIC(401),
    },
  ],
  verifyEmail: [
    {
      name: 'the token of a verification link',
      make: async () => {
        const email = `${uniqueTag('verify-').toLowerCase()}@example.test`;
        const user = await db().user.create({ data: { email, name: 'Val Verify', passwordHash: await knownPasswordHash() } });
        const token = uniqueTag('verify-token-');
        await db().authToken.create({ data: { purpose: 'EMAIL_VERIFICATION', tokenHash: hashSecret(token), userId: user.id, email, maxUses: 1, expiresAt: new Date(Date.now() + 3600_000) } });
        return { request: { body: { token } }, aliases: [email, user.id], state: () => db().user.findUnique({ where: { id: user.id }, select: { emailVerifiedAt: true } }) };
      },
      expected: PUBLIC(200),
    },
    { name: 'a token that was never issued', make: async () => ({ request: { body: { token: uniqueTag('no-such-token-') } } }), expected: PUBLIC(400) },
  ],
  refreshSession: [
    {
      name: 'a live refresh token',
      make: async () => {
        const { user, email } = await accountWithPassword();
        const { body } = await t.graphql<{ signIn: { refreshToken: string } }, unknown>(`mutation($input: SignInInput!) { signIn(input: $input) { refreshToken } }`, { input: { email, password: KNOWN_PASSWORD } });
        return {
          request: { body: { refreshToken: body.data!.signIn.refreshToken } },
          aliases: [email, user.id],
          state: () => db().loginSession.findMany({ where: { userId: user.id }, orderBy: { createdAt: 'asc' } }),
        };
      },
      expected: PUBLIC(200),
    },
    { name: 'a token that was never issued', make: async () => ({ request: { body: { refreshToken: uniqueTag('not-a-refresh-token-') } } }), expected: PUBLIC(401) },
  ],
};

/** Callers with an account of their own, who can be replaced by a fresh one of the same standing. */
const hasOwnAccount = (caller: CallerKind): caller is Parameters<ParityWorld['freshCaller']>[0] =>
  ['admin', 'owner', 'managerInScope', 'managerOutOfScope', 'staffWithoutPermission', 'signer'].includes(caller);

accountFactories.deleteMyAccount = [
  {
    name: 'a wrong password',
    make: async (w, caller) => ({
      request: { body: { password: 'not-the-password' } },
      state: () => db().user.findUnique({ where: { id: w.accountOf[caller].id } }),
    }),
    expected: ACCOUNT_ONLY(400),
  },
  {
    name: 'the right password, as a new account of the same standing',
    // Each request deletes its own account; the owner's and the admin's are not the last of their kind.
    make: async (w, caller) => {
      if (!hasOwnAccount(caller)) return { request: { body: { password: KNOWN_PASSWORD } }, state: () => db().user.findUnique({ where: { id: w.accountOf[caller].id } }) };
      const fresh = await w.freshCaller(caller);
      await db().user.update({ where: { id: fresh.userId }, data: { passwordHash: await knownPasswordHash() } });
      return { request: { body: { password: KNOWN_PASSWORD } }, token: fresh.token, aliases: [fresh.userId, fresh.email], state: () => db().user.findUnique({ where: { id: fresh.userId } }) };
    },
    expected: ACCOUNT_ONLY(204),
  },
];

const organizationFactories: Record<string, RouteFactory> = {
  listMyOrganizations: [{ name: "the caller's memberships", make: async () => ({ request: {} }), expected: FULL_SESSIONS }],
  createOrganization: [
    {
      name: 'a new organization',
      make: async () => {
        const slug = uniqueTag('parity-').toLowerCase();
        return { request: { body: { name: `Org ${slug}`, slug } }, aliases: [slug], state: () => db().organization.count({ where: { slug } }) };
      },
      expected: ACCOUNT_ONLY(201),
    },
    {
      name: 'a malformed slug',
      make: async () => {
        const slug = `${uniqueTag('Parity ')} !`;
        return { request: { body: { name: 'Org', slug } }, aliases: [slug], state: () => db().organization.count({ where: { slug } }) };
      },
      expected: ACCOUNT_ONLY(400),
    },
  ],
  getOrganization: [
    { name: 'the home organization', make: async (w) => ({ request: { params: { id: w.home.organizationId } } }), expected: READ_HOME_ORGANIZATION },
    { name: 'another organization', make: async (w) => ({ request: { params: { id: w.other.organizationId } } }), expected: READ_OTHER },
  ],
  listLocations: organizationRead(READ_HOME_ORGANIZATION, READ_OTHER),
  listRoles: organizationRead(READ_HOME_ORGANIZATION, READ_OTHER),
  listMembers: organizationRead(OWNER_OR_ADMIN('home'), OWNER_OR_ADMIN('other'), { first: 2 }),
  listInvitations: organizationRead(OWNER_OR_ADMIN('home'), OWNER_OR_ADMIN('other'), { first: 2 }),
  getOrganizationSettings: organizationRead(OWNER_ONLY(200), OTHER_ORGANIZATION),
  getOrganizationBilling: organizationRead(OWNER_ONLY(200), OTHER_ORGANIZATION),
  createLocation: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'in the home organization' : 'in another organization',
    make: async (w) => {
      const name = uniqueTag('Lot ');
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      return { request: { params: { id: organizationId }, body: { name, city: 'Athens' } }, aliases: [name], state: () => db().location.count({ where: { organizationId, name } }) };
    },
    expected: where === 'home' ? OWNER_ONLY(201) : OTHER_ORGANIZATION,
  })),
  updateLocation: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'in the home organization' : 'in another organization',
    make: async (w) => {
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      const location = await db().location.create({ data: { organizationId, name: uniqueTag('Lot ') } });
      const name = uniqueTag('Renamed lot ');
      return { request: { params: { id: location.id }, body: { name } }, aliases: [location.id, name], state: () => db().location.findUnique({ where: { id: location.id } }) };
    },
    expected: where === 'home' ? OWNER_ONLY_BY_ID(200) : OTHER_ORGANIZATION_BY_ID,
  })),
  createRole: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'in the home organization' : 'in another organization',
    make: async (w) => {
      const name = uniqueTag('Role ');
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      return { request: { params: { id: organizationId }, body: { name, permissions: ['documents'] } }, aliases: [name], state: () => db().organizationRole.count({ where: { organizationId, name } }) };
    },
    expected: where === 'home' ? OWNER_ONLY(201) : OTHER_ORGANIZATION,
  })),
  updateRole: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'in the home organization' : 'in another organization',
    make: async (w) => {
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      const role = await db().organizationRole.create({ data: { organizationId, name: uniqueTag('Role '), permissions: ['documents'] } });
      const name = uniqueTag('Renamed role ');
      return { request: { params: { id: role.id }, body: { name, permissions: ['documents', 'loans'] } }, aliases: [role.id, name], state: () => db().organizationRole.findUnique({ where: { id: role.id } }) };
    },
    expected: where === 'home' ? OWNER_ONLY_BY_ID(200) : OTHER_ORGANIZATION_BY_ID,
  })),
  deleteRole: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'in the home organization' : 'in another organization',
    make: async (w) => {
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      const role = await db().organizationRole.create({ data: { organizationId, name: uniqueTag('Role '), permissions: [] } });
      return { request: { params: { id: role.id } }, aliases: [role.id], state: () => db().organizationRole.count({ where: { id: role.id } }) };
    },
    expected: where === 'home' ? OWNER_ONLY_BY_ID(204) : OTHER_ORGANIZATION_BY_ID,
  })),
  updateMember: [
    {
      name: 'a member of the home organization',
      make: async (w) => {
        const { membership, user } = await freshMember(w);
        return { request: { params: { id: membership.id }, body: { roleId: w.home.staffRoleId } }, aliases: [membership.id, user.id, user.email], state: () => db().membership.findUnique({ where: { id: membership.id } }) };
      },
      expected: OWNER_ONLY_BY_ID(200),
    },
  ],
  removeMember: [
    {
      name: 'a member of the home organization',
      make: async (w) => {
        const { membership } = await freshMember(w);
        return { request: { params: { id: membership.id } }, aliases: [membership.id], state: () => db().membership.count({ where: { id: membership.id } }) };
      },
      expected: OWNER_ONLY_BY_ID(204),
    },
  ],
  transferOwnership: [
    {
      name: 'to another member of an organization the home callers belong to',
      // Each request gets its own organization, so the owner stays the home organization's owner.
      make: async (w) => {
        const { org, ownerRole, id } = await organizationOfTheCallers(w);
        const { membership, user } = await freshMember(w);
        const target = await db().membership.create({ data: { userId: user.id, organizationId: id, roleId: org.role.id } });
        await db().membership.delete({ where: { id: membership.id } });
        return {
          request: { params: { id }, body: { toMembershipId: target.id } },
          aliases: [id, org.organization.name, org.organization.slug, org.role.id, org.location.id, org.location.name, ownerRole.id, target.id, user.id, user.email],
          state: () => db().membership.findMany({ where: { organizationId: id }, select: { id: true, isOwner: true }, orderBy: { id: 'asc' } }),
        };
      },
      expected: statuses({ members: 404, admin: 403, signer: 404 }, { owner: 200, managerInScope: 403, staffWithoutPermission: 403 }),
    },
  ],
  closeOrganization: [
    {
      name: 'an organization the home callers belong to',
      // Each request closes its own organization.
      make: async (w) => {
        const { org, ownerRole, id } = await organizationOfTheCallers(w);
        return {
          request: { params: { id } },
          aliases: [id, org.organization.name, org.organization.slug, org.role.id, org.location.id, org.location.name, ownerRole.id],
          state: () => db().organization.findUnique({ where: { id } }),
        };
      },
      // The admin, who may read every organization, is refused the owner's rule rather than not finding it.
      expected: statuses({ members: 404, admin: 403, signer: 404 }, { owner: 204, managerInScope: 403, staffWithoutPermission: 403 }),
    },
    { name: 'another organization', make: async (w) => ({ request: { params: { id: w.other.organizationId } }, state: organizationState(w.other.organizationId) }), expected: OTHER_ORGANIZATION },
  ],
  inviteMember: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'to the home organization' : 'to another organization',
    make: async (w) => {
      const email = `${uniqueTag('invitee-').toLowerCase()}@example.test`;
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      const roleId = where === 'home' ? w.home.staffRoleId : (await db().organizationRole.findFirstOrThrow({ where: { organizationId } })).id;
      return { request: { params: { id: organizationId }, body: { email, roleId } }, aliases: [email], state: () => db().invitation.count({ where: { email } }) };
    },
    expected: where === 'home' ? OWNER_ONLY(201) : OTHER_ORGANIZATION,
  })),
  revokeInvitation: [
    {
      name: 'a pending invitation to the home organization',
      make: async (w) => {
        const email = `${uniqueTag('invitee-').toLowerCase()}@example.test`;
        const { id } = await invitation(w, { organizationId: w.home.organizationId, roleId: w.home.staffRoleId, email });
        return { request: { params: { id } }, aliases: [id, email], state: () => db().invitation.findUnique({ where: { id }, select: { status: true } }) };
      },
      expected: OWNER_ONLY_BY_ID(200),
    },
  ],
  acceptInvitation: [
    {
      name: "an invitation to the caller's address",
      // Each to a new organization, so accepting never widens what the caller sees elsewhere in this test.
      make: async (w, caller) => {
        const org = await createOrganization(db(), { name: uniqueTag('Joining '), permissions: [] });
        const email = w.accountOf[caller].email;
        const { id, token } = await invitation(w, { organizationId: org.organization.id, roleId: org.role.id, email });
        return {
          request: { body: { token } },
          aliases: [id, org.organization.id, org.organization.name, org.organization.slug, org.role.id],
          state: () => db().invitation.findUnique({ where: { id }, select: { status: true } }),
        };
      },
      expected: ACCOUNT_ONLY(201),
    },
    {
      name: 'a token that is not an invitation',
      make: async () => ({ request: { body: { token: uniqueTag('no-such-token-') } } }),
      expected: ACCOUNT_ONLY(400),
    },
  ],
  updateOrganizationSettings: [
    {
      name: 'the home organization',
      serial: true,
      make: async (w) => {
        const name = uniqueTag('Parity Lending ');
        return { request: { params: { id: w.home.organizationId }, body: { name } }, aliases: [name], state: organizationState(w.home.organizationId) };
      },
      expected: OWNER_ONLY(200),
    },
    {
      name: 'another organization',
      make: async (w) => ({ request: { params: { id: w.other.organizationId }, body: { name: 'Taken Over' } }, state: organizationState(w.other.organizationId) }),
      expected: OTHER_ORGANIZATION,
    },
  ],
  updateOrganizationBilling: [
    {
      name: 'the home organization',
      serial: true,
      make: async (w) => {
        const plan = uniqueTag('plan-').toLowerCase();
        return { request: { params: { id: w.home.organizationId }, body: { plan } }, aliases: [plan], state: organizationState(w.home.organizationId) };
      },
      expected: OWNER_ONLY(200),
    },
    {
      name: 'another organization',
      make: async (w) => ({ request: { params: { id: w.other.organizationId }, body: { plan: 'free' } }, state: organizationState(w.other.organizationId) }),
      expected: OTHER_ORGANIZATION,
    },
  ],
};

const identityFactories: Record<string, RouteFactory> = {
  listMySigningIdentities: [{ name: "the caller's identities", make: async () => ({ request: {} }), expected: FULL_SESSIONS }],
  linkSigningIdentity: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'a signer identity in the home organization' : 'a signer identity in another organization',
    make: async (w) => {
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      const user = await db().user.create({ data: { email: `${uniqueTag('linked-').toLowerCase()}@example.test`, name: 'Lin Linked', roles: ['SIGNER'], emailVerifiedAt: new Date() } });
      return {
        request: { body: { kind: 'SIGNER', organizationId, userEmail: user.email } },
        aliases: [user.email, user.id],
        state: () => db().signingIdentity.count({ where: { userId: user.id } }),
      };
    },
    // Signer identities are linked by MANAGERs holding signing there; anyone else, the organization's members or not, is refused
    // (whether the organization exists is never looked at, so nothing about another organization leaks).
    expected: where === 'home' ? statuses({ members: 403, admin: 403, signer: 403 }, { owner: 201, managerInScope: 201, managerOutOfScope: 201 }) : statuses({ members: 403, admin: 403, signer: 403 }),
  })),
  unlinkSigningIdentity: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'a signer identity in the home organization' : 'a signer identity in another organization',
    make: async (w) => {
      const organizationId = where === 'home' ? w.home.organizationId : w.other.organizationId;
      const user = await db().user.create({ data: { email: `${uniqueTag('linked-').toLowerCase()}@example.test`, name: 'Lin Linked', roles: ['SIGNER'], emailVerifiedAt: new Date() } });
      const identity = await db().signingIdentity.create({ data: { userId: user.id, kind: 'SIGNER', organizationId, email: user.email, linkedById: where === 'home' ? w.userIds.managerInScope : w.userIds.otherManager } });
      return { request: { params: { id: identity.id } }, aliases: [identity.id], state: () => db().signingIdentity.findUnique({ where: { id: identity.id } }) };
    },
    expected: where === 'home' ? statuses({ members: 403, admin: 404, signer: 404 }, { owner: 204, managerInScope: 204, managerOutOfScope: 204 }) : OTHER_ORGANIZATION_BY_ID,
  })),
};

type CampaignStatus = 'DRAFT' | 'ACTIVE' | 'PAUSED' | 'COMPLETED' | 'CANCELLED';

/** A campaign on a fresh record whose loan is BEHIND, in the given status, with one step (and attempts, if asked). */
async function campaign(w: ParityWorld, input: { organization: 'home' | 'other'; status: CampaignStatus; attempts?: number }) {
  const record = await w.record({ organization: input.organization, loan: 'BEHIND' });
  const organizationId = input.organization === 'home' ? w.home.organizationId : w.other.organizationId;
  const now = new Date();
  const created = await db().rcmCampaign.create({
    data: {
      organizationId,
      documentId: record.documentId,
      loanId: record.loanId!,
      name: 'Parity outreach',
      status: input.status,
      startedAt: input.status === 'DRAFT' ? null : now,
      pausedAt: input.status === 'PAUSED' ? now : null,
      steps: { create: [{ position: 1, channel: 'EMAIL', delayHours: 0, template: 'Your payment is past due.' }] },
    },
    select: { id: true, steps: { select: { id: true } } },
  });
  for (let i = 0; i < (input.attempts ?? 0); i++) {
    await db().rcmOutreachAttempt.create({ data: { campaignId: created.id, stepId: created.steps[0]!.id, channel: 'CALL', status: 'NO_RESPONSE', notes: `Call ${i + 1}`, attemptedAt: new Date(now.getTime() - (i + 1) * 60_000) } });
  }
  return { ...record, campaignId: created.id, stepId: created.steps[0]!.id };
}

const campaignState = (id: string) => () => db().rcmCampaign.findUnique({ where: { id }, select: { status: true, version: true, pausedAt: true, completedAt: true, cancelledAt: true, _count: { select: { attempts: true } } } });

/** Changing a home record's campaign with the rcm permission, another organization's, and from the wrong status. */
function campaignStep(from: CampaignStatus, wrongFrom: CampaignStatus): RouteFactory {
  const make = (organization: 'home' | 'other', status: CampaignStatus) => async (w: ParityWorld) => {
    const made = await campaign(w, { organization, status });
    return { request: { params: { id: made.campaignId } }, aliases: [made.campaignId, made.documentId, made.loanId!, made.loanNumber!, made.stepId], state: campaignState(made.campaignId) };
  };
  return [
    { name: `a home ${from} campaign`, make: make('home', from), expected: WRITE_HOME },
    { name: `another organization's ${from} campaign`, make: make('other', from), expected: WRITE_OTHER },
    { name: `a home ${wrongFrom} campaign`, make: make('home', wrongFrom), expected: statuses({ members: 409, admin: 403, signer: 404 }, { managerOutOfScope: 404, staffWithoutPermission: 403 }) },
  ];
}

const rcmFactories: Record<string, RouteFactory> = {
  getDocumentRcmEligibility: [
    { name: 'a home record behind on its loan', make: async (w) => ({ request: { params: { id: (await w.record({ organization: 'home', loan: 'BEHIND' })).documentId } } }), expected: READ_HOME },
    { name: "another organization's record", make: async (w) => ({ request: { params: { id: (await w.record({ organization: 'other', loan: 'BEHIND' })).documentId } } }), expected: READ_OTHER },
  ],
  listDocumentCampaigns: ['home', 'other'].map((where) => ({
    name: where === 'home' ? "a home record's campaigns" : "another organization's record's campaigns",
    make: async (w) => {
      const made = await campaign(w, { organization: where as 'home' | 'other', status: 'CANCELLED' });
      await db().rcmCampaign.create({ data: { organizationId: where === 'home' ? w.home.organizationId : w.other.organizationId, documentId: made.documentId, loanId: made.loanId!, name: 'Second', status: 'DRAFT' } });
      return { request: { params: { id: made.documentId }, query: { first: 1 } } };
    },
    expected: where === 'home' ? READ_HOME : READ_OTHER,
  })),
  startCampaign: [
    ...(['home', 'other'] as const).map((where) => ({
      name: where === 'home' ? 'on a home record behind on its loan' : "on another organization's record",
      make: async (w: ParityWorld) => {
        const record = await w.record({ organization: where, loan: 'BEHIND' });
        return {
          request: { params: { id: record.documentId }, body: { name: 'Past due outreach', steps: [{ channel: 'EMAIL', delayHours: 0, template: 'Your payment is past due.' }] } },
          aliases: [record.documentId, record.serialNumber, record.loanId!, record.loanNumber!],
          state: () => db().rcmCampaign.count({ where: { documentId: record.documentId } }),
        };
      },
      expected: where === 'home' ? { ...WRITE_HOME, owner: 201, managerInScope: 201, appKeySession: 201, appOAuthSession: 201 } : WRITE_OTHER,
    })),
    {
      name: 'on a home record whose loan is current',
      make: async (w: ParityWorld) => {
        const record = await w.record({ organization: 'home', loan: true });
        return {
          request: { params: { id: record.documentId }, body: { name: 'Too early', steps: [{ channel: 'EMAIL', delayHours: 0, template: 'Hello' }] } },
          state: () => db().rcmCampaign.count({ where: { documentId: record.documentId } }),
        };
      },
      expected: statuses({ members: 400, admin: 403, signer: 404 }, { managerOutOfScope: 404, staffWithoutPermission: 403 }),
    },
  ],
  getCampaign: ['home', 'other'].map((where) => ({
    name: where === 'home' ? 'a home campaign' : "another organization's campaign",
    make: async (w) => ({ request: { params: { id: (await campaign(w, { organization: where as 'home' | 'other', status: 'ACTIVE' })).campaignId } } }),
    expected: where === 'home' ? READ_HOME : READ_OTHER,
  })),
  listOutreachAttempts: ['home', 'other'].map((where) => ({
    name: where === 'home' ? "a home campaign's attempts" : "another organization's campaign's attempts",
    make: async (w) => ({ request: { params: { id: (await campaign(w, { organization: where as 'home' | 'other', status: 'ACTIVE', attempts: 3 })).campaignId }, query: { first: 2 } } }),
    expected: where === 'home' ? READ_HOME : READ_OTHER,
  })),
  activateCampaign: campaignStep('DRAFT', 'COMPLETED'),
  pauseCampaign: campaignStep('ACTIVE', 'DRAFT'),
  resumeCampaign: campaignStep('PAUSED', 'ACTIVE'),
  completeCampaign: campaignStep('ACTIVE', 'CANCELLED'),
  cancelCampaign: campaignStep('ACTIVE', 'COMPLETED'),
  recordOutreachAttempt: (
    [
      ['an active home campaign', 'home', 'ACTIVE', { ...WRITE_HOME, owner: 201, managerInScope: 201, appKeySession: 201, appOAuthSession: 201 }],
      ["another organization's campaign", 'other', 'ACTIVE', WRITE_OTHER],
      ['a draft home campaign', 'home', 'DRAFT', statuses({ members: 409, admin: 403, signer: 404 }, { managerOutOfScope: 404, staffWithoutPermission: 403 })],
    ] as const
  ).map(([name, organization, status, expected]) => ({
    name,
    expected,
    make: async (w: ParityWorld) => {
      const made = await campaign(w, { organization, status });
      return {
        request: { params: { id: made.campaignId }, body: { channel: 'CALL', status: 'NO_RESPONSE', notes: 'Left a voicemail.' } },
        aliases: [made.campaignId],
        state: campaignState(made.campaignId),
      };
    },
  })),
};

/** A package in the home organization's in-scope location (or another organization), on a fresh record, for the signer. */
async function signingPackage(w: ParityWorld, input: { organization: 'home' | 'other'; status: 'DRAFT' | 'SENT' }) {
  const record = await w.record({ organization: input.organization });
  const home = input.organization === 'home';
  const title = uniqueTag('Closing ');
  const created = await db().signingPackage.create({
    data: {
      organizationId: home ? w.home.organizationId : w.other.organizationId,
      locationId: home ? w.home.inLocationId : w.other.locationId,
      title,
      status: input.status,
      sentAt: input.status === 'SENT' ? new Date() : null,
      createdById: home ? w.userIds.managerInScope : w.userIds.otherManager,
      documents: { create: [{ documentId: record.documentId, position: 1 }] },
      signers: {
        create: [home ? { order: 1, email: w.accountOf.signer.email, name: 'Sia Signer', signerIdentityId: w.signing.signerIdentityId } : { order: 1, email: 'someone@example.test', name: 'Someone' }],
      },
    },
    select: { id: true, signers: { select: { id: true } } },
  });
  return { packageId: created.id, signerId: created.signers[0]!.id, title, aliases: [created.id, created.signers[0]!.id, title, record.documentId, record.serialNumber] };
}

const packageState = (id: string) => () =>
  db().signingPackage.findUnique({ where: { id }, select: { status: true, version: true, voidReason: true, signers: { select: { status: true, viewedAt: true, signedAt: true, declinedAt: true } } } });

function packageChange(name: string, organization: 'home' | 'other', status: 'DRAFT' | 'SENT', request: RouteRequest, expected: Expected, options: Partial<ParityCase> = {}): ParityCase {
  return {
    name,
    expected,
    ...options,
    make: async (w) => {
      const made = await signingPackage(w, { organization, status });
      return { request: { params: { id: made.packageId }, ...request }, aliases: made.aliases, state: packageState(made.packageId) };
    },
  };
}

/**
 * Managing packages needs a manager signing identity first (403 NO_MANAGER_IDENTITY for the admin, the staff member,
 * the signer and the app sessions' run-as user, who have none), then the signing permission within the caller's
 * locations: the owner and the in-scope manager reach home packages at the in-scope location, the out-of-scope one
 * does not.
 */
const MANAGE_HOME = (status: number, outOfScope = 404) => statuses({ members: 403, admin: 403, signer: 403 }, { owner: status, managerInScope: status, managerOutOfScope: outOfScope });
const MANAGE_OTHER = MANAGE_HOME(404, 404);
/** A package the sender session was not issued for is not found for it. */
const NOT_THE_SENDERS = { senderSession: 404 };
/** A signer's own step: only the signer reaches their slot; the package's managers and the admin are NOT_A_SIGNER. */
const SIGNER_STEP = (status: number) => statuses({ members: 404, admin: 403, signer: status }, { owner: 403, managerInScope: 403, signerSession: 404 });
const SIGNER_STEP_OTHER = statuses({ members: 404, admin: 403, signer: 404 }, { signerSession: 404 });

const signingFactories: Record<string, RouteFactory> = {
  listSigningPackages: [
    { name: 'the home organization', make: async (w) => ({ request: { query: { organizationId: w.home.organizationId, first: 2 } } }), expected: MANAGE_HOME(200, 200) },
    { name: 'another organization', make: async (w) => ({ request: { query: { organizationId: w.other.organizationId, first: 2 } } }), expected: MANAGE_OTHER },
  ],
  createSigningPackage: (['home', 'other'] as const).map((where) => ({
    name: where === 'home' ? 'in the home organization' : 'in another organization',
    make: async (w: ParityWorld) => {
      const record = await w.record({ organization: where });
      const title = uniqueTag('Closing ');
      const home = where === 'home';
      return {
        request: {
          body: {
            organizationId: home ? w.home.organizationId : w.other.organizationId,
            locationId: home ? w.home.inLocationId : w.other.locationId,
            title,
            documentIds: [record.documentId],
            signers: [{ email: 'borrower@example.test', name: 'Dana Whitfield' }],
          },
        },
        aliases: [title, record.documentId, record.serialNumber],
        state: () => db().signingPackage.count({ where: { title } }),
      };
    },
    expected: where === 'home' ? MANAGE_HOME(201, 403) : MANAGE_OTHER,
  })),
  getSigningPackage: [
    {
      name: "the package the signer and the token sessions belong to",
      make: async (w) => ({ request: { params: { id: w.signing.packageId } } }),
      expected: statuses({ members: 404, admin: 200, signer: 200 }, { owner: 200, managerInScope: 200, senderSession: 200, signerSession: 200 }),
    },
    {
      name: "another organization's package",
      make: async (w) => ({ request: { params: { id: (await signingPackage(w, { organization: 'other', status: 'SENT' })).packageId } } }),
      // Token sessions may read only the package they were issued for.
      expected: statuses({ members: 404, admin: 200, signer: 404 }, { senderSession: 404, signerSession: 404 }),
    },
  ],
  sendSigningPackage: [
    packageChange('a home draft', 'home', 'DRAFT', { ifMatch: 1 }, { ...MANAGE_HOME(200), ...NOT_THE_SENDERS }),
    packageChange("another organization's draft", 'other', 'DRAFT', { ifMatch: 1 }, { ...MANAGE_OTHER, ...NOT_THE_SENDERS }),
    packageChange('a stale version', 'home', 'DRAFT', { ifMatch: 2 }, { ...MANAGE_HOME(412), ...NOT_THE_SENDERS }),
    packageChange('a package already sent', 'home', 'SENT', { ifMatch: 1 }, { ...MANAGE_HOME(409), ...NOT_THE_SENDERS }),
  ],
  voidSigningPackage: [
    packageChange('a sent home package', 'home', 'SENT', { ifMatch: 1, body: { reason: 'Wrong borrower' } }, { ...MANAGE_HOME(200), ...NOT_THE_SENDERS }),
    packageChange("another organization's package", 'other', 'SENT', { ifMatch: 1, body: { reason: 'Wrong borrower' } }, { ...MANAGE_OTHER, ...NOT_THE_SENDERS }),
    packageChange('a stale version', 'home', 'SENT', { ifMatch: 3, body: { reason: 'Wrong borrower' } }, { ...MANAGE_HOME(412), ...NOT_THE_SENDERS }),
  ],
  viewSigningPackage: [
    packageChange("a sent package assigned to the signer", 'home', 'SENT', {}, SIGNER_STEP(200)),
    packageChange("another organization's package", 'other', 'SENT', {}, SIGNER_STEP_OTHER),
  ],
  signSigningPackage: [
    packageChange("a sent package assigned to the signer", 'home', 'SENT', {}, SIGNER_STEP(200)),
    packageChange('a draft assigned to the signer', 'home', 'DRAFT', {}, SIGNER_STEP(404)),
  ],
  declineSigningPackage: [
    packageChange("a sent package assigned to the signer", 'home', 'SENT', { body: { reason: 'The amount is wrong.' } }, SIGNER_STEP(200)),
    packageChange("another organization's package", 'other', 'SENT', { body: { reason: 'The amount is wrong.' } }, SIGNER_STEP_OTHER),
  ],
  listSignerQueue: [
    { name: 'a page of the queue', make: async () => ({ request: { query: { first: 2 } } }), expected: { ...FULL_SESSIONS, signerSession: 200 } },
    { name: 'a page over the largest size', make: async () => ({ request: { query: { first: 101 } } }), expected: { ...INVALID, signerSession: 400 } },
  ],
  listSigningHub: [
    { name: 'a page of the hub', make: async () => ({ request: { query: { first: 2 } } }), expected: MANAGE_HOME(200, 200) },
    { name: 'a page over the largest size', make: async () => ({ request: { query: { first: 101 } } }), expected: INVALID },
  ],
};

/** Platform administration: platform admins only (an app session never acts as one). */
const PLATFORM_ADMIN = (status: number) => statuses({ members: 403, admin: status, signer: 403 });

/** A new account to administer, with the given roles (and disabled, if asked). */
async function administeredAccount(input: { roles?: Array<'ADMIN' | 'MANAGER' | 'SIGNER'>; disabled?: boolean } = {}) {
  const email = `${uniqueTag('managed-').toLowerCase()}@example.test`;
  const user = await db().user.create({ data: { email, name: 'Pat Person', roles: input.roles ?? [], emailVerifiedAt: new Date(), disabledAt: input.disabled ? new Date() : null } });
  return { request: { params: { id: user.id } }, aliases: [user.id, email], state: () => db().user.findUnique({ where: { id: user.id }, select: { roles: true, disabledAt: true } }) };
}

const userFactories: Record<string, RouteFactory> = {
  listUsers: [
    { name: 'a page of accounts', make: async () => ({ request: { query: { first: 3 } } }), expected: PLATFORM_ADMIN(200) },
    { name: 'a search', make: async (w) => ({ request: { query: { search: w.accountOf.signer.email, first: 5 } } }), expected: PLATFORM_ADMIN(200), itemCounts: { admin: 1 } },
  ],
  getUser: [
    { name: 'an account', make: async (w) => ({ request: { params: { id: w.userIds.signer } } }), expected: PLATFORM_ADMIN(200) },
    { name: 'an id that names nothing', make: async () => ({ request: { params: { id: randomUUID() } } }), expected: PLATFORM_ADMIN(404) },
  ],
  grantPlatformRole: [
    {
      name: 'MANAGER to an account without roles',
      make: async () => {
        const made = await administeredAccount();
        return { ...made, request: { ...made.request, body: { role: 'MANAGER' } } };
      },
      expected: PLATFORM_ADMIN(200),
    },
  ],
  revokePlatformRole: [
    {
      name: 'MANAGER from an account holding it',
      make: async () => {
        const made = await administeredAccount({ roles: ['MANAGER', 'SIGNER'] });
        return { ...made, request: { params: { ...made.request.params, role: 'MANAGER' } } };
      },
      expected: PLATFORM_ADMIN(200),
    },
  ],
  disableUser: [
    { name: 'an enabled account', make: async () => administeredAccount({ roles: ['MANAGER'] }), expected: PLATFORM_ADMIN(200) },
    {
      name: "the caller's own account",
      make: async (w, caller) => ({ request: { params: { id: w.accountOf[caller].id } }, state: () => db().user.findUnique({ where: { id: w.accountOf[caller].id }, select: { disabledAt: true } }) }),
      // Nobody disables their own account, the admin included.
      expected: PLATFORM_ADMIN(403),
    },
  ],
  enableUser: [{ name: 'a disabled account', make: async () => administeredAccount({ disabled: true }), expected: PLATFORM_ADMIN(200) }],
};

/** Reading something of an organization: the home one, then another one. */
function organizationRead(home: Expected, other: Expected, query?: RouteRequest['query']): RouteFactory {
  return [
    { name: 'the home organization', make: async (w) => ({ request: { params: { id: w.home.organizationId }, ...(query ? { query } : {}) } }), expected: home },
    { name: 'another organization', make: async (w) => ({ request: { params: { id: w.other.organizationId }, ...(query ? { query } : {}) } }), expected: other },
  ];
}

/** The audit log: members of the home organization read what the shared policy shows them (an empty page is still 200). */
const activityFactories: Record<string, RouteFactory> = {
  listOrganizationActivity: organizationRead(statuses({ members: 200, admin: 200, signer: 404 }), READ_OTHER, { first: 3 }),
};

const factories: Record<string, RouteFactory> = { ...signInFactories, ...accountFactories, ...organizationFactories, ...identityFactories, ...documentFactories, ...rcmFactories, ...signingFactories, ...userFactories, ...activityFactories };

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
  const problems: string[] = [];
  // A mutation's twin is made after the REST request ran, so a case may reset what the first request changed.
  const restPrepared = shared ? await shared : await parityCase.make(world, caller);
  const restBefore = jsonOf(await restPrepared.state?.());
  const { answer: rest, headers, contentType } = await callRest(t.url, spec, restPrepared.request, restPrepared.token ?? world.tokens[caller]);
  const restAfter = jsonOf(await restPrepared.state?.());
  const graphqlPrepared = shared ? restPrepared : await parityCase.make(world, caller);
  const graphqlBefore = jsonOf(await graphqlPrepared.state?.());
  const graphql = await callGraphql(t, spec, graphqlPrepared.request, graphqlPrepared.token ?? world.tokens[caller]);
  const graphqlAfter = jsonOf(await graphqlPrepared.state?.());

  const restOk = rest.status < 400;
  const graphqlOk = graphql.status < 400;
  if (rest.status !== graphql.status || rest.code !== graphql.code || rest.reason !== graphql.reason) {
    problems.push(`REST ${rest.status} ${rest.code ?? ''} ${rest.reason ?? ''} vs GraphQL ${graphql.status} ${graphql.code ?? ''} ${graphql.reason ?? ''}`);
  }
  if (restOk && graphqlOk) {
    const aliases = [...(restPrepared.aliases ?? [])];
    const twinAliases = [...(graphqlPrepared.aliases ?? [])];
    for (const [restId, graphqlId] of shared ? [] : twinIds(rest.body, graphql.body)) {
      if (aliases.includes(restId) || twinAliases.includes(graphqlId)) continue;
      aliases.push(restId);
      twinAliases.push(graphqlId);
    }
    const restBody = shared ? rest : normalizeTwin(rest, aliases);
    const graphqlBody = shared ? graphql : normalizeTwin(graphql, twinAliases);
    if (jsonOf(restBody.body) !== jsonOf(graphqlBody.body)) problems.push(`bodies differ:\n  REST    ${jsonOf(restBody.body)}\n  GraphQL ${jsonOf(graphqlBody.body)}`);
    const record = rest.body as { id?: string; version?: unknown } | undefined;
    if (spec.created) {
      // A creation whose result has no URL of its own (`created` answers null) is 201 without Location.
      const path = spec.created(rest.body as Record<string, unknown>, variablesFor(spec, restPrepared.request)) as string | null;
      const location = path === null ? null : `${t.config.publicUrl.replace(/\/$/, '')}${path}`;
      if (headers.get('location') !== location) problems.push(`Location ${String(headers.get('location'))}, not ${String(location)}`);
    }
    if (spec.method === 'GET' && !spec.list && typeof record?.version === 'number' && headers.get('etag') !== `"${record.version}"`) problems.push(`ETag ${String(headers.get('etag'))}`);
  }
  if (!restOk && !contentType?.startsWith('application/problem+json')) problems.push(`failure answered as ${String(contentType)}`);
  if (rest.status === 401 && !headers.get('www-authenticate')?.startsWith('Bearer')) problems.push('401 without WWW-Authenticate: Bearer');
  if (isMutation(spec) && restPrepared.state) {
    if (!restOk && restBefore !== restAfter) problems.push('a refused REST request changed its record');
    if (!graphqlOk && graphqlBefore !== graphqlAfter) problems.push('a refused GraphQL request changed its record');
    if (restOk && restBefore === restAfter) problems.push('a successful REST request left its record as it was');
    if (graphqlOk && graphqlBefore === graphqlAfter) problems.push('a successful GraphQL request left its record as it was');
  }
  return { key: `${parityCase.name} / ${caller}`, caller, rest, graphql, problems };
}

/** Routes whose cases end sessions run after every other route, so the callers' sessions live until then. */
const LAST = new Set(['changeMyPassword']);
const routesInOrder = [...resourceSpecs].sort((a, b) => Number(LAST.has(a.operationId)) - Number(LAST.has(b.operationId)));

describe('REST routes and their GraphQL twins', () => {
  it('has a request factory for every route in resourceSpecs, and none for a route that does not exist', () => {
    const ids = resourceSpecs.map((spec) => spec.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => !factories[id])).toEqual([]);
    expect(Object.keys(factories).filter((id) => !ids.includes(id))).toEqual([]);
  });

  it('pins down the outcome of every kind of caller in every case', () => {
    const unpinned = Object.entries(factories).flatMap(([operationId, cases]) =>
      cases.flatMap((parityCase) => CALLERS.filter((caller) => parityCase.expected[caller] === undefined).map((caller) => `${operationId} / ${parityCase.name} / ${caller}`)),
    );
    expect(unpinned).toEqual([]);
    // No token is 401 everywhere but on the public routes, whose body is the credential.
    const anonymous = resourceSpecs.filter((spec) => factories[spec.operationId]?.some((c) => c.expected.anonymous !== 401));
    const publicRoutes = resourceSpecs.filter((spec) => (spec as { public?: boolean }).public).map((spec) => spec.operationId);
    expect(publicRoutes.length).toBeGreaterThan(0);
    // updateLoan: a variable GraphQL cannot coerce is refused before any rule (its 'a rate that is not a number' case).
    expect(anonymous.map((spec) => spec.operationId).sort()).toEqual([...publicRoutes, 'updateLoan'].sort());
  });

  it('builds every kind of caller', () => {
    expect(Object.keys(world.tokens).sort()).toEqual([...CALLERS].sort());
    for (const caller of CALLERS) expect(typeof world.tokens[caller]).toBe(caller === 'anonymous' ? 'undefined' : 'string');
  });

  it.each(routesInOrder.map((spec) => [`${spec.method} ${spec.path} (${spec.operationId})`, spec] as const))('%s answers as its GraphQL twin, as every caller', async (_name, spec) => {
    const cases = factories[spec.operationId];
    expect(cases, `no request factory for ${spec.operationId}: add one to test/rest-parity.test.ts`).toBeDefined();
    const pairs = cases!.flatMap((parityCase) => {
      const shared = isMutation(spec) ? undefined : parityCase.make(world, 'anonymous');
      return (parityCase.callers ?? CALLERS).map((caller) => ({ parityCase, caller, shared }));
    });
    const parallel = pairs.filter((p) => !p.parityCase.serial);
    const results = new Map<(typeof pairs)[number], PairResult>();
    await inBatches(parallel, 6, async (pair) => results.set(pair, await runPair(spec, pair.parityCase, pair.caller, pair.shared)));
    for (const pair of pairs.filter((p) => p.parityCase.serial)) results.set(pair, await runPair(spec, pair.parityCase, pair.caller, pair.shared));

    const mismatches = [...results.values()].filter((r) => r.problems.length).map((r) => `${r.key}: ${r.problems.join('; ')}`);
    expect(mismatches).toEqual([]);

    const outcomes: Record<string, number | string> = {};
    const expected: Record<string, number | string> = {};
    results.forEach((result, { parityCase, caller }) => {
      const status = parityCase.expected[caller];
      if (status === undefined) return;
      outcomes[result.key] = result.rest.status;
      expected[result.key] = status;
      // A token session is refused outside its package's operations as LIMITED_SESSION, never by some later rule.
      if ((caller === 'senderSession' || caller === 'signerSession') && result.rest.status === 403) {
        outcomes[`${result.key} reason`] = result.rest.reason ?? 'none';
        expected[`${result.key} reason`] = 'LIMITED_SESSION';
      }
      const count = parityCase.itemCounts?.[caller];
      if (count !== undefined) {
        outcomes[`${result.key} items`] = (result.rest.body as { items: unknown[] }).items.length;
        expected[`${result.key} items`] = count;
      }
    });
    expect(outcomes).toEqual(expected);
  });
});
