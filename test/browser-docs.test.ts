import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_COOKIE } from '../src/http/cookies.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { resolveChromium } from './support/chromium.ts';
import { createUser, signInAs } from './support/factories.ts';

/**
 * The API reference at /v1/docs and GraphiQL at /graphql, opened in Chromium whose network reaches the test server
 * only: every request elsewhere is aborted and recorded, so a page that needed a CDN would fail here as it does on
 * a machine without internet access.
 */

declare global {
  interface Window {
    /** The CSP violations the page reported, recorded by an init script (which the page's policy does not govern). */
    cspViolations: string[];
  }
}

/** A policy names no other origin: no scheme-qualified source, no host, no wildcard. */
function expectNoThirdPartyOrigin(csp: string | undefined): void {
  expect(csp).toBeTruthy();
  for (const directive of csp!.split(';')) {
    const [, ...sources] = directive.trim().split(/\s+/);
    for (const source of sources) expect(source, directive).toMatch(/^('self'|'none'|'unsafe-inline'|'sha256-[A-Za-z0-9+/=]+'|data:|blob:)$/);
  }
}

/** The policy's sources for one directive. */
function sources(csp: string, directive: string): string[] {
  const entry = csp.split(';').map((d) => d.trim().split(/\s+/)).find(([name]) => name === directive);
  return entry?.slice(1) ?? [];
}

describe('the API reference and GraphiQL in a browser limited to the server', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  /** Requests the browser tried to make to any origin but the test server's. */
  let aborted: string[];
  let consoleErrors: string[];
  let userEmail: string;
  let accessToken: string;

  beforeAll(async () => {
    t = await startTestApp();
    const user = await createUser(t.db.prisma, { email: 'reader@example.test' });
    userEmail = user.email;
    accessToken = (await signInAs(t.app.services, user.id)).token;
    const { executablePath, args } = await resolveChromium();
    browser = await chromium.launch({ executablePath, headless: true, args });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  beforeEach(async () => {
    const origin = new URL(t.url).origin;
    context = await browser.newContext();
    aborted = [];
    consoleErrors = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      aborted.push(url);
      return route.abort('internetdisconnected');
    });
    await context.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => window.cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`));
    });
    context.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    context.on('weberror', (error) => consoleErrors.push(error.error().message));
  });
  afterEach(async () => {
    await context?.close();
  });

  /** What every page here must hold to: nothing fetched from elsewhere, no policy violation, no error but `expected`. */
  async function expectCleanPage(page: Page, expected: RegExp[] = []): Promise<void> {
    expect(aborted).toEqual([]);
    expect(await page.evaluate(() => window.cspViolations)).toEqual([]);
    expect(consoleErrors.filter((text) => !expected.some((pattern) => pattern.test(text)))).toEqual([]);
  }

  it('the network limit is real: a request to another origin is aborted and recorded', async () => {
    const page = await context.newPage();
    await expect(page.goto('https://registry.example.org/package.json')).rejects.toThrow(/ERR_INTERNET_DISCONNECTED/);
    expect(aborted).toEqual(['https://registry.example.org/package.json']);
    // ...while the test server's origin is reached.
    expect((await (await context.newPage()).goto(`${t.url}/healthz`))?.status()).toBe(200);
    expect(aborted).toHaveLength(1);
  });

  it('/v1/docs renders the reference from the OpenAPI document, the documents endpoints included, with files from this server only', async () => {
    const page = await context.newPage();
    const loaded: string[] = [];
    page.on('response', (response) => loaded.push(`${response.status()} ${new URL(response.url()).pathname}`));

    const response = await page.goto(`${t.url}/v1/docs`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'];
    expectNoThirdPartyOrigin(csp);
    expect(sources(csp!, 'script-src')).toEqual(["'self'"]);
    expect(sources(csp!, 'style-src')).toEqual(["'self'"]);
    expect(sources(csp!, 'default-src')).toEqual(["'none'"]);

    const list = page.locator('.opblock-get .opblock-summary-path[data-path="/v1/documents"]');
    await list.waitFor({ timeout: 30_000 });
    expect(await list.count()).toBe(1);
    expect(await page.locator('.opblock-post .opblock-summary-path[data-path="/v1/documents"]').count()).toBe(1);
    expect(await page.locator('.opblock-get .opblock-summary-path[data-path="/v1/documents/{id}"]').count()).toBe(1);
    expect(await page.locator('.opblock-summary-path[data-path="/v1/no-such-resource"]').count()).toBe(0);
    // The document's own title, as the renderer shows it; and the page is styled by its style sheet.
    expect(await page.locator('.info .title').textContent()).toContain('Safeclose');
    expect(await page.locator('.opblock-get').first().evaluate((element) => getComputedStyle(element).borderTopStyle)).toBe('solid');

    expect(loaded).toEqual(expect.arrayContaining(['200 /v1/docs', '200 /v1/docs/assets/swagger-ui-bundle.js', '200 /v1/docs/assets/docs.js', '200 /v1/openapi.json']));
    await expectCleanPage(page);
  });

  it("serves the reference's allow-listed files with long cache headers, and nothing else from disk", async () => {
    const page = await (await fetch(`${t.url}/v1/docs`)).text();
    const bundle = /src="(docs\/assets\/swagger-ui-bundle\.js\?v=[\w-]+)"/.exec(page)?.[1];
    expect(bundle).toBeDefined();
    const served = await fetch(`${t.url}/v1/${bundle}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(served.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await served.text()).length).toBeGreaterThan(100_000);
    // Files of the same package that the page does not use, paths that climb out, and names of object properties.
    for (const file of ['swagger-initializer.js', 'package.json', '..%2F..%2Fpackage.json', '..%2Fopenapi.json', '__proto__', 'constructor', 'hasOwnProperty']) {
      const refused = await fetch(`${t.url}/v1/docs/assets/${file}`);
      expect(refused.status, file).toBe(404);
      expect(refused.headers.get('content-type'), file).toBe('application/problem+json');
      expect(refused.headers.get('cache-control'), file).toBe('no-store');
    }
  });

  it('the reference page refuses an injected inline script (the policy is enforced, and the check above can fail)', async () => {
    const page = await context.newPage();
    await page.goto(`${t.url}/v1/docs`);
    await page.locator('.opblock-summary-path[data-path="/v1/documents"]').first().waitFor({ timeout: 30_000 });
    const ran = await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'document.body.dataset.injected = "yes"';
      document.body.append(script);
      return document.body.dataset.injected ?? 'no';
    });
    expect(ran).toBe('no');
    await expect.poll(() => page.evaluate(() => window.cspViolations)).toEqual(['script-src-elem inline']);
  });

  it('GraphiQL at /graphql loads without a CDN and runs a signed-in query, showing its result', async () => {
    await context.addCookies([{ name: ACCESS_COOKIE, value: accessToken, url: t.url }]);
    const page = await context.newPage();
    const response = await page.goto(`${t.url}/graphql`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'];
    expectNoThirdPartyOrigin(csp);
    expect(sources(csp!, 'script-src')).toEqual([expect.stringMatching(/^'sha256-/)]);

    await runQuery(page, '{ me { email } }');
    await expect.poll(() => responseText(page), { timeout: 30_000 }).toContain(userEmail);
    await expectCleanPage(page);
  });

  it('GraphiQL without a session runs the same query and shows the refusal, not the data', async () => {
    const page = await context.newPage();
    await page.goto(`${t.url}/graphql`);
    await runQuery(page, '{ me { email } }');
    await expect.poll(() => responseText(page), { timeout: 30_000 }).toContain('UNAUTHENTICATED');
    expect(await responseText(page)).not.toContain(userEmail);
    // Chromium reports the 401 answer as a failed load.
    expect(consoleErrors).toEqual([expect.stringMatching(/status of 401/)]);
    await expectCleanPage(page, [/status of 401/]);
  });

  /** Replaces the query in GraphiQL's editor and runs it with the run button. */
  async function runQuery(page: Page, query: string): Promise<void> {
    const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await editor.waitFor({ timeout: 30_000 });
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    // Inserted as one piece of text, so the editor's bracket completion adds nothing.
    await page.keyboard.insertText(query);
    await expect.poll(() => page.locator('.graphiql-query-editor .view-lines').first().textContent()).toBe(query.replace(/ /g, '\u00a0'));
    await page.locator('.graphiql-execute-button').click();
  }

  /** The text of GraphiQL's result pane. */
  function responseText(page: Page): Promise<string> {
    return page.evaluate(() => document.querySelector('.graphiql-response')?.textContent ?? '');
  }
});
