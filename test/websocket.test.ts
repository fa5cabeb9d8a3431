import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './support/app.ts';
import { createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

let t: TestApp;
let token: string;
let documentId: string;
const clients: Client[] = [];

beforeAll(async () => {
  t = await startTestApp({ env: { GRAPHQL_MAX_DEPTH: '2' } });
  const { organization } = await createOrganization(t.db.prisma);
  documentId = (await createDocument(t.db.prisma, { organizationId: organization.id, serialNumber: 'WS-SERIAL-1' })).id;
  const admin = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  token = (await signInAs(t.app.services, admin.id)).token;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

function connect(connectionParams: Record<string, unknown> = {}): Client {
  const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
  clients.push(client);
  return client;
}

function run(client: Client, query: string, variables: Record<string, unknown> = {}) {
  return new Promise<{ data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>((resolve, reject) => {
    let result: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } = {};
    client.subscribe(
      { query, variables },
      {
        next: (value) => (result = value as typeof result),
        error: (error) => (Array.isArray(error) ? resolve({ errors: error as never }) : reject(error)),
        complete: () => resolve(result),
      },
    );
  });
}

describe('GraphQL over WebSocket (graphql-ws)', () => {
  it('runs an operation with the Bearer token from connection_init, through the same context as HTTP', async () => {
    const result = await run(connect({ authorization: `Bearer ${token}` }), 'query($id: ID!) { document(id: $id) { serialNumber } }', { id: documentId });
    expect(result).toEqual({ data: { document: { serialNumber: 'WS-SERIAL-1' } } });
  });

  it('answers UNAUTHENTICATED without credentials', async () => {
    const result = await run(connect(), 'query($id: ID!) { document(id: $id) { serialNumber } }', { id: documentId });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(result)).not.toContain('WS-SERIAL-1');
  });

  it('applies the same abuse limits as HTTP', async () => {
    const result = await run(connect({ authorization: `Bearer ${token}` }), 'query($id: ID!) { document(id: $id) { organization { name } loan { id } location { id } } }', { id: documentId });
    expect(result.errors?.[0]?.message).toMatch(/depth/i);
  });
});
