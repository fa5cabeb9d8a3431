import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Config } from '../../config.ts';
import { parseCookies, serialise, sessionCookies } from '../../http/cookies.ts';
import { ERROR_ENVELOPE_SCHEMA, sendJson } from '../../http/respond.ts';
import { AppError } from '../../lib/errors.ts';
import { generateSecret, safeEqual } from '../../lib/tokens.ts';
import type { JsonSchema, RouteDoc } from '../../rest/openapi.ts';
import type { RestContext, RestRoute } from '../../rest/router.ts';
import { authenticatePartner, consumeMagicLink, isMagicLinkUsable, issueMagicLink, MagicLinkError, MagicLinkRateLimited, type MagicLinkFailure } from './partners.service.ts';

/** The partner API's envelope, exactly as the partner documentation shows it. */
function fail(res: ServerResponse, status: number, error: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { success: false, error }, headers);
}

const FAILURES: Record<MagicLinkFailure, { status: number; error: string }> = {
  INVALID_CUSTOMER_ID: { status: 422, error: 'Invalid route parameters: Customer ID must be a valid UUID' },
  CUSTOMER_NOT_FOUND: { status: 404, error: 'Customer not found or does not belong to partner' },
  NO_LINKED_USER: { status: 400, error: 'Customer has no linked platform user; complete onboarding before requesting a magic link' },
};

const singleHeader = (value: string | string[] | undefined): string => (typeof value === 'string' ? value.trim() : '');

/**
 * POST /api/v1/integrations/customer/:customerId/magic-link. Credentials are checked before the customer id, so a
 * caller without a valid key learns nothing about ids. The answer (a sign-in URL) is never logged.
 */
async function issueMagicLinkRoute(ctx: RestContext): Promise<void> {
  const partnerKey = singleHeader(ctx.req.headers['sw-partner-id']);
  const apiKey = singleHeader(ctx.req.headers['sw-api-key']);
  if (!partnerKey || !apiKey) return fail(ctx.res, 401, 'Partner ID and API key are required in headers');
  try {
    const partner = await authenticatePartner(ctx.services, { partnerKey, apiKey, client: ctx.client });
    if (!partner) return fail(ctx.res, 401, 'Failed to verify org API key');
    const { url } = await issueMagicLink(ctx.services, { partner, customerId: ctx.params.customerId ?? '', client: ctx.client });
    sendJson(ctx.res, 200, { success: true, url });
  } catch (error) {
    if (error instanceof MagicLinkError) return fail(ctx.res, FAILURES[error.failure].status, FAILURES[error.failure].error);
    if (error instanceof MagicLinkRateLimited) {
      return fail(ctx.res, 429, 'Too many magic link requests. Try again later.', { 'Retry-After': String(error.retryAfterSeconds) });
    }
    // The seed prescribes this body for every other failure, an outage included; Retry-After says when to retry.
    const failure = ctx.reportError(error);
    fail(ctx.res, 500, 'Failed to generate magic link', failure.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(failure.retryAfterSeconds) });
  }
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1f2937}' +
  'button{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;cursor:pointer}';
const STYLE_HASH = createHash('sha256').update(STYLE, 'utf8').digest('base64');

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** No scripts at all; forms may go only here and, through the redirect, to the portal. */
function pageHeaders(config: Config): Record<string, string> {
  const portalOrigin = new URL(config.magicLinks.portalHomeUrl).origin;
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self' ${portalOrigin}; frame-ancestors 'none'; base-uri 'none'`,
  };
}

function sendPage(res: ServerResponse, config: Config, status: number, title: string, body: string, headers: Record<string, string> = {}): void {
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
  res.writeHead(status, { ...pageHeaders(config), 'Content-Length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

function sendInvalidLinkPage(res: ServerResponse, config: Config, message: string): void {
  sendPage(res, config, 400, 'Sign-in link not valid', `<p>${escapeHtml(message)}</p>`);
}

const INCOMPLETE_LINK = 'This sign-in link is incomplete. Open the full link you were given, or ask for a new link.';
const INVALID_LINK_MESSAGE = 'This sign-in link has expired or was already used. Ask for a new link.';
const UNBOUND_FORM_MESSAGE =
  'This sign-in page was not opened in this browser, or was left open too long. Open the sign-in link you were given again: it has not been used.';

/**
 * The confirmation page binds its form to the browser that opened it: a random nonce in an HttpOnly, SameSite=Strict
 * cookie scoped to this path, and the same nonce in the form. Another site can make a browser post a form here, but
 * can neither read nor set this cookie, so it cannot sign a visitor in with its own link (login CSRF).
 */
const CONFIRM_NONCE_COOKIE = 'sc_confirm';
const CONFIRM_PATH = '/auth/confirm';
/** How long an opened page stays usable; the link itself is not spent, so opening it again gives a fresh page. */
const CONFIRM_NONCE_TTL_SECONDS = 15 * 60;
const NONCE = /^[A-Za-z0-9_-]{43}$/;

/** The browser's nonce: kept when it already has a well-formed one, so two tabs opened from links both work. */
function confirmNonce(ctx: RestContext): string {
  const existing = parseCookies(ctx.req.headers.cookie).get(CONFIRM_NONCE_COOKIE);
  return existing && NONCE.test(existing) ? existing : generateSecret();
}

/**
 * Whether the form was posted from the page this server gave this browser: not from another site (Fetch Metadata,
 * where the browser sends it) and carrying the nonce of its cookie (compared in constant time).
 */
function isBoundToBrowser(ctx: RestContext, form: URLSearchParams): boolean {
  const site = ctx.req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const cookie = parseCookies(ctx.req.headers.cookie).get(CONFIRM_NONCE_COOKIE) ?? '';
  const sent = form.get('nonce') ?? '';
  return NONCE.test(cookie) && safeEqual(cookie, sent);
}

/**
 * GET /auth/confirm shows a button and uses nothing up: mail scanners and link previews that fetch the URL leave
 * the link intact. Only the POST from this page, in this browser, signs in.
 */
async function confirmPageRoute(ctx: RestContext): Promise<void> {
  const { config } = ctx.services;
  const token = ctx.query.get('token_hash') ?? '';
  if (!token || ctx.query.get('type') !== 'magiclink') return sendInvalidLinkPage(ctx.res, config, INCOMPLETE_LINK);
  if (!(await isMagicLinkUsable(ctx.services, token))) return sendInvalidLinkPage(ctx.res, config, INVALID_LINK_MESSAGE);
  const nonce = confirmNonce(ctx);
  sendPage(
    ctx.res,
    config,
    200,
    'Sign in to Safeclose',
    `<form method="post" action="/auth/confirm">
<input type="hidden" name="token_hash" value="${escapeHtml(token)}">
<input type="hidden" name="type" value="magiclink">
<input type="hidden" name="nonce" value="${escapeHtml(nonce)}">
<button type="submit">Continue to Safeclose</button>
</form>`,
    { 'Set-Cookie': serialise(config, CONFIRM_NONCE_COOKIE, nonce, { maxAgeSeconds: CONFIRM_NONCE_TTL_SECONDS, path: CONFIRM_PATH, sameSite: 'Strict' }) },
  );
}

/**
 * POST /auth/confirm (the page's form): uses the link up, starts the session, sets its cookies and sends the
 * browser to the portal. A form that is not bound to this browser (posted from another site, or without the
 * page's nonce) is refused with 403 before the link is looked at, so it stays usable.
 */
async function confirmRoute(ctx: RestContext): Promise<void> {
  const { config } = ctx.services;
  const form = await ctx.readForm();
  if (!isBoundToBrowser(ctx, form)) return sendPage(ctx.res, config, 403, 'Open your sign-in link again', `<p>${escapeHtml(UNBOUND_FORM_MESSAGE)}</p>`);
  const token = form.get('token_hash') ?? '';
  if (!token || form.get('type') !== 'magiclink') return sendInvalidLinkPage(ctx.res, config, INCOMPLETE_LINK);
  try {
    const session = await consumeMagicLink(ctx.services, { token, client: ctx.client });
    ctx.res.writeHead(303, {
      Location: config.magicLinks.portalHomeUrl,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'Content-Length': 0,
      'Set-Cookie': sessionCookies(config, session, ctx.services.clock.now()),
    });
    ctx.res.end();
  } catch (error) {
    if (error instanceof AppError && error.reason === 'INVALID_MAGIC_LINK') return sendInvalidLinkPage(ctx.res, config, error.message);
    ctx.logger.error({ err: error }, 'magic link confirmation failed');
    sendPage(ctx.res, config, 500, 'Something went wrong', '<p>We could not sign you in. Try the link again in a moment, or ask for a new link.</p>');
  }
}

/** The partner API's failure envelope, with the messages a status can carry. */
const partnerFailure = (description: string, error: JsonSchema, headers?: Record<string, string>) => ({
  description,
  schema: { type: 'object', properties: { success: { const: false }, error: { type: 'string', ...error } }, required: ['success', 'error'], additionalProperties: false },
  ...(headers ? { headers } : {}),
});
const failureMessage = (failure: MagicLinkFailure): JsonSchema => ({ const: FAILURES[failure].error });

const issueMagicLinkDoc: RouteDoc = {
  operationId: 'createCustomerMagicLink',
  tag: 'Partner integrations',
  summary: "Issue a magic link that signs a partner's customer in",
  description:
    "Generates a one-time sign-in URL for a customer of your partner organization, to deep-link them into the portal without enterprise SAML. The link expires one hour after it is created and works for one sign-in; treat it like a password and never log it. Call it server to server when the customer is ready to sign in; the customer must be onboarded and have a platform user.",
  security: [['partnerKey', 'partnerApiKey']],
  parameters: [{ name: 'customerId', in: 'path', required: true, description: 'Customer UUID.', schema: { type: 'string', format: 'uuid' } }],
  responses: {
    200: {
      description: 'The sign-in URL.',
      schema: {
        type: 'object',
        properties: { success: { const: true }, url: { type: 'string', format: 'uri', description: '`/auth/confirm?token_hash=...&type=magiclink` on the public URL.' } },
        required: ['success', 'url'],
        additionalProperties: false,
      },
    },
    400: partnerFailure('The customer has no linked platform user: complete onboarding first.', failureMessage('NO_LINKED_USER')),
    401: partnerFailure('The SW-PARTNER-ID or SW-API-KEY header is missing, or they do not verify.', {
      examples: ['Partner ID and API key are required in headers', 'Failed to verify org API key'],
    }),
    404: partnerFailure('No such customer of this partner.', failureMessage('CUSTOMER_NOT_FOUND')),
    422: partnerFailure('customerId is not a UUID.', failureMessage('INVALID_CUSTOMER_ID')),
    429: partnerFailure(
      'Too many magic links for this partner or customer, or too many failed key checks.',
      { examples: ['Too many magic link requests. Try again later.'] },
      { 'Retry-After': 'Seconds until a retry may succeed.' },
    ),
    500: partnerFailure('Any other failure, an outage included.', { examples: ['Failed to generate magic link'] }, {
      'Retry-After': 'When the failure is an outage: seconds until a retry may succeed.',
    }),
  },
};

const PAGE = { contentType: 'text/html', schema: { type: 'string' } };
const LINK_PARAMETERS = {
  token_hash: { type: 'string', minLength: 1, description: 'The token of the magic link.' },
  type: { type: 'string', const: 'magiclink' },
};

const confirmPageDoc: RouteDoc = {
  operationId: 'showMagicLinkConfirmation',
  tag: 'Partner integrations',
  summary: 'The page a magic link opens',
  description:
    "Where the customer's magic link leads: a page with one button that posts to `POST /auth/confirm`. Opening it uses nothing up, so mail scanners and link previews leave the link intact. Sets an HttpOnly, SameSite=Strict cookie (`sc_confirm`) whose nonce the page's form carries, binding the form to this browser.",
  security: [],
  parameters: Object.entries(LINK_PARAMETERS).map(([name, schema]) => ({ name, in: 'query' as const, required: true, schema })),
  responses: {
    200: { description: 'The confirmation page.', ...PAGE, headers: { 'Set-Cookie': 'The `sc_confirm` nonce cookie (path `/auth/confirm`, 15 minutes).' } },
    400: { description: 'The link is incomplete, expired or already used: a page that says so.', ...PAGE },
    500: { description: 'Unexpected error (`INTERNAL`).', schema: ERROR_ENVELOPE_SCHEMA },
    503: { description: 'The database is unavailable (`DATABASE_UNAVAILABLE`).', schema: ERROR_ENVELOPE_SCHEMA, headers: { 'Retry-After': 'Seconds until a retry may succeed.' } },
  },
};

const confirmDoc: RouteDoc = {
  operationId: 'confirmMagicLink',
  tag: 'Partner integrations',
  summary: 'Sign in with a magic link',
  description:
    "The confirmation page's form: uses the link up, starts the customer's session, sets its cookies and redirects to the portal home. The form must come from the page this browser opened: its `nonce` must match the `sc_confirm` cookie, and a cross-site `Sec-Fetch-Site` is refused; such a refusal leaves the link usable.",
  security: [],
  parameters: [{ name: 'Sec-Fetch-Site', in: 'header', required: false, description: 'Set by browsers: only `same-origin` or `none` is accepted.', schema: { type: 'string' } }],
  requestBody: {
    contentType: 'application/x-www-form-urlencoded',
    schema: {
      type: 'object',
      properties: { ...LINK_PARAMETERS, nonce: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'The nonce of the `sc_confirm` cookie, as the page wrote it.' } },
      required: ['token_hash', 'type', 'nonce'],
    },
    example: { token_hash: 'example', type: 'magiclink', nonce: 'q3Zb7yV0m1XkPp9aR2sT4uW6xY8zA0bC1dE3fG5hI7j' },
  },
  responses: {
    303: { description: 'Signed in: to the portal home.', headers: { Location: 'The portal home.', 'Set-Cookie': 'The session cookies.' } },
    400: { description: 'The link is incomplete, expired or already used: a page that says so.', ...PAGE },
    403: { description: 'The form was not posted from the page this browser opened: a page that says to open the link again.', ...PAGE },
    413: { description: 'The body is larger than the limit (`PAYLOAD_TOO_LARGE`).', schema: ERROR_ENVELOPE_SCHEMA },
    500: { description: 'Signing in failed: a page that says to try again.', ...PAGE },
  },
};

export const partnerRoutes: RestRoute[] = [
  { method: 'POST', path: '/api/v1/integrations/customer/:customerId/magic-link', handler: issueMagicLinkRoute, doc: issueMagicLinkDoc },
  { method: 'GET', path: '/auth/confirm', handler: confirmPageRoute, doc: confirmPageDoc },
  { method: 'POST', path: '/auth/confirm', handler: confirmRoute, doc: confirmDoc },
];
