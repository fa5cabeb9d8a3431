import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, linkManagerIdentity, signInAs } from './support/factories.ts';

// Every manager-only signing operation answers 403 NO_MANAGER_IDENTITY to a caller without an active manager (or
// admin) signing identity, whatever else is true of the caller or the package; with one, the usual rules apply.
let t: TestApp;
let orgId: string;
let documentId: string;
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};

type Answer = { status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
const outcome = (r: Answer) => {
  const error = r.body.errors?.[0];
  return error ? { status: r.status, code: error.extensions?.code, reason: error.extensions?.reason } : { status: r.status, code: 'OK', reason: undefined };
};
const NO_MANAGER_IDENTITY = { status: 403, code: 'FORBIDDEN', reason: 'NO_MANAGER_IDENTITY' };
const OK = { status: 200, code: 'OK', reason: undefined };
const MISSING_PACKAGE = '00000000-0000-4000-8000-000000000000';

const CREATE = 'mutation($i: CreateSigningPackageInput!) { createSigningPackage(input: $i) { id status } }';
const SEND = 'mutation($id: ID!) { sendSigningPackage(id: $id) { id status } }';
const VOID = 'mutation($id: ID!) { voidSigningPackage(id: $id, reason: "Superseded") { id status } }';
const HUB = '{ signingHub { id title } }';
const LIST = 'query($org: ID!) { signingPackages(organizationId: $org, first: 50) { edges { node { id title } } } }';
const READ = 'query($id: ID!) { signingPackage(id: $id) { id title status } }';
const DIRECTORY = '{ signingDirectory(first: 50) { edges { node { id title } } } }';

const createInput = (title = 'Consistency contract') => ({
  i: { organizationId: orgId, title, documentIds: [documentId], signers: [{ name: 'Sam Signer', email: 'sam@consistency.test' }] },
});

async function draft(title: string): Promise<string> {
  const created = await t.graphql<{ createSigningPackage: { id: string } }, unknown>(CREATE, createInput(title), { token: tokens.linked });
  expect(created.body.errors).toBeUndefined();
  return created.body.data!.createSigningPackage.id;
}

const statusOf = async (id: string) => (await t.db.prisma.signingPackage.findUniqueOrThrow({ where: { id } })).status;

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Consistent Lending', permissions: ['documents', 'signing'] });
  orgId = org.organization.id;
  documentId = (await createDocument(db, { organizationId: orgId, serialNumber: 'CONSISTENT-1' })).id;
  const admin = await createUser(db, { roles: ['ADMIN'], name: 'Platform Admin' });
  ids.admin = admin.id;
  tokens.admin = (await signInAs(t.app.services, admin.id)).token;
  // linked: a manager with a MANAGER identity; adminLinked: with an ADMIN identity; unlinked: a manager with the
  // signing permission and no identity; revoked: one whose identity was revoked; stranger: an account with no
  // membership and no identity (it used to get NOT_FOUND); signerOnly: a signer identity only.
  for (const name of ['linked', 'adminLinked', 'unlinked', 'revoked', 'stranger', 'signerOnly']) {
    const user = await createUser(db, { roles: name === 'signerOnly' ? ['SIGNER'] : ['MANAGER'], name, email: `${name.toLowerCase()}@consistency.test` });
    ids[name] = user.id;
    tokens[name] = (await signInAs(t.app.services, user.id)).token;
    if (name !== 'stranger' && name !== 'signerOnly') await addMember(db, { userId: user.id, organizationId: orgId, roleId: org.role.id });
  }
  await linkManagerIdentity(db, { userId: ids.linked!, organizationId: orgId, linkedById: admin.id });
  await db.signingIdentity.create({ data: { userId: ids.adminLinked!, kind: 'ADMIN', organizationId: orgId, linkedById: admin.id } });
  await db.signingIdentity.create({ data: { userId: ids.revoked!, kind: 'MANAGER', organizationId: orgId, linkedById: admin.id, revokedAt: new Date() } });
  await db.signingIdentity.create({ data: { userId: ids.signerOnly!, kind: 'SIGNER', organizationId: orgId, email: 'signeronly@consistency.test', linkedById: admin.id } });
});
afterAll(async () => {
  await t?.close();
});

const WITHOUT_IDENTITY = ['unlinked', 'revoked', 'stranger', 'signerOnly', 'admin'];

describe('manager-only signing operations without a manager identity', () => {
  it.each(WITHOUT_IDENTITY)('as %s: createSigningPackage → 403 NO_MANAGER_IDENTITY, nothing created', async (who) => {
    const before = await t.db.prisma.signingPackage.count();
    const result = await t.graphql(CREATE, createInput(`Refused for ${who}`), { token: tokens[who] });
    expect(outcome(result)).toEqual(NO_MANAGER_IDENTITY);
    expect(result.body.errors?.[0]?.message).toBe(
      'Managing signing packages needs a manager or admin signing identity linked to your account. Ask your organization admin to link one.',
    );
    expect(await t.db.prisma.signingPackage.count()).toBe(before);
  });

  it.each(WITHOUT_IDENTITY)('as %s: sendSigningPackage and voidSigningPackage → 403 NO_MANAGER_IDENTITY, package unchanged', async (who) => {
    const id = await draft(`Untouched by ${who}`);
    expect(outcome(await t.graphql(SEND, { id }, { token: tokens[who] }))).toEqual(NO_MANAGER_IDENTITY);
    expect(outcome(await t.graphql(VOID, { id }, { token: tokens[who] }))).toEqual(NO_MANAGER_IDENTITY);
    expect(await statusOf(id)).toBe('DRAFT');
    // The same answer for a package that does not exist: it says nothing about packages.
    expect(outcome(await t.graphql(SEND, { id: MISSING_PACKAGE }, { token: tokens[who] }))).toEqual(NO_MANAGER_IDENTITY);
    expect(outcome(await t.graphql(VOID, { id: MISSING_PACKAGE }, { token: tokens[who] }))).toEqual(NO_MANAGER_IDENTITY);
  });

  it.each(WITHOUT_IDENTITY)('as %s: signingHub and signingPackages → 403 NO_MANAGER_IDENTITY, no titles', async (who) => {
    await draft('Listed title SECRET-LIST');
    for (const result of [await t.graphql(HUB, {}, { token: tokens[who] }), await t.graphql(LIST, { org: orgId }, { token: tokens[who] })]) {
      expect(outcome(result)).toEqual(NO_MANAGER_IDENTITY);
      expect(JSON.stringify(result.body)).not.toContain('SECRET-LIST');
    }
  });
});

const SENDER_TOKEN = 'mutation($id: ID!) { createSenderAuthenticationToken(packageId: $id) { value } }';
const SIGNER_TOKEN = 'mutation($id: ID!, $signer: String!) { createSignerAuthenticationToken(packageId: $id, signerId: $signer) { value } }';

/** Issues a sender or signer token over REST, answered as `outcome` reads a GraphQL answer. */
async function issueOverRest(path: 'sender' | 'signer/singleUse', body: unknown, token: string | undefined): Promise<ReturnType<typeof outcome>> {
  const response = await fetch(`${t.url}/api/cs-authenticationTokens/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { value?: string; error?: { code: string; reason?: string } };
  return answer.error ? { status: response.status, code: answer.error.code, reason: answer.error.reason } : { status: response.status, code: 'OK', reason: undefined };
}

/** A sent package with one signer whose identity is linked (signerOnly), so that a signer token can be issued for it. */
async function sentToLinkedSigner(title: string): Promise<string> {
  const created = await t.graphql<{ createSigningPackage: { id: string } }, unknown>(
    CREATE,
    { i: { organizationId: orgId, title, documentIds: [documentId], signers: [{ name: 'Signer Only', email: 'signeronly@consistency.test' }] } },
    { token: tokens.linked },
  );
  const id = created.body.data!.createSigningPackage.id;
  expect(outcome(await t.graphql(SEND, { id }, { token: tokens.linked }))).toEqual(OK);
  return id;
}

describe('issuing sender and signer authentication tokens without a manager identity', () => {
  it.each(WITHOUT_IDENTITY)('as %s: GraphQL and REST → 403 NO_MANAGER_IDENTITY, no token stored', async (who) => {
    const id = await sentToLinkedSigner(`Tokens refused for ${who}`);
    const before = await t.db.prisma.authToken.count();
    for (const packageId of [id, MISSING_PACKAGE]) {
      expect(outcome(await t.graphql(SENDER_TOKEN, { id: packageId }, { token: tokens[who] }))).toEqual(NO_MANAGER_IDENTITY);
      expect(outcome(await t.graphql(SIGNER_TOKEN, { id: packageId, signer: 'signeronly@consistency.test' }, { token: tokens[who] }))).toEqual(NO_MANAGER_IDENTITY);
      expect(await issueOverRest('sender', { packageId }, tokens[who])).toEqual(NO_MANAGER_IDENTITY);
      expect(await issueOverRest('signer/singleUse', { packageId, signerId: 'signeronly@consistency.test' }, tokens[who])).toEqual(NO_MANAGER_IDENTITY);
    }
    expect(await t.db.prisma.authToken.count()).toBe(before);
  });

  it.each(['linked', 'adminLinked'])('as %s (with an identity): both kinds are issued, over GraphQL and REST', async (who) => {
    const id = await sentToLinkedSigner(`Tokens issued for ${who}`);
    const before = await t.db.prisma.authToken.count();
    expect(outcome(await t.graphql(SENDER_TOKEN, { id }, { token: tokens[who] }))).toEqual(OK);
    expect(outcome(await t.graphql(SIGNER_TOKEN, { id, signer: 'signeronly@consistency.test' }, { token: tokens[who] }))).toEqual(OK);
    expect(await issueOverRest('sender', { packageId: id }, tokens[who])).toEqual(OK);
    expect(await issueOverRest('signer/singleUse', { packageId: id, signerId: 'signeronly@consistency.test' }, tokens[who])).toEqual(OK);
    expect(await t.db.prisma.authToken.count()).toBe(before + 4);
    // The identity opens the gate, nothing more: a missing package is still NOT_FOUND.
    expect(outcome(await t.graphql(SENDER_TOKEN, { id: MISSING_PACKAGE }, { token: tokens[who] }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('with a manager (or admin) identity the same operations work', () => {
  it.each(['linked', 'adminLinked'])('as %s: create, list in the hub and the organization, send, void', async (who) => {
    const created = await t.graphql<{ createSigningPackage: { id: string; status: string } }, unknown>(CREATE, createInput(`Made by ${who}`), { token: tokens[who] });
    expect(outcome(created)).toEqual(OK);
    const id = created.body.data!.createSigningPackage.id;
    const hub = await t.graphql<{ signingHub: Array<{ id: string }> }, unknown>(HUB, {}, { token: tokens[who] });
    expect(hub.body.data?.signingHub.map((p) => p.id)).toContain(id);
    const list = await t.graphql<{ signingPackages: { edges: Array<{ node: { id: string } }> } }, unknown>(LIST, { org: orgId }, { token: tokens[who] });
    expect(list.body.data?.signingPackages.edges.map((e) => e.node.id)).toContain(id);
    expect(outcome(await t.graphql(SEND, { id }, { token: tokens[who] }))).toEqual(OK);
    expect(await statusOf(id)).toBe('SENT');
    expect(outcome(await t.graphql(VOID, { id }, { token: tokens[who] }))).toEqual(OK);
    expect(await statusOf(id)).toBe('VOIDED');
  });

  it('an identity does not stand in for the other rules: a missing package is still NOT_FOUND', async () => {
    expect(outcome(await t.graphql(SEND, { id: MISSING_PACKAGE }, { token: tokens.linked }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('an identity revoked later closes the operations again', async () => {
    const user = await createUser(t.db.prisma, { roles: ['MANAGER'] });
    const membership = await t.db.prisma.organizationRole.findFirstOrThrow({ where: { organizationId: orgId } });
    await addMember(t.db.prisma, { userId: user.id, organizationId: orgId, roleId: membership.id });
    const identity = await linkManagerIdentity(t.db.prisma, { userId: user.id, organizationId: orgId, linkedById: ids.admin });
    const token = (await signInAs(t.app.services, user.id)).token;
    expect(outcome(await t.graphql(HUB, {}, { token }))).toEqual(OK);
    await t.db.prisma.signingIdentity.update({ where: { id: identity.id }, data: { revokedAt: new Date() } });
    expect(outcome(await t.graphql(HUB, {}, { token }))).toEqual(NO_MANAGER_IDENTITY);
    expect(outcome(await t.graphql(CREATE, createInput(), { token }))).toEqual(NO_MANAGER_IDENTITY);
  });
});

describe('what stays as it was', () => {
  it("admins without an identity keep their read access: any package and the signing directory", async () => {
    const id = await draft('Admin-readable SECRET-ADMIN');
    const read = await t.graphql<{ signingPackage: { title: string } }, unknown>(READ, { id }, { token: tokens.admin });
    expect(read.body.data?.signingPackage.title).toBe('Admin-readable SECRET-ADMIN');
    const directory = await t.graphql<{ signingDirectory: { edges: Array<{ node: { id: string } }> } }, unknown>(DIRECTORY, {}, { token: tokens.admin });
    expect(directory.body.data?.signingDirectory.edges.map((e) => e.node.id)).toContain(id);
    // ...and the directory stays theirs alone.
    expect(outcome(await t.graphql(DIRECTORY, {}, { token: tokens.linked }))).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a sender token session acts for its package, and for no other', async () => {
    const own = await draft('Sender’s own');
    const other = await draft('Someone else’s');
    const issued = await fetch(`${t.url}/api/cs-authenticationTokens/sender`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.linked}` },
      body: JSON.stringify({ packageId: own }),
    });
    expect(issued.status).toBe(200);
    const exchanged = await fetch(`${t.url}/api/cs-authenticationTokens/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: ((await issued.json()) as { value: string }).value }),
    });
    const session = ((await exchanged.json()) as { accessToken: string }).accessToken;
    expect(outcome(await t.graphql(SEND, { id: own }, { token: session }))).toEqual(OK);
    expect(await statusOf(own)).toBe('SENT');
    expect(outcome(await t.graphql(SEND, { id: other }, { token: session }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await statusOf(other)).toBe('DRAFT');
  });
});
