import { hashPassword } from '../../src/lib/password.ts';
import type { TestApp } from './app.ts';
import { addMember, createOrganization, createUser, signInAs } from './factories.ts';

type Json = Record<string, unknown>;

const CREATE_GROUP = `mutation($input: CreateUserGroupInput!) { createUserGroup(input: $input) { id } }`;
const ADD_MEMBER = `mutation($input: UserGroupMemberInput!) { addUserGroupMember(input: $input) { id } }`;
const CREATE_REGISTRATION = `mutation($input: CreateApiRegistrationInput!) {
  createApiRegistration(input: $input) { key apiRegistration { id keyPrefix allowedSources groups { id name } } }
}`;
const CREATE_CLIENT = `mutation($input: CreateOAuthClientInput!) { createOAuthClient(input: $input) { clientId clientSecret oauthClient { id clientId scopes runAsUser { id } } } }`;

export const RUNNER_PASSWORD = 'runner-password-1';

/**
 * An organization set up for app sign-in: an owner (who manages app access), a runner in the "API users" group with
 * a password, and a member outside every group.
 */
export async function appOrganization(t: TestApp) {
  const db = t.db.prisma;
  const { organization, role } = await createOrganization(db, { permissions: ['documents', 'signing'] });
  const settingsRole = await db.organizationRole.create({ data: { organizationId: organization.id, name: 'Settings', permissions: ['orgSettings'] } });
  const owner = await createUser(db, { name: 'Olive Owner' });
  await addMember(db, { userId: owner.id, organizationId: organization.id, roleId: settingsRole.id, isOwner: true });
  const settingsAdmin = await createUser(db, { name: 'Sam Settings' });
  await addMember(db, { userId: settingsAdmin.id, organizationId: organization.id, roleId: settingsRole.id });
  const runner = await createUser(db, { name: 'Rita Runner' });
  await db.user.update({ where: { id: runner.id }, data: { passwordHash: await hashPassword(RUNNER_PASSWORD) } });
  await addMember(db, { userId: runner.id, organizationId: organization.id, roleId: role.id });
  const outsider = await createUser(db, { name: 'Oscar Outsider' });
  await addMember(db, { userId: outsider.id, organizationId: organization.id, roleId: role.id });
  const ownerToken = (await signInAs(t.app.services, owner.id)).token;

  const gql = async (query: string, variables: unknown, token = ownerToken): Promise<Json> => {
    const { body } = await t.graphql<Json, unknown>(query, variables, { token });
    if (body.errors) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors)}`);
    return body.data as Json;
  };
  const group = (await gql(CREATE_GROUP, { input: { organizationId: organization.id, name: 'API users' } })).createUserGroup as { id: string };
  await gql(ADD_MEMBER, { input: { groupId: group.id, userId: runner.id } });

  async function createRegistration(allowedSources: string[], groupIds: string[] = [group.id]) {
    const data = await gql(CREATE_REGISTRATION, { input: { organizationId: organization.id, name: `Script ${allowedSources.join(' ')}`, allowedSources, groupIds } });
    const created = data.createApiRegistration as { key: string; apiRegistration: { id: string; keyPrefix: string; allowedSources: string[] } };
    return { key: created.key, ...created.apiRegistration };
  }

  async function createClient(apiRegistrationId: string, runAsUserId = runner.id) {
    const data = await gql(CREATE_CLIENT, { input: { apiRegistrationId, name: 'Back office', runAsUserId } });
    const created = data.createOAuthClient as { clientId: string; clientSecret: string; oauthClient: { id: string } };
    return { id: created.oauthClient.id, clientId: created.clientId, clientSecret: created.clientSecret };
  }

  return { organization, role, owner, ownerToken, settingsAdmin, runner, outsider, group, gql, createRegistration, createClient };
}

export const psAuth = (key: string, runAs: string, password?: string) => `PS-Auth key=${key}; runas=${runAs};${password === undefined ? '' : ` pwd=[${password}];`}`;

/** A raw POST with the given headers; the body parsed as JSON when there is one. */
export async function post(url: string, headers: Record<string, string> = {}, body?: string) {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: (text ? JSON.parse(text) : undefined) as Json };
}
