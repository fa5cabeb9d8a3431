import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DOCS_CSP } from '../http/security-headers.ts';
import { AppError } from '../lib/errors.ts';
import type { RouteDoc } from './openapi.ts';
import type { RestRoute } from './router.ts';

/**
 * The human-readable reference at `/v1/docs`: Swagger UI (the `swagger-ui-dist` package, pinned) rendering
 * `/v1/openapi.json`. Every file the page loads comes from this server, so it works without internet access and
 * under a policy that names no other origin: no CDN, no inline script, no validator badge fetched from elsewhere.
 */
const DOCS_PATH = '/v1/docs';
const ASSETS_PATH = `${DOCS_PATH}/assets`;

/** Assets change only with a deploy, and their URLs carry a hash of their content: a browser may keep them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Starts Swagger UI on the page's one element. A file rather than an inline script, so the policy allows scripts from
 * this origin only. `openapi.json` is relative to `/v1/docs`, so the page works behind a path prefix as well.
 */
const INIT_SCRIPT = `'use strict';
window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  layout: 'BaseLayout',
  presets: [SwaggerUIBundle.presets.apis],
  validatorUrl: null,
  defaultModelsExpandDepth: 0,
  displayRequestDuration: true,
});
`;

const PAGE_STYLE = `body { margin: 0; background: #fafafa; }
.swagger-ui .information-container { padding-top: 1rem; }
`;

interface Asset {
  contentType: string;
  /** The file in `swagger-ui-dist`, or the asset's own text. */
  source: { packageFile: string } | { text: string };
}

/** The only files served under `/v1/docs/assets/`: a request names one of these keys, never a path on disk. */
const ASSETS: Readonly<Record<string, Asset>> = {
  'swagger-ui-bundle.js': { contentType: 'text/javascript; charset=utf-8', source: { packageFile: 'swagger-ui-bundle.js' } },
  'swagger-ui.css': { contentType: 'text/css; charset=utf-8', source: { packageFile: 'swagger-ui.css' } },
  'favicon-32x32.png': { contentType: 'image/png', source: { packageFile: 'favicon-32x32.png' } },
  'docs.js': { contentType: 'text/javascript; charset=utf-8', source: { text: INIT_SCRIPT } },
  'docs.css': { contentType: 'text/css; charset=utf-8', source: { text: PAGE_STYLE } },
};

interface LoadedAsset {
  contentType: string;
  body: Buffer;
  /** A short hash of the body: the `v` of the asset's URL and its ETag. */
  version: string;
}

const swaggerUiDirectory = () => path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

async function loadAsset({ contentType, source }: Asset): Promise<LoadedAsset> {
  const body = 'text' in source ? Buffer.from(source.text, 'utf8') : await readFile(path.join(swaggerUiDirectory(), source.packageFile));
  return { contentType, body, version: createHash('sha256').update(body).digest('base64url').slice(0, 16) };
}

function renderPage(assets: ReadonlyMap<string, LoadedAsset>): string {
  const href = (name: string) => `docs/assets/${name}?v=${assets.get(name)!.version}`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Safeclose API reference</title>
<link rel="icon" type="image/png" href="${href('favicon-32x32.png')}">
<link rel="stylesheet" href="${href('swagger-ui.css')}">
<link rel="stylesheet" href="${href('docs.css')}"></head>
<body>
<noscript><p>The reference needs JavaScript. The same content is in the <a href="openapi.json">OpenAPI document</a>.</p></noscript>
<div id="reference"></div>
<script src="${href('swagger-ui-bundle.js')}"></script>
<script src="${href('docs.js')}"></script>
</body>
</html>
`;
}

/** The assets and the page, read from disk once, at the first request for either. */
function createDocsContent() {
  let loaded: Promise<{ assets: Map<string, LoadedAsset>; page: Buffer }> | undefined;
  return () =>
    (loaded ??= (async () => {
      const assets = new Map(await Promise.all(Object.entries(ASSETS).map(async ([name, asset]) => [name, await loadAsset(asset)] as const)));
      return { assets, page: Buffer.from(renderPage(assets), 'utf8') };
    })().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    }));
}

const PAGE_RESPONSE = { contentType: 'text/html', schema: { type: 'string' } };

const docsPageDoc: RouteDoc = {
  operationId: 'showApiReference',
  tag: 'Reference',
  summary: 'This reference, as a web page',
  description:
    'Swagger UI rendering `/v1/openapi.json`, served with its scripts and styles from this server (no third-party origin), under a Content-Security-Policy that allows this origin only.',
  security: [],
  responses: { 200: { description: 'The reference page (needs JavaScript).', ...PAGE_RESPONSE } },
};

const docsAssetDoc: RouteDoc = {
  operationId: 'getApiReferenceAsset',
  tag: 'Reference',
  summary: 'A script, style sheet or icon of the reference page',
  description: 'One of a fixed set of files the reference page loads. Cached for a year: the page links each with a hash of its content (`v`).',
  security: [],
  parameters: [
    { name: 'file', in: 'path', required: true, schema: { type: 'string', enum: Object.keys(ASSETS) } },
    { name: 'v', in: 'query', required: false, description: "The hash of the file's content, as the page links it.", schema: { type: 'string' } },
  ],
  responses: {
    200: { description: 'The file.', contentType: 'text/javascript', schema: { type: 'string' }, headers: { 'Cache-Control': '`public, max-age=31536000, immutable`.', ETag: 'The hash of the content.' } },
    404: { description: 'No such file (`NOT_FOUND`).', contentType: 'application/problem+json', schema: { $ref: '#/components/schemas/Problem' } },
  },
};

/** `GET /v1/docs` and `GET /v1/docs/assets/{file}`: public, in production too (they document a public API). */
export function docsRoutes(): RestRoute[] {
  const content = createDocsContent();
  return [
    {
      method: 'GET',
      path: DOCS_PATH,
      problemDetails: true,
      handler: async ({ res }) => {
        const { page } = await content();
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': page.length,
          'Content-Security-Policy': DOCS_CSP,
          // Short: the page names the current assets' hashes, so a deploy reaches browsers within minutes.
          'Cache-Control': 'public, max-age=300',
        });
        res.end(page);
      },
      doc: docsPageDoc,
    },
    {
      method: 'GET',
      path: `${ASSETS_PATH}/:file`,
      problemDetails: true,
      handler: async ({ res, params }) => {
        const asset = Object.hasOwn(ASSETS, params.file!) ? (await content()).assets.get(params.file!) : undefined;
        if (!asset) throw new AppError('NOT_FOUND', 'No such file of the API reference.', { status: 404 });
        res.writeHead(200, { 'Content-Type': asset.contentType, 'Content-Length': asset.body.length, 'Cache-Control': IMMUTABLE, ETag: `"${asset.version}"` });
        res.end(asset.body);
      },
      doc: docsAssetDoc,
    },
  ];
}
