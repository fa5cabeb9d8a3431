import { isObjectType, type GraphQLField } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { DocumentByIdDocument } from './generated/graphql.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

/** The only operations anyone may call without a session. */
const PUBLIC_FIELDS = new Set(['Mutation.signUp', 'Mutation.signIn', 'Mutation.refreshSession', 'Mutation.requestPasswordReset', 'Mutation.resetPassword']);

function authScopesOf(field: GraphQLField<unknown, unknown>): unknown {
  return (field.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes;
}

describe('deny by default', () => {
  it('gives every root field an auth rule, and only the public allow-list is public', () => {
    const missing: string[] = [];
    const publicFields: string[] = [];
    for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
      if (!root || !isObjectType(root)) continue;
      for (const field of Object.values(root.getFields())) {
        const name = `${root.name}.${field.name}`;
        const scopes = authScopesOf(field);
        if (!scopes) missing.push(name);
        else if (typeof scopes === 'object' && (scopes as { public?: boolean }).public === true) publicFields.push(name);
      }
    }
    expect(missing).toEqual([]);
    expect(publicFields.sort()).toEqual([...PUBLIC_FIELDS].sort());
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
