import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcceptInvitationDocument,
  CreateLocationDocument,
  CreateOrganizationDocument,
  CreateOrganizationRoleDocument,
  DeleteOrganizationRoleDocument,
  InviteMemberDocument,
  OrganizationDetailsDocument,
  OrganizationMembersDocument,
  OrganizationNameDocument,
  RemoveMemberDocument,
  RevokeInvitationDocument,
  TransferOwnershipDocument,
  UpdateBillingDocument,
  UpdateLocationDocument,
  UpdateMemberDocument,
  UpdateOrganizationRoleDocument,
  UpdateOrganizationSettingsDocument,
} from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization as createOrganizationRow, createUser, signInAs } from './support/factories.ts';
import { extractLinks, startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const clock = new ManualClock(new Date('2026-04-01T09:00:00Z'));
let smtp: TestSmtpServer;
let t: TestApp;

interface Person {
  id: string;
  email: string;
  token: string;
}
type Result = { status: number; body: { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };

const code = (r: Result) => r.body.errors?.[0]?.extensions?.code ?? 'OK';
const ext = (r: Result) => r.body.errors?.[0]?.extensions;

async function person(name: string): Promise<Person> {
  const user = await createUser(t.db.prisma, { name });
  return { id: user.id, email: user.email, token: (await signInAs(t.app.services, user.id)).token };
}

/** An organization created through the API by `owner`, with its default roles by name. */
async function organizationOf(owner: Person, name: string) {
  const { body } = await t.graphql(CreateOrganizationDocument, { input: { name } }, { token: owner.token });
  const organization = body.data!.createOrganization;
  const roles = Object.fromEntries(organization.roles.map((r) => [r.name, r.id])) as Record<'Owner' | 'Manager' | 'Staff', string>;
  return { id: organization.id, roles, ownerMembershipId: organization.members[0]!.id };
}

async function join(who: Person, organizationId: string, roleId: string, extra: { isOwner?: boolean; locationIds?: string[] } = {}) {
  return (await addMember(t.db.prisma, { userId: who.id, organizationId, roleId, ...extra })).id;
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ clock, env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('createOrganization', () => {
  it('creates the organization with default roles and makes the caller its owner', async () => {
    const founder = await person('Founder');
    const { body } = await t.graphql(CreateOrganizationDocument, { input: { name: '  Crème Lending, Inc.  ' } }, { token: founder.token });
    const organization = body.data!.createOrganization;
    expect(organization).toMatchObject({ name: 'Crème Lending, Inc.', slug: 'creme-lending-inc', billing: { subscriptionStatus: 'TRIALING' } });
    expect(Object.fromEntries(organization.roles.map((r) => [r.name, [...r.permissions].sort()]))).toEqual({
      Manager: ['documents', 'loans', 'members', 'rcm', 'signing'],
      Owner: ['billing', 'documents', 'loans', 'members', 'orgSettings', 'rcm', 'signing'],
      Staff: ['documents', 'loans'],
    });
    expect(organization.members).toEqual([{ id: expect.any(String), isOwner: true, role: { name: 'Owner' }, user: { id: founder.id, email: founder.email } }]);
    const audit = await t.db.prisma.activity.findFirstOrThrow({ where: { type: 'organization.created', organizationId: organization.id } });
    expect(audit).toMatchObject({ actorUserId: founder.id, ip: '127.0.0.1' });
  });

  it('derives a free slug when the name is taken, and refuses a chosen slug that is taken', async () => {
    const founder = await person('Founder 2');
    const first = await t.graphql(CreateOrganizationDocument, { input: { name: 'Twin Lending' } }, { token: founder.token });
    const second = await t.graphql(CreateOrganizationDocument, { input: { name: 'Twin Lending' } }, { token: founder.token });
    expect(first.body.data?.createOrganization.slug).toBe('twin-lending');
    expect(second.body.data?.createOrganization.slug).toMatch(/^twin-lending-[0-9a-f]{6}$/);
    const taken = await t.graphql(CreateOrganizationDocument, { input: { name: 'Other', slug: 'twin-lending' } }, { token: founder.token });
    expect(ext(taken)).toMatchObject({ code: 'CONFLICT', field: 'slug' });
    const invalid = await t.graphql(CreateOrganizationDocument, { input: { name: 'Other', slug: 'No Spaces!' } }, { token: founder.token });
    expect(ext(invalid)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'slug' });
    expect(ext(await t.graphql(CreateOrganizationDocument, { input: { name: '   ' } }, { token: founder.token }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
  });

  it('needs a session', async () => {
    const { status, body } = await t.graphql(CreateOrganizationDocument, { input: { name: 'Anonymous Lending' } });
    expect(status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await t.db.prisma.organization.count({ where: { name: 'Anonymous Lending' } })).toBe(0);
  });
});

describe('organization management', () => {
  let owner: Person;
  let memberAdmin: Person;
  let settingsAdmin: Person;
  let staff: Person;
  let outsider: Person;
  let org: Awaited<ReturnType<typeof organizationOf>>;
  let staffMembershipId: string;
  let otherOrgRoleId: string;

  beforeAll(async () => {
    owner = await person('Owner');
    memberAdmin = await person('Member Admin');
    settingsAdmin = await person('Settings Admin');
    staff = await person('Staff');
    outsider = await person('Outsider');
    org = await organizationOf(owner, 'Acme Lending');
    const settingsRole = await t.db.prisma.organizationRole.create({ data: { organizationId: org.id, name: 'Settings', permissions: ['orgSettings'] } });
    await join(memberAdmin, org.id, org.roles.Manager);
    await join(settingsAdmin, org.id, settingsRole.id);
    staffMembershipId = await join(staff, org.id, org.roles.Staff);
    const other = await createOrganizationRow(t.db.prisma, { name: 'Elsewhere' });
    otherOrgRoleId = other.role.id;
    await join(outsider, other.organization.id, other.role.id);
  });

  describe('locations', () => {
    it('createLocation: orgSettings may; staff is FORBIDDEN; an outsider gets NOT_FOUND', async () => {
      const input = { organizationId: org.id, name: 'North Lot', code: 'N1', addressLine1: '1 Main St', city: 'Macon', state: 'GA', postalCode: '31201' };
      const created = await t.graphql(CreateLocationDocument, { input }, { token: settingsAdmin.token });
      expect(created.body.data?.createLocation).toMatchObject({ name: 'North Lot', code: 'N1', city: 'Macon', postalCode: '31201' });
      const denied = await t.graphql(CreateLocationDocument, { input: { ...input, name: 'Staff Lot' } }, { token: staff.token });
      expect(denied.status).toBe(403);
      expect(code(denied)).toBe('FORBIDDEN');
      expect(code(await t.graphql(CreateLocationDocument, { input: { ...input, name: 'Outside Lot' } }, { token: outsider.token }))).toBe('NOT_FOUND');
      expect(code(await t.graphql(CreateLocationDocument, { input }, { token: settingsAdmin.token }))).toBe('CONFLICT');
      expect(ext(await t.graphql(CreateLocationDocument, { input: { ...input, name: '' } }, { token: settingsAdmin.token }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
      expect(ext(await t.graphql(CreateLocationDocument, { input: { ...input, organizationId: 'nope' } }, { token: settingsAdmin.token }))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'organizationId',
      });
      expect(await t.db.prisma.location.count({ where: { organizationId: org.id } })).toBe(1);
      expect(await t.db.prisma.activity.count({ where: { type: 'location.created', organizationId: org.id } })).toBe(1);
    });

    it('updateLocation: orgSettings may; staff is FORBIDDEN; an outsider gets NOT_FOUND', async () => {
      const { id } = await t.db.prisma.location.findFirstOrThrow({ where: { organizationId: org.id, name: 'North Lot' } });
      const updated = await t.graphql(UpdateLocationDocument, { input: { id, name: 'North Lot A', code: null } }, { token: settingsAdmin.token });
      expect(updated.body.data?.updateLocation).toEqual({ id, name: 'North Lot A', code: null, city: 'Macon' });
      expect(code(await t.graphql(UpdateLocationDocument, { input: { id, city: 'Athens' } }, { token: staff.token }))).toBe('FORBIDDEN');
      expect(code(await t.graphql(UpdateLocationDocument, { input: { id, city: 'Athens' } }, { token: outsider.token }))).toBe('NOT_FOUND');
      expect((await t.db.prisma.location.findUniqueOrThrow({ where: { id } })).city).toBe('Macon');
    });
  });

  describe('reading an organization', () => {
    it('members see locations and roles; outsiders get NOT_FOUND', async () => {
      const seen = await t.graphql(OrganizationDetailsDocument, { id: org.id }, { token: staff.token });
      expect(seen.body.data?.organization.locations.map((l) => l.name)).toEqual(['North Lot A']);
      expect(seen.body.data?.organization.roles.map((r) => r.name)).toEqual(['Manager', 'Owner', 'Settings', 'Staff']);
      expect(code(await t.graphql(OrganizationDetailsDocument, { id: org.id }, { token: outsider.token }))).toBe('NOT_FOUND');
    });

    it('members needs the members permission', async () => {
      const seen = await t.graphql(OrganizationMembersDocument, { id: org.id }, { token: memberAdmin.token });
      const members = seen.body.data!.organization.members;
      expect(members.map((m) => m.user.email)).toEqual([owner.email, memberAdmin.email, settingsAdmin.email, staff.email]);
      expect(members[0]).toMatchObject({ isOwner: true, role: { name: 'Owner' }, locations: [] });
      const denied = await t.graphql(OrganizationMembersDocument, { id: org.id }, { token: staff.token });
      expect(code(denied)).toBe('FORBIDDEN');
      expect(JSON.stringify(denied.body)).not.toContain(owner.email);
    });
  });

  describe('roles', () => {
    it('createOrganizationRole: members may; staff is FORBIDDEN; nobody but an owner grants keys they lack', async () => {
      const created = await t.graphql(
        CreateOrganizationRoleDocument,
        { input: { organizationId: org.id, name: 'Collector', permissions: ['rcm', 'loans', 'rcm'] } },
        { token: memberAdmin.token },
      );
      expect(created.body.data?.createOrganizationRole).toMatchObject({ name: 'Collector', permissions: ['rcm', 'loans'] });
      expect(code(await t.graphql(CreateOrganizationRoleDocument, { input: { organizationId: org.id, name: 'Mine', permissions: [] } }, { token: staff.token }))).toBe(
        'FORBIDDEN',
      );
      const escalation = await t.graphql(
        CreateOrganizationRoleDocument,
        { input: { organizationId: org.id, name: 'Admin', permissions: ['members', 'billing'] } },
        { token: memberAdmin.token },
      );
      expect(ext(escalation)).toMatchObject({ code: 'FORBIDDEN', reason: 'PERMISSION_ESCALATION' });
      const byOwner = await t.graphql(
        CreateOrganizationRoleDocument,
        { input: { organizationId: org.id, name: 'Admin', permissions: ['members', 'billing'] } },
        { token: owner.token },
      );
      expect(code(byOwner)).toBe('OK');
      expect(code(await t.graphql(CreateOrganizationRoleDocument, { input: { organizationId: org.id, name: 'Collector', permissions: [] } }, { token: owner.token }))).toBe(
        'CONFLICT',
      );
    });

    it('updateOrganizationRole: members may and it is audited; staff is FORBIDDEN; an outsider gets NOT_FOUND', async () => {
      const role = await t.db.prisma.organizationRole.findFirstOrThrow({ where: { organizationId: org.id, name: 'Collector' } });
      const updated = await t.graphql(UpdateOrganizationRoleDocument, { input: { id: role.id, permissions: ['rcm'] } }, { token: memberAdmin.token });
      expect(updated.body.data?.updateOrganizationRole.permissions).toEqual(['rcm']);
      const audit = await t.db.prisma.activity.findFirstOrThrow({ where: { type: 'role.permissions_changed', organizationId: org.id } });
      expect(audit).toMatchObject({ actorUserId: memberAdmin.id, data: { roleId: role.id, from: ['rcm', 'loans'], to: ['rcm'] } });
      expect(code(await t.graphql(UpdateOrganizationRoleDocument, { input: { id: role.id, permissions: ['documents'] } }, { token: staff.token }))).toBe('FORBIDDEN');
      expect(code(await t.graphql(UpdateOrganizationRoleDocument, { input: { id: role.id, name: 'Mine' } }, { token: outsider.token }))).toBe('NOT_FOUND');
      expect(code(await t.graphql(UpdateOrganizationRoleDocument, { input: { id: role.id, permissions: ['orgSettings'] } }, { token: memberAdmin.token }))).toBe('FORBIDDEN');
    });

    it('deleteOrganizationRole: CONFLICT while members hold it; staff is FORBIDDEN; members may delete an unused one', async () => {
      expect(ext(await t.graphql(DeleteOrganizationRoleDocument, { id: org.roles.Staff }, { token: memberAdmin.token }))).toMatchObject({
        code: 'CONFLICT',
        reason: 'ROLE_IN_USE',
      });
      const role = await t.db.prisma.organizationRole.findFirstOrThrow({ where: { organizationId: org.id, name: 'Collector' } });
      expect(code(await t.graphql(DeleteOrganizationRoleDocument, { id: role.id }, { token: staff.token }))).toBe('FORBIDDEN');
      expect(code(await t.graphql(DeleteOrganizationRoleDocument, { id: role.id }, { token: outsider.token }))).toBe('NOT_FOUND');
      expect((await t.graphql(DeleteOrganizationRoleDocument, { id: role.id }, { token: memberAdmin.token })).body.data?.deleteOrganizationRole).toBe(true);
      expect(await t.db.prisma.organizationRole.findUnique({ where: { id: role.id } })).toBeNull();
    });
  });

  describe('settings and billing', () => {
    it('updateOrganizationSettings: orgSettings may; staff is FORBIDDEN; the domain is validated', async () => {
      const updated = await t.graphql(
        UpdateOrganizationSettingsDocument,
        { input: { organizationId: org.id, name: 'Acme Lending Co', signInDomain: 'App.Acme.Example' } },
        { token: settingsAdmin.token },
      );
      expect(updated.body.data?.updateOrganizationSettings).toMatchObject({ name: 'Acme Lending Co', settings: { signInDomain: 'app.acme.example' } });
      expect(code(await t.graphql(UpdateOrganizationSettingsDocument, { input: { organizationId: org.id, name: 'Hijacked' } }, { token: staff.token }))).toBe('FORBIDDEN');
      const bad = await t.graphql(UpdateOrganizationSettingsDocument, { input: { organizationId: org.id, signInDomain: 'https://x.example/path' } }, { token: settingsAdmin.token });
      expect(ext(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'signInDomain' });
      expect((await t.db.prisma.organization.findUniqueOrThrow({ where: { id: org.id } })).name).toBe('Acme Lending Co');
    });

    it('updateBilling: an owner whose role lacks billing may; a non-owner without billing is FORBIDDEN', async () => {
      const row = await createOrganizationRow(t.db.prisma, { permissions: ['documents'] });
      const plainOwner = await person('Plain Owner');
      const colleague = await person('Colleague');
      await join(plainOwner, row.organization.id, row.role.id, { isOwner: true });
      await join(colleague, row.organization.id, row.role.id);
      const updated = await t.graphql(UpdateBillingDocument, { input: { organizationId: row.organization.id, plan: 'pro', seats: 12 } }, { token: plainOwner.token });
      expect(updated.body.data?.updateBilling.billing).toEqual({ plan: 'pro', seats: 12, subscriptionStatus: 'ACTIVE' });
      const denied = await t.graphql(UpdateBillingDocument, { input: { organizationId: row.organization.id, seats: 50 } }, { token: colleague.token });
      expect(denied.status).toBe(403);
      expect(ext(await t.graphql(UpdateBillingDocument, { input: { organizationId: row.organization.id, seats: 1 } }, { token: plainOwner.token }))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'seats',
        reason: 'SEATS_BELOW_MEMBERS',
      });
      expect(await t.db.prisma.organization.findUniqueOrThrow({ where: { id: row.organization.id } })).toMatchObject({ plan: 'pro', seats: 12 });
      const setStatus = await t.graphql(
        'mutation($id: ID!) { updateBilling(input: { organizationId: $id, subscriptionStatus: ACTIVE }) { id } }',
        { id: row.organization.id },
        { token: plainOwner.token },
      );
      expect(setStatus.status).toBe(400);
    });
  });

  describe('members', () => {
    it('updateMember: members may change role and locations; staff is FORBIDDEN; a role of another organization is refused', async () => {
      const location = await t.db.prisma.location.findFirstOrThrow({ where: { organizationId: org.id } });
      const updated = await t.graphql(
        UpdateMemberDocument,
        { input: { membershipId: staffMembershipId, roleId: org.roles.Manager, locationIds: [location.id] } },
        { token: memberAdmin.token },
      );
      expect(updated.body.data?.updateMember).toMatchObject({ role: { name: 'Manager' }, locations: [{ id: location.id }] });
      const audit = await t.db.prisma.activity.findFirstOrThrow({ where: { type: 'member.role_changed', subjectUserId: staff.id } });
      expect(audit).toMatchObject({ actorUserId: memberAdmin.id, organizationId: org.id, ip: '127.0.0.1' });
      const foreignRole = await t.graphql(UpdateMemberDocument, { input: { membershipId: staffMembershipId, roleId: otherOrgRoleId } }, { token: memberAdmin.token });
      expect(ext(foreignRole)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'roleId' });
      const back = await t.graphql(UpdateMemberDocument, { input: { membershipId: staffMembershipId, roleId: org.roles.Staff, locationIds: [] } }, { token: memberAdmin.token });
      expect(back.body.data?.updateMember).toMatchObject({ role: { name: 'Staff' }, locations: [] });
      expect(code(await t.graphql(UpdateMemberDocument, { input: { membershipId: staffMembershipId, roleId: org.roles.Manager } }, { token: staff.token }))).toBe('FORBIDDEN');
      expect(code(await t.graphql(UpdateMemberDocument, { input: { membershipId: staffMembershipId, roleId: org.roles.Manager } }, { token: outsider.token }))).toBe('NOT_FOUND');
      expect(code(await t.graphql(UpdateMemberDocument, { input: { membershipId: org.ownerMembershipId, roleId: org.roles.Staff } }, { token: memberAdmin.token }))).toBe(
        'FORBIDDEN',
      );
    });

    it('removeMember: staff is FORBIDDEN; members may, and the removed member loses access on the next request', async () => {
      const leaver = await person('Leaver');
      const membershipId = await join(leaver, org.id, org.roles.Staff);
      expect(code(await t.graphql(OrganizationNameDocument, { id: org.id }, { token: leaver.token }))).toBe('OK');
      expect(code(await t.graphql(RemoveMemberDocument, { membershipId }, { token: staff.token }))).toBe('FORBIDDEN');
      expect(code(await t.graphql(RemoveMemberDocument, { membershipId }, { token: outsider.token }))).toBe('NOT_FOUND');
      expect((await t.graphql(RemoveMemberDocument, { membershipId }, { token: memberAdmin.token })).body.data?.removeMember).toBe(true);
      expect(code(await t.graphql(OrganizationNameDocument, { id: org.id }, { token: leaver.token }))).toBe('NOT_FOUND');
      expect(await t.db.prisma.activity.findFirst({ where: { type: 'member.removed', subjectUserId: leaver.id, actorUserId: memberAdmin.id } })).not.toBeNull();
    });

    it('removeMember: the last owner cannot be removed', async () => {
      const result = await t.graphql(RemoveMemberDocument, { membershipId: org.ownerMembershipId }, { token: owner.token });
      expect(ext(result)).toMatchObject({ code: 'CONFLICT', reason: 'LAST_OWNER' });
      expect(code(await t.graphql(RemoveMemberDocument, { membershipId: org.ownerMembershipId }, { token: memberAdmin.token }))).toBe('FORBIDDEN');
      expect(await t.db.prisma.membership.findUnique({ where: { id: org.ownerMembershipId } })).not.toBeNull();
    });

    it('transferOwnership: a non-owner is FORBIDDEN; the owner hands over and stops being owner', async () => {
      const founder = await person('Handover Founder');
      const successor = await person('Successor');
      const handover = await organizationOf(founder, 'Handover Lending');
      const successorMembershipId = await join(successor, handover.id, handover.roles.Manager);
      const denied = await t.graphql(TransferOwnershipDocument, { input: { organizationId: handover.id, toMembershipId: successorMembershipId } }, { token: successor.token });
      expect(code(denied)).toBe('FORBIDDEN');
      const done = await t.graphql(TransferOwnershipDocument, { input: { organizationId: handover.id, toMembershipId: successorMembershipId } }, { token: founder.token });
      expect(done.body.data?.transferOwnership).toEqual({ id: successorMembershipId, isOwner: true, user: { id: successor.id } });
      const owners = await t.db.prisma.membership.findMany({ where: { organizationId: handover.id, isOwner: true }, select: { userId: true } });
      expect(owners).toEqual([{ userId: successor.id }]);
      const again = await t.graphql(TransferOwnershipDocument, { input: { organizationId: handover.id, toMembershipId: handover.ownerMembershipId } }, { token: founder.token });
      expect(code(again)).toBe('FORBIDDEN');
      expect(await t.db.prisma.activity.findFirst({ where: { type: 'ownership.transferred', organizationId: handover.id, actorUserId: founder.id, subjectUserId: successor.id } })).not.toBeNull();
      expect(code(await t.graphql(TransferOwnershipDocument, { input: { organizationId: handover.id, toMembershipId: successorMembershipId } }, { token: outsider.token }))).toBe(
        'NOT_FOUND',
      );
    });
  });

  describe('invitations', () => {
    async function invite(by: Person, email: string, extra: { roleId?: string; locationIds?: string[] } = {}) {
      return t.graphql(InviteMemberDocument, { input: { organizationId: org.id, email, roleId: extra.roleId ?? org.roles.Staff, locationIds: extra.locationIds } }, { token: by.token });
    }

    /** The token from the newest invitation mail to `email`. */
    async function invitationToken(email: string, after: number): Promise<string> {
      const mail = await smtp.waitFor((m) => m.to.includes(email) && smtp.messages.indexOf(m) >= after);
      expect(mail.subject).toBe('Invitation to join "Acme Lending Co" on Safeclose');
      const link = extractLinks(mail.text).find((l) => l.startsWith('http://safeclose.test/accept-invitation?token='));
      expect(link).toBeDefined();
      return new URL(link!).searchParams.get('token')!;
    }

    it('inviteMember mails a single-use link; the invited account accepts it once and joins with the role and locations', async () => {
      const invitee = await person('Invitee');
      const location = await t.db.prisma.location.findFirstOrThrow({ where: { organizationId: org.id } });
      const before = smtp.messages.length;
      const invited = await invite(memberAdmin, invitee.email.toUpperCase(), { locationIds: [location.id] });
      expect(invited.body.data?.inviteMember).toMatchObject({ email: invitee.email, status: 'PENDING', role: { name: 'Staff' }, locations: [{ id: location.id }] });
      expect(new Date(invited.body.data!.inviteMember.expiresAt).getTime() - clock.now().getTime()).toBe(7 * 24 * 3600_000);
      const token = await invitationToken(invitee.email, before);

      const stored = await t.db.prisma.authToken.findFirstOrThrow({ where: { invitationId: invited.body.data!.inviteMember.id } });
      expect(stored).toMatchObject({ purpose: 'ORGANIZATION_INVITATION', maxUses: 1, consumedAt: null });
      expect(stored.tokenHash).not.toContain(token);

      const accepted = await t.graphql(AcceptInvitationDocument, { token }, { token: invitee.token });
      expect(accepted.body.data?.acceptInvitation).toMatchObject({
        isOwner: false,
        organization: { id: org.id },
        role: { name: 'Staff' },
        locations: [{ id: location.id }],
        user: { id: invitee.id },
      });
      expect(code(await t.graphql(OrganizationNameDocument, { id: org.id }, { token: invitee.token }))).toBe('OK');
      const again = await t.graphql(AcceptInvitationDocument, { token }, { token: invitee.token });
      expect(ext(again)).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_INVITATION' });

      const events = await t.db.prisma.activity.findMany({ where: { organizationId: org.id, type: { in: ['member.invited', 'member.joined'] }, OR: [{ subjectUserId: invitee.id }, { actorUserId: memberAdmin.id }] } });
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['member.invited', 'member.joined']));
      expect(JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(token);
      expect(t.logs.text).not.toContain(token);
    });

    it('only the invited email may accept: another account is FORBIDDEN and the link stays usable', async () => {
      const invitee = await person('Right Person');
      const stranger = await person('Wrong Person');
      const before = smtp.messages.length;
      await invite(memberAdmin, invitee.email);
      const token = await invitationToken(invitee.email, before);
      const wrong = await t.graphql(AcceptInvitationDocument, { token }, { token: stranger.token });
      expect(ext(wrong)).toMatchObject({ code: 'FORBIDDEN', reason: 'INVITATION_EMAIL_MISMATCH' });
      expect(wrong.body.errors?.[0]?.message).toMatch(/different email address/);
      expect(code(await t.graphql(AcceptInvitationDocument, { token }))).toBe('UNAUTHENTICATED');
      expect(code(await t.graphql(AcceptInvitationDocument, { token }, { token: invitee.token }))).toBe('OK');
    });

    it('lets exactly one of several concurrent acceptances succeed', async () => {
      const invitee = await person('Racer');
      const before = smtp.messages.length;
      await invite(memberAdmin, invitee.email);
      const token = await invitationToken(invitee.email, before);
      const results = await Promise.all(Array.from({ length: 6 }, () => t.graphql(AcceptInvitationDocument, { token }, { token: invitee.token })));
      expect(results.filter((r) => code(r) === 'OK')).toHaveLength(1);
      expect(results.every((r) => ['OK', 'BAD_USER_INPUT', 'CONFLICT'].includes(String(code(r))))).toBe(true);
      expect(await t.db.prisma.membership.count({ where: { organizationId: org.id, userId: invitee.id } })).toBe(1);
    });

    it('inviteMember: staff is FORBIDDEN, an outsider NOT_FOUND, an existing member CONFLICT, bad input BAD_USER_INPUT', async () => {
      expect(code(await invite(staff, 'someone@example.test'))).toBe('FORBIDDEN');
      expect(code(await invite(outsider, 'someone@example.test'))).toBe('NOT_FOUND');
      expect(ext(await invite(memberAdmin, staff.email))).toMatchObject({ code: 'CONFLICT', field: 'email' });
      expect(ext(await invite(memberAdmin, 'not-an-email'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
      expect(ext(await invite(memberAdmin, 'someone@example.test', { roleId: otherOrgRoleId }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'roleId' });
      const ownerRole = await invite(memberAdmin, 'someone@example.test', { roleId: org.roles.Owner });
      expect(ext(ownerRole)).toMatchObject({ code: 'FORBIDDEN', reason: 'PERMISSION_ESCALATION' });
      expect(await t.db.prisma.invitation.count({ where: { email: 'someone@example.test' } })).toBe(0);
    });

    it('revokeInvitation: staff is FORBIDDEN; members may, and the link stops working', async () => {
      const invitee = await person('Revoked Invitee');
      const before = smtp.messages.length;
      const { body } = await invite(memberAdmin, invitee.email);
      const id = body.data!.inviteMember.id;
      const token = await invitationToken(invitee.email, before);
      expect(code(await t.graphql(RevokeInvitationDocument, { id }, { token: staff.token }))).toBe('FORBIDDEN');
      expect(code(await t.graphql(RevokeInvitationDocument, { id }, { token: outsider.token }))).toBe('NOT_FOUND');
      const pending = await t.graphql(OrganizationMembersDocument, { id: org.id }, { token: memberAdmin.token });
      expect(pending.body.data?.organization.invitations.map((i) => i.id)).toContain(id);
      expect((await t.graphql(RevokeInvitationDocument, { id }, { token: memberAdmin.token })).body.data?.revokeInvitation.status).toBe('REVOKED');
      expect(ext(await t.graphql(AcceptInvitationDocument, { token }, { token: invitee.token }))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_INVITATION' });
      expect(code(await t.graphql(RevokeInvitationDocument, { id }, { token: memberAdmin.token }))).toBe('CONFLICT');
      expect(await t.db.prisma.activity.findFirst({ where: { type: 'invitation.revoked', actorUserId: memberAdmin.id } })).not.toBeNull();
    });

    // Last: moving the clock seven days ends every access token issued before.
    it('expires the link after 7 days: valid a millisecond before, refused at the boundary', async () => {
      const early = await person('Early Invitee');
      const late = await person('Late Invitee');
      let before = smtp.messages.length;
      await invite(memberAdmin, early.email);
      const earlyToken = await invitationToken(early.email, before);
      before = smtp.messages.length;
      await invite(memberAdmin, late.email);
      const lateToken = await invitationToken(late.email, before);
      clock.advance(7 * 24 * 3600_000 - 1);
      const earlySession = (await signInAs(t.app.services, early.id)).token;
      expect(code(await t.graphql(AcceptInvitationDocument, { token: earlyToken }, { token: earlySession }))).toBe('OK');
      clock.advance(1);
      const lateSession = (await signInAs(t.app.services, late.id)).token;
      expect(ext(await t.graphql(AcceptInvitationDocument, { token: lateToken }, { token: lateSession }))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_INVITATION' });
      expect(ext(await t.graphql(AcceptInvitationDocument, { token: 'garbage' }, { token: lateSession }))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_INVITATION' });
    });
  });
});
