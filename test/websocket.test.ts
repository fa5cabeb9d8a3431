import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

let t: TestApp;
let token: string;
let documentId: string;
let organizationId: string;
let locationId: string;
let managerToken: string;
const clients: Client[] = [];

beforeAll(async () => {
  t = await startTestApp({ env: { GRAPHQL_MAX_DEPTH: '2', GRAPHQL_MAX_TOKENS: '100' } });
  const { organization, location, role } = await createOrganization(t.db.prisma);
  organizationId = organization.id;
  locationId = location.id;
  documentId = (await createDocument(t.db.prisma, { organizationId: organization.id, serialNumber: 'WS-SERIAL-1' })).id;
  const admin = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  token = (await signInAs(t.app.services, admin.id)).token;
  const manager = await createUser(t.db.prisma, { roles: ['MANAGER'] });
  await addMember(t.db.prisma, { userId: manager.id, organizationId, roleId: role.id });
  managerToken = (await signInAs(t.app.services, manager.id)).token;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

function connect(connectionParams: Record<string, unknown> = {}, onClosed?: (event: { code: number; reason: string }) => void): Client {
  const client = createClient({
    url: `${t.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
    on: { closed: (event) => onClosed?.(event as { code: number; reason: string }) },
  });
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

async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a subscribe message the server cannot run', () => {
  const FEED = 'subscription($org: ID!) { activity(organizationId: $org) { type } }';
  const overTokenLimit = `{ ${'__typename '.repeat(120)}}`;

  it('is answered with an error for its own id, leaving the socket and its other subscriptions running', async () => {
    let closed: { code: number; reason: string } | undefined;
    const client = connect({ authorization: `Bearer ${managerToken}` }, (event) => (closed = event));
    const events: unknown[] = [];
    const errors: unknown[] = [];
    const stop = client.subscribe({ query: FEED, variables: { org: organizationId } }, { next: (value) => events.push(value), error: (error) => errors.push(error), complete: () => {} });
    const syntax = await run(client, 'subscription { activity(organizationId: ');
    expect(syntax.errors?.[0]?.message).toMatch(/^Syntax Error/);
    const tooLong = await run(client, overTokenLimit);
    expect(tooLong.errors?.[0]?.message).toMatch(/token limit/i);
    // The same operation within the limit still runs, on the same socket.
    expect(await run(client, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });

    // No acknowledgement tells when a subscription is live: register documents until the feed hears one.
    for (let serial = 1; events.length === 0; serial++) {
      const registered = await t.graphql(
        'mutation($input: RegisterChattelInput!) { registerChattel(input: $input) { id } }',
        { input: { organizationId, locationId, manufacturer: 'Champion', serialNumber: `WS-AFTER-ERRORS-${serial}`, ownerName: 'Owner', addressLine1: '1 Main', city: 'Athens', state: 'GA', postalCode: '30601' } },
        { token: managerToken },
      );
      expect(registered.body.errors).toBeUndefined();
      await until(() => events.length > 0, 300).catch(() => expect(serial).toBeLessThan(30));
    }
    expect(events[0]).toEqual({ data: { activity: { type: 'document.registered' } } });
    expect(errors).toEqual([]);
    expect(closed).toBeUndefined();
    stop();
  });
});
