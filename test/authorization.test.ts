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
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { DocumentByIdDocument } from './generated/graphql.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, exchangedTokenSession, linkManagerIdentity, signInAs } from './support/factories.ts';

/**
 * The only operations anyone may call without a session. exchangeAuthenticationToken is here on purpose: the
 * token it is given is the credential, as the password is for signIn.
 */
const PUBLIC_FIELDS = new Set([
  'Mutation.signUp',
  'Mutation.verifyEmail',
  'Mutation.signIn',
  'Mutation.refreshSession',
  'Mutation.requestPasswordReset',
  'Mutation.resetPassword',
  'Mutation.exchangeAuthenticationToken',
]);

/** Everything a sender token session may call besides the public fields; the rest must be LIMITED_SESSION. */
const SENDER_SESSION_FIELDS = new Set([
  'Query.me',
  'Query.signingPackage',
  'Mutation.signOut',
  'Mutation.sendSigningPackage',
  'Mutation.voidSigningPackage',
  'Subscription.signingPackageUpdated',
]);

/** Everything a signer token session may call besides the public fields; the rest must be LIMITED_SESSION. */
const SIGNER_SESSION_FIELDS = new Set([
  'Query.me',
  'Query.signingPackage',
  'Query.signerQueue',
  'Query.signerQueueConnection',
  'Mutation.signOut',
  'Mutation.viewSigningPackage',
  'Mutation.signSigningPackage',
  'Mutation.declineSigningPackage',
  'Subscription.signingPackageUpdated',
  'Subscription.signerQueueUpdated',
]);

type RootName = 'Query' | 'Mutation' | 'Subscription';

function rootFields(): Array<{ root: RootName; name: string; field: GraphQLField<unknown, unknown> }> {
  const fields: Array<{ root: RootName; name: string; field: GraphQLField<unknown, unknown> }> = [];
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (!root || !isObjectType(root)) continue;
    for (const field of Object.values(root.getFields())) fields.push({ root: root.name as RootName, name: `${root.name}.${field.name}`, field });
  }
  return fields;
}

function authScopesOf(field: GraphQLField<unknown, unknown>): unknown {
  return (field.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes;
}

const declaresScope = (field: GraphQLField<unknown, unknown>, scope: string) => {
  const scopes = authScopesOf(field);
  return typeof scopes === 'object' && scopes !== null && (scopes as Record<string, unknown>)[scope] === true;
};

describe('deny by default', () => {
  it('gives every root field an auth rule, and only the public allow-list is public', () => {
    const missing = rootFields().filter(({ field }) => !authScopesOf(field)).map(({ name }) => name);
    const publicFields = rootFields().filter(({ field }) => declaresScope(field, 'public')).map(({ name }) => name);
    expect(missing).toEqual([]);
    expect(publicFields.sort()).toEqual([...PUBLIC_FIELDS].sort());
  });

  it('opens exactly the allow-lists to sender and signer sessions', () => {
    const sender = rootFields().filter(({ field }) => declaresScope(field, 'senderSession')).map(({ name }) => name);
    const signer = rootFields().filter(({ field }) => declaresScope(field, 'signerSession')).map(({ name }) => name);
    expect(sender.sort()).toEqual([...SENDER_SESSION_FIELDS].sort());
    expect(signer.sort()).toEqual([...SIGNER_SESSION_FIELDS].sort());
  });
});

/** A value of the input type that passes GraphQL validation: enough to reach the field's auth rule. */
function sampleValue(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sampleValue(type.ofType);
  if (isListType(type)) return [sampleValue(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, sampleValue(f.type)]));
  }
  const scalars: Record<string, unknown> = { ID: randomUUID(), Int: 1, Float: 1.5, Boolean: true, DateTime: '2099-01-01T00:00:00.000Z', Decimal: '1.00', File: null };
  return type.name in scalars ? scalars[type.name] : 'probe';
}

/** The paths (below `variables.`) of the required File inputs of a sample value: sent as multipart parts. */
function filePaths(type: GraphQLInputType, path: string): string[] {
  if (isNonNullType(type)) return filePaths(type.ofType, path);
  if (isListType(type)) return filePaths(type.ofType, `${path}.0`);
  if (isInputObjectType(type)) return Object.values(type.getFields()).filter((f) => isNonNullType(f.type)).flatMap((f) => filePaths(f.type, `${path}.${f.name}`));
  return type.name === 'File' ? [path] : [];
}

/** The smallest operation that calls one root field with its required arguments. */
function probeOperation(root: RootName, field: GraphQLField<unknown, unknown>) {
  const required = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  const declarations = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
  return {
    query: `${root.toLowerCase()} Probe${declarations ? `(${declarations})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`,
    variables: Object.fromEntries(required.map((a) => [a.name, sampleValue(a.type)])),
    files: required.flatMap((a) => filePaths(a.type, `variables.${a.name}`)),
  };
}

/** A GraphQL request with file uploads (the GraphQL multipart request spec), each file a one-line CSV. */
async function multipartGraphql(url: string, query: string, variables: unknown, files: string[], token: string) {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query, variables }));
  form.set('map', JSON.stringify(Object.fromEntries(files.map((path, i) => [String(i), [path]]))));
  files.forEach((_, i) => form.set(String(i), new Blob(['serialNumber\n'], { type: 'text/csv' }), 'probe.csv'));
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: response.status, body: (await response.json()) as { errors?: Array<{ extensions?: Record<string, unknown> }> } };
}

describe('sender and signer sessions × every root field', () => {
  let t: TestApp;
  const sessions: Record<'sender' | 'signer', string> = { sender: '', signer: '' };
  const allowed = { sender: SENDER_SESSION_FIELDS, signer: SIGNER_SESSION_FIELDS };

  beforeAll(async () => {
    t = await startTestApp();
    const db = t.db.prisma;
    const org = await createOrganization(db, { name: 'Walk Lending', permissions: ['documents', 'signing'] });
    const manager = await createUser(db, { roles: ['MANAGER'] });
    await addMember(db, { userId: manager.id, organizationId: org.organization.id, roleId: org.role.id });
    await linkManagerIdentity(db, { userId: manager.id, organizationId: org.organization.id });
    const signer = await createUser(db, { roles: ['SIGNER'], email: 'walk.signer@example.test' });
    const identity = await db.signingIdentity.create({
      data: { userId: signer.id, kind: 'SIGNER', organizationId: org.organization.id, email: signer.email, linkedById: manager.id },
    });
    const pkg = await db.signingPackage.create({
      data: {
        organizationId: org.organization.id,
        title: 'Walk',
        status: 'SENT',
        createdById: manager.id,
        signers: { create: [{ order: 1, email: signer.email, name: 'Walk Signer', signerIdentityId: identity.id }] },
      },
      select: { id: true, signers: { select: { id: true } } },
    });
    const managerToken = (await signInAs(t.app.services, manager.id)).token;
    const exchanged = (path: 'sender' | 'signer/multiUse', body: unknown) => exchangedTokenSession(t.url, path, body, managerToken);
    sessions.sender = await exchanged('sender', { packageId: pkg.id });
    sessions.signer = await exchanged('signer/multiUse', { packageId: pkg.id, signerId: pkg.signers[0]!.id });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The first error of a subscription over server-sent events; an open stream without one answers `undefined`. */
  async function firstSubscriptionError(query: string, variables: unknown, token: string) {
    const controller = new AbortController();
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    const timer = setTimeout(() => controller.abort(), 400);
    let text = '';
    try {
      const reader = response.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        if (text.includes('"errors"')) break;
      }
    } catch {
      // Aborted: the stream stayed open, so the subscription was accepted.
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    const payloads = text
      .split('\n')
      .filter((line) => line.startsWith('data:') && line.slice(5).trim() !== '')
      .map((line) => JSON.parse(line.slice(5)) as { errors?: Array<{ extensions?: Record<string, unknown> }> });
    return payloads.find((p) => p.errors)?.errors?.[0]?.extensions;
  }

  async function call(kind: 'sender' | 'signer', root: RootName, field: GraphQLField<unknown, unknown>) {
    const { query, variables, files } = probeOperation(root, field);
    if (root === 'Subscription') return { status: undefined, extensions: await firstSubscriptionError(query, variables, sessions[kind]) };
    const { status, body } = files.length ? await multipartGraphql(t.url, query, variables, files, sessions[kind]) : await t.graphql(query, variables, { token: sessions[kind] });
    return { status, extensions: body.errors?.[0]?.extensions };
  }

  it.each(['sender', 'signer'] as const)('a %s session gets LIMITED_SESSION from every field outside its allow-list', async (kind) => {
    const answers: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const { root, name, field } of rootFields()) {
      if (PUBLIC_FIELDS.has(name) || allowed[kind].has(name)) continue;
      const { status, extensions } = await call(kind, root, field);
      answers[name] = { status, code: extensions?.code, reason: extensions?.reason };
      expected[name] = { status: root === 'Subscription' ? undefined : 403, code: 'FORBIDDEN', reason: 'LIMITED_SESSION' };
    }
    expect(Object.keys(answers).length).toBeGreaterThan(50);
    expect(answers).toEqual(expected);
  });

  it.each(['sender', 'signer'] as const)('a %s session reaches every field of its allow-list', async (kind) => {
    const refused: string[] = [];
    // signOut last: it ends the session the other calls use.
    const fields = rootFields().filter(({ name }) => allowed[kind].has(name)).sort((a, b) => Number(a.name === 'Mutation.signOut') - Number(b.name === 'Mutation.signOut'));
    expect(fields.map(({ name }) => name).sort()).toEqual([...allowed[kind]].sort());
    for (const { root, name, field } of fields) {
      const { extensions } = await call(kind, root, field);
      // Probe arguments name no real package: NOT_FOUND is the package policy answering, past the field's rule.
      if (extensions && extensions.code !== 'NOT_FOUND') refused.push(`${name}: ${String(extensions.code)} ${String(extensions.reason)}`);
    }
    expect(refused).toEqual([]);
  });
});

describe('role × operation matrix', () => {
  let t: TestApp;
  const tokens: Record<string, string> = {};
  const userIds: Record<string, string> = {};
  let documentId: string;
  let organizationId: string;

  beforeAll(async () => {
    t = await startTestApp();
    const db = t.db.prisma;
    const org = await createOrganization(db, { name: 'Matrix Lending', permissions: ['documents', 'loans'] });
    organizationId = org.organization.id;
    const otherLocation = await db.location.create({ data: { organizationId, name: 'Other lot' } });
    const settingsRole = await db.organizationRole.create({ data: { organizationId, name: 'Settings', permissions: ['orgSettings', 'documents'] } });
    const other = await createOrganization(db, { name: 'Elsewhere Lending' });
    documentId = (await createDocument(db, { organizationId, locationId: org.location.id, serialNumber: 'MATRIX-1' })).id;

    const people = {
      admin: await createUser(db, { roles: ['ADMIN'] }),
      manager: await createUser(db, { roles: ['MANAGER'] }),
      scopedManager: await createUser(db, { roles: ['MANAGER'] }),
      outOfScopeManager: await createUser(db, { roles: ['MANAGER'] }),
      otherOrgManager: await createUser(db, { roles: ['MANAGER'] }),
      settingsMember: await createUser(db, { roles: ['MANAGER'] }),
      owner: await createUser(db, { roles: ['MANAGER'] }),
      signer: await createUser(db, { roles: ['SIGNER'] }),
    };
    await addMember(db, { userId: people.manager.id, organizationId, roleId: org.role.id });
    await addMember(db, { userId: people.scopedManager.id, organizationId, roleId: org.role.id, locationIds: [org.location.id] });
    await addMember(db, { userId: people.outOfScopeManager.id, organizationId, roleId: org.role.id, locationIds: [otherLocation.id] });
    await addMember(db, { userId: people.otherOrgManager.id, organizationId: other.organization.id, roleId: other.role.id });
    await addMember(db, { userId: people.settingsMember.id, organizationId, roleId: settingsRole.id });
    await addMember(db, { userId: people.owner.id, organizationId, roleId: org.role.id, isOwner: true });
    for (const [name, user] of Object.entries(people)) {
      userIds[name] = user.id;
      tokens[name] = (await signInAs(t.app.services, user.id)).token;
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  const readDocument = async (who: string | undefined) => {
    const { status, body } = await t.graphql(DocumentByIdDocument, { id: documentId }, { token: who ? tokens[who] : undefined });
    return { status, code: body.errors?.[0]?.extensions?.code ?? 'OK', leaked: JSON.stringify(body).includes('MATRIX-1') };
  };

  it.each([
    ['admin', 'OK'],
    ['manager', 'OK'],
    ['scopedManager', 'OK'],
    ['outOfScopeManager', 'NOT_FOUND'],
    ['otherOrgManager', 'NOT_FOUND'],
    ['signer', 'NOT_FOUND'],
  ])('document(id) as %s → %s', async (who, expected) => {
    const result = await readDocument(who);
    expect(result.code).toBe(expected);
    expect(result.leaked).toBe(expected === 'OK');
  });

  it('document(id) with no token → 401 UNAUTHENTICATED', async () => {
    expect(await readDocument(undefined)).toEqual({ status: 401, code: 'UNAUTHENTICATED', leaked: false });
  });

  const readOrganization = async (who: string, field: 'settings { slug }' | 'billing { plan }' | 'name') => {
    const { status, body } = await t.graphql(`query($id: ID!) { organization(id: $id) { ${field} } }`, { id: organizationId }, { token: tokens[who] });
    return { status, code: body.errors?.[0]?.extensions?.code ?? 'OK' };
  };

  it.each([
    ['settingsMember', 'settings { slug }', 'OK'],
    ['manager', 'settings { slug }', 'FORBIDDEN'],
    ['owner', 'billing { plan }', 'OK'],
    ['manager', 'billing { plan }', 'FORBIDDEN'],
    ['settingsMember', 'billing { plan }', 'FORBIDDEN'],
    ['otherOrgManager', 'name', 'NOT_FOUND'],
    ['admin', 'name', 'OK'],
  ] as const)('organization %s reading %s → %s', async (who, field, expected) => {
    const result = await readOrganization(who, field);
    expect(result.code).toBe(expected);
    if (expected === 'FORBIDDEN') expect(result.status).toBe(403);
  });

  it('a removed membership stops granting access on the next request', async () => {
    expect((await readDocument('manager')).code).toBe('OK');
    const membership = await t.db.prisma.membership.findFirstOrThrow({ where: { organizationId, userId: userIds.manager } });
    await t.db.prisma.membership.delete({ where: { id: membership.id } });
    expect((await readDocument('manager')).code).toBe('NOT_FOUND');
  });
});
