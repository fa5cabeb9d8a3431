import { Validator } from '@seriousme/openapi-schema-validator';
import { validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { compileResourceRoutes } from '../src/rest/resources.ts';
import { openApiPath } from '../src/rest/openapi.ts';
import { restRoutes } from '../src/transports/rest.ts';
import { startTestApp, type TestApp } from './support/app.ts';

// The OpenAPI document served at /v1/openapi.json and the route table the server answers from agree: every route
// documented, nothing documented that the server does not answer, and the document valid OpenAPI 3.1.
let t: TestApp;
let document: { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
const documented = () => Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => METHODS.includes(m)).map((method) => `${method.toUpperCase()} ${path}`));

beforeAll(async () => {
  t = await startTestApp();
  const response = await fetch(`${t.url}/v1/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('application/json');
  document = (await response.json()) as typeof document;
});
afterAll(async () => {
  await t?.close();
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 by a real validator (which does refuse a broken copy)', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const broken = structuredClone(document) as Record<string, unknown>;
    (broken.paths as Record<string, unknown>)['/v1/documents'] = { get: { responses: 'none' } };
    expect((await new Validator().validate(broken as never)).valid).toBe(false);
  });

  it('documents every route of the table, and nothing else', () => {
    const resources = compileResourceRoutes(schema, { run: () => Promise.reject(new Error('not run')), validate: (d) => validate(schema, d) });
    const table = restRoutes(schema, resources, 'http://safeclose.test').map((route) => `${route.method} ${openApiPath(route.path)}`);
    expect(new Set(table).size).toBe(table.length);
    expect(documented().sort()).toEqual([...table].sort());
  });

  it('names every operation once', () => {
    const ids = Object.values(document.paths).flatMap((item) => Object.values(item).map((operation) => operation.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[a-z][A-Za-z0-9]+$/.test(id))).toBe(true);
  });

  it('describes only what the server answers: each documented route is routed (never "No such endpoint" or 405)', async () => {
    for (const route of documented()) {
      const [method, path] = route.split(' ') as [string, string];
      const url = `${t.url}${path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000')}`;
      const response = await fetch(url, { method, redirect: 'manual', ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }) });
      const text = await response.text();
      expect.soft(response.status, route).not.toBe(405);
      expect.soft(text, route).not.toContain('No such endpoint.');
    }
    // ...and the check can fail: an undocumented path is not routed.
    const unknown = await fetch(`${t.url}/v1/no-such-resource`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('No such endpoint.');
  });

  it('gives every /v1 resource route problem-details errors and the documents routes their ETag and Link headers', () => {
    const get = document.paths['/v1/documents/{id}']!.get!;
    expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(['200', '304', '401', '403', '404']));
    expect(JSON.stringify(get.responses['404'])).toContain('application/problem+json');
    expect(JSON.stringify(get.responses['200'])).toContain('ETag');
    expect(JSON.stringify(document.paths['/v1/documents']!.get!.responses['200'])).toContain('Link');
    const patch = document.paths['/v1/documents/{id}']!.patch!;
    expect(Object.keys(patch.responses)).toEqual(expect.arrayContaining(['412', '428', '422']));
  });
});
