import { builder } from '../../graphql/builder.ts';
import { CREATION_ORDER, PAGE_SIZES, type CreationOrder } from '../../graphql/connections.ts';
import type { Context } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { PermissionKeyEnum } from '../auth/auth.schema.ts';
import type { Viewer } from '../auth/viewer.ts';
import { acceptInvitation, inviteMember, revokeInvitation } from './invitations.service.ts';
import { createOrganizationRole, deleteOrganizationRole, removeMember, transferOwnership, updateMember, updateOrganizationRole } from './members.service.ts';
import { closeOrganization } from './closing.ts';
import { organizationScope } from './organizations.policy.ts';
import { createLocation, createOrganization, getOrganizationById, updateBilling, updateLocation, updateOrganizationSettings } from './organizations.service.ts';

const SubscriptionStatusEnum = builder.enumType('SubscriptionStatus', {
  values: ['TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELED', 'SUSPENDED'] as const,
});

const InvitationStatusEnum = builder.enumType('InvitationStatus', {
  values: ['PENDING', 'ACCEPTED', 'REVOKED', 'EXPIRED'] as const,
});

interface BillingShape {
  plan: string;
  seats: number;
  subscriptionStatus: (typeof SubscriptionStatusEnum)['$inferType'];
}

const OrganizationBilling = builder.objectRef<BillingShape>('OrganizationBilling').implement({
  fields: (t) => ({
    plan: t.exposeString('plan'),
    seats: t.exposeInt('seats'),
    subscriptionStatus: t.expose('subscriptionStatus', { type: SubscriptionStatusEnum }),
  }),
});

interface SettingsShape {
  name: string;
  slug: string;
  signInDomain: string | null;
}

const OrganizationSettings = builder.objectRef<SettingsShape>('OrganizationSettings').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    signInDomain: t.exposeString('signInDomain', { nullable: true, description: 'Host of the first-party sign-in pages.' }),
  }),
});

const MemberOrderEnum = builder.enumType('MemberOrder', { values: CREATION_ORDER });
const InvitationOrderEnum = builder.enumType('InvitationOrder', { values: CREATION_ORDER });
const byCreation = (order: CreationOrder | null | undefined, fallback: CreationOrder) => ({ id: (order ?? fallback) === 'OLDEST_FIRST' ? ('asc' as const) : ('desc' as const) });
/** Invitations that can still be accepted. */
const openInvitations = (context: Context) => ({ status: 'PENDING' as const, expiresAt: { gt: context.services.clock.now() } });

/** Members (and admins, who read everything) see an organization's locations and roles. */
const memberOrAdmin = (organization: { id: string }) => ({ orgMember: organization.id, admin: true });
const memberAdminOrAdmin = (organization: { id: string }) => ({ orgPermission: { organizationId: organization.id, permission: 'members' as const }, admin: true });

export const OrganizationRef = builder.prismaObject('Organization', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    settings: t.field({
      type: OrganizationSettings,
      description: 'Needs the orgSettings permission in this organization.',
      authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: 'orgSettings' } }),
      select: { name: true, slug: true, signInDomain: true },
      resolve: (organization) => organization,
    }),
    billing: t.field({
      type: OrganizationBilling,
      description: 'Needs the billing permission in this organization; owners always have it.',
      authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: 'billing' } }),
      select: { plan: true, seats: true, subscriptionStatus: true },
      resolve: (organization) => organization,
    }),
    locations: t.relation('locations', {
      description: 'Branches and lots, by name. Members only.',
      authScopes: memberOrAdmin,
      query: { orderBy: { name: 'asc' } },
    }),
    roles: t.relation('roles', {
      description: 'Named sets of permission keys, by name. Members only.',
      authScopes: memberOrAdmin,
      query: { orderBy: { name: 'asc' } },
    }),
    members: t.relation('memberships', {
      description: 'Everyone in the organization, oldest first. Needs the members permission.',
      deprecationReason: 'Use membersConnection.',
      authScopes: memberAdminOrAdmin,
      query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
    }),
    membersConnection: t.relatedConnection(
      'memberships',
      {
        cursor: 'id',
        ...PAGE_SIZES,
        totalCount: true,
        description: 'Everyone in the organization, a page at a time. Needs the members permission.',
        authScopes: memberAdminOrAdmin,
        args: { orderBy: t.arg({ type: MemberOrderEnum, required: false, defaultValue: 'OLDEST_FIRST' }) },
        query: (args) => ({ orderBy: byCreation(args.orderBy, 'OLDEST_FIRST') }),
      },
      { name: 'OrganizationMembersConnection' },
    ),
    invitations: t.relation('invitations', {
      description: 'Invitations not yet accepted, revoked or expired, newest first. Needs the members permission.',
      deprecationReason: 'Use invitationsConnection.',
      authScopes: memberAdminOrAdmin,
      query: (_args, context) => ({ where: openInvitations(context), orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
    }),
    invitationsConnection: t.relatedConnection(
      'invitations',
      {
        cursor: 'id',
        ...PAGE_SIZES,
        totalCount: true,
        description: 'Invitations not yet accepted, revoked or expired, a page at a time. Needs the members permission.',
        authScopes: memberAdminOrAdmin,
        args: { orderBy: t.arg({ type: InvitationOrderEnum, required: false, defaultValue: 'NEWEST_FIRST' }) },
        query: (args, context) => ({ where: openInvitations(context), orderBy: byCreation(args.orderBy, 'NEWEST_FIRST') }),
      },
      { name: 'OrganizationInvitationsConnection' },
    ),
  }),
});

export const LocationRef = builder.prismaObject('Location', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    code: t.exposeString('code', { nullable: true }),
    addressLine1: t.exposeString('addressLine1', { nullable: true }),
    city: t.exposeString('city', { nullable: true }),
    state: t.exposeString('state', { nullable: true }),
    postalCode: t.exposeString('postalCode', { nullable: true }),
  }),
});

builder.prismaObjectField('Membership', 'user', (t) => t.relation('user', { description: 'The member.' }));

builder.prismaObject('Invitation', {
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    status: t.expose('status', { type: InvitationStatusEnum }),
    role: t.relation('role'),
    locations: t.field({
      type: [LocationRef],
      description: 'The locations the new member will be limited to; empty means the whole organization.',
      select: { locations: { select: { location: true } } },
      resolve: (invitation) => invitation.locations.map((l) => l.location),
    }),
    organization: t.relation('organization'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('organization', (t) =>
  t.withAuth({ signedIn: true }).prismaField({
    type: 'Organization',
    description: 'One organization you are a member of (any, for admins); others are NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => getOrganizationById(context.services, { viewer: context.viewer, id: String(args.id), query }),
  }),
);

/** Fields guarded by `organizationScope` have passed it, so a viewer is present; the check keeps the types honest. */
function signedIn(context: Context): Viewer {
  if (!context.viewer) throw new AppError('UNAUTHENTICATED', 'Sign in to continue.');
  return context.viewer;
}

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    slug: t.string({ required: false, description: '3 to 60 lower-case letters, digits or dashes; derived from the name when absent.' }),
  }),
});

const UpdateOrganizationSettingsInput = builder.inputType('UpdateOrganizationSettingsInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    name: t.string({ required: false }),
    signInDomain: t.string({ required: false, description: 'A host name; null clears it.' }),
  }),
});

const UpdateBillingInput = builder.inputType('UpdateBillingInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    plan: t.string({ required: false }),
    seats: t.int({ required: false, description: 'At least the current number of members.' }),
  }),
});

const CreateLocationInput = builder.inputType('CreateLocationInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    name: t.string({ required: true }),
    code: t.string({ required: false }),
    addressLine1: t.string({ required: false }),
    city: t.string({ required: false }),
    state: t.string({ required: false }),
    postalCode: t.string({ required: false }),
  }),
});

const UpdateLocationInput = builder.inputType('UpdateLocationInput', {
  description: 'Absent fields stay as they are; null clears an optional field.',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ required: false }),
    code: t.string({ required: false }),
    addressLine1: t.string({ required: false }),
    city: t.string({ required: false }),
    state: t.string({ required: false }),
    postalCode: t.string({ required: false }),
  }),
});

const CreateOrganizationRoleInput = builder.inputType('CreateOrganizationRoleInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    name: t.string({ required: true }),
    permissions: t.field({ type: [PermissionKeyEnum], required: true }),
  }),
});

const UpdateOrganizationRoleInput = builder.inputType('UpdateOrganizationRoleInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ required: false }),
    permissions: t.field({ type: [PermissionKeyEnum], required: false, description: 'Replaces the role’s permission keys.' }),
  }),
});

const InviteMemberInput = builder.inputType('InviteMemberInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    email: t.string({ required: true }),
    roleId: t.id({ required: true }),
    locationIds: t.idList({ required: false, description: 'Limit the new member to these locations; absent or empty means the whole organization.' }),
  }),
});

const UpdateMemberInput = builder.inputType('UpdateMemberInput', {
  fields: (t) => ({
    membershipId: t.id({ required: true }),
    roleId: t.id({ required: false }),
    locationIds: t.idList({ required: false, description: 'Replaces the member’s locations; empty means the whole organization.' }),
  }),
});

const TransferOwnershipInput = builder.inputType('TransferOwnershipInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    toMembershipId: t.id({ required: true }),
  }),
});

const ids = (list: ReadonlyArray<string | number> | null | undefined) => (list === null || list === undefined ? list : list.map(String));

builder.mutationFields((t) => ({
  createOrganization: t.withAuth({ signedIn: true }).prismaField({
    type: 'Organization',
    description: 'Creates an organization with the roles Owner, Manager and Staff, and makes you its owner.',
    args: { input: t.arg({ type: CreateOrganizationInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      createOrganization(context.services, { query, viewer: context.viewer, client: context.client, name: input.name, slug: input.slug }),
  }),
  updateOrganizationSettings: t.prismaField({
    type: 'Organization',
    description: 'Needs orgSettings.',
    args: { input: t.arg({ type: UpdateOrganizationSettingsInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'orgSettings'),
    resolve: (query, _root, { input }, context) =>
      updateOrganizationSettings(context.services, {
        query,
        viewer: signedIn(context),
        client: context.client,
        organizationId: String(input.organizationId),
        name: input.name,
        signInDomain: input.signInDomain,
      }),
  }),
  updateBilling: t.prismaField({
    type: 'Organization',
    description: 'Needs billing (owners always have it). The subscription status is not set by clients.',
    args: { input: t.arg({ type: UpdateBillingInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'billing'),
    resolve: (query, _root, { input }, context) =>
      updateBilling(context.services, { query, viewer: signedIn(context), client: context.client, organizationId: String(input.organizationId), plan: input.plan, seats: input.seats }),
  }),
  createLocation: t.prismaField({
    type: 'Location',
    description: 'Needs orgSettings.',
    args: { input: t.arg({ type: CreateLocationInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'orgSettings'),
    resolve: (query, _root, { input }, context) =>
      createLocation(context.services, { ...input, query, viewer: signedIn(context), client: context.client, organizationId: String(input.organizationId) }),
  }),
  updateLocation: t.withAuth({ signedIn: true }).prismaField({
    type: 'Location',
    description: 'Needs orgSettings in the location’s organization.',
    args: { input: t.arg({ type: UpdateLocationInput, required: true }) },
    resolve: (query, _root, { input }, context) => updateLocation(context.services, { ...input, query, viewer: context.viewer, client: context.client, id: String(input.id) }),
  }),
  createOrganizationRole: t.prismaField({
    type: 'OrganizationRole',
    description: 'Needs members; only owners grant permission keys they do not hold.',
    args: { input: t.arg({ type: CreateOrganizationRoleInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'members'),
    resolve: (query, _root, { input }, context) =>
      createOrganizationRole(context.services, {
        query,
        viewer: signedIn(context),
        client: context.client,
        organizationId: String(input.organizationId),
        name: input.name,
        permissions: input.permissions,
      }),
  }),
  updateOrganizationRole: t.withAuth({ signedIn: true }).prismaField({
    type: 'OrganizationRole',
    description: 'Needs members in the role’s organization.',
    args: { input: t.arg({ type: UpdateOrganizationRoleInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      updateOrganizationRole(context.services, { query, viewer: context.viewer, client: context.client, id: String(input.id), name: input.name, permissions: input.permissions }),
  }),
  deleteOrganizationRole: t.withAuth({ signedIn: true }).boolean({
    description: 'Needs members. CONFLICT while members or pending invitations use the role.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await deleteOrganizationRole(context.services, { viewer: context.viewer, client: context.client, id: String(args.id) });
      return true;
    },
  }),
  inviteMember: t.prismaField({
    type: 'Invitation',
    description: 'Needs members. Mails a single-use link, valid for 7 days, to the address.',
    args: { input: t.arg({ type: InviteMemberInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'members'),
    resolve: (query, _root, { input }, context) =>
      inviteMember(context.services, {
        query,
        viewer: signedIn(context),
        client: context.client,
        organizationId: String(input.organizationId),
        email: input.email,
        roleId: String(input.roleId),
        locationIds: ids(input.locationIds),
      }),
  }),
  acceptInvitation: t.withAuth({ signedIn: true }).prismaField({
    type: 'Membership',
    description: 'Joins the organization with the token from an invitation link, signed in as the invited email.',
    args: { token: t.arg.string({ required: true }) },
    resolve: (query, _root, args, context) => acceptInvitation(context.services, { query, viewer: context.viewer, client: context.client, token: args.token }),
  }),
  revokeInvitation: t.withAuth({ signedIn: true }).prismaField({
    type: 'Invitation',
    description: 'Needs members. The link stops working at once.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => revokeInvitation(context.services, { query, viewer: context.viewer, client: context.client, id: String(args.id) }),
  }),
  updateMember: t.withAuth({ signedIn: true }).prismaField({
    type: 'Membership',
    description: 'Needs members. The role must belong to the same organization.',
    args: { input: t.arg({ type: UpdateMemberInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      updateMember(context.services, {
        query,
        viewer: context.viewer,
        client: context.client,
        membershipId: String(input.membershipId),
        roleId: input.roleId === null || input.roleId === undefined ? input.roleId : String(input.roleId),
        locationIds: ids(input.locationIds),
      }),
  }),
  removeMember: t.withAuth({ signedIn: true }).boolean({
    description: 'Needs members. Takes effect on the member’s next request. The last owner cannot be removed.',
    args: { membershipId: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await removeMember(context.services, { viewer: context.viewer, client: context.client, membershipId: String(args.membershipId) });
      return true;
    },
  }),
  closeOrganization: t.withAuth({ signedIn: true }).boolean({
    description:
      'Owners only: closes the organization at once. Nobody reaches it any more (it leaves every list; its invitations, tokens, identities, API registrations and OAuth clients stop working), ' +
      'and its data is kept for ORGANIZATION_RETENTION_DAYS, then deleted by `npm run organizations:purge`. There is no reopening.',
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args, context) => organizationScope(context.viewer, args.id, 'owner'),
    resolve: async (_root, args, context) => {
      await closeOrganization(context.services, { viewer: context.viewer, client: context.client, organizationId: String(args.id) });
      return true;
    },
  }),
  transferOwnership: t.prismaField({
    type: 'Membership',
    description: 'Owners only: the member becomes the owner and you stop being one.',
    args: { input: t.arg({ type: TransferOwnershipInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'owner'),
    resolve: (query, _root, { input }, context) =>
      transferOwnership(context.services, {
        query,
        viewer: signedIn(context),
        client: context.client,
        organizationId: String(input.organizationId),
        toMembershipId: String(input.toMembershipId),
      }),
  }),
}));
