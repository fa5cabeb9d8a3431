import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSigningIdentityDocument, MeDocument, UnlinkSigningIdentityDocument } from './generated/graphql.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

let t: TestApp;
let organizationId: string;
let otherOrganizationId: string;
const people: Record<string, { id: string; email: string; token: string }> = {};

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { permissions: ['documents', 'signing'] });
  organizationId = org.organization.id;
  const adminRole = await db.organizationRole.create({ data: { organizationId, name: 'Org admin', permissions: ['members', 'orgSettings'] } });
  otherOrganizationId = (await createOrganization(db)).organization.id;
  const make = async (name: string, roles: Array<'ADMIN' | 'MANAGER' | 'SIGNER'>) => {
    const user = await createUser(db, { roles, name });
    people[name] = { id: user.id, email: user.email, token: (await signInAs(t.app.services, user.id)).token };
    return user;
  };
  const orgAdmin = await make('orgAdmin', []);
  const owner = await make('owner', ['MANAGER']);
  const manager = await make('manager', ['MANAGER']);
  const staff = await make('staff', []);
  await make('borrower', ['SIGNER']);
  await make('outsider', ['MANAGER']);
  await addMember(db, { userId: orgAdmin.id, organizationId, roleId: adminRole.id });
  await addMember(db, { userId: owner.id, organizationId, roleId: org.role.id, isOwner: true });
  await addMember(db, { userId: manager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: staff.id, organizationId, roleId: org.role.id });
});
afterAll(async () => {
  await t?.close();
});

const link = (as: string, target: string, kind: 'ADMIN' | 'MANAGER' | 'SIGNER', org = organizationId) =>
  t.graphql(LinkSigningIdentityDocument, { input: { userEmail: people[target]!.email, organizationId: org, kind } }, { token: people[as]!.token });
const code = (r: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) => r.body.errors?.[0]?.extensions?.code ?? 'OK';

describe('linking signing identities', () => {
  it('an organization admin links a manager identity; the account then sees it in me', async () => {
    const result = await link('orgAdmin', 'manager', 'MANAGER');
    expect(result.body.data?.linkSigningIdentity).toMatchObject({ kind: 'MANAGER', linkedByName: 'orgAdmin', organization: { id: organizationId } });
    const me = await t.graphql(MeDocument, {}, { token: people.manager!.token });
    expect(me.body.data?.me.identities).toEqual([{ kind: 'MANAGER', organization: { id: organizationId }, linkedByName: 'orgAdmin' }]);
    const audit = await t.db.prisma.activity.findFirst({ where: { type: 'identity.linked', subjectUserId: people.manager!.id } });
    expect(audit?.actorUserId).toBe(people.orgAdmin!.id);
  });

  it('an owner counts as an organization admin', async () => {
    expect(code(await link('owner', 'staff', 'ADMIN'))).toBe('OK');
  });

  it('a manager without admin rights cannot link a manager identity', async () => {
    expect(code(await link('manager', 'staff', 'MANAGER'))).toBe('FORBIDDEN');
  });

  it('nobody links an identity to their own account', async () => {
    const result = await link('orgAdmin', 'orgAdmin', 'MANAGER');
    expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_LINK' });
  });

  it('a manager with the signing permission links a signer identity to a borrower; a non-manager member cannot', async () => {
    const linked = await link('manager', 'borrower', 'SIGNER');
    expect(linked.body.data?.linkSigningIdentity).toMatchObject({ kind: 'SIGNER', email: people.borrower!.email });
    expect(code(await link('staff', 'borrower', 'SIGNER'))).toBe('FORBIDDEN');
    expect(code(await link('manager', 'borrower', 'SIGNER'))).toBe('CONFLICT');
  });

  it('a manager of another organization cannot link identities here', async () => {
    expect(code(await link('outsider', 'borrower', 'SIGNER'))).toBe('FORBIDDEN');
    expect(code(await link('outsider', 'manager', 'MANAGER'))).toBe('FORBIDDEN');
  });

  it('manager identities are only for members', async () => {
    const result = await link('orgAdmin', 'borrower', 'MANAGER');
    expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOT_A_MEMBER' });
  });

  it('unlinks: the linker may, an outsider gets NOT_FOUND', async () => {
    const linked = await link('manager', 'staff', 'SIGNER');
    const id = linked.body.data!.linkSigningIdentity.id;
    expect(code(await t.graphql(UnlinkSigningIdentityDocument, { id }, { token: people.outsider!.token }))).toBe('NOT_FOUND');
    expect((await t.graphql(UnlinkSigningIdentityDocument, { id }, { token: people.manager!.token })).body.data?.unlinkSigningIdentity).toBe(true);
    const me = await t.graphql(MeDocument, {}, { token: people.staff!.token });
    expect(me.body.data?.me.identities.map((i) => i.kind)).toEqual(['ADMIN']);
  });

  it('needs a session', async () => {
    const { status } = await t.graphql(LinkSigningIdentityDocument, { input: { userEmail: 'x@example.test', organizationId: otherOrganizationId, kind: 'SIGNER' } });
    expect(status).toBe(401);
  });
});
