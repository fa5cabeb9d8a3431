import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

/**
 * The WebSocket caps: sockets per client address (refused before the handshake), sockets per session (closed at
 * connection_init), operations per socket (an error for that operation), and sockets that never send
 * connection_init (dropped). The app trusts 127.0.0.1 as a proxy, so each test speaks from addresses of its own.
 */

let t: TestApp;
let organizationId: string;
let locationId: string;
let managerToken: string;
let userId: string;
const sockets: WebSocket[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  t = await startTestApp({
    env: {
      TRUST_PROXY: '127.0.0.1',
      WS_MAX_CONNECTIONS_PER_ADDRESS: '3',
      WS_MAX_CONNECTIONS_PER_SESSION: '2',
      WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
      WS_CONNECTION_INIT_TIMEOUT_MS: '400',
    },
  });
  const { organization, location, role } = await createOrganization(t.db.prisma);
  organizationId = organization.id;
  locationId = location.id;
  const manager = await createUser(t.db.prisma, { roles: ['MANAGER'] });
  userId = manager.id;
  await addMember(t.db.prisma, { userId, organizationId, roleId: role.id });
  managerToken = (await signInAs(t.app.services, userId)).token;
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  for (const socket of sockets) socket.terminate();
  await t?.close();
});

type Upgrade = { socket: WebSocket } | { status: number; body: string };

/** Opens a raw graphql-transport-ws socket from `address` (sent as X-Forwarded-For); a refusal gives its status. */
function open(address: string, app: TestApp = t): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${app.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers: { 'x-forwarded-for': address } });
    sockets.push(socket);
    // Heard from the start: a socket the server closes while the test awaits something else is still reported.
    closeEvents.set(socket, new Promise((resolveClose) => socket.once('close', (code, reason) => resolveClose({ code, reason: reason.toString() }))));
    socket.once('open', () => resolve({ socket }));
    socket.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    socket.once('error', reject);
  });
}

async function opened(address: string, app: TestApp = t): Promise<WebSocket> {
  const upgrade = await open(address, app);
  if (!('socket' in upgrade)) throw new Error(`expected a socket, got ${upgrade.status} ${upgrade.body}`);
  return upgrade.socket;
}

const closeEvents = new WeakMap<WebSocket, Promise<{ code: number; reason: string }>>();

function closedEvent(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return closeEvents.get(socket) ?? Promise.reject(new Error('not a socket opened by this test'));
}

async function close(socket: WebSocket): Promise<void> {
  const closed = closedEvent(socket);
  socket.close(1000);
  await closed;
}

/** Sends connection_init and answers 'ack', or how the server closed the socket. */
function init(socket: WebSocket, token?: string): Promise<'ack' | { code: number; reason: string }> {
  return new Promise((resolve) => {
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve('ack');
    });
    void closedEvent(socket).then(resolve);
    socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }));
  });
}

/** A slot is given back when the server sees the socket close, a moment after the client does. */
async function eventually<T>(attempt: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const result = await attempt();
    if (result !== undefined) return result;
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function openWhenFree(address: string): Promise<WebSocket> {
  return eventually(async () => {
    const upgrade = await open(address);
    return 'socket' in upgrade ? upgrade.socket : undefined;
  });
}

describe('WebSocket connections per client address', () => {
  it('allows WS_MAX_CONNECTIONS_PER_ADDRESS sockets, refuses the next with 429 before the handshake, and frees a slot on close', async () => {
    const address = '203.0.113.10';
    const allowed = [await opened(address), await opened(address), await opened(address)];
    expect(allowed.every((socket) => socket.readyState === WebSocket.OPEN)).toBe(true);

    const refused = await open(address);
    expect(refused).toMatchObject({ status: 429 });
    expect(JSON.parse((refused as { body: string }).body)).toEqual({
      error: { code: 'RATE_LIMITED', reason: 'TOO_MANY_CONNECTIONS', message: 'Too many WebSocket connections from this address.' },
    });

    // Another client is not affected by this one's count.
    expect((await opened('203.0.113.11')).readyState).toBe(WebSocket.OPEN);

    await close(allowed[0]!);
    const again = await openWhenFree(address);
    expect(again.readyState).toBe(WebSocket.OPEN);
    expect(await open(address)).toMatchObject({ status: 429 });
  });

  it('counts the socket peer, not X-Forwarded-For, when the peer is not a trusted proxy', async () => {
    const direct = await startTestApp({ database: t.db, env: { WS_MAX_CONNECTIONS_PER_ADDRESS: '2' } });
    try {
      await opened('198.51.100.1', direct);
      await opened('198.51.100.2', direct);
      expect(await open('198.51.100.3', direct)).toMatchObject({ status: 429 });
    } finally {
      await direct.close();
    }
  });
});

describe('WebSocket connections per session', () => {
  let next = 20;
  const address = () => `203.0.113.${next++}`;

  it('acknowledges WS_MAX_CONNECTIONS_PER_SESSION sockets of one session, closes the next with 4429, and frees a slot on close', async () => {
    const first = await opened(address());
    const second = await opened(address());
    expect(await init(first, managerToken)).toBe('ack');
    expect(await init(second, managerToken)).toBe('ack');

    const third = await opened(address());
    expect(await init(third, managerToken)).toEqual({ code: 4429, reason: 'Too many connections for this session' });

    // Another session of the same account, and anonymous sockets, have counts of their own.
    const otherSession = (await signInAs(t.app.services, userId)).token;
    expect(await init(await opened(address()), otherSession)).toBe('ack');
    expect(await init(await opened(address()))).toBe('ack');

    await close(first);
    const replacement = await eventually(async () => {
      const socket = await opened(address());
      return (await init(socket, managerToken)) === 'ack' ? socket : undefined;
    });
    expect(replacement.readyState).toBe(WebSocket.OPEN);
    expect(await init(await opened(address()), managerToken)).toMatchObject({ code: 4429 });
  });
});

describe('operations per WebSocket connection', () => {
  const FEED = 'subscription($org: ID!) { activity(organizationId: $org) { type } }';

  it('runs WS_MAX_SUBSCRIPTIONS_PER_CONNECTION subscriptions, answers the next with RATE_LIMITED, keeps the others running, and frees a slot on complete', async () => {
    // A session of its own: the test above filled the first one.
    const token = (await signInAs(t.app.services, userId)).token;
    let closed: unknown;
    const client = createClient({
      url: `${t.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: class extends WebSocket {
        constructor(url: string, protocols: string | string[]) {
          super(url, protocols, { headers: { 'x-forwarded-for': '203.0.113.40' } });
        }
      },
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: { closed: (event) => (closed = event) },
    });
    clients.push(client);
    const feeds = [0, 1].map(() => {
      const events: unknown[] = [];
      const stop = client.subscribe({ query: FEED, variables: { org: organizationId } }, { next: (value) => events.push(value), error: () => {}, complete: () => {} });
      return { events, stop };
    });
    const refused = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: FEED, variables: { org: organizationId } }, { next: () => {}, error: resolve, complete: () => resolve('completed') });
    });
    expect(refused).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/Too many operations on this connection: at most 2/), extensions: expect.objectContaining({ code: 'RATE_LIMITED', reason: 'TOO_MANY_SUBSCRIPTIONS' }) }),
    ]);

    // No acknowledgement tells when a subscription is live: register documents until both feeds hear one.
    let serial = 0;
    await eventually(async () => {
      if (feeds.every((feed) => feed.events.length > 0)) return true;
      const registered = await t.graphql(
        'mutation($input: RegisterChattelInput!) { registerChattel(input: $input) { id } }',
        { input: { organizationId, locationId, manufacturer: 'Champion', serialNumber: `WS-LIMIT-${++serial}`, ownerName: 'Owner', addressLine1: '1 Main', city: 'Athens', state: 'GA', postalCode: '30601' } },
        { token: managerToken },
      );
      expect(registered.body.errors).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 200));
      return undefined;
    }, 10_000);
    expect(feeds[0]!.events[0]).toEqual({ data: { activity: { type: 'document.registered' } } });

    feeds[0]!.stop();
    const result = await new Promise<unknown>((resolve) => {
      let value: unknown;
      client.subscribe({ query: '{ __typename }' }, { next: (v) => (value = v), error: resolve, complete: () => resolve(value) });
    });
    expect(result).toEqual({ data: { __typename: 'Query' } });
    expect(closed).toBeUndefined();
    feeds[1]!.stop();
  });
});

describe('sockets that never send connection_init', () => {
  it('are closed with 4408 after WS_CONNECTION_INIT_TIMEOUT_MS and give their address slots back; initialised ones stay', async () => {
    const address = '203.0.113.50';
    const idle = [await opened(address), await opened(address)];
    const initialised = await opened(address);
    expect(await init(initialised)).toBe('ack');
    expect(await open(address)).toMatchObject({ status: 429 });

    for (const socket of idle) expect(await closedEvent(socket)).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(initialised.readyState).toBe(WebSocket.OPEN);
    expect((await openWhenFree(address)).readyState).toBe(WebSocket.OPEN);
  });
});
