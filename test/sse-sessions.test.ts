import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevokeSessionDocument, SignOutDocument, UpdateDocumentDocument, VoidSigningPackageDocument } from './generated/graphql.ts';
import { SessionGuard, type StreamEnd } from '../src/realtime/session-guard.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, linkManagerIdentity, signInAs } from './support/factories.ts';

/** One server-sent event: `next` carries a GraphQL result, `complete` ends the operation. */
interface SseEvent {
  event: string;
  data: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } | null;
}

interface SseStream {
  events: SseEvent[];
  /** True once the server closed the response. */
  ended: boolean;
  results(): Array<Record<string, unknown>>;
  abort(): void;
}

const CHECK_MS = 100;
const DOCUMENT_UPDATED = 'subscription($id: ID!) { documentUpdated(id: $id) { ownerName version } }';
const PACKAGE_UPDATED = 'subscription($id: ID!) { signingPackageUpdated(id: $id) { id status } }';

let t: TestApp;
let organizationId: string;
let documentId: string;
let version = 1;
let writerToken: string;
const userIds: Record<string, string> = {};
const streams: SseStream[] = [];

/** Subscribes over HTTP as a browser's EventSource or an SSE client would, collecting events as they come. */
async function openStream(app: TestApp, token: string, query: string, variables: Record<string, unknown>): Promise<SseStream> {
  const controller = new AbortController();
  const listening = app.app.services.events.listeners();
  const response = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const stream: SseStream = {
    events: [],
    ended: false,
    results: () => stream.events.filter((e) => e.event === 'next' && e.data?.data).map((e) => e.data!.data!),
    abort: () => controller.abort(),
  };
  streams.push(stream);
  void (async () => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map(block.split('\n').filter((line) => line && !line.startsWith(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]));
          if (fields.has('event')) stream.events.push({ event: fields.get('event')!, data: fields.get('data') ? (JSON.parse(fields.get('data')!) as SseEvent['data']) : null });
        }
      }
    } catch {
      // Aborted by the test.
    }
    stream.ended = true;
  })();
  // The subscription registers with the event bus on the stream's first pull, a moment after the response starts.
  await until(() => app.app.services.events.listeners() > listening);
  return stream;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await settle(20);
  }
}

async function updateDocument(app: TestApp, token: string, ownerName: string): Promise<void> {
  const { body } = await app.graphql(UpdateDocumentDocument, { input: { id: documentId, version, ownerName } }, { token });
  expect(body.errors).toBeUndefined();
  version = body.data!.updateDocument.version;
}

/** The stream ended the way a closed session ends it: one UNAUTHENTICATED result with `reason`, then `complete`. */
function expectEndedBySession(stream: SseStream, reason: string): void {
  expect(stream.ended).toBe(true);
  const [last, complete] = stream.events.slice(-2);
  expect(last).toMatchObject({ event: 'next', data: { errors: [{ extensions: { code: 'UNAUTHENTICATED', reason } }] } });
  expect(last!.data!.data).toBeUndefined();
  expect(complete?.event).toBe('complete');
}

async function member(name: string): Promise<string> {
  const user = await createUser(t.db.prisma, { roles: ['MANAGER'] });
  userIds[name] = user.id;
  const role = await t.db.prisma.organizationRole.findFirstOrThrow({ where: { organizationId } });
  await addMember(t.db.prisma, { userId: user.id, organizationId, roleId: role.id });
  return user.id;
}

beforeAll(async () => {
  t = await startTestApp({ env: { WS_SESSION_CHECK_MS: String(CHECK_MS) } });
  const org = await createOrganization(t.db.prisma, { name: 'Streaming Lending', permissions: ['documents', 'signing'] });
  organizationId = org.organization.id;
  documentId = (await createDocument(t.db.prisma, { organizationId })).id;
  writerToken = (await signInAs(t.app.services, await member('writer'))).token;
  await linkManagerIdentity(t.db.prisma, { userId: userIds.writer!, organizationId });
  for (const name of ['leaver', 'stayer', 'revoked', 'disabled']) await member(name);
});
afterAll(async () => {
  for (const stream of streams) stream.abort();
  await t?.close();
});

describe('subscriptions over server-sent events end with their session', () => {
  it('ends the stream of a signed-out session, while another session keeps receiving', async () => {
    const leaverToken = (await signInAs(t.app.services, userIds.leaver!)).token;
    const stayerToken = (await signInAs(t.app.services, userIds.stayer!)).token;
    const leaving = await openStream(t, leaverToken, DOCUMENT_UPDATED, { id: documentId });
    const staying = await openStream(t, stayerToken, DOCUMENT_UPDATED, { id: documentId });

    await updateDocument(t, writerToken, 'Before sign-out');
    await until(() => leaving.results().length === 1 && staying.results().length === 1);
    // Several session checks pass while both sessions stand: neither stream is ended.
    await settle(CHECK_MS * 4);
    expect(leaving.ended).toBe(false);

    const signedOut = await t.graphql(SignOutDocument, {}, { token: leaverToken });
    expect(signedOut.body.data?.signOut).toBe(true);
    await until(() => leaving.ended);
    expectEndedBySession(leaving, 'SESSION_ENDED');

    await updateDocument(t, writerToken, 'After sign-out');
    await until(() => staying.results().length === 2);
    expect(staying.results()[1]).toEqual({ documentUpdated: { ownerName: 'After sign-out', version } });
    expect(staying.ended).toBe(false);
    expect(leaving.results()).toHaveLength(1);
  });

  it('ends the stream when the session is revoked from another session, or the account is disabled', async () => {
    const [watched, other] = [await signInAs(t.app.services, userIds.revoked!), await signInAs(t.app.services, userIds.revoked!)];
    const disabledToken = (await signInAs(t.app.services, userIds.disabled!)).token;
    const revokedStream = await openStream(t, watched.token, DOCUMENT_UPDATED, { id: documentId });
    const disabledStream = await openStream(t, disabledToken, DOCUMENT_UPDATED, { id: documentId });
    await settle(CHECK_MS * 3);
    expect([revokedStream.ended, disabledStream.ended]).toEqual([false, false]);

    const revoked = await t.graphql(RevokeSessionDocument, { id: watched.session.id }, { token: other.token });
    expect(revoked.body.errors).toBeUndefined();
    await until(() => revokedStream.ended);
    expectEndedBySession(revokedStream, 'SESSION_ENDED');
    expect(disabledStream.ended).toBe(false);

    await t.db.prisma.user.update({ where: { id: userIds.disabled }, data: { disabledAt: new Date() } });
    await until(() => disabledStream.ended);
    expectEndedBySession(disabledStream, 'SESSION_ENDED');
  });

  it('ends the stream once its access token expires, not before', async () => {
    const clock = new ManualClock(new Date());
    const expiring = await startTestApp({ clock, database: t.db, env: { WS_SESSION_CHECK_MS: String(CHECK_MS) } });
    try {
      const token = (await signInAs(expiring.app.services, userIds.stayer!)).token;
      const writer = (await signInAs(expiring.app.services, userIds.writer!)).token;
      const stream = await openStream(expiring, token, DOCUMENT_UPDATED, { id: documentId });

      clock.advance(599_000);
      await settle(CHECK_MS * 4);
      expect(stream.ended).toBe(false);
      await updateDocument(expiring, writer, 'Before expiry');
      await until(() => stream.results().length === 1);

      clock.advance(1_000);
      await until(() => stream.ended);
      expectEndedBySession(stream, 'TOKEN_EXPIRED');
    } finally {
      await expiring.close();
    }
  });

  it("ends a sender session's stream when its package is voided; the manager's stream goes on", async () => {
    const managerToken = writerToken;
    const pkg = await t.db.prisma.signingPackage.create({
      data: { organizationId, title: 'Streamed package', status: 'SENT', sentAt: new Date(), createdById: userIds.writer!, signers: { create: [{ order: 1, email: 'streamed@signer.test', name: 'Streamed Signer' }] } },
    });
    const issued = await fetch(`${t.url}/api/cs-authenticationTokens/sender`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${managerToken}` },
      body: JSON.stringify({ packageId: pkg.id }),
    });
    expect(issued.status).toBe(200);
    const exchanged = await fetch(`${t.url}/api/cs-authenticationTokens/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: ((await issued.json()) as { value: string }).value }),
    });
    const senderToken = ((await exchanged.json()) as { accessToken: string }).accessToken;

    const senderStream = await openStream(t, senderToken, PACKAGE_UPDATED, { id: pkg.id });
    const managerStream = await openStream(t, managerToken, PACKAGE_UPDATED, { id: pkg.id });
    await settle(CHECK_MS * 3);
    expect(senderStream.ended).toBe(false);

    const voided = await t.graphql(VoidSigningPackageDocument, { id: pkg.id, reason: 'Superseded' }, { token: managerToken });
    expect(voided.body.errors).toBeUndefined();
    await until(() => senderStream.ended && managerStream.results().length === 1);
    expectEndedBySession(senderStream, 'SESSION_ENDED');
    expect(managerStream.results()[0]).toEqual({ signingPackageUpdated: { id: pkg.id, status: 'VOIDED' } });
    await settle(CHECK_MS * 3);
    expect(managerStream.ended).toBe(false);
  });
});

describe('the session guard', () => {
  it('leaves a stream watched while a check is running to the next check, which ends it only if its session ended', async () => {
    const guard = new SessionGuard({ db: t.db.prisma, clock: { now: () => new Date() }, intervalMs: 3_600_000, onError: (error) => { throw error; } });
    try {
      const standing = await signInAs(t.app.services, userIds.stayer!);
      const ending = await signInAs(t.app.services, userIds.stayer!);
      const endings: Record<string, StreamEnd[]> = { early: [], late: [], closed: [] };
      const watch = (name: string, session: { session: { id: string } }) =>
        guard.watchStream({ end: (why) => endings[name]!.push(why) }, { sessionId: session.session.id, expiresAt: new Date(Date.now() + 60_000) });
      watch('early', standing);
      // The check reads the sessions of the streams watched when it starts; these two come while it runs.
      const running = guard.check();
      watch('late', standing);
      watch('closed', ending);
      await t.db.prisma.loginSession.update({ where: { id: ending.session.id }, data: { revokedAt: new Date() } });
      await running;
      expect(endings).toEqual({ early: [], late: [], closed: [] });
      // The next check sees them: the revoked session's stream ends, the standing ones go on.
      await guard.check();
      expect(endings).toEqual({ early: [], late: [], closed: ['ended'] });
    } finally {
      guard.stop();
    }
  });
});
