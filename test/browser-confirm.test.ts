import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/lib/tokens.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { resolveChromium } from './support/chromium.ts';
import { createUser, signInAs } from './support/factories.ts';

const CREATE_PARTNER = `mutation($input: CreatePartnerInput!) { createPartner(input: $input) { apiKey partner { id partnerKey } } }`;
const CREATE_CUSTOMER = `mutation($input: CreatePartnerCustomerInput!) { createPartnerCustomer(input: $input) { id } }`;
const INVALID_TITLE = 'Sign-in link not valid';
const INVALID_MESSAGE = 'This sign-in link has expired or was already used. Ask for a new link.';

/**
 * Stands in for the customer portal: PORTAL_HOME_URL must be a page the browser can really land on. It also serves,
 * at /elsewhere, whatever page a test sets: another site's page, for the login-CSRF case.
 */
async function startPortal(): Promise<{ homeUrl: string; elsewhereUrl: string; setElsewhere(html: string): void; close(): Promise<void> }> {
  let elsewhere = '';
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    if (req.url === '/elsewhere') res.end(elsewhere);
    else res.end('<!doctype html><html lang="en"><head><title>Portal</title></head><body><h1>Portal home</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    homeUrl: `http://127.0.0.1:${port}/home`,
    elsewhereUrl: `http://127.0.0.1:${port}/elsewhere`,
    setElsewhere: (html) => void (elsewhere = html),
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

describe('partner magic link confirmation in a real browser', () => {
  let t: TestApp;
  let portal: Awaited<ReturnType<typeof startPortal>>;
  let browser: Browser;
  let context: BrowserContext;
  let consoleErrors: string[];
  let partner: { partnerKey: string; apiKey: string };
  let customerId: string;
  let customerUserId: string;

  /** Issues a link the way a partner backend does; its host is PUBLIC_URL's, so it is opened on the test server. */
  async function issueLink(): Promise<string> {
    const response = await fetch(`${t.url}/api/v1/integrations/customer/${customerId}/magic-link`, {
      method: 'POST',
      headers: { 'SW-PARTNER-ID': partner.partnerKey, 'SW-API-KEY': partner.apiKey },
    });
    expect(response.status).toBe(200);
    const link = new URL(((await response.json()) as { url: string }).url);
    expect(link.pathname).toBe('/auth/confirm');
    return `${t.url}${link.pathname}${link.search}`;
  }

  beforeAll(async () => {
    portal = await startPortal();
    // More links per customer than the default 5 a minute: each test issues its own.
    t = await startTestApp({ env: { PORTAL_HOME_URL: portal.homeUrl, MAGIC_LINKS_PER_CUSTOMER: '100' } });
    const db = t.db.prisma;
    const admin = await createUser(db, { roles: ['ADMIN'] });
    const adminToken = (await signInAs(t.app.services, admin.id)).token;
    customerUserId = (await createUser(db, { email: 'dana@customer.test' })).id;
    const created = await t.graphql<{ createPartner: { apiKey: string; partner: { id: string; partnerKey: string } } }, unknown>(
      CREATE_PARTNER,
      { input: { name: 'Acme Lending', partnerKey: 'acme-lending' } },
      { token: adminToken },
    );
    expect(created.body.errors).toBeUndefined();
    const { apiKey, partner: row } = created.body.data!.createPartner;
    partner = { partnerKey: row.partnerKey, apiKey };
    const customer = await t.graphql<{ createPartnerCustomer: { id: string } }, unknown>(
      CREATE_CUSTOMER,
      { input: { partnerId: row.id, name: 'Dana Whitfield', email: 'dana@customer.test', userEmail: 'dana@customer.test' } },
      { token: adminToken },
    );
    expect(customer.body.errors).toBeUndefined();
    customerId = customer.body.data!.createPartnerCustomer.id;
    // Playwright's defaults already turn off background networking, sync and first-run; the args add what a closed
    // network and GPU-less containers need.
    const { executablePath, args } = await resolveChromium();
    browser = await chromium.launch({ executablePath, headless: true, args });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await portal?.close();
  });

  beforeEach(async () => {
    // The page promises to need no script: the whole flow runs with JavaScript off.
    context = await browser.newContext({ javaScriptEnabled: false });
    consoleErrors = [];
    context.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    context.on('weberror', (error) => consoleErrors.push(error.error().message));
  });
  afterEach(async () => {
    try {
      // Chromium reports every 400 and 403 page as a failed load; anything else (a CSP violation, say) is a fault.
      expect(consoleErrors.filter((text) => !/the server responded with a status of 40[03]/.test(text))).toEqual([]);
    } finally {
      await context?.close();
    }
  });

  it('shows the button without using the link, then signs in with cookies and lands on the portal', async () => {
    const link = await issueLink();
    const page = await context.newPage();
    const button = page.getByRole('button', { name: 'Continue to Safeclose' });

    const shown = await page.goto(link);
    expect(shown?.status()).toBe(200);
    expect(shown?.headers()['content-security-policy']).toContain("default-src 'none'");
    await expect(page.title()).resolves.toBe('Sign in to Safeclose');
    expect(await button.count()).toBe(1);
    // Loading the page (as a mail scanner would) spends nothing: a reload still offers the button.
    const reloaded = await page.reload();
    expect(reloaded?.status()).toBe(200);
    expect(await button.count()).toBe(1);
    // The CSP's style hash matches the inline style, so the page is styled as designed.
    expect(await button.evaluate((element) => getComputedStyle(element).backgroundColor)).toBe('rgb(29, 78, 216)');

    await button.click();
    // Crossing to the portal's origin after the POST also proves the CSP's form-action allows the redirect.
    await page.waitForURL(portal.homeUrl);
    expect(await page.getByRole('heading', { name: 'Portal home' }).count()).toBe(1);

    const [access] = (await context.cookies(t.url)).filter((cookie) => cookie.name === 'sc_access');
    expect(access).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    const refresh = (await context.cookies(`${t.url}/graphql`)).find((cookie) => cookie.name === 'sc_refresh');
    expect(refresh).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/graphql' });

    const me = await t.graphql<{ me: { id: string } }, unknown>('{ me { id } }', undefined, { token: access!.value });
    expect(me.status).toBe(200);
    expect(me.body.data?.me.id).toBe(customerUserId);
    expect(consoleErrors).toEqual([]);
  });

  it('opening a used link again shows the not-valid page, with no button', async () => {
    const link = await issueLink();
    const page = await context.newPage();
    await page.goto(link);
    await page.getByRole('button', { name: 'Continue to Safeclose' }).click();
    await page.waitForURL(portal.homeUrl);

    const again = await page.goto(link);
    expect(again?.status()).toBe(400);
    expect(await page.getByRole('heading', { name: INVALID_TITLE }).count()).toBe(1);
    expect(await page.getByText(INVALID_MESSAGE).count()).toBe(1);
    expect(await page.getByRole('button').count()).toBe(0);
  });

  it('a second tab whose button is pressed after the first signed in gets the not-valid page and no new cookie', async () => {
    const link = await issueLink();
    const first = await context.newPage();
    const second = await context.newPage();
    await first.goto(link);
    await second.goto(link);
    await first.getByRole('button', { name: 'Continue to Safeclose' }).click();
    await first.waitForURL(portal.homeUrl);
    const [cookie] = (await context.cookies(t.url)).filter((c) => c.name === 'sc_access');

    const [response] = await Promise.all([
      second.waitForResponse((r) => r.url() === `${t.url}/auth/confirm` && r.request().method() === 'POST'),
      second.getByRole('button', { name: 'Continue to Safeclose' }).click(),
    ]);
    expect(response.status()).toBe(400);
    expect(await second.getByRole('heading', { name: INVALID_TITLE }).count()).toBe(1);
    expect(await second.getByText(INVALID_MESSAGE).count()).toBe(1);
    expect((await context.cookies(t.url)).filter((c) => c.name === 'sc_access')).toEqual([cookie]);
  });

  it('a link followed from another site (a webmail, a partner page) still signs in', async () => {
    const link = await issueLink();
    portal.setElsewhere(`<!doctype html><html lang="en"><head><title>Mail</title></head><body><a href="${link}">Open Safeclose</a></body></html>`);
    const page = await context.newPage();
    await page.goto(portal.elsewhereUrl);
    await page.getByRole('link', { name: 'Open Safeclose' }).click();
    await page.getByRole('button', { name: 'Continue to Safeclose' }).click();
    await page.waitForURL(portal.homeUrl);
    expect((await context.cookies(t.url)).filter((c) => c.name === 'sc_access')).toHaveLength(1);
  });

  it("another site's form cannot sign the visitor in with its own link, even after the visitor opened a page here", async () => {
    // The visitor has a nonce cookie from a page of their own link.
    const page = await context.newPage();
    await page.goto(await issueLink());
    // The attacker's own link, posted by a form on another site with the field names of ours.
    const attackerToken = new URL(await issueLink()).searchParams.get('token_hash')!;
    portal.setElsewhere(`<!doctype html><html lang="en"><head><title>Prize</title></head><body>
<form method="post" action="${t.url}/auth/confirm">
<input type="hidden" name="token_hash" value="${attackerToken}"><input type="hidden" name="type" value="magiclink"><input type="hidden" name="nonce" value="guessed">
<button type="submit">Claim your prize</button></form></body></html>`);
    await page.goto(portal.elsewhereUrl);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${t.url}/auth/confirm` && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Claim your prize' }).click(),
    ]);
    expect(response.status()).toBe(403);
    expect(await page.getByRole('heading', { name: 'Open your sign-in link again' }).count()).toBe(1);
    expect((await context.cookies(t.url)).filter((c) => c.name === 'sc_access')).toEqual([]);
    const stored = await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(attackerToken) } });
    expect(stored.consumedAt).toBeNull();
  });

  it('a tampered token shows the not-valid page, while the untouched link still works', async () => {
    const link = new URL(await issueLink());
    const token = link.searchParams.get('token_hash')!;
    const tampered = new URL(link);
    tampered.searchParams.set('token_hash', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`);
    const page = await context.newPage();

    const refused = await page.goto(tampered.toString());
    expect(refused?.status()).toBe(400);
    expect(await page.getByRole('heading', { name: INVALID_TITLE }).count()).toBe(1);
    expect(await page.getByText(INVALID_MESSAGE).count()).toBe(1);
    expect(await page.getByRole('button').count()).toBe(0);

    expect((await page.goto(link.toString()))?.status()).toBe(200);
    expect(await page.getByRole('button', { name: 'Continue to Safeclose' }).count()).toBe(1);
  });
});
