import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';

/** Shared with the routes that show a member's account. */
export const USER_FIELDS = /* GraphQL */ `
  fragment RestUser on User { id email name roles createdAt }
`;

const SESSION_FIELDS = /* GraphQL */ `
  fragment RestSession on Session { id kind ip userAgent createdAt lastSeenAt expiresAt current }
`;

/** The signed-in account and its sessions under `/v1`: each route is the GraphQL operation beside it. */
export const accountResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/me',
    operationId: 'getMe',
    tag: 'Account',
    summary: 'Read the signed-in account',
    description: 'Your organizations are at `/v1/organizations`, your linked signing identities at `/v1/signing-identities`.',
    operation: /* GraphQL */ `
      query RestGetMe { me { ...RestUser } }
      ${USER_FIELDS}`,
  },
  {
    method: 'GET',
    path: '/v1/me/sessions',
    operationId: 'listMySessions',
    tag: 'Account',
    summary: 'List your active sessions',
    description: 'Newest first unless `orderBy` says otherwise, in pages of `first` (cursor `after`). `current` marks the session making the request.',
    operation: /* GraphQL */ `
      query RestListMySessions($first: Int, $after: String, $orderBy: SessionOrder) {
        mySessionsConnection(first: $first, after: $after, orderBy: $orderBy) { edges { node { ...RestSession } } pageInfo { hasNextPage endCursor } }
      }
      ${SESSION_FIELDS}`,
    query: { first: 'first', after: 'after', orderBy: 'orderBy' },
    list: true,
  },
  {
    method: 'DELETE',
    path: '/v1/me/sessions/:id',
    operationId: 'revokeMySession',
    tag: 'Account',
    summary: 'End one of your sessions',
    description: "At once, everywhere its tokens are used. Another account's session is 404.",
    operation: /* GraphQL */ `
      mutation RestRevokeSession($id: ID!) { revokeSession(id: $id) }`,
    params: { id: 'id' },
    noContent: true,
  },
  {
    method: 'POST',
    path: '/v1/me/password',
    operationId: 'changeMyPassword',
    tag: 'Account',
    summary: 'Change your password',
    description: 'Ends your other sessions. The body carries passwords, so this route takes no `Idempotency-Key`.',
    operation: /* GraphQL */ `
      mutation RestChangePassword($currentPassword: String!, $newPassword: String!) {
        changePassword(currentPassword: $currentPassword, newPassword: $newPassword)
      }`,
    bodyFields: { currentPassword: 'currentPassword', newPassword: 'newPassword' },
    secretBody: true,
    noContent: true,
  },
];
