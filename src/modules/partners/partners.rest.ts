import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Config } from '../../config.ts';
import { parseCookies, serialise, sessionCookies } from '../../http/cookies.ts';
import { sendJson } from '../../http/respond.ts';
import { AppError } from '../../lib/errors.ts';
import { generateSecret, safeEqual } from '../../lib/tokens.ts';
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

export const partnerRoutes: RestRoute[] = [
  { method: 'POST', path: '/api/v1/integrations/customer/:customerId/magic-link', handler: issueMagicLinkRoute },
  { method: 'GET', path: '/auth/confirm', handler: confirmPageRoute },
  { method: 'POST', path: '/auth/confirm', handler: confirmRoute },
];
