import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSigningIdentityDocument, MeDocument, SigningPackagesDocument, UnlinkSigningIdentityDocument } from './generated/graphql.ts';
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
  const clerk = await make('clerk', []);
  await make('borrower', ['SIGNER']);
  await make('outsider', ['MANAGER']);
  await addMember(db, { userId: orgAdmin.id, organizationId, roleId: adminRole.id });
  await addMember(db, { userId: owner.id, organizationId, roleId: org.role.id, isOwner: true });
  await addMember(db, { userId: manager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: staff.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: clerk.id, organizationId, roleId: org.role.id });
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

  it('an organization admin links an identity to their own account; a member who is not an admin cannot grant themselves anything', async () => {
    expect(code(await link('orgAdmin', 'orgAdmin', 'MANAGER'))).toBe('OK');
    for (const kind of ['MANAGER', 'ADMIN', 'SIGNER'] as const) {
      const result = await link('staff', 'staff', kind);
      expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_LINK' });
    }
    const selfAsManager = await link('manager', 'manager', 'SIGNER');
    expect(selfAsManager.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_LINK' });
  });

  it('an organization admin links signer identities too; an admin of another organization cannot', async () => {
    expect(code(await link('orgAdmin', 'outsider', 'SIGNER'))).toBe('OK');
    expect(code(await link('orgAdmin', 'outsider', 'SIGNER', otherOrganizationId))).toBe('FORBIDDEN');
  });

  it('a manager with the signing permission links a signer identity to a borrower; a non-manager member cannot', async () => {
    const linked = await link('manager', 'borrower', 'SIGNER');
    expect(linked.body.data?.linkSigningIdentity).toMatchObject({ kind: 'SIGNER', email: people.borrower!.email });
    // A member holding `signing` but no manager identity (nor the platform MANAGER role) is no manager.
    expect(code(await link('clerk', 'borrower', 'SIGNER'))).toBe('FORBIDDEN');
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

  it('a linked manager or admin identity alone makes a member holding signing a manager there, without the platform role', async () => {
    const packages = (as: string) => t.graphql(SigningPackagesDocument, { organizationId }, { token: people[as]!.token });
    // staff holds the ADMIN identity the owner linked above; clerk holds none. Neither has a platform role.
    expect((await packages('staff')).body.data?.signingPackages.edges).toEqual([]);
    expect((await packages('clerk')).body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NO_MANAGER_IDENTITY' });
    expect(code(await link('staff', 'clerk', 'SIGNER'))).toBe('OK');
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
