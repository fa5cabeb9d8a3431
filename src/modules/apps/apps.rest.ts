import { ACCESS_COOKIE, clearedSessionCookies, parseCookies, sessionCookies } from '../../http/cookies.ts';
import { ERROR_ENVELOPE_SCHEMA, sendJson } from '../../http/respond.ts';
import { CredentialAttemptsExceeded } from '../../lib/credential-guard.ts';
import { AppError } from '../../lib/errors.ts';
import type { JsonSchema, RouteDoc } from '../../rest/openapi.ts';
import type { RestContext, RestRoute } from '../../rest/router.ts';
import { signOut } from '../auth/accounts.service.ts';
import { authenticate, bearerToken } from '../auth/viewer.ts';
import { AppSignInDenied, parsePsAuth, signInWithAccessToken, signInWithApiKey, type AppSignInResult } from './app-sign-in.service.ts';
import {
  authenticateClient,
  introspectOAuthToken,
  issueClientCredentialsToken,
  OAuthError,
  revokeOAuthToken,
  type OAuthErrorCode,
  type AuthenticatedClient,
} from './oauth.service.ts';

function accessTokenOf(authorization: string): string {
  try {
    return bearerToken(authorization)!;
  } catch {
    throw new AppError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <access token>".', { reason: 'MALFORMED_AUTHORIZATION' });
  }
}

/** Answers of the OAuth endpoints are never cached (RFC 6749 section 5.1). */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/**
 * POST /v1/Auth/SignAppin (any case): `Authorization: PS-Auth key=...; runas=...; [pwd=[...];]` or
 * `Authorization: Bearer <access token>` from /v1/Auth/Connect/Token. Answers the user model of the app sign-in
 * API, sets the session cookies and, for clients without a cookie jar, gives the session's access token in
 * `X-Access-Token`.
 */
async function signAppInRoute(ctx: RestContext): Promise<void> {
  const authorization = ctx.req.headers.authorization;
  let result: AppSignInResult;
  try {
    const psAuth = parsePsAuth(authorization);
    if (psAuth) result = await signInWithApiKey(ctx.services, { credentials: psAuth, client: ctx.client });
    else if (authorization && /^Bearer\s/i.test(authorization)) result = await signInWithAccessToken(ctx.services, { accessToken: accessTokenOf(authorization), client: ctx.client });
    else {
      throw new AppError('UNAUTHENTICATED', 'Send "Authorization: PS-Auth key=<key>; runas=<user>;" or "Authorization: Bearer <access token>".', {
        reason: 'MISSING_CREDENTIALS',
      });
    }
  } catch (error) {
    if (!(error instanceof AppSignInDenied)) throw error;
    const { denial } = error;
    throw new AppError(denial.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', denial.message, { reason: denial.reason });
  }
  const { session, user } = result;
  sendJson(ctx.res, 200, user, {
    'X-Access-Token': session.accessToken,
    'X-Access-Token-Expires-At': session.accessTokenExpiresAt.toISOString(),
    'Set-Cookie': sessionCookies(ctx.services.config, session, ctx.services.clock.now()),
  });
}

/**
 * POST /v1/Auth/Signout: ends the session of the Bearer token or session cookie and clears the cookies. Without
 * credentials there is nothing to end and the answer is still 200; credentials that are not a live session
 * (including OAuth access tokens) are a 401.
 */
async function signOutRoute(ctx: RestContext): Promise<void> {
  const authorization = ctx.req.headers.authorization;
  const token = authorization ? bearerToken(authorization) : parseCookies(ctx.req.headers.cookie).get(ACCESS_COOKIE) || null;
  const viewer = await authenticate(ctx.services, token);
  if (viewer) await signOut(ctx.services, { viewer, client: ctx.client });
  ctx.res.writeHead(200, { 'Content-Length': 0, 'Cache-Control': 'no-store', 'Set-Cookie': clearedSessionCookies(ctx.services.config) });
  ctx.res.end();
}

function sendOAuthError(ctx: RestContext, error: OAuthError, headers: Record<string, string> = {}): void {
  const challenge: Record<string, string> = error.error === 'invalid_client' ? { 'WWW-Authenticate': 'Basic realm="safeclose", charset="UTF-8"' } : {};
  sendJson(ctx.res, error.status, { error: error.error, error_description: error.description }, { ...NO_STORE, ...challenge, ...headers });
}

/** The form body of an OAuth request: form-encoded, each parameter at most once (RFC 6749 section 3.2). */
async function oauthForm(ctx: RestContext): Promise<URLSearchParams> {
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded.');
  const form = await ctx.readForm();
  const seen = new Set<string>();
  for (const name of form.keys()) {
    if (seen.has(name)) throw new OAuthError('invalid_request', `The parameter "${name}" is given more than once.`);
    seen.add(name);
  }
  return form;
}

const decodeBasicPart = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));

/** Client authentication by HTTP Basic (RFC 6749 section 2.3.1, form-encoded id and secret) or by form fields; never both. */
function clientCredentials(ctx: RestContext, form: URLSearchParams): { clientId: string; clientSecret: string } {
  const authorization = ctx.req.headers.authorization;
  if (authorization) {
    const match = /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(authorization);
    if (!match?.[1]) throw new OAuthError('invalid_client', 'Client authentication must use HTTP Basic.');
    if (form.has('client_secret')) throw new OAuthError('invalid_request', 'Authenticate the client one way only: HTTP Basic or form fields.');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) throw new OAuthError('invalid_client', 'The Basic credentials must be client_id:client_secret.');
    try {
      const clientId = decodeBasicPart(decoded.slice(0, colon));
      if (form.has('client_id') && form.get('client_id') !== clientId) throw new OAuthError('invalid_request', 'client_id differs from the authenticated client.');
      return { clientId, clientSecret: decodeBasicPart(decoded.slice(colon + 1)) };
    } catch (error) {
      if (error instanceof OAuthError) throw error;
      throw new OAuthError('invalid_client', 'The Basic credentials are not correctly encoded.');
    }
  }
  const clientId = form.get('client_id');
  const clientSecret = form.get('client_secret');
  if (!clientId || !clientSecret) throw new OAuthError('invalid_client', 'Client authentication is required: HTTP Basic, or client_id and client_secret.');
  return { clientId, clientSecret };
}

/** Authenticates the calling client; failures count against the caller's address and the client id. */
async function requireClient(ctx: RestContext, form: URLSearchParams): Promise<AuthenticatedClient> {
  const client = await authenticateClient(ctx.services, { ...clientCredentials(ctx, form), client: ctx.client });
  if (!client) throw new OAuthError('invalid_client', 'Client authentication failed.');
  return client;
}

/** Runs an OAuth endpoint, answering its failures in RFC 6749's error format rather than the API's envelope. */
const oauthEndpoint = (handler: (ctx: RestContext, form: URLSearchParams) => Promise<void>) => async (ctx: RestContext) => {
  try {
    await handler(ctx, await oauthForm(ctx));
  } catch (error) {
    if (error instanceof OAuthError) return sendOAuthError(ctx, error);
    // Bodies too large (413) or unreadable: still an OAuth error body, with the HTTP status that says why.
    if (error instanceof AppError && error.code === 'BAD_USER_INPUT') {
      return sendJson(ctx.res, error.status, { error: 'invalid_request', error_description: error.message }, NO_STORE);
    }
    if (error instanceof CredentialAttemptsExceeded) {
      return sendJson(
        ctx.res,
        429,
        { error: 'invalid_request', error_description: `Too many failed client authentications; try again in ${error.retryAfterSeconds} seconds.` },
        { ...NO_STORE, 'Retry-After': String(error.retryAfterSeconds) },
      );
    }
    throw error;
  }
};

/** POST /v1/Auth/Connect/Token: the client credentials grant. */
const tokenRoute = oauthEndpoint(async (ctx, form) => {
  const client = await requireClient(ctx, form);
  const grantType = form.get('grant_type');
  if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required.');
  if (grantType !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only the client_credentials grant is supported.');
  const issued = await issueClientCredentialsToken(ctx.services, { client, scope: form.get('scope'), clientInfo: ctx.client });
  sendJson(ctx.res, 200, issued, NO_STORE);
});

function requiredToken(form: URLSearchParams): string {
  const token = form.get('token');
  if (!token) throw new OAuthError('invalid_request', 'token is required.');
  return token;
}

/** POST /v1/Auth/Connect/Revocation (RFC 7009): 200 whether or not there was anything to revoke. */
const revocationRoute = oauthEndpoint(async (ctx, form) => {
  const client = await requireClient(ctx, form);
  await revokeOAuthToken(ctx.services, { client, token: requiredToken(form), clientInfo: ctx.client });
  ctx.res.writeHead(200, { 'Content-Length': 0, ...NO_STORE });
  ctx.res.end();
});

/** POST /v1/Auth/Connect/Introspect (RFC 7662). */
const introspectionRoute = oauthEndpoint(async (ctx, form) => {
  const client = await requireClient(ctx, form);
  sendJson(ctx.res, 200, await introspectOAuthToken(ctx.services, { client, token: requiredToken(form) }), NO_STORE);
});

const USER_MODEL: JsonSchema = {
  type: 'object',
  description: 'The user model of the app sign-in API.',
  properties: {
    UserId: { type: 'integer', description: "The user's numeric id." },
    SID: { type: 'string', description: "The user's id." },
    EmailAddress: { type: 'string', format: 'email' },
    UserName: { type: 'string', description: 'The email address the user signs in with.' },
    Name: { type: 'string' },
  },
  required: ['UserId', 'SID', 'EmailAddress', 'UserName', 'Name'],
  additionalProperties: false,
};

/** RFC 6749 section 5.2's error body, with the codes an endpoint can answer. */
const oauthError = (...codes: OAuthErrorCode[]): JsonSchema => ({
  type: 'object',
  properties: { error: { type: 'string', enum: codes }, error_description: { type: 'string' } },
  required: ['error', 'error_description'],
  additionalProperties: false,
});

/** The client authentication fields of every OAuth form, for clients that do not use HTTP Basic. */
const CLIENT_FIELDS: Record<string, JsonSchema> = {
  client_id: { type: 'string', description: 'With client_secret, when the client does not authenticate with HTTP Basic; if sent with Basic, it must be the same client.' },
  client_secret: { type: 'string', description: 'Never together with HTTP Basic.' },
};

const NO_STORE_HEADERS = { 'Cache-Control': '`no-store`', Pragma: '`no-cache`' };
const envelope = (description: string, headers?: Record<string, string>) => ({ description, schema: ERROR_ENVELOPE_SCHEMA, ...(headers ? { headers } : {}) });
const oauthFailure = (description: string, codes: OAuthErrorCode[], headers: Record<string, string> = {}) => ({
  description,
  schema: oauthError(...codes),
  headers: { ...NO_STORE_HEADERS, ...headers },
});

/** What every endpoint here may answer in the error envelope, whatever it does. */
const COMMON_FAILURES = {
  410: envelope('API version v1 has been disabled (`API_VERSION_DISABLED`).'),
  500: envelope('Unexpected error (`INTERNAL`).'),
  503: envelope('The database is unavailable (`DATABASE_UNAVAILABLE`) or the server is busy (`OVERLOADED`).', { 'Retry-After': 'Seconds until a retry may succeed.' }),
};

/** What every OAuth endpoint may answer, besides its success. */
const oauthFailures = (codes: OAuthErrorCode[]) => ({
  400: oauthFailure('The request is malformed (`invalid_request`: not form-encoded, a parameter missing or given twice), or refused.', codes),
  401: oauthFailure('Client authentication failed (`invalid_client`).', ['invalid_client'], { 'WWW-Authenticate': '`Basic realm="safeclose", charset="UTF-8"`' }),
  413: oauthFailure('The body is larger than the limit (`invalid_request`).', ['invalid_request']),
  429: oauthFailure('Too many failed client authentications from this address or for this client (`invalid_request`).', ['invalid_request'], {
    'Retry-After': 'Seconds until the client may authenticate again.',
  }),
  ...COMMON_FAILURES,
});

const FORM = 'application/x-www-form-urlencoded';

const signAppInDoc: RouteDoc = {
  operationId: 'signAppIn',
  tag: 'App sign-in',
  summary: 'Open an app session with an API key or an OAuth access token',
  description:
    'Authenticates the credentials and creates a user session: an API key (`PS-Auth`) with the user to run as, or an OAuth access token from `POST /v1/Auth/Connect/Token`. The user must be in a user group the API registration grants access to, and the request must come from a source address the registration allows. No request body. Answers the user model, sets the session cookies, and gives the access token in `X-Access-Token` for clients without a cookie jar. The path is matched in any case (`SignAppIn` too).',
  security: ['psAuth', 'oauth2'],
  responses: {
    200: {
      description: 'Signed in: the user model.',
      schema: USER_MODEL,
      headers: {
        'X-Access-Token': "The session's access token, for `Authorization: Bearer`.",
        'X-Access-Token-Expires-At': 'When that access token expires (ISO 8601).',
        'Set-Cookie': 'The session cookies.',
      },
    },
    401: envelope('No credentials (`MISSING_CREDENTIALS`), a malformed Authorization header (`MALFORMED_AUTHORIZATION`), or an API key, run-as user, password or access token that is not valid (`INVALID_CREDENTIALS`).', {
      'WWW-Authenticate': '`Bearer`',
    }),
    403: envelope('Not allowed: the source address (`SOURCE_ADDRESS_NOT_ALLOWED`), no granted user group (`GROUP_NOT_ALLOWED`), or the organization\'s subscription is not active (`LICENSE_INACTIVE`).'),
    429: envelope('Too many failed sign-ins from this address or with this key, or password attempts for this user (`RATE_LIMITED`).', { 'Retry-After': 'Seconds until a retry may succeed.' }),
    ...COMMON_FAILURES,
  },
};

const signOutDoc: RouteDoc = {
  operationId: 'signOutAppSession',
  tag: 'App sign-in',
  summary: 'End the current session',
  description:
    'Terminates the session of the Bearer access token or the session cookie and clears the session cookies. Without credentials there is nothing to end and the answer is still 200. No request body, no response body.',
  security: ['bearerAuth', 'sessionCookie', []],
  responses: {
    200: { description: 'Signed out; the session cookies are cleared.', headers: { 'Set-Cookie': 'The session cookies, expired.' } },
    401: envelope('The access token is malformed, or not a live session (OAuth access tokens included) (`INVALID_TOKEN`).', { 'WWW-Authenticate': '`Bearer error="invalid_token"` or `Bearer`' }),
    ...COMMON_FAILURES,
  },
};

const tokenDoc: RouteDoc = {
  operationId: 'issueOAuthAccessToken',
  tag: 'OAuth',
  summary: 'Issue an access token (client credentials grant)',
  description:
    "Authenticates the client's credentials and issues an access token to the public API (RFC 6749 section 4.4), a JWT (RFC 9068) used as `Authorization: Bearer` with `POST /v1/Auth/SignAppin`. The client's application user must belong to a user group with access to the API registration. No refresh token. Errors use RFC 6749's error body.",
  security: ['oauthClientBasic', []],
  requestBody: {
    contentType: FORM,
    schema: {
      type: 'object',
      properties: {
        grant_type: { type: 'string', const: 'client_credentials' },
        scope: { type: 'string', description: "Space-separated scopes, each among the client's (`publicapi`); all of them when absent." },
        ...CLIENT_FIELDS,
      },
      required: ['grant_type'],
    },
    example: { grant_type: 'client_credentials', client_id: 'scc_3f9a1c2b7d', client_secret: 'client-secret', scope: 'publicapi' },
  },
  responses: {
    200: {
      description: 'The access token.',
      schema: {
        type: 'object',
        properties: {
          access_token: { type: 'string', description: 'The credential for `Authorization: Bearer`.' },
          expires_in: { type: 'integer', description: 'Lifetime in seconds.' },
          token_type: { type: 'string', const: 'Bearer' },
          scope: { type: 'string', description: 'What the token may do: `publicapi` for application users.' },
        },
        required: ['access_token', 'expires_in', 'token_type', 'scope'],
        additionalProperties: false,
      },
      headers: NO_STORE_HEADERS,
    },
    ...oauthFailures(['invalid_request', 'unsupported_grant_type', 'invalid_scope', 'unauthorized_client']),
  },
};

const revocationDoc: RouteDoc = {
  operationId: 'revokeOAuthAccessToken',
  tag: 'OAuth',
  summary: 'Revoke an access token',
  description:
    "Revokes an access token issued to the calling client (RFC 7009) and ends the app sessions opened with it. Unknown, expired or another client's tokens are ignored: the answer is the same 200, with no body.",
  security: ['oauthClientBasic', []],
  requestBody: {
    contentType: FORM,
    schema: {
      type: 'object',
      properties: {
        token: { type: 'string', description: 'The access token to revoke.' },
        token_type_hint: { type: 'string', description: 'Accepted and not needed: only access tokens are issued.' },
        ...CLIENT_FIELDS,
      },
      required: ['token'],
    },
    example: { token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9...', token_type_hint: 'access_token' },
  },
  responses: {
    200: { description: 'Revoked, or nothing to revoke.', headers: NO_STORE_HEADERS },
    ...oauthFailures(['invalid_request']),
  },
};

const introspectionDoc: RouteDoc = {
  operationId: 'introspectOAuthAccessToken',
  tag: 'OAuth',
  summary: 'Introspect an access token',
  description:
    'Tells the client a token was issued to whether it is active (RFC 7662): live, not revoked, and its application user would still be let in. For any other caller or token the answer is `{ "active": false }`.',
  security: ['oauthClientBasic', []],
  requestBody: {
    contentType: FORM,
    schema: { type: 'object', properties: { token: { type: 'string', description: 'The access token to introspect.' }, ...CLIENT_FIELDS }, required: ['token'] },
    example: { token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9...' },
  },
  responses: {
    200: {
      description: "The token's state.",
      schema: {
        oneOf: [
          { type: 'object', properties: { active: { const: false } }, required: ['active'], additionalProperties: false },
          {
            type: 'object',
            properties: {
              active: { const: true },
              scope: { type: 'string' },
              client_id: { type: 'string' },
              token_type: { type: 'string', const: 'Bearer' },
              exp: { type: 'integer' },
              iat: { type: 'integer' },
              sub: { type: 'string' },
              aud: { type: 'string' },
              iss: { type: 'string' },
              jti: { type: 'string' },
            },
            required: ['active', 'scope', 'client_id', 'token_type', 'exp', 'iat', 'sub', 'aud', 'iss', 'jti'],
            additionalProperties: false,
          },
        ],
      },
      headers: NO_STORE_HEADERS,
    },
    ...oauthFailures(['invalid_request']),
  },
};

export const appRoutes: RestRoute[] = [
  { method: 'POST', path: '/v1/Auth/SignAppin', handler: signAppInRoute, caseInsensitive: true, doc: signAppInDoc },
  { method: 'POST', path: '/v1/Auth/Signout', handler: signOutRoute, caseInsensitive: true, doc: signOutDoc },
  { method: 'POST', path: '/v1/Auth/Connect/Token', handler: tokenRoute, caseInsensitive: true, doc: tokenDoc },
  { method: 'POST', path: '/v1/Auth/Connect/Revocation', handler: revocationRoute, caseInsensitive: true, doc: revocationDoc },
  { method: 'POST', path: '/v1/Auth/Connect/Introspect', handler: introspectionRoute, caseInsensitive: true, doc: introspectionDoc },
];
