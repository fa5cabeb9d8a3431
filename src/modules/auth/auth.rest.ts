import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';

/** Shared with the routes that show a member's account. */
export const USER_FIELDS = /* GraphQL */ `
  fragment RestUser on User { id email emailVerified name roles createdAt }
`;

const SESSION_FIELDS = /* GraphQL */ `
  fragment RestSession on Session { id kind ip userAgent createdAt lastSeenAt expiresAt current }
`;

const AUTH_PAYLOAD_FIELDS = /* GraphQL */ `
  fragment RestAuthPayload on AuthPayload {
    tokenType accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt deviceToken user { ...RestUser }
  }
  ${USER_FIELDS}
`;

/**
 * Signing up (and verifying the address) and in, and the signed-in account and its sessions, under `/v1`: each route is the GraphQL operation
 * beside it. The session routes answer tokens in the body only (REST sets no cookies) and refuse Idempotency-Key:
 * their requests carry passwords and their answers secrets.
 */
export const accountResources: GraphqlRouteSpec[] = [
  {
    method: 'POST',
    path: '/v1/users',
    operationId: 'signUp',
    tag: 'Account',
    summary: 'Sign up: mail a link that verifies the address',
    description:
      'Answers 202 with the same body whether or not the email has an account, and no session. A new address gets a link (24 hours, once) whose `token` ' +
      '`POST /v1/users/verify` trades for a session; a registered one gets a mail pointing to sign-in and password reset. Limited per address and per email (429).',
    operation: /* GraphQL */ `
      mutation RestSignUp($input: SignUpInput!) { signUp(input: $input) { email message } }`,
    body: 'input',
    secretBody: true,
    public: true,
    accepted: true,
  },
  {
    method: 'POST',
    path: '/v1/users/verify',
    operationId: 'verifyEmail',
    tag: 'Account',
    summary: 'Verify an email address with the token from its link, and sign in',
    description:
      'The `token` of the `/verify-email?token=` link mailed by sign-up or an email change. Answers a session; keep `accessToken` for `Authorization: Bearer`, ' +
      'and `refreshToken` and `deviceToken` for later. A used, expired or unknown token is 400 `INVALID_VERIFICATION_TOKEN`.',
    operation: /* GraphQL */ `
      mutation RestVerifyEmail($token: String!) { verifyEmail(token: $token) { ...RestAuthPayload } }
      ${AUTH_PAYLOAD_FIELDS}`,
    bodyFields: { token: 'token' },
    secretBody: true,
    public: true,
  },
  {
    method: 'POST',
    path: '/v1/sessions',
    operationId: 'signIn',
    tag: 'Account',
    summary: 'Sign in with email and password',
    description:
      'Answers a session. A wrong email or password is 401 `INVALID_CREDENTIALS`, the same for both; repeated failures are limited (429 with `Retry-After`). Send the `deviceToken` of an earlier sign-in to keep this client’s own failure budget.',
    operation: /* GraphQL */ `
      mutation RestSignIn($input: SignInInput!) { signIn(input: $input) { ...RestAuthPayload } }
      ${AUTH_PAYLOAD_FIELDS}`,
    body: 'input',
    secretBody: true,
    public: true,
  },
  {
    method: 'POST',
    path: '/v1/sessions/refresh',
    operationId: 'refreshSession',
    tag: 'Account',
    summary: 'Trade a refresh token for a new access token and refresh token',
    description: 'Each refresh token works once; using one twice ends its session.',
    operation: /* GraphQL */ `
      mutation RestRefreshSession($refreshToken: String) { refreshSession(refreshToken: $refreshToken) { ...RestAuthPayload } }
      ${AUTH_PAYLOAD_FIELDS}`,
    bodyFields: { refreshToken: 'refreshToken' },
    secretBody: true,
    public: true,
  },
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
    method: 'DELETE',
    path: '/v1/me',
    operationId: 'deleteMyAccount',
    tag: 'Account',
    summary: 'Delete your account',
    description:
      'Confirm with your password in the body (`{ "password": "…" }`). Your name, email and credentials are erased, every session ends at once and you leave your organizations; ' +
      'what you created stays with them. 409 `ORGANIZATION_OWNER` while you are the only owner of an open organization, 409 `LAST_ADMIN` for the last platform admin, ' +
      '400 `WRONG_PASSWORD`, 403 `APP_SESSION` from an app sign-in session. The body carries a password, so this route takes no `Idempotency-Key`.',
    operation: /* GraphQL */ `
      mutation RestDeleteAccount($password: String!) { deleteAccount(password: $password) }`,
    bodyFields: { password: 'password' },
    secretBody: true,
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
  {
    method: 'POST',
    path: '/v1/me/email',
    operationId: 'changeMyEmail',
    tag: 'Account',
    summary: 'Change your email address',
    description:
      'After your password, mails a link to the new address; the change takes effect when it is followed (`POST /v1/users/verify`). Answers 204 whether or not the address is free. The body carries a password, so this route takes no `Idempotency-Key`.',
    operation: /* GraphQL */ `
      mutation RestChangeEmail($newEmail: String!, $password: String!) { changeEmail(newEmail: $newEmail, password: $password) }`,
    bodyFields: { newEmail: 'newEmail', password: 'password' },
    secretBody: true,
    noContent: true,
  },
];
