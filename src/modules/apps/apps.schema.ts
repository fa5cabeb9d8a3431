import { builder } from '../../graphql/builder.ts';
import { organizationScope } from '../organizations/organizations.policy.ts';
import {
  addUserGroupMember,
  createApiRegistration,
  createOAuthClient,
  createUserGroup,
  removeUserGroupMember,
  revokeApiRegistration,
  revokeOAuthClient,
  updateApiRegistration,
} from './api-registrations.service.ts';

/** App access is part of an organization's settings: reading and changing it needs orgSettings there. */
const settingsOf = (organization: { id: string }) => ({ orgPermission: { organizationId: organization.id, permission: 'orgSettings' as const } });

builder.prismaObject('UserGroupMember', {
  fields: (t) => ({ user: t.relation('user') }),
});

const UserGroupRef = builder.prismaObject('UserGroup', {
  description: 'A group of members; API registrations name the groups whose members may be run as.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    members: t.relation('members', { query: { orderBy: { userId: 'asc' } } }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const ApiRegistrationRef = builder.prismaObject('ApiRegistration', {
  description: 'App sign-in credentials of an organization: a key, the addresses it may be used from, and the groups it may run as.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    keyPrefix: t.exposeString('keyPrefix', { description: 'The first characters of the key, to recognise it by; the key itself is never shown again.' }),
    allowedSources: t.exposeStringList('allowedSources', { description: 'IP addresses and CIDR ranges (IPv4 or IPv6) the key may be used from. Empty: nowhere.' }),
    groups: t.field({
      type: [UserGroupRef],
      select: { groups: { select: { group: true }, orderBy: { groupId: 'asc' } } },
      resolve: (registration) => registration.groups.map((access) => access.group),
    }),
    oauthClients: t.relation('oauthClients', { query: { orderBy: { createdAt: 'asc' } } }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true, description: 'Set when revoked; a revoked registration never works again.' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const OAuthClientRef = builder.prismaObject('OAuthClient', {
  description: 'An OAuth 2.0 client (client credentials grant) of the public API, acting as its application user.',
  fields: (t) => ({
    id: t.exposeID('id'),
    clientId: t.exposeString('clientId'),
    name: t.exposeString('name'),
    scopes: t.exposeStringList('scopes'),
    runAsUser: t.relation('user', { description: 'The application user the client acts as.' }),
    apiRegistration: t.relation('apiRegistration', { nullable: true }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectFields('Organization', (t) => ({
  userGroups: t.relation('userGroups', { authScopes: settingsOf, description: 'Needs orgSettings.', query: { orderBy: { name: 'asc' } } }),
  apiRegistrations: t.relation('apiRegistrations', { authScopes: settingsOf, description: 'Needs orgSettings.', query: { orderBy: { createdAt: 'asc' } } }),
}));

interface CreatedRegistrationShape {
  apiRegistration: (typeof ApiRegistrationRef)['$inferType'];
  key: string;
}

const CreateApiRegistrationPayload = builder.objectRef<CreatedRegistrationShape>('CreateApiRegistrationPayload').implement({
  fields: (t) => ({
    apiRegistration: t.field({ type: ApiRegistrationRef, resolve: (payload) => payload.apiRegistration }),
    key: t.exposeString('key', { description: 'The API key for "PS-Auth key=<key>". Shown only in this answer; only its hash is stored.' }),
  }),
});

interface CreatedClientShape {
  oauthClient: (typeof OAuthClientRef)['$inferType'];
  clientId: string;
  clientSecret: string;
}

const CreateOAuthClientPayload = builder.objectRef<CreatedClientShape>('CreateOAuthClientPayload').implement({
  fields: (t) => ({
    oauthClient: t.field({ type: OAuthClientRef, resolve: (payload) => payload.oauthClient }),
    clientId: t.exposeString('clientId'),
    clientSecret: t.exposeString('clientSecret', { description: 'Shown only in this answer; only its hash is stored.' }),
  }),
});

const CreateUserGroupInput = builder.inputType('CreateUserGroupInput', {
  fields: (t) => ({ organizationId: t.id({ required: true }), name: t.string({ required: true }) }),
});

const UserGroupMemberInput = builder.inputType('UserGroupMemberInput', {
  fields: (t) => ({ groupId: t.id({ required: true }), userId: t.id({ required: true }) }),
});

const CreateApiRegistrationInput = builder.inputType('CreateApiRegistrationInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    name: t.string({ required: true }),
    allowedSources: t.stringList({ required: true, description: 'IP addresses or CIDR ranges, IPv4 or IPv6, e.g. "203.0.113.7", "10.0.0.0/8", "2001:db8::/32".' }),
    groupIds: t.idList({ required: true, description: 'User groups whose members may be named in runas.' }),
  }),
});

const UpdateApiRegistrationInput = builder.inputType('UpdateApiRegistrationInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ required: false }),
    allowedSources: t.stringList({ required: false, description: 'Replaces the list.' }),
    groupIds: t.idList({ required: false, description: 'Replaces the list.' }),
  }),
});

const CreateOAuthClientInput = builder.inputType('CreateOAuthClientInput', {
  fields: (t) => ({
    apiRegistrationId: t.id({ required: true }),
    name: t.string({ required: true }),
    runAsUserId: t.id({ required: true, description: "A member who must be in one of the registration's groups whenever the client is used." }),
  }),
});

builder.mutationFields((t) => ({
  createUserGroup: t.prismaField({
    type: 'UserGroup',
    description: 'Needs orgSettings.',
    args: { input: t.arg({ type: CreateUserGroupInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'orgSettings'),
    resolve: (query, _root, { input }, context) =>
      createUserGroup(context.services, { query, viewer: context.viewer!, client: context.client, organizationId: String(input.organizationId), name: input.name }),
  }),
  addUserGroupMember: t.withAuth({ signedIn: true }).prismaField({
    type: 'UserGroup',
    description: 'Needs orgSettings; you may add only members whose permissions you could grant yourself.',
    args: { input: t.arg({ type: UserGroupMemberInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      addUserGroupMember(context.services, { query, viewer: context.viewer, client: context.client, groupId: String(input.groupId), userId: String(input.userId) }),
  }),
  removeUserGroupMember: t.withAuth({ signedIn: true }).prismaField({
    type: 'UserGroup',
    description: 'Needs orgSettings.',
    args: { input: t.arg({ type: UserGroupMemberInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      removeUserGroupMember(context.services, { query, viewer: context.viewer, client: context.client, groupId: String(input.groupId), userId: String(input.userId) }),
  }),
  createApiRegistration: t.field({
    type: CreateApiRegistrationPayload,
    description: 'Needs orgSettings. Returns the API key, once.',
    args: { input: t.arg({ type: CreateApiRegistrationInput, required: true }) },
    authScopes: (_root, { input }, context) => organizationScope(context.viewer, input.organizationId, 'orgSettings'),
    resolve: (_root, { input }, context) =>
      createApiRegistration(context.services, {
        viewer: context.viewer!,
        client: context.client,
        organizationId: String(input.organizationId),
        name: input.name,
        allowedSources: input.allowedSources,
        groupIds: input.groupIds,
      }),
  }),
  updateApiRegistration: t.withAuth({ signedIn: true }).prismaField({
    type: 'ApiRegistration',
    description: 'Needs orgSettings.',
    args: { input: t.arg({ type: UpdateApiRegistrationInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      updateApiRegistration(context.services, {
        query,
        viewer: context.viewer,
        client: context.client,
        id: String(input.id),
        name: input.name,
        allowedSources: input.allowedSources,
        groupIds: input.groupIds,
      }),
  }),
  revokeApiRegistration: t.withAuth({ signedIn: true }).prismaField({
    type: 'ApiRegistration',
    description: 'Needs orgSettings. The key stops working, and the sessions and OAuth clients made with it end.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, context) => revokeApiRegistration(context.services, { query, viewer: context.viewer, client: context.client, id: String(id) }),
  }),
  createOAuthClient: t.withAuth({ signedIn: true }).field({
    type: CreateOAuthClientPayload,
    description: 'Needs orgSettings. Returns the client secret, once.',
    args: { input: t.arg({ type: CreateOAuthClientInput, required: true }) },
    resolve: (_root, { input }, context) =>
      createOAuthClient(context.services, {
        viewer: context.viewer,
        client: context.client,
        apiRegistrationId: String(input.apiRegistrationId),
        name: input.name,
        runAsUserId: String(input.runAsUserId),
      }),
  }),
  revokeOAuthClient: t.withAuth({ signedIn: true }).prismaField({
    type: 'OAuthClient',
    description: 'Needs orgSettings. Its access tokens stop working and the sessions they opened end.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, context) => revokeOAuthClient(context.services, { query, viewer: context.viewer, client: context.client, id: String(id) }),
  }),
}));
