import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';

/** An account as platform admins see it: `RestUser` plus whether it is disabled. */
const USER_ACCOUNT_FIELDS = /* GraphQL */ `
  fragment RestUserAccount on User { id email name roles createdAt disabledAt }
`;

const TAG = 'Platform administration';

/** Platform administration under `/v1/users`: accounts, their platform roles, disabling. Platform admins only. */
export const userResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/users',
    operationId: 'listUsers',
    tag: TAG,
    summary: 'List and search accounts',
    description: 'Every account, newest first, a page at a time; `search` matches part of the email or name. Platform admins only.',
    operation: /* GraphQL */ `
      query RestListUsers($search: String, $disabled: Boolean, $orderBy: UserOrder, $first: Int, $after: String) {
        users(search: $search, disabled: $disabled, orderBy: $orderBy, first: $first, after: $after) {
          edges { node { ...RestUserAccount } } pageInfo { hasNextPage endCursor }
        }
      }
      ${USER_ACCOUNT_FIELDS}`,
    query: { search: 'search', disabled: 'disabled', orderBy: 'orderBy', first: 'first', after: 'after' },
    list: true,
  },
  {
    method: 'GET',
    path: '/v1/users/:id',
    operationId: 'getUser',
    tag: TAG,
    summary: 'Read one account',
    description: 'Platform admins only.',
    operation: /* GraphQL */ `
      query RestGetUser($id: ID!) { user(id: $id) { ...RestUserAccount } }
      ${USER_ACCOUNT_FIELDS}`,
    params: { id: 'id' },
  },
  {
    method: 'POST',
    path: '/v1/users/:id/roles',
    operationId: 'grantPlatformRole',
    tag: TAG,
    summary: 'Grant a platform role',
    description: 'Body `{ "role": "ADMIN" | "MANAGER" | "SIGNER" }`; granting a role the account holds changes nothing. Answers the account.',
    operation: /* GraphQL */ `
      mutation RestGrantPlatformRole($input: PlatformRoleChangeInput!) { grantPlatformRole(input: $input) { ...RestUserAccount } }
      ${USER_ACCOUNT_FIELDS}`,
    params: { id: 'input.userId' },
    body: 'input',
  },
  {
    method: 'DELETE',
    path: '/v1/users/:id/roles/:role',
    operationId: 'revokePlatformRole',
    tag: TAG,
    summary: 'Revoke a platform role',
    description: 'The last enabled platform admin keeps ADMIN: 409 (LAST_ADMIN). Answers the account.',
    operation: /* GraphQL */ `
      mutation RestRevokePlatformRole($input: PlatformRoleChangeInput!) { revokePlatformRole(input: $input) { ...RestUserAccount } }
      ${USER_ACCOUNT_FIELDS}`,
    params: { id: 'input.userId', role: 'input.role' },
  },
  {
    method: 'POST',
    path: '/v1/users/:id/disable',
    operationId: 'disableUser',
    tag: TAG,
    summary: 'Disable an account',
    description: 'It cannot sign in, and its sessions and live connections end at once. Not your own; not the last enabled platform admin (409).',
    operation: /* GraphQL */ `
      mutation RestDisableUser($id: ID!) { disableUser(id: $id) { ...RestUserAccount } }
      ${USER_ACCOUNT_FIELDS}`,
    params: { id: 'id' },
  },
  {
    method: 'POST',
    path: '/v1/users/:id/enable',
    operationId: 'enableUser',
    tag: TAG,
    summary: 'Enable a disabled account',
    description: 'The person signs in anew: sessions ended by disabling stay ended.',
    operation: /* GraphQL */ `
      mutation RestEnableUser($id: ID!) { enableUser(id: $id) { ...RestUserAccount } }
      ${USER_ACCOUNT_FIELDS}`,
    params: { id: 'id' },
  },
];
