import { randomUUID } from 'node:crypto';
import { getNamedType, isInputObjectType, isObjectType, type GraphQLInputType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_CARRYING_MUTATIONS, SECRET_RETURNING_MUTATIONS } from '../src/graphql/idempotency.ts';
import { schema } from '../src/graphql/schema.ts';
import { AppError } from '../src/lib/errors.ts';
import { createLogger } from '../src/lib/logger.ts';
import {
  ABANDONED_CLAIM_MS,
  graphqlFingerprint,
  IdempotencyStore,
  idempotencyScope,
  readIdempotencyKey,
  requestFingerprint,
  type StoredResponse,
} from '../src/rest/idempotency.ts';
import {
  CreateOrganizationDocument,
  CreateUserAuthenticationTokenDocument,
  MeDocument,
  RequestPasswordResetDocument,
  SignInDocument,
} from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { createUser, signInAs } from './support/factories.ts';

const clock = new ManualClock(new Date('2026-05-01T09:00:00Z'));
const logger = createLogger({ level: 'silent' });
let t: TestApp;
let store: IdempotencyStore;

beforeAll(async () => {
  t = await startTestApp({ clock });
  store = new IdempotencyStore({ db: t.db.prisma, clock, logger, ttlSeconds: 3600 });
});
afterAll(async () => {
  await t?.close();
});

const ok = (body: string, status = 201): StoredResponse => ({ status, headers: { 'content-type': 'application/json' }, body });

/** A store input with a key no other test uses. */
function input(overrides: { scope?: string; fingerprint?: string } = {}) {
  return { scope: overrides.scope ?? 'user:store-test', key: randomUUID(), fingerprint: overrides.fingerprint ?? requestFingerprint({ method: 'POST', path: '/v1/things', body: { a: 1 } }) };
}

/** What `promise` was rejected with, as an AppError (the test fails if it resolved or threw something else). */
async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('the key and its scope', () => {
  it('takes 1 to 255 printable ASCII characters and refuses anything else with 400 naming the header', () => {
    expect(readIdempotencyKey(undefined)).toBeUndefined();
    expect(readIdempotencyKey(null)).toBeUndefined();
    expect(readIdempotencyKey('a')).toBe('a');
    expect(readIdempotencyKey('order 42/retry:~!')).toBe('order 42/retry:~!');
    expect(readIdempotencyKey('k'.repeat(255))).toHaveLength(255);
    for (const bad of ['', 'k'.repeat(256), 'tab\there', 'line\nbreak', 'caf\u00e9', '\u007f']) {
      let error: unknown;
      try {
        readIdempotencyKey(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_IDEMPOTENCY_KEY', field: 'Idempotency-Key', status: 400 });
    }
  });

  it('is the account for a full session, narrowed for app and token sessions, and refused without a caller', () => {
    const full = { userId: 'u1', organizationScope: null, packageId: null, signerId: null };
    expect(idempotencyScope(full)).toBe('user:u1');
    expect(idempotencyScope({ ...full, organizationScope: 'o1' })).toBe('user:u1:organization:o1');
    expect(idempotencyScope({ ...full, packageId: 'p1', signerId: 's1' })).toBe('user:u1:package:p1:signer:s1');
    expect(idempotencyScope({ ...full, userId: 'u2' })).not.toBe(idempotencyScope(full));
    expect(() => idempotencyScope(null)).toThrow(expect.objectContaining({ reason: 'IDEMPOTENCY_NOT_SUPPORTED', status: 400 }) as Error);
  });

  it('fingerprints the same request alike whatever the key order, and any difference apart', () => {
    const a = requestFingerprint({ method: 'post', path: '/v1/documents', body: { b: [1, { d: 2, c: 3 }], a: 'x' } });
    expect(requestFingerprint({ method: 'POST', path: '/v1/documents', body: { a: 'x', b: [1, { c: 3, d: 2 }] } })).toBe(a);
    expect(requestFingerprint({ method: 'POST', path: '/v1/documents', body: { a: 'y', b: [1, { c: 3, d: 2 }] } })).not.toBe(a);
    expect(requestFingerprint({ method: 'PATCH', path: '/v1/documents', body: { a: 'x', b: [1, { c: 3, d: 2 }] } })).not.toBe(a);
    expect(requestFingerprint({ method: 'POST', path: '/v1/documents/1', body: { a: 'x', b: [1, { c: 3, d: 2 }] } })).not.toBe(a);
    const q = graphqlFingerprint({ query: 'mutation { a }', variables: { x: 1, y: 2 } });
    expect(graphqlFingerprint({ query: 'mutation { a }', variables: { y: 2, x: 1 } })).toBe(q);
    expect(graphqlFingerprint({ query: 'mutation { a }', variables: { x: 1, y: 3 } })).not.toBe(q);
    expect(graphqlFingerprint({ query: 'mutation { a }', variables: { x: 1, y: 2 }, operationName: 'A' })).not.toBe(q);
  });
});

describe('IdempotencyStore.run', () => {
  it('runs once and replays the stored answer to a retry with the same key and request', async () => {
    const request = input();
    let runs = 0;
    const produce = async () => ok(`{"run":${++runs}}`);
    const first = await store.run(request, produce);
    const second = await store.run(request, produce);
    expect(runs).toBe(1);
    expect(first).toEqual({ replayed: false, response: ok('{"run":1}') });
    expect(second).toEqual({ replayed: true, response: ok('{"run":1}') });
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with a different request, and runs nothing', async () => {
    const request = input();
    await store.run(request, async () => ok('first'));
    let ran = false;
    const error = await rejection(
      store.run({ ...request, fingerprint: requestFingerprint({ method: 'POST', path: '/v1/things', body: { a: 2 } }) }, async () => {
        ran = true;
        return ok('second');
      }),
    );
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_REUSED', status: 422, field: 'Idempotency-Key' });
    expect(ran).toBe(false);
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_USE while the first request runs, and replays once it has finished', async () => {
    const request = input();
    const running = gate();
    const first = store.run(request, async () => {
      await running.opened;
      return ok('done');
    });
    // The claim is in the database before produce runs; wait for it rather than for time.
    await expect.poll(() => t.db.prisma.idempotencyKey.count({ where: { key: request.key } })).toBe(1);
    const error = await rejection(store.run(request, async () => ok('again')));
    expect(error).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_IN_USE', status: 409 });
    running.open();
    expect(await first).toEqual({ replayed: false, response: ok('done') });
    expect(await store.run(request, async () => ok('again'))).toEqual({ replayed: true, response: ok('done') });
  });

  it('releases the key when the work throws or answers 5xx or 429, so a retry runs; a 4xx answer is kept', async () => {
    const thrown = input();
    await expect(store.run(thrown, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await store.run(thrown, async () => ok('retried'))).toEqual({ replayed: false, response: ok('retried') });

    for (const status of [500, 503, 429]) {
      const failed = input();
      expect(await store.run(failed, async () => ok('unavailable', status))).toEqual({ replayed: false, response: ok('unavailable', status) });
      expect(await t.db.prisma.idempotencyKey.count({ where: { key: failed.key } })).toBe(0);
      expect(await store.run(failed, async () => ok('retried'))).toEqual({ replayed: false, response: ok('retried') });
    }

    const refused = input();
    await store.run(refused, async () => ok('{"problem":"invalid"}', 400));
    expect(await store.run(refused, async () => ok('retried'))).toEqual({ replayed: true, response: ok('{"problem":"invalid"}', 400) });
  });

  it('keeps the response headers worth replaying but never a cookie', async () => {
    const request = input();
    await store.run(request, async () => ({ status: 201, headers: { Location: '/v1/things/1', 'Set-Cookie': 'sc_access=secret', ETag: '"1"' }, body: '{}' }));
    const replay = await store.run(request, async () => ok('unused'));
    expect(replay).toEqual({ replayed: true, response: { status: 201, headers: { location: '/v1/things/1', etag: '"1"' }, body: '{}' } });
  });

  it('keeps keys apart per caller: the same key in another scope runs on its own', async () => {
    const key = randomUUID();
    const fingerprint = requestFingerprint({ method: 'POST', path: '/v1/things', body: {} });
    const alice = await store.run({ scope: 'user:alice', key, fingerprint }, async () => ok('alice'));
    const bob = await store.run({ scope: 'user:bob', key, fingerprint }, async () => ok('bob'));
    expect(alice).toEqual({ replayed: false, response: ok('alice') });
    expect(bob).toEqual({ replayed: false, response: ok('bob') });
    // A different request under the same key is still refused in each scope.
    await expect(store.run({ scope: 'user:bob', key, fingerprint: 'other' }, async () => ok('x'))).rejects.toMatchObject({ status: 422 });
  });

  it('never replays an expired key, runs the request again, and purges expired keys', async () => {
    const request = input();
    await store.run(request, async () => ok('old'));
    clock.advance(3600_000 - 1);
    expect(await store.run(request, async () => ok('new'))).toEqual({ replayed: true, response: ok('old') });
    clock.advance(1);
    expect(await store.run(request, async () => ok('new'))).toEqual({ replayed: false, response: ok('new') });

    const stale = input();
    await store.run(stale, async () => ok('stale'));
    clock.advance(3600_000);
    const fresh = input();
    await store.run(fresh, async () => ok('fresh'));
    expect(await store.purgeExpired()).toBeGreaterThanOrEqual(2);
    expect(await t.db.prisma.idempotencyKey.count({ where: { key: { in: [stale.key, request.key] } } })).toBe(0);
    expect(await t.db.prisma.idempotencyKey.count({ where: { key: fresh.key } })).toBe(1);
  });

  it('takes over a claim abandoned mid-run (its process died) only after ABANDONED_CLAIM_MS', async () => {
    const request = input();
    const now = clock.now();
    await t.db.prisma.idempotencyKey.create({
      data: { ...request, createdAt: now, expiresAt: new Date(now.getTime() + 3600_000) },
    });
    clock.advance(ABANDONED_CLAIM_MS - 1);
    await expect(store.run(request, async () => ok('second'))).rejects.toMatchObject({ reason: 'IDEMPOTENCY_KEY_IN_USE' });
    clock.advance(1);
    expect(await store.run(request, async () => ok('second'))).toEqual({ replayed: false, response: ok('second') });
  });

  it('runs the work exactly once for concurrent retries', async () => {
    const request = input();
    let runs = 0;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        store.run(request, async () => {
          runs += 1;
          await new Promise((resolve) => setTimeout(resolve, 20));
          return ok('once');
        }),
      ),
    );
    expect(runs).toBe(1);
    const fulfilled = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as AppError] : []));
    expect(fulfilled.filter((r) => !r.replayed)).toHaveLength(1);
    for (const r of fulfilled) expect(r.response).toEqual(ok('once'));
    for (const e of rejected) expect(e).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_IN_USE' });
  });
});

type GraphQLBody = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

describe('GraphQL mutations over HTTP', () => {
  async function person() {
    const user = await createUser(t.db.prisma);
    return { id: user.id, token: (await signInAs(t.app.services, user.id)).token };
  }
  const organizationsNamed = (name: string) => t.db.prisma.organization.count({ where: { name } });
  const withKey = (token: string, key: string) => ({ token, headers: { 'idempotency-key': key } });

  it('runs a mutation once for two requests with the same key; the retry gets the first answer, marked replayed', async () => {
    const owner = await person();
    const name = `Once ${randomUUID()}`;
    const first = await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(owner.token, 'create-1'));
    const second = await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(owner.token, 'create-1'));
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(await organizationsNamed(name)).toBe(1);

    // Without a key the same two requests are two organizations: the key is what made the retry safe.
    const control = `Twice ${randomUUID()}`;
    await t.graphql(CreateOrganizationDocument, { input: { name: control } }, { token: owner.token });
    await t.graphql(CreateOrganizationDocument, { input: { name: control } }, { token: owner.token });
    expect(await organizationsNamed(control)).toBe(2);
  });

  it('replays a refused mutation exactly, errors and status included', async () => {
    const owner = await person();
    const first = await t.graphql(CreateOrganizationDocument, { input: { name: '' } }, withKey(owner.token, 'bad-name'));
    const second = await t.graphql(CreateOrganizationDocument, { input: { name: '' } }, withKey(owner.token, 'bad-name'));
    expect((first.body as GraphQLBody).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((first.body as { errors?: Array<{ locations?: unknown; path?: unknown }> }).errors?.[0]).toMatchObject({ locations: [expect.any(Object)], path: ['createOrganization'] });
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.status).toBe(first.status);
    expect(second.body).toEqual(first.body);
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED when the key comes back with other variables, and creates nothing', async () => {
    const owner = await person();
    const name = `Reused ${randomUUID()}`;
    await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(owner.token, 'reused'));
    const other = await t.graphql(CreateOrganizationDocument, { input: { name: `${name} too` } }, withKey(owner.token, 'reused'));
    expect(other.status).toBe(422);
    expect(other.body.data ?? null).toBeNull();
    expect((other.body as GraphQLBody).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' });
    expect(await organizationsNamed(`${name} too`)).toBe(0);
  });

  it('creates one record for 20 concurrent identical requests: one answer runs, the rest replay it or get 409', async () => {
    const owner = await person();
    const name = `Concurrent ${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(owner.token, 'burst'))));
    expect(await organizationsNamed(name)).toBe(1);
    const original = answers.filter((a) => a.status === 200 && a.headers.get('idempotent-replayed') === null);
    expect(original).toHaveLength(1);
    for (const answer of answers) {
      if (answer.status === 200) {
        expect(answer.body).toEqual(original[0]!.body);
      } else {
        expect(answer.status).toBe(409);
        expect((answer.body as GraphQLBody).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_IN_USE' });
        expect(answer.headers.get('retry-after')).toBe('1');
      }
    }
  });

  it('keeps callers apart: another user with the same key runs their own mutation', async () => {
    const alice = await person();
    const bob = await person();
    const name = `Shared key ${randomUUID()}`;
    const forAlice = await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(alice.token, 'same-key'));
    const forBob = await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(bob.token, 'same-key'));
    expect(forBob.headers.get('idempotent-replayed')).toBeNull();
    expect(await organizationsNamed(name)).toBe(2);
    const owners = (answer: typeof forAlice) => (answer.body.data as { createOrganization: { members: Array<{ user: { id: string } }> } }).createOrganization.members[0]!.user.id;
    expect(owners(forAlice)).toBe(alice.id);
    expect(owners(forBob)).toBe(bob.id);
  });

  it('refuses a key on a mutation whose answer carries secrets, before anything is issued or stored', async () => {
    const user = await person();
    const tokensBefore = await t.db.prisma.authToken.count({ where: { userId: user.id } });
    const refused = await t.graphql(CreateUserAuthenticationTokenDocument, {}, withKey(user.token, 'token-1'));
    expect(refused.status).toBe(400);
    expect((refused.body as GraphQLBody).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_NOT_SUPPORTED' });
    expect(await t.db.prisma.authToken.count({ where: { userId: user.id } })).toBe(tokensBefore);
    expect(await t.db.prisma.idempotencyKey.count({ where: { key: 'token-1' } })).toBe(0);
    // Without the key the same request issues a token.
    const issued = await t.graphql(CreateUserAuthenticationTokenDocument, {}, { token: user.token });
    expect(issued.status).toBe(200);
    expect(await t.db.prisma.authToken.count({ where: { userId: user.id } })).toBe(tokensBefore + 1);

    const signIn = await t.graphql(SignInDocument, { input: { email: 'nobody@example.test', password: 'irrelevant-password' } }, { headers: { 'idempotency-key': 'sign-in' } });
    expect(signIn.status).toBe(400);
    expect((signIn.body as GraphQLBody).errors?.[0]?.extensions?.reason).toBe('IDEMPOTENCY_NOT_SUPPORTED');
  });

  it('refuses a key from a caller who is not signed in, and ignores one on a query', async () => {
    const anonymous = await t.graphql(RequestPasswordResetDocument, { email: 'someone@example.test' }, { headers: { 'idempotency-key': 'anon' } });
    expect(anonymous.status).toBe(400);
    expect((anonymous.body as GraphQLBody).errors?.[0]?.extensions).toMatchObject({ reason: 'IDEMPOTENCY_NOT_SUPPORTED', field: 'Idempotency-Key' });
    const withoutKey = await t.graphql(RequestPasswordResetDocument, { email: 'someone@example.test' });
    expect(withoutKey.status).toBe(200);

    const user = await person();
    const query = await t.graphql(MeDocument, {}, withKey(user.token, 'query-key'));
    expect(query.status).toBe(200);
    expect(query.headers.get('idempotent-replayed')).toBeNull();
    expect(await t.db.prisma.idempotencyKey.count({ where: { key: 'query-key' } })).toBe(0);
  });

  it('refuses a malformed key with 400 before running the mutation', async () => {
    const owner = await person();
    const name = `Malformed ${randomUUID()}`;
    const answer = await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(owner.token, 'k'.repeat(256)));
    expect(answer.status).toBe(400);
    expect((answer.body as GraphQLBody).errors?.[0]?.extensions).toMatchObject({ reason: 'INVALID_IDEMPOTENCY_KEY', field: 'Idempotency-Key' });
    expect(await organizationsNamed(name)).toBe(0);
  });

  it('runs the mutation again once its key has expired (IDEMPOTENCY_KEY_TTL_SECONDS, a day by default)', async () => {
    const user = await createUser(t.db.prisma);
    const name = `Expiring ${randomUUID()}`;
    const before = await signInAs(t.app.services, user.id);
    await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(before.token, 'daily'));
    clock.advance(t.config.idempotency.keyTtlSeconds * 1000 - 1);
    const lastMoment = await signInAs(t.app.services, user.id);
    const replay = await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(lastMoment.token, 'daily'));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await organizationsNamed(name)).toBe(1);
    clock.advance(1);
    const after = await signInAs(t.app.services, user.id);
    const again = await t.graphql(CreateOrganizationDocument, { input: { name } }, withKey(after.token, 'daily'));
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(await organizationsNamed(name)).toBe(2);
  });

  it('lists exactly the mutations whose answer carries a secret', () => {
    const secretFields = new Set(['accessToken', 'refreshToken', 'deviceToken', 'value', 'key', 'apiKey', 'clientSecret']);
    const fields = schema.getMutationType()!.getFields();
    const returningSecrets = Object.values(fields)
      .filter((field) => {
        const type = getNamedType(field.type);
        return isObjectType(type) && Object.keys(type.getFields()).some((name) => secretFields.has(name));
      })
      .map((field) => field.name)
      .sort();
    expect(returningSecrets).toEqual([...SECRET_RETURNING_MUTATIONS].sort());
  });

  it('lists exactly the mutations that take a password (besides those answering secrets), and refuses a key on them', async () => {
    const fields = schema.getMutationType()!.getFields();
    const takesPassword = (type: GraphQLInputType): boolean => {
      const named = getNamedType(type);
      return isInputObjectType(named) && Object.values(named.getFields()).some((f) => /password/i.test(f.name) || takesPassword(f.type));
    };
    const carrying = Object.values(fields)
      .filter((field) => !SECRET_RETURNING_MUTATIONS.has(field.name) && field.args.some((a) => /password/i.test(a.name) || takesPassword(a.type)))
      .map((field) => field.name)
      .sort();
    expect(carrying).toEqual([...PASSWORD_CARRYING_MUTATIONS].sort());

    const user = await createUser(t.db.prisma, { email: `pw-${Date.now()}@idempotency.test` });
    const { token } = await signInAs(t.app.services, user.id);
    const refused = await t.graphql('mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }', { c: 'Current-Passw0rd!', n: 'Another-Passw0rd!' }, withKey(token, 'pw'));
    expect(refused.status).toBe(400);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ reason: 'IDEMPOTENCY_NOT_SUPPORTED', field: 'Idempotency-Key' });
    expect(await t.db.prisma.idempotencyKey.count({ where: { key: 'pw' } })).toBe(0);
  });
});
