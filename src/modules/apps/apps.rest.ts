import { ACCESS_COOKIE, clearedSessionCookies, parseCookies, sessionCookies } from '../../http/cookies.ts';
import { sendJson } from '../../http/respond.ts';
import { CredentialAttemptsExceeded } from '../../lib/credential-guard.ts';
import { AppError } from '../../lib/errors.ts';
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

export const appRoutes: RestRoute[] = [
  { method: 'POST', path: '/v1/Auth/SignAppin', handler: signAppInRoute, caseInsensitive: true },
  { method: 'POST', path: '/v1/Auth/Signout', handler: signOutRoute, caseInsensitive: true },
  { method: 'POST', path: '/v1/Auth/Connect/Token', handler: tokenRoute, caseInsensitive: true },
  { method: 'POST', path: '/v1/Auth/Connect/Revocation', handler: revocationRoute, caseInsensitive: true },
  { method: 'POST', path: '/v1/Auth/Connect/Introspect', handler: introspectionRoute, caseInsensitive: true },
];
