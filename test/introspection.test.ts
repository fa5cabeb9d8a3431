import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './support/app.ts';

const INTROSPECTION = '{ __schema { queryType { name } } }';

type Body = { data?: { __schema?: { queryType: { name: string } } } | null; errors?: Array<{ message: string }> };

const clients: Client[] = [];

function overWebSocket(url: string, query: string): Promise<Body> {
  const client = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  clients.push(client);
  return new Promise((resolve, reject) => {
    let result: Body = {};
    client.subscribe(
      { query },
      {
        next: (value) => (result = value as Body),
        error: (error) => (Array.isArray(error) ? resolve({ errors: error as never }) : reject(error)),
        complete: () => resolve(result),
      },
    );
  });
}

/** The same anonymous introspection query over each transport the API serves GraphQL on. */
const transports: Record<string, (url: string) => Promise<Body>> = {
  POST: async (url) => {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: INTROSPECTION }) });
    return (await response.json()) as Body;
  },
  GET: async (url) => {
    const response = await fetch(`${url}/graphql?query=${encodeURIComponent(INTROSPECTION)}`, { headers: { accept: 'application/json' } });
    return (await response.json()) as Body;
  },
  'server-sent events': async (url) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: INTROSPECTION }),
    });
    const data = (await response.text()).split('\n').find((line) => line.startsWith('data: {'));
    return JSON.parse(data!.slice('data: '.length)) as Body;
  },
  WebSocket: (url) => overWebSocket(url, INTROSPECTION),
};

let production: TestApp;
let development: TestApp;

beforeAll(async () => {
  production = await startTestApp({ env: { NODE_ENV: 'production' } });
  development = await startTestApp({ database: production.db });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await development?.close();
  await production?.close();
});

describe('introspection', () => {
  for (const [transport, send] of Object.entries(transports)) {
    it(`is refused in production over ${transport}`, async () => {
      const body = await send(production.url);
      expect(body.data?.__schema).toBeUndefined();
      expect(body.errors?.[0]?.message).toMatch(/introspection has been disabled/i);
    });

    it(`answers outside production over ${transport}`, async () => {
      const body = await send(development.url);
      expect(body.errors).toBeUndefined();
      expect(body.data?.__schema).toEqual({ queryType: { name: 'Query' } });
    });
  }

  it('still answers __typename in production, which is not introspection of the schema', async () => {
    const body = await overWebSocket(production.url, '{ __typename }');
    expect(body).toEqual({ data: { __typename: 'Query' } });
  });
});
