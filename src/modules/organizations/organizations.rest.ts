import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';
import { USER_FIELDS } from '../auth/auth.rest.ts';

const ORGANIZATION_FIELDS = /* GraphQL */ `
  fragment RestOrganization on Organization { id name slug }
`;

const LOCATION_FIELDS = /* GraphQL */ `
  fragment RestLocation on Location { id name code addressLine1 city state postalCode }
`;

const ROLE_FIELDS = /* GraphQL */ `
  fragment RestOrganizationRole on OrganizationRole { id name permissions }
`;

const MEMBERSHIP_FIELDS = /* GraphQL */ `
  fragment RestMembership on Membership {
    id isOwner permissions organization { ...RestOrganization } role { ...RestOrganizationRole } locations { ...RestLocation }
    user { ...RestUser }
  }
  ${USER_FIELDS}
  ${ORGANIZATION_FIELDS}
  ${ROLE_FIELDS}
  ${LOCATION_FIELDS}
`;

const INVITATION_FIELDS = /* GraphQL */ `
  fragment RestInvitation on Invitation {
    id email status createdAt expiresAt organization { ...RestOrganization } role { ...RestOrganizationRole } locations { ...RestLocation }
  }
  ${ORGANIZATION_FIELDS}
  ${ROLE_FIELDS}
  ${LOCATION_FIELDS}
`;

const SETTINGS_FIELDS = /* GraphQL */ `
  fragment RestOrganizationSettings on OrganizationSettings { name slug signInDomain }
`;

const BILLING_FIELDS = /* GraphQL */ `
  fragment RestOrganizationBilling on OrganizationBilling { plan seats subscriptionStatus }
`;

const ORGANIZATION_MISSING = { reason: 'ORGANIZATION_NOT_FOUND', message: 'Organization not found.' };

/**
 * Organizations, their locations, roles, members, invitations, settings and billing under `/v1`: each route is the
 * GraphQL operation beside it. None of these records carries a version, so none takes `If-Match`.
 */
export const organizationResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/organizations',
    operationId: 'listMyOrganizations',
    tag: 'Organizations',
    summary: 'List your memberships: each organization with your role, locations and permissions in it',
    description: 'One page, in the order you joined. An app sign-in session sees its own organization only.',
    operation: /* GraphQL */ `
      query RestListMyOrganizations { me { memberships { ...RestMembership } } }
      ${MEMBERSHIP_FIELDS}`,
    unwrap: { field: 'memberships', missing: ORGANIZATION_MISSING },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/organizations',
    operationId: 'createOrganization',
    tag: 'Organizations',
    summary: 'Create an organization',
    description: 'With the roles Owner, Manager and Staff; you become its owner.',
    operation: /* GraphQL */ `
      mutation RestCreateOrganization($input: CreateOrganizationInput!) { createOrganization(input: $input) { ...RestOrganization } }
      ${ORGANIZATION_FIELDS}`,
    body: 'input',
    created: (organization) => `/v1/organizations/${String(organization.id)}`,
  },
  {
    method: 'GET',
    path: '/v1/organizations/:id',
    operationId: 'getOrganization',
    tag: 'Organizations',
    summary: 'Read an organization you are a member of',
    operation: /* GraphQL */ `
      query RestGetOrganization($id: ID!) { organization(id: $id) { ...RestOrganization } }
      ${ORGANIZATION_FIELDS}`,
    params: { id: 'id' },
  },
  {
    method: 'GET',
    path: '/v1/organizations/:id/locations',
    operationId: 'listLocations',
    tag: 'Organizations',
    summary: "List an organization's locations",
    description: 'Branches and lots, by name, in one page. Members only.',
    operation: /* GraphQL */ `
      query RestListLocations($id: ID!) { organization(id: $id) { locations { ...RestLocation } } }
      ${LOCATION_FIELDS}`,
    params: { id: 'id' },
    unwrap: { field: 'locations', missing: ORGANIZATION_MISSING },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/organizations/:id/locations',
    operationId: 'createLocation',
    tag: 'Organizations',
    summary: 'Add a location to an organization',
    description: 'Needs the orgSettings permission.',
    operation: /* GraphQL */ `
      mutation RestCreateLocation($input: CreateLocationInput!) { createLocation(input: $input) { ...RestLocation } }
      ${LOCATION_FIELDS}`,
    params: { id: 'input.organizationId' },
    body: 'input',
    created: (location) => `/v1/locations/${String(location.id)}`,
  },
  {
    method: 'PATCH',
    path: '/v1/locations/:id',
    operationId: 'updateLocation',
    tag: 'Organizations',
    summary: 'Change a location',
    description: "Send only the fields to change. Needs the orgSettings permission in the location's organization.",
    operation: /* GraphQL */ `
      mutation RestUpdateLocation($input: UpdateLocationInput!) { updateLocation(input: $input) { ...RestLocation } }
      ${LOCATION_FIELDS}`,
    params: { id: 'input.id' },
    body: 'input',
  },
  {
    method: 'GET',
    path: '/v1/organizations/:id/roles',
    operationId: 'listRoles',
    tag: 'Organizations',
    summary: "List an organization's roles",
    description: 'Named sets of permission keys, by name, in one page. Members only.',
    operation: /* GraphQL */ `
      query RestListRoles($id: ID!) { organization(id: $id) { roles { ...RestOrganizationRole } } }
      ${ROLE_FIELDS}`,
    params: { id: 'id' },
    unwrap: { field: 'roles', missing: ORGANIZATION_MISSING },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/organizations/:id/roles',
    operationId: 'createRole',
    tag: 'Organizations',
    summary: 'Add a role to an organization',
    description: 'Needs the members permission; only owners grant permission keys they do not hold.',
    operation: /* GraphQL */ `
      mutation RestCreateRole($input: CreateOrganizationRoleInput!) { createOrganizationRole(input: $input) { ...RestOrganizationRole } }
      ${ROLE_FIELDS}`,
    params: { id: 'input.organizationId' },
    body: 'input',
    created: (role) => `/v1/roles/${String(role.id)}`,
  },
  {
    method: 'PATCH',
    path: '/v1/roles/:id',
    operationId: 'updateRole',
    tag: 'Organizations',
    summary: 'Change a role',
    description: "Send only the fields to change; `permissions` replaces the role's keys. Needs the members permission.",
    operation: /* GraphQL */ `
      mutation RestUpdateRole($input: UpdateOrganizationRoleInput!) { updateOrganizationRole(input: $input) { ...RestOrganizationRole } }
      ${ROLE_FIELDS}`,
    params: { id: 'input.id' },
    body: 'input',
  },
  {
    method: 'DELETE',
    path: '/v1/roles/:id',
    operationId: 'deleteRole',
    tag: 'Organizations',
    summary: 'Delete a role',
    description: 'Needs the members permission. 409 while members or pending invitations use the role.',
    operation: /* GraphQL */ `
      mutation RestDeleteRole($id: ID!) { deleteOrganizationRole(id: $id) }`,
    params: { id: 'id' },
    noContent: true,
  },
  {
    method: 'GET',
    path: '/v1/organizations/:id/members',
    operationId: 'listMembers',
    tag: 'Members',
    summary: "List an organization's members",
    description: 'Oldest first unless `orderBy` says otherwise, in pages of `first` (cursor `after`). Needs the members permission.',
    operation: /* GraphQL */ `
      query RestListMembers($id: ID!, $first: Int, $after: String, $orderBy: MemberOrder) {
        organization(id: $id) {
          membersConnection(first: $first, after: $after, orderBy: $orderBy) { edges { node { ...RestMembership } } pageInfo { hasNextPage endCursor } }
        }
      }
      ${MEMBERSHIP_FIELDS}`,
    params: { id: 'id' },
    query: { first: 'first', after: 'after', orderBy: 'orderBy' },
    unwrap: { field: 'membersConnection', missing: ORGANIZATION_MISSING },
    list: true,
  },
  {
    method: 'PATCH',
    path: '/v1/members/:id',
    operationId: 'updateMember',
    tag: 'Members',
    summary: "Change a member's role or locations",
    description: 'The path names the membership. `locationIds` replaces its locations (empty: the whole organization). Needs the members permission.',
    operation: /* GraphQL */ `
      mutation RestUpdateMember($input: UpdateMemberInput!) { updateMember(input: $input) { ...RestMembership } }
      ${MEMBERSHIP_FIELDS}`,
    params: { id: 'input.membershipId' },
    body: 'input',
  },
  {
    method: 'DELETE',
    path: '/v1/members/:id',
    operationId: 'removeMember',
    tag: 'Members',
    summary: 'Remove a member from an organization',
    description: "Takes effect on the member's next request; the last owner cannot be removed. Needs the members permission.",
    operation: /* GraphQL */ `
      mutation RestRemoveMember($id: ID!) { removeMember(membershipId: $id) }`,
    params: { id: 'id' },
    noContent: true,
  },
  {
    method: 'POST',
    path: '/v1/organizations/:id/transfer-ownership',
    operationId: 'transferOwnership',
    tag: 'Members',
    summary: 'Make another member the owner',
    description: 'Owners only: the member named by `toMembershipId` becomes the owner and you stop being one. Answers the new owner\'s membership.',
    operation: /* GraphQL */ `
      mutation RestTransferOwnership($input: TransferOwnershipInput!) { transferOwnership(input: $input) { ...RestMembership } }
      ${MEMBERSHIP_FIELDS}`,
    params: { id: 'input.organizationId' },
    body: 'input',
  },
  {
    method: 'POST',
    path: '/v1/organizations/:id/close',
    operationId: 'closeOrganization',
    tag: 'Organizations',
    summary: 'Close an organization',
    description:
      'Owners only, at once and for good: nobody reaches the organization any more (404 from then on) and its data is kept for `ORGANIZATION_RETENTION_DAYS`, then purged. ' +
      '403 for a member who is not an owner, 404 for anyone else.',
    operation: /* GraphQL */ `
      mutation RestCloseOrganization($id: ID!) { closeOrganization(id: $id) }`,
    params: { id: 'id' },
    noContent: true,
  },
  {
    method: 'GET',
    path: '/v1/organizations/:id/invitations',
    operationId: 'listInvitations',
    tag: 'Invitations',
    summary: "List an organization's pending invitations",
    description: 'Not yet accepted, revoked or expired; newest first unless `orderBy` says otherwise, in pages of `first` (cursor `after`). Needs the members permission.',
    operation: /* GraphQL */ `
      query RestListInvitations($id: ID!, $first: Int, $after: String, $orderBy: InvitationOrder) {
        organization(id: $id) {
          invitationsConnection(first: $first, after: $after, orderBy: $orderBy) { edges { node { ...RestInvitation } } pageInfo { hasNextPage endCursor } }
        }
      }
      ${INVITATION_FIELDS}`,
    params: { id: 'id' },
    query: { first: 'first', after: 'after', orderBy: 'orderBy' },
    unwrap: { field: 'invitationsConnection', missing: ORGANIZATION_MISSING },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/organizations/:id/invitations',
    operationId: 'inviteMember',
    tag: 'Invitations',
    summary: 'Invite someone to an organization',
    description: 'Mails a single-use link, valid for 7 days, to the address; its token is never in the answer. Needs the members permission.',
    operation: /* GraphQL */ `
      mutation RestInviteMember($input: InviteMemberInput!) { inviteMember(input: $input) { ...RestInvitation } }
      ${INVITATION_FIELDS}`,
    params: { id: 'input.organizationId' },
    body: 'input',
    // An invitation is read in its organization's list, and revoked at /v1/invitations/{id}/revoke: no Location.
    created: () => null,
  },
  {
    method: 'POST',
    path: '/v1/invitations/:id/revoke',
    operationId: 'revokeInvitation',
    tag: 'Invitations',
    summary: 'Revoke an invitation',
    description: 'The link stops working at once. Needs the members permission.',
    operation: /* GraphQL */ `
      mutation RestRevokeInvitation($id: ID!) { revokeInvitation(id: $id) { ...RestInvitation } }
      ${INVITATION_FIELDS}`,
    params: { id: 'id' },
  },
  {
    method: 'POST',
    path: '/v1/invitations/accept',
    operationId: 'acceptInvitation',
    tag: 'Invitations',
    summary: 'Join an organization with an invitation token',
    description: 'Send the token from the invitation link, signed in as the invited email. Answers your new membership.',
    operation: /* GraphQL */ `
      mutation RestAcceptInvitation($token: String!) { acceptInvitation(token: $token) { ...RestMembership } }
      ${MEMBERSHIP_FIELDS}`,
    bodyFields: { token: 'token' },
    created: (membership) => `/v1/members/${String(membership.id)}`,
  },
  {
    method: 'GET',
    path: '/v1/organizations/:id/settings',
    operationId: 'getOrganizationSettings',
    tag: 'Organizations',
    summary: "Read an organization's settings",
    description: 'Needs the orgSettings permission.',
    operation: /* GraphQL */ `
      query RestGetOrganizationSettings($id: ID!) { organization(id: $id) { settings { ...RestOrganizationSettings } } }
      ${SETTINGS_FIELDS}`,
    params: { id: 'id' },
    unwrap: { field: 'settings', missing: ORGANIZATION_MISSING },
  },
  {
    method: 'PATCH',
    path: '/v1/organizations/:id/settings',
    operationId: 'updateOrganizationSettings',
    tag: 'Organizations',
    summary: "Change an organization's settings",
    description: 'Send only the fields to change; `signInDomain: null` clears it. Needs the orgSettings permission.',
    operation: /* GraphQL */ `
      mutation RestUpdateOrganizationSettings($input: UpdateOrganizationSettingsInput!) {
        updateOrganizationSettings(input: $input) { settings { ...RestOrganizationSettings } }
      }
      ${SETTINGS_FIELDS}`,
    params: { id: 'input.organizationId' },
    body: 'input',
    unwrap: { field: 'settings', missing: ORGANIZATION_MISSING },
  },
  {
    method: 'GET',
    path: '/v1/organizations/:id/billing',
    operationId: 'getOrganizationBilling',
    tag: 'Organizations',
    summary: "Read an organization's billing",
    description: 'Needs the billing permission (owners always have it).',
    operation: /* GraphQL */ `
      query RestGetOrganizationBilling($id: ID!) { organization(id: $id) { billing { ...RestOrganizationBilling } } }
      ${BILLING_FIELDS}`,
    params: { id: 'id' },
    unwrap: { field: 'billing', missing: ORGANIZATION_MISSING },
  },
  {
    method: 'PATCH',
    path: '/v1/organizations/:id/billing',
    operationId: 'updateOrganizationBilling',
    tag: 'Organizations',
    summary: "Change an organization's plan or seats",
    description: 'Send only the fields to change; `seats` is at least the current number of members. The subscription status is not set by clients. Needs the billing permission.',
    operation: /* GraphQL */ `
      mutation RestUpdateBilling($input: UpdateBillingInput!) { updateBilling(input: $input) { billing { ...RestOrganizationBilling } } }
      ${BILLING_FIELDS}`,
    params: { id: 'input.organizationId' },
    body: 'input',
    unwrap: { field: 'billing', missing: ORGANIZATION_MISSING },
  },
];
