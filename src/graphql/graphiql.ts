import { createHash } from 'node:crypto';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import { graphiqlCsp } from '../http/security-headers.ts';

/**
 * GraphiQL served whole from the `@graphql-yoga/render-graphiql` package instead of yoga's default page, which loads
 * its scripts, styles and workers from a CDN (offline it shows only "Loading __TITLE__..."). The package ships
 * GraphiQL's script, style sheet, editor workers and icon as strings; the page inlines them, as the package's own
 * `renderGraphiQL` does, but with one difference: the options go in a JSON data block, so the one script is the same
 * on every render and the policy can allow it by its hash alone.
 */
export interface GraphiQL {
  /** yoga's `renderGraphiQL`: the page for the `graphiql` options. */
  render(options: GraphiQLOptions): Promise<string>;
  /** Gives the page its Content-Security-Policy (yoga answers it with a Content-Type only). */
  plugin: Plugin;
}

interface Assets {
  script: string;
  scriptHash: string;
  css: string;
  favicon: string;
}

const OPTIONS_ELEMENT_ID = 'graphiql-options';

/** A JSON value that cannot end the <script> data block it sits in, nor open a comment there. */
function jsonForDataBlock(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

async function loadAssets(): Promise<Assets> {
  // Imported on the first render only: the module holds some 9 MB of strings that production never needs.
  const { js, css, favicon, editorWorkerService, jsonWorker, graphqlWorker } = await import('@graphql-yoga/render-graphiql/graphiql');
  for (const [name, text, end] of [
    ['script', `${js}${editorWorkerService}${jsonWorker}${graphqlWorker}`, '</script'],
    ['style sheet', css, '</style'],
  ] as const) {
    if (text.toLowerCase().includes(end)) throw new Error(`GraphiQL's ${name} contains "${end}" and cannot be inlined`);
  }
  const script = `
const workerUrl = (source) => URL.createObjectURL(new Blob([source], { type: 'application/javascript' }));
const workers = {
  editorWorkerService: workerUrl(${JSON.stringify(editorWorkerService)}),
  json: workerUrl(${JSON.stringify(jsonWorker)}),
  graphql: workerUrl(${JSON.stringify(graphqlWorker)}),
};
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
${js};
YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), JSON.parse(document.getElementById('${OPTIONS_ELEMENT_ID}').textContent));
`;
  return { script, scriptHash: createHash('sha256').update(script, 'utf8').digest('base64'), css, favicon };
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function createGraphiQL(): GraphiQL {
  let assets: Promise<Assets> | undefined;
  const load = () =>
    (assets ??= loadAssets().catch((error: unknown) => {
      assets = undefined;
      throw error;
    }));

  return {
    async render(options) {
      const { script, css, favicon } = await load();
      return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title ?? 'GraphiQL')}</title>
<link rel="icon" href="${escapeHtml(options.favicon ?? favicon)}">
<style>${css}</style></head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
<script type="application/json" id="${OPTIONS_ELEMENT_ID}">${jsonForDataBlock(options)}</script>
<script>${script}</script>
</body>
</html>
`;
    },
    plugin: {
      async onResponse({ request, response }) {
        // Only the GraphiQL page is HTML here; it was rendered (and its assets loaded) before this runs.
        if (request.method !== 'GET' || !response.headers.get('Content-Type')?.startsWith('text/html')) return;
        response.headers.set('Content-Security-Policy', graphiqlCsp((await load()).scriptHash));
      },
    },
  };
}
