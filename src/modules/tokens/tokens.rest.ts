import { sessionCookies } from '../../http/cookies.ts';
import { sendJson } from '../../http/respond.ts';
import { AppError } from '../../lib/errors.ts';
import type { RestContext, RestRoute } from '../../rest/router.ts';
import { authenticate, bearerToken, type Viewer } from '../auth/viewer.ts';
import { exchangeAuthToken, issueAuthToken, safeRedirectTarget, type AuthTokenKind, type IssuedAuthToken } from './tokens.service.ts';

/** The caller's session from `Authorization: Bearer <access token>`; none or an invalid one is a 401. */
async function requireViewer(ctx: RestContext): Promise<Viewer> {
  const viewer = await authenticate(ctx.services, bearerToken(ctx.req.headers.authorization));
  if (!viewer) throw new AppError('UNAUTHENTICATED', 'Sign in to continue: send "Authorization: Bearer <access token>".');
  return viewer;
}

/** A string field of a JSON object body; anything else counts as missing. */
function stringField(body: unknown, field: string): string | undefined {
  const value = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** The seed's answer for each kind, keys in its order: the value alone, or with the package and signer as sent. */
function seedAnswer(issued: IssuedAuthToken): Record<string, unknown> {
  if (issued.kind === 'user' || issued.kind === 'sender') return { value: issued.value };
  if (issued.kind === 'signerSingleUse') return { packageId: issued.packageId, sessionFields: null, signerId: issued.signerId, value: issued.value };
  return { packageId: issued.packageId, signerId: issued.signerId, value: issued.value };
}

const issue = (kind: AuthTokenKind) => async (ctx: RestContext) => {
  const viewer = await requireViewer(ctx);
  const body = kind === 'user' ? undefined : await ctx.readJson();
  const issued = await issueAuthToken(ctx.services, {
    viewer,
    kind,
    packageId: stringField(body, 'packageId'),
    signerId: stringField(body, 'signerId'),
    client: ctx.client,
  });
  sendJson(ctx.res, 200, seedAnswer(issued));
};

/** POST /api/cs-authenticationTokens/exchange `{ "value": "..." }`: the session as JSON. */
async function exchangeRoute(ctx: RestContext): Promise<void> {
  const body = await ctx.readJson();
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>).value : undefined;
  if (typeof value !== 'string' || value === '') throw new AppError('BAD_USER_INPUT', 'value is required.', { field: 'value' });
  const session = await exchangeAuthToken(ctx.services, { value, client: ctx.client });
  sendJson(ctx.res, 200, {
    accessToken: session.accessToken,
    accessTokenExpiresAt: session.accessTokenExpiresAt.toISOString(),
    refreshToken: session.refreshToken,
    refreshTokenExpiresAt: session.refreshTokenExpiresAt.toISOString(),
    tokenType: 'Bearer',
    sessionKind: session.sessionKind,
  });
}

/**
 * Whether another site has the browser load GET /auth as something other than a page (an image, a script, a
 * frame, a fetch), by the Fetch Metadata headers browsers send. Such a load could not keep the session cookies
 * (they are SameSite), so it must not spend the token either. Clients that send no such headers are not browsers.
 */
function crossSiteSubresource(ctx: RestContext): boolean {
  const site = ctx.req.headers['sec-fetch-site'];
  const destination = ctx.req.headers['sec-fetch-dest'];
  return site === 'cross-site' && destination !== undefined && destination !== 'document';
}

/**
 * GET /auth?authenticationToken=...&target=/path: the browser form; sets the session cookies and redirects (303).
 * The target is settled before the token is spent, so no target can fail the answer after the session exists.
 */
async function browserExchangeRoute(ctx: RestContext): Promise<void> {
  const value = ctx.query.get('authenticationToken') ?? '';
  if (!value) throw new AppError('BAD_USER_INPUT', 'authenticationToken is required.', { field: 'authenticationToken' });
  if (crossSiteSubresource(ctx)) {
    throw new AppError('FORBIDDEN', 'Open this sign-in link in the browser window itself.', { reason: 'CROSS_SITE_REQUEST' });
  }
  const location = safeRedirectTarget(ctx.query.get('target'));
  const session = await exchangeAuthToken(ctx.services, { value, client: ctx.client });
  ctx.res.writeHead(303, {
    Location: location,
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'Content-Length': 0,
    'Set-Cookie': sessionCookies(ctx.services.config, session, ctx.services.clock.now()),
  });
  ctx.res.end();
}

export const tokenRoutes: RestRoute[] = [
  { method: 'POST', path: '/api/cs-authenticationTokens/user', handler: issue('user') },
  { method: 'POST', path: '/api/cs-authenticationTokens/sender', handler: issue('sender') },
  { method: 'POST', path: '/api/cs-authenticationTokens/signer/multiUse', handler: issue('signerMultiUse') },
  { method: 'POST', path: '/api/cs-authenticationTokens/signer/singleUse', handler: issue('signerSingleUse') },
  { method: 'POST', path: '/api/cs-authenticationTokens/exchange', handler: exchangeRoute },
  { method: 'GET', path: '/auth', handler: browserExchangeRoute },
];
