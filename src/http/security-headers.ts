import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import helmet from 'helmet';
import type { Config } from '../config.ts';

/**
 * The API serves JSON and a few small pages of its own, never anything meant to be framed, cached or to load
 * resources: the policy allows nothing. A page with needs of its own (the magic-link confirmation page) sends its
 * own, stricter-where-it-matters policy, which replaces this one.
 */
const API_CSP = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/** What every page's policy ends with: no framing, no <base>, no form posts anywhere. */
const PAGE_CSP_TAIL = "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The API reference at /v1/docs (Swagger UI): its scripts, style sheets and icon are files from this server, and it
 * fetches only /v1/openapi.json (and, for "Try it out", the API itself). `data:` images are the icons inlined in
 * Swagger UI's style sheet. No inline script or style, no other origin.
 */
export const DOCS_CSP = `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; ${PAGE_CSP_TAIL}`;

/**
 * GraphiQL (development only), from the `@graphql-yoga/render-graphiql` package: the page carries everything inline,
 * so its one script is allowed by hash (`scriptHash`, base64 SHA-256) and nothing else may run. Its editor (Monaco)
 * adds <style> elements as it goes, so styles must be allowed inline; its workers start from `blob:` URLs the page
 * makes of its own code; its fonts and icons are `data:` URLs. It talks to /graphql on this origin only (HTTP and
 * WebSocket). No directive names another origin.
 */
export function graphiqlCsp(scriptHash: string): string {
  return [
    "default-src 'none'",
    `script-src 'sha256-${scriptHash}'`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    'font-src data:',
    'worker-src blob:',
    "connect-src 'self'",
    PAGE_CSP_TAIL,
  ].join('; ');
}

/** One year, as browsers' preload lists expect; only sent where the API is (or is meant to be) served over HTTPS. */
const HSTS_MAX_AGE_SECONDS = 365 * 86_400;

/** Whether HSTS applies: in production, or wherever the public URL is HTTPS. */
export function usesHsts(config: Pick<Config, 'env' | 'publicUrl'>): boolean {
  return config.env === 'production' || config.publicUrl.startsWith('https:');
}

/** Collects what a Node middleware sets on a response, so helmet's header set can be computed once. */
function recordHeaders(middleware: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name];
    },
  };
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (error) => {
    if (error) throw error;
  });
  return headers;
}

export interface SecurityHeaders {
  /** Every header below, by name: helmet's set for this deployment plus `Cache-Control: no-store`. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Sets them on a response before its handler runs. A handler that writes a header of the same name in `writeHead`
   * (a page's own CSP, the JWKS document's `Cache-Control`) replaces it.
   */
  apply(res: ServerResponse): void;
  /**
   * For /graphql: yoga's own headers are written after `apply`, so this plugin makes sure its answers keep
   * `Cache-Control: no-store` (event streams included) and vary by `Origin` (the CORS answer depends on it). The
   * GraphiQL page's policy is set by GraphiQL's own plugin (src/graphql/graphiql.ts), which knows its script's hash.
   */
  yogaPlugin(): Plugin;
  /**
   * WebSocket upgrade refusals (wrong path, bad handshake, a refused client) are written straight to the socket as
   * raw HTTP, past every response object: this adds the same headers to each of them.
   */
  guardUpgradeRefusals(server: Server): void;
}

export function createSecurityHeaders(config: Pick<Config, 'env' | 'publicUrl'>): SecurityHeaders {
  const headers: Record<string, string> = {
    ...recordHeaders(
      helmet({
        contentSecurityPolicy: { useDefaults: false, directives: API_CSP },
        strictTransportSecurity: usesHsts(config) ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true } : false,
        xFrameOptions: { action: 'deny' },
        referrerPolicy: { policy: 'no-referrer' },
      }),
    ),
    // Answers carry sessions, tokens, keys and account data; nothing here is meant for a shared or browser cache.
    'Cache-Control': 'no-store',
  };
  /** The header lines a raw HTTP answer lacks: names it already has are left to it. */
  const missingHeaderLines = (head: string) => {
    const present = new Set(head.split('\r\n').map((line) => line.slice(0, line.indexOf(':')).trim().toLowerCase()));
    return Object.entries(headers)
      .filter(([name]) => !present.has(name.toLowerCase()))
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
  };

  return {
    headers,
    apply(res) {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    },
    yogaPlugin() {
      return {
        onResponse({ response }) {
          response.headers.set('Cache-Control', 'no-store');
          const vary = response.headers.get('Vary');
          if (!vary) response.headers.set('Vary', 'Origin');
          else if (!vary.split(',').some((entry) => entry.trim().toLowerCase() === 'origin')) response.headers.set('Vary', `${vary}, Origin`);
        },
      };
    },
    guardUpgradeRefusals(server) {
      server.prependListener('upgrade', (_req: IncomingMessage, socket: Duplex) => {
        // Only the first write can be a refusal's status line; after it, the socket is left as it was.
        const { write, end } = socket;
        const restore = () => {
          socket.write = write;
          socket.end = end;
        };
        const withHeaders = (chunk: unknown): unknown => {
          restore();
          const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('latin1') : undefined;
          const statusLine = text === undefined ? null : /^HTTP\/1\.[01] [2-5]\d\d[^\r\n]*\r\n/.exec(text);
          if (!text || !statusLine) return chunk;
          const rest = text.slice(statusLine[0].length);
          const patched = `${statusLine[0]}${missingHeaderLines(rest.split('\r\n\r\n')[0] ?? '')}${rest}`;
          return typeof chunk === 'string' ? patched : Buffer.from(patched, 'latin1');
        };
        socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
          return (write as (...args: unknown[]) => boolean).call(this, withHeaders(chunk), ...rest);
        } as Duplex['write'];
        socket.end = function (this: Duplex, chunk?: unknown, ...rest: unknown[]) {
          return (end as (...args: unknown[]) => Duplex).call(this, typeof chunk === 'function' || chunk === undefined ? chunk : withHeaders(chunk), ...rest);
        } as Duplex['end'];
      });
    },
  };
}
