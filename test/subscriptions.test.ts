import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RegisterChattelDocument, UpdateDocumentDocument } from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, linkManagerIdentity, signInAs } from './support/factories.ts';

let t: TestApp;
let organizationId: string;
let locationId: string;
const tokens: Record<string, string> = {};
const userIds: Record<string, string> = {};
const clients: Client[] = [];

beforeAll(async () => {
  t = await startTestApp({ env: { WS_SESSION_CHECK_MS: '150' } });
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Live Lending' });
  organizationId = org.organization.id;
  locationId = org.location.id;
  const other = await createOrganization(db, { name: 'Elsewhere' });
  for (const name of ['writer', 'watcher', 'leaver', 'outsider', 'revoked']) {
    const user = await createUser(db, { roles: ['MANAGER'] });
    userIds[name] = user.id;
    const organization = name === 'outsider' ? other : org;
    await addMember(db, { userId: user.id, organizationId: organization.organization.id, roleId: organization.role.id });
    tokens[name] = (await signInAs(t.app.services, user.id)).token;
  }
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

function connect(url: string, token?: string, onClose?: (event: { code: number; reason: string }) => void): Client {
  const client = createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    on: { closed: (event) => onClose?.(event as { code: number; reason: string }) },
  });
  clients.push(client);
  return client;
}

/** Subscribes and collects every event (and the first error) until disposed. */
function collect<T>(client: Client, query: string, variables: Record<string, unknown>, server: TestApp = t) {
  const events: T[] = [];
  const errors: unknown[] = [];
  const listening = () => server.app.services.events.listeners();
  const before = listening();
  const stop = client.subscribe<T>(
    { query, variables },
    { next: (value) => (value.data ? events.push(value.data as T) : errors.push(value.errors)), error: (error) => errors.push(error), complete: () => {} },
  );
  // graphql-ws has no "subscribed" acknowledgement: ready once the server's event bus has one more listener (the
  // Redis bus cannot count, so there it is a fixed wait).
  const ready = until(() => listening() > before, 2000).catch(() => undefined);
  return { events, errors, stop, ready };
}

async function until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const register = (token: string, serialNumber: string) =>
  t.graphql(
    RegisterChattelDocument,
    { input: { organizationId, locationId, manufacturer: 'Champion', serialNumber, ownerName: 'Live Owner', addressLine1: '1 Main', city: 'Athens', state: 'GA', postalCode: '30601' } },
    { token },
  );

const FEED = 'subscription($org: ID!) { activity(organizationId: $org) { type organizationId documentId } }';

describe('live updates over graphql-ws', () => {
  it("delivers an organization's activity to its members once the change commits", async () => {
    const feed = collect<{ activity: { type: string; documentId: string } }>(connect(t.url, tokens.watcher), FEED, { org: organizationId });
    await feed.ready;
    const { body } = await register(tokens.writer!, 'LIVE-1');
    const documentId = body.data!.registerChattel.id;
    await until(() => feed.events.length > 0);
    expect(feed.events[0]).toEqual({ activity: { type: 'document.registered', organizationId, documentId } });
    feed.stop();
  });

  it("refuses another organization's feed", async () => {
    const feed = collect(connect(t.url, tokens.outsider), FEED, { org: organizationId });
    await until(() => feed.errors.length > 0);
    expect(JSON.stringify(feed.errors)).toMatch(/FORBIDDEN|permission/);
    expect(feed.events).toEqual([]);
  });

  it('stops delivering to a member the moment the membership is removed', async () => {
    const stays = collect<{ activity: { type: string } }>(connect(t.url, tokens.watcher), FEED, { org: organizationId });
    await stays.ready;
    const leaves = collect<{ activity: { type: string } }>(connect(t.url, tokens.leaver), FEED, { org: organizationId });
    await leaves.ready;
    await register(tokens.writer!, 'LIVE-2');
    await until(() => stays.events.length === 1 && leaves.events.length === 1);

    await t.db.prisma.membership.deleteMany({ where: { userId: userIds.leaver, organizationId } });
    await register(tokens.writer!, 'LIVE-3');
    await until(() => stays.events.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(leaves.events).toHaveLength(1);
    stays.stop();
    leaves.stop();
  });

  it('lets go of a subscriber as soon as it unsubscribes, without waiting for more activity', async () => {
    const listening = () => t.app.services.events.listeners();
    // The earlier tests' subscribers have all unsubscribed: from here on the bus hears nobody.
    await until(() => listening() === 0);
    const feed = collect(connect(t.url, tokens.watcher), FEED, { org: organizationId });
    await feed.ready;
    expect(listening()).toBe(1);
    feed.stop();
    await until(() => listening() === 0);
  });

  it('pushes documentUpdated with the fresh record', async () => {
    const { body } = await register(tokens.writer!, 'LIVE-4');
    const document = body.data!.registerChattel;
    const updates = collect<{ documentUpdated: { ownerName: string; version: number } }>(
      connect(t.url, tokens.watcher),
      'subscription($id: ID!) { documentUpdated(id: $id) { ownerName version } }',
      { id: document.id },
    );
    await updates.ready;
    await t.graphql(UpdateDocumentDocument, { input: { id: document.id, version: 1, ownerName: 'Renamed Owner' } }, { token: tokens.writer });
    await until(() => updates.events.length > 0);
    expect(updates.events[0]).toEqual({ documentUpdated: { ownerName: 'Renamed Owner', version: 2 } });
    updates.stop();
  });

  it('closes the connection with 4401 when its session is revoked, and refuses a bad token with 4403', async () => {
    let closed: { code: number; reason: string } | undefined;
    const feed = collect(connect(t.url, tokens.revoked, (event) => (closed = event)), FEED, { org: organizationId });
    await feed.ready;
    await t.db.prisma.loginSession.updateMany({ where: { userId: userIds.revoked }, data: { revokedAt: new Date() } });
    await until(() => closed !== undefined);
    expect(closed).toMatchObject({ code: 4401 });

    let refused: { code: number } | undefined;
    const bad = collect(connect(t.url, 'not.a.token', (event) => (refused = event)), FEED, { org: organizationId });
    await until(() => refused !== undefined);
    expect(refused!.code).toBe(4403);
    expect(bad.events).toEqual([]);
  });
});

describe('signing updates', () => {
  it('pushes the signer queue to the assigned signer only, and package changes to its manager', async () => {
    const db = t.db.prisma;
    const signingRole = await db.organizationRole.create({ data: { organizationId, name: 'Signing', permissions: ['documents', 'signing'] } });
    await db.membership.update({ where: { userId_organizationId: { userId: userIds.writer!, organizationId } }, data: { roleId: signingRole.id } });
    await linkManagerIdentity(db, { userId: userIds.writer!, organizationId });
    const signer = await createUser(db, { roles: ['SIGNER'], email: `queue-${Date.now()}@example.test` });
    const bystander = await createUser(db, { roles: ['SIGNER'] });
    for (const user of [signer, bystander]) {
      await db.signingIdentity.create({ data: { userId: user.id, kind: 'SIGNER', organizationId, email: user.email, linkedById: userIds.writer! } });
    }
    const signerToken = (await signInAs(t.app.services, signer.id)).token;
    const bystanderToken = (await signInAs(t.app.services, bystander.id)).token;
    const { body: registered } = await register(tokens.writer!, 'LIVE-SIGN');
    const documentId = registered.data!.registerChattel.id;

    const created = await t.graphql(
      'mutation($i: CreateSigningPackageInput!) { createSigningPackage(input: $i) { id } }',
      { i: { organizationId, locationId, title: 'Live package', documentIds: [documentId], signers: [{ name: 'Queue Signer', email: signer.email }] } },
      { token: tokens.writer },
    );
    const packageId = (created.body.data as { createSigningPackage: { id: string } }).createSigningPackage.id;

    const QUEUE = 'subscription { signerQueueUpdated { id status } }';
    const mine = collect<{ signerQueueUpdated: Array<{ id: string; status: string }> }>(connect(t.url, signerToken), QUEUE, {});
    await mine.ready;
    const notMine = collect<{ signerQueueUpdated: unknown[] }>(connect(t.url, bystanderToken), QUEUE, {});
    await notMine.ready;
    const watched = collect<{ signingPackageUpdated: { status: string } }>(connect(t.url, tokens.writer), 'subscription($id: ID!) { signingPackageUpdated(id: $id) { status } }', { id: packageId });
    await watched.ready;

    await t.graphql('mutation($id: ID!) { sendSigningPackage(id: $id) { status } }', { id: packageId }, { token: tokens.writer });
    await until(() => mine.events.length > 0);
    expect(mine.events[0]).toEqual({ signerQueueUpdated: [{ id: packageId, status: 'SENT' }] });

    await t.graphql('mutation($id: ID!) { signSigningPackage(packageId: $id) { status } }', { id: packageId }, { token: signerToken });
    await until(() => watched.events.some((e) => e.signingPackageUpdated.status === 'COMPLETED'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(notMine.events).toEqual([]);
    for (const feed of [mine, notMine, watched]) feed.stop();
  });
});

describe('expiring access tokens', () => {
  it('closes a subscription with 4401 once its access token expires', async () => {
    const clock = new ManualClock(new Date());
    const expiring = await startTestApp({ clock, database: t.db, env: { WS_SESSION_CHECK_MS: '100' } });
    try {
      const token = (await signInAs(expiring.app.services, userIds.watcher!)).token;
      let closed: { code: number; reason: string } | undefined;
      const feed = collect(connect(expiring.url, token, (event) => (closed = event)), FEED, { org: organizationId }, expiring);
      await feed.ready;
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(closed).toBeUndefined();
      clock.advance(601_000);
      await until(() => closed !== undefined);
      expect(closed).toMatchObject({ code: 4401, reason: 'Session expired' });
    } finally {
      await expiring.close();
    }
  });
});

describe('live updates over server-sent events', () => {
  it('streams the same feed to an SSE client', async () => {
    const controller = new AbortController();
    const before = t.app.services.events.listeners();
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${tokens.watcher}` },
      body: JSON.stringify({ query: FEED, variables: { org: organizationId } }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    await until(() => t.app.services.events.listeners() > before);
    await register(tokens.writer!, 'LIVE-SSE');
    let text = '';
    while (!text.includes('document.registered')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toContain('"type":"document.registered"');
  });
});

const redisCases = process.env.TEST_REDIS_URL ? [process.env.TEST_REDIS_URL] : [];
for (const redisUrl of redisCases) {
  describe('two instances on one Redis and one database', () => {
    it('delivers a mutation made on one instance to a subscriber on the other', async () => {
      const a = await startTestApp({ database: t.db, env: { REDIS_URL: redisUrl } });
      const b = await startTestApp({ database: t.db, env: { REDIS_URL: redisUrl } });
      try {
        const watcherOnB = (await signInAs(b.app.services, userIds.watcher!)).token;
        const writerOnA = (await signInAs(a.app.services, userIds.writer!)).token;
        const feed = collect<{ activity: { type: string; documentId: string } }>(connect(b.url, watcherOnB), FEED, { org: organizationId }, b);
        await feed.ready;
        const { body } = await a.graphql(
          RegisterChattelDocument,
          { input: { organizationId, locationId, manufacturer: 'Skyline', serialNumber: 'LIVE-REDIS', ownerName: 'Across', addressLine1: '2 Main', city: 'Athens', state: 'GA', postalCode: '30601' } },
          { token: writerOnA },
        );
        await until(() => feed.events.length > 0);
        expect(feed.events[0]).toEqual({ activity: { type: 'document.registered', organizationId, documentId: body.data!.registerChattel.id } });
        feed.stop();
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
