import { sessionCookies } from '../../http/cookies.ts';
import { ERROR_ENVELOPE_SCHEMA, sendJson } from '../../http/respond.ts';
import { AppError } from '../../lib/errors.ts';
import type { JsonSchema, RouteDoc } from '../../rest/openapi.ts';
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

const envelope = (description: string, headers?: Record<string, string>) => ({ description, schema: ERROR_ENVELOPE_SCHEMA, ...(headers ? { headers } : {}) });
const RETRY_AFTER = { 'Retry-After': 'Seconds until a retry may succeed.' };
const SERVER_FAILURES = {
  500: envelope('Unexpected error (`INTERNAL`).'),
  503: envelope('The database is unavailable (`DATABASE_UNAVAILABLE`).', RETRY_AFTER),
};
const NOT_SIGNED_IN = envelope('No valid access token (`INVALID_TOKEN`).', { 'WWW-Authenticate': '`Bearer` or `Bearer error="invalid_token"`' });

const PACKAGE_ID: JsonSchema = { type: 'string', format: 'uuid', description: 'The signing package.' };
const SIGNER_ID: JsonSchema = { type: 'string', description: "The signer on the package: its signer slot's id or its email address." };
const TOKEN_VALUE: JsonSchema = { type: 'string', description: 'The authentication token. Shown once: only its hash is stored.' };

const answer = (properties: Record<string, JsonSchema>): JsonSchema => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

/** The session `exchange` answers. */
const SESSION: JsonSchema = answer({
  accessToken: { type: 'string', description: 'For `Authorization: Bearer`.' },
  accessTokenExpiresAt: { type: 'string', format: 'date-time' },
  refreshToken: { type: 'string' },
  refreshTokenExpiresAt: { type: 'string', format: 'date-time' },
  tokenType: { type: 'string', const: 'Bearer' },
  sessionKind: { type: 'string', enum: ['USER_TOKEN', 'SENDER_TOKEN', 'SIGNER_TOKEN'], description: 'Sender and signer sessions are limited to one package.' },
});

const ISSUE_FORBIDDEN =
  'A sender or signer session (`LIMITED_SESSION`) or an app sign-in session (`APP_SESSION`) issues no tokens.';
const PACKAGE_FAILURES = {
  400: envelope('packageId is missing or not an id (`field: packageId`), or the body is not JSON (`MALFORMED_JSON`).'),
  403: envelope(`${ISSUE_FORBIDDEN} Issuing for a package needs a manager identity (\`NO_MANAGER_IDENTITY\`) and a package you manage, not one you may only read.`),
  404: envelope('No package you may see has that id.'),
  409: envelope('The package is not in a state, or past its expiry, in which this token could be used (`PACKAGE_NOT_ACTIVE`).'),
  413: envelope('The body is larger than the limit (`PAYLOAD_TOO_LARGE`).'),
};

const issueDoc = (doc: Pick<RouteDoc, 'operationId' | 'summary' | 'description' | 'requestBody'> & { answer: JsonSchema; failures: RouteDoc['responses'] }): RouteDoc => ({
  operationId: doc.operationId,
  tag: 'Signing authentication tokens',
  summary: doc.summary,
  description: `${doc.description} Expires after 30 minutes by default (\`AUTH_TOKEN_TTL_SECONDS\`).`,
  security: ['bearerAuth'],
  ...(doc.requestBody ? { requestBody: doc.requestBody } : {}),
  responses: {
    200: { description: 'The token.', schema: doc.answer },
    401: NOT_SIGNED_IN,
    ...doc.failures,
    ...SERVER_FAILURES,
  },
});

const userTokenDoc = issueDoc({
  operationId: 'createUserAuthenticationToken',
  summary: 'Issue a user authentication token',
  description: "A single-use token that obtains a session for the signed-in user with complete access to the account. No request body.",
  answer: answer({ value: TOKEN_VALUE }),
  failures: { 403: envelope(ISSUE_FORBIDDEN) },
});

const senderTokenDoc = issueDoc({
  operationId: 'createSenderAuthenticationToken',
  summary: 'Issue a sender authentication token',
  description: 'A single-use token that obtains a session for a sender with access only to one package you manage.',
  requestBody: {
    contentType: 'application/json',
    schema: { type: 'object', properties: { packageId: PACKAGE_ID }, required: ['packageId'] },
    example: { packageId: '0b7a5c3e-2f4d-4e8a-9c1b-6d2e8f0a4b7c' },
  },
  answer: answer({ value: TOKEN_VALUE }),
  failures: PACKAGE_FAILURES,
});

const SIGNER_BODY = {
  contentType: 'application/json',
  schema: { type: 'object', properties: { packageId: PACKAGE_ID, signerId: SIGNER_ID }, required: ['packageId', 'signerId'] },
  example: { packageId: '0b7a5c3e-2f4d-4e8a-9c1b-6d2e8f0a4b7c', signerId: 'signer1@example.com' },
};
const SIGNER_FAILURES = {
  ...PACKAGE_FAILURES,
  400: envelope(
    'packageId or signerId is missing or malformed (`field` names it), the body is not JSON (`MALFORMED_JSON`), or the signer has no linked platform account (`NO_LINKED_USER`).',
  ),
  404: envelope('No package you may see has that id, or no such signer is on it (`field: signerId`).'),
};

const multiUseSignerTokenDoc = issueDoc({
  operationId: 'createSignerAuthenticationToken',
  summary: 'Issue a multi-use signer authentication token',
  description: 'A token that obtains a session for a signer with access to the Signer Experience of one package; it can be used more than once.',
  requestBody: SIGNER_BODY,
  answer: answer({ packageId: PACKAGE_ID, signerId: { ...SIGNER_ID, description: 'The signer as sent.' }, value: TOKEN_VALUE }),
  failures: SIGNER_FAILURES,
});

const singleUseSignerTokenDoc = issueDoc({
  operationId: 'createSingleUseSignerAuthenticationToken',
  summary: 'Issue a single-use signer authentication token',
  description: 'A single-use token that obtains a session for a signer with access to the Signer Experience of one package.',
  requestBody: SIGNER_BODY,
  answer: answer({ packageId: PACKAGE_ID, sessionFields: { type: 'null' }, signerId: { ...SIGNER_ID, description: 'The signer as sent.' }, value: TOKEN_VALUE }),
  failures: SIGNER_FAILURES,
});

const INVALID_TOKEN = envelope('The token is unknown, expired, already used, revoked, or its package is closed (`INVALID_AUTHENTICATION_TOKEN`).', {
  'WWW-Authenticate': '`Bearer`',
});

const exchangeDoc: RouteDoc = {
  operationId: 'exchangeAuthenticationToken',
  tag: 'Signing authentication tokens',
  summary: 'Exchange an authentication token for a session',
  description:
    'Obtains a session for the user, sender or signer the token was issued for. A single-use token works once; a sender or signer session is limited to its package and lives a few hours at most.',
  security: [],
  requestBody: {
    contentType: 'application/json',
    schema: { type: 'object', properties: { value: { ...TOKEN_VALUE, minLength: 1 } }, required: ['value'] },
    example: { value: 'MjY0MjQ4MzgtMTJlOS00MzhjLTgzODMtMzJmMGNiZTg3ODBl' },
  },
  responses: {
    200: { description: 'The session.', schema: SESSION },
    400: envelope('value is missing (`field: value`), or the body is not JSON (`MALFORMED_JSON`).'),
    401: INVALID_TOKEN,
    413: envelope('The body is larger than the limit (`PAYLOAD_TOO_LARGE`).'),
    ...SERVER_FAILURES,
  },
};

const browserExchangeDoc: RouteDoc = {
  operationId: 'openAuthenticationTokenInBrowser',
  tag: 'Signing authentication tokens',
  summary: 'Exchange an authentication token in a browser',
  description:
    'The browser form of the exchange: sets the session cookies and redirects to `target`. Loading it cross-site as anything but a page (an image, a frame, a fetch) is refused and leaves the token unspent.',
  security: [],
  parameters: [
    { name: 'authenticationToken', in: 'query', required: true, description: 'The authentication token.', schema: { type: 'string', minLength: 1 } },
    {
      name: 'target',
      in: 'query',
      required: false,
      description: 'A same-origin path to go to; anything else (another origin, `//`, backslashes, non-printable or non-ASCII characters) goes to `/`.',
      schema: { type: 'string' },
    },
    { name: 'Sec-Fetch-Site', in: 'header', required: false, description: 'Set by browsers (Fetch Metadata).', schema: { type: 'string' } },
    { name: 'Sec-Fetch-Dest', in: 'header', required: false, description: 'Set by browsers: with a cross-site `Sec-Fetch-Site`, anything but `document` is refused.', schema: { type: 'string' } },
  ],
  responses: {
    303: { description: 'Signed in: to `target`.', headers: { Location: 'The target path, `/` by default.', 'Set-Cookie': 'The session cookies.' } },
    400: envelope('authenticationToken is missing (`field: authenticationToken`).'),
    401: INVALID_TOKEN,
    403: envelope('Loaded cross-site as something other than a page (`CROSS_SITE_REQUEST`).'),
    ...SERVER_FAILURES,
  },
};

export const tokenRoutes: RestRoute[] = [
  { method: 'POST', path: '/api/cs-authenticationTokens/user', handler: issue('user'), doc: userTokenDoc },
  { method: 'POST', path: '/api/cs-authenticationTokens/sender', handler: issue('sender'), doc: senderTokenDoc },
  { method: 'POST', path: '/api/cs-authenticationTokens/signer/multiUse', handler: issue('signerMultiUse'), doc: multiUseSignerTokenDoc },
  { method: 'POST', path: '/api/cs-authenticationTokens/signer/singleUse', handler: issue('signerSingleUse'), doc: singleUseSignerTokenDoc },
  { method: 'POST', path: '/api/cs-authenticationTokens/exchange', handler: exchangeRoute, doc: exchangeDoc },
  { method: 'GET', path: '/auth', handler: browserExchangeRoute, doc: browserExchangeDoc },
];
