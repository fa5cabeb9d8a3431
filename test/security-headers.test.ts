import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCS_CSP } from '../src/http/security-headers.ts';
import { verificationTokenFor } from './support/accounts.ts';
import { startTestApp, type TestApp } from './support/app.ts';

const APP_ORIGIN = 'https://app.example';
const OTHER_ORIGIN = 'https://other.example';
const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { email } }';
const VERIFY_EMAIL = 'mutation($token: String!) { verifyEmail(token: $token) { accessToken refreshToken } }';

/** What every answer of the API carries, whatever its kind. */
function expectSecurityHeaders(headers: Headers, options: { csp?: 'api' | 'own' } = {}): void {
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('x-frame-options')).toBe('DENY');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
  expect(headers.get('cross-origin-opener-policy')).toBe('same-origin');
  expect(headers.get('cross-origin-resource-policy')).toBe('same-origin');
  const csp = headers.get('content-security-policy') ?? '';
  expect(csp).toMatch(/frame-ancestors 'none'/);
  if ((options.csp ?? 'api') === 'api') expect(csp).toMatch(/default-src 'none'/);
}

/** Sends raw bytes and reads the whole answer until the server closes the connection. */
function rawRequest(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}

/** The header block of a raw HTTP answer, as a Headers object. */
function rawHeaders(answer: string): { status: number; headers: Headers } {
  const [head = ''] = answer.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Headers();
  for (const line of lines) headers.append(line.slice(0, line.indexOf(':')).trim(), line.slice(line.indexOf(':') + 1).trim());
  return { status: Number(statusLine.split(' ')[1]), headers };
}

const upgrade = (path: string, version = '13') =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: ${version}\r\n\r\n`;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { NODE_ENV: 'development', CORS_ORIGINS: `${APP_ORIGIN},${OTHER_ORIGIN}` } });
});
afterAll(() => t.close());

describe('security headers (development)', () => {

  it('GraphQL POST answers that carry tokens are never stored, and vary by Origin', async () => {
    await t.graphql(SIGN_UP, { input: { email: 'headers@example.test', name: 'Hedda Headers', password: 'a-long-password-1' } });
    const { status, headers, body } = await t.graphql(VERIFY_EMAIL, { token: await verificationTokenFor(t, 'headers@example.test') });
    expect(status).toBe(200);
    expect(body.data).toMatchObject({ verifyEmail: { accessToken: expect.any(String), refreshToken: expect.any(String) } });
    expectSecurityHeaders(headers);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(headers.get('vary')).toMatch(/\bOrigin\b/);
  });

  it('GraphQL GET answers carry the same headers', async () => {
    const response = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/graphql-response+json' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    expectSecurityHeaders(response.headers);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
  });

  it('server-sent event streams are never stored either (yoga would say no-cache)', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(await response.text()).toContain('"__typename":"Query"');
    expectSecurityHeaders(response.headers);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('gives each allowed origin its own CORS answer, and says that the answer varies by Origin', async () => {
    const answers = await Promise.all(
      [APP_ORIGIN, OTHER_ORIGIN, undefined].map((origin) =>
        fetch(`${t.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
          body: JSON.stringify({ query: '{ __typename }' }),
        }),
      ),
    );
    expect(answers.map((answer) => answer.headers.get('access-control-allow-origin'))).toEqual([APP_ORIGIN, OTHER_ORIGIN, null]);
    for (const answer of answers) expect(answer.headers.get('vary')).toMatch(/\bOrigin\b/);
    const preflight = await fetch(`${t.url}/graphql`, { method: 'OPTIONS', headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBe(OTHER_ORIGIN);
    expect(preflight.headers.get('vary')).toMatch(/\bOrigin\b/);
    expectSecurityHeaders(preflight.headers);
  });

  it('REST JSON answers, error answers included, carry them too', async () => {
    const response = await fetch(`${t.url}/v1/Auth/Connect/Token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=scc_nobody&client_secret=scs_nothing',
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
    expectSecurityHeaders(response.headers);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('keeps the confirmation page its own stricter policy instead of replacing it', async () => {
    const response = await fetch(`${t.url}/auth/confirm?token_hash=nothing&type=magiclink`);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expectSecurityHeaders(response.headers, { csp: 'own' });
    const csp = response.headers.get('content-security-policy')!;
    // One policy, the page's: its style hash and form target, with nothing merged into it.
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'/);
    expect(csp).not.toContain(',');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('404s, health checks and the readiness probe carry them', async () => {
    for (const path of ['/no-such-endpoint', '/healthz', '/readyz']) {
      const response = await fetch(`${t.url}${path}`);
      expect(response.status).toBe(path === '/no-such-endpoint' ? 404 : 200);
      expectSecurityHeaders(response.headers);
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('lets an endpoint that may be cached say so (the JWKS document), and no other', async () => {
    const jwks = await fetch(`${t.url}/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=300');
    expectSecurityHeaders(jwks.headers);
    expect((await fetch(`${t.url}/healthz`)).headers.get('cache-control')).toBe('no-store');
  });

  it('refusals of oversized (413) and chunked (411) GraphQL bodies carry them', async () => {
    const tooLarge = rawHeaders(
      await rawRequest(t.url, `POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${t.config.limits.bodyBytes + 1}\r\n\r\n`),
    );
    expect(tooLarge.status).toBe(413);
    expectSecurityHeaders(tooLarge.headers);
    const chunked = rawHeaders(
      await rawRequest(t.url, 'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n'),
    );
    expect(chunked.status).toBe(411);
    expectSecurityHeaders(chunked.headers);
    expect(chunked.headers.get('cache-control')).toBe('no-store');
  });

  it('WebSocket upgrade refusals, written straight to the socket, carry them', async () => {
    const wrongPath = rawHeaders(await rawRequest(t.url, upgrade('/not-graphql')));
    expect(wrongPath.status).toBe(400);
    expectSecurityHeaders(wrongPath.headers);
    const badVersion = rawHeaders(await rawRequest(t.url, upgrade('/graphql', '7')));
    expect(badVersion.status).toBe(400);
    expectSecurityHeaders(badVersion.headers);
    expect(badVersion.headers.get('cache-control')).toBe('no-store');
  });

  it('leaves a successful upgrade to the WebSocket protocol', async () => {
    const { hostname, port } = new URL(t.url);
    const head = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => socket.write(upgrade('/graphql').replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n')));
      socket.setEncoding('latin1');
      socket.once('data', (chunk: string) => {
        socket.destroy();
        resolve(chunk);
      });
      socket.on('error', reject);
    });
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).not.toMatch(/content-security-policy/i);
  });

  it('serves GraphiQL in development under a policy that runs its one inline script, by hash, and names no other origin', async () => {
    const response = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await response.text();
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toMatch(/^default-src 'none'; /);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/https?:|\*|'unsafe-eval'/);
    // The page's only executable script is the one the policy names; the options are a JSON data block.
    const scripts = [...page.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].filter(([, attributes]) => !attributes!.includes('application/json'));
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]![2]!, 'utf8').digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash}';`);
    expect(page).not.toMatch(/<script[^>]*\ssrc=|<link[^>]*href="https?:/);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves the API reference page under its own policy: scripts and styles from this origin only', async () => {
    const response = await fetch(`${t.url}/v1/docs`);
    expect(response.status).toBe(200);
    expectSecurityHeaders(response.headers);
    expect(response.headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect(DOCS_CSP).toMatch(/script-src 'self';/);
    expect(DOCS_CSP).not.toMatch(/https?:|\*|'unsafe-/);
    expect(await response.text()).not.toMatch(/<script>|<style>|https?:\/\//);
  });

  it('sends no Strict-Transport-Security outside production over plain HTTP', async () => {
    expect((await fetch(`${t.url}/healthz`)).headers.get('strict-transport-security')).toBeNull();
    expect((await t.graphql('{ __typename }')).headers.get('strict-transport-security')).toBeNull();
  });
});

describe('security headers (production)', () => {
  let prod: TestApp;
  beforeAll(async () => {
    prod = await startTestApp({ database: t.db, env: { NODE_ENV: 'production' } });
  });
  afterAll(() => prod.close());

  it('sends Strict-Transport-Security on every answer, GraphQL, REST and upgrade refusals alike', async () => {
    const hsts = 'max-age=31536000; includeSubDomains';
    expect((await fetch(`${prod.url}/healthz`)).headers.get('strict-transport-security')).toBe(hsts);
    expect((await prod.graphql('{ __typename }')).headers.get('strict-transport-security')).toBe(hsts);
    expect((await fetch(`${prod.url}/nothing-here`)).headers.get('strict-transport-security')).toBe(hsts);
    expect(rawHeaders(await rawRequest(prod.url, upgrade('/elsewhere'))).headers.get('strict-transport-security')).toBe(hsts);
  });

  it('serves the API reference at /v1/docs in production too: it documents a public API', async () => {
    const response = await fetch(`${prod.url}/v1/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(DOCS_CSP);
  });

  it('serves no GraphiQL page, so a browser asking for HTML gets the strict API policy', async () => {
    const response = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });
});

describe('security headers (development behind HTTPS)', () => {
  let secure: TestApp;
  beforeAll(async () => {
    secure = await startTestApp({ database: t.db, env: { NODE_ENV: 'development', PUBLIC_URL: 'https://api.safeclose.test' } });
  });
  afterAll(() => secure.close());

  it('sends Strict-Transport-Security when the public URL is HTTPS', async () => {
    expect((await fetch(`${secure.url}/healthz`)).headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });
});
