import { pbkdf2 } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, passwordHashingLoad, withPasswordWork } from '../src/lib/password.ts';
import { MeDocument, SignInDocument } from './generated/graphql.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth, RUNNER_PASSWORD } from './support/apps.ts';
import { createUser, signInAs } from './support/factories.ts';

// One hash at a time and two callers waiting: three sign-ins may be in progress, a fourth is refused.
const CONCURRENCY = 1;
const QUEUE = 2;
const CAPACITY = CONCURRENCY + QUEUE;
const PASSWORD = 'burst password 1';

let t: TestApp;
let storedHash: string;
let readerToken: string;
let readerId: string;

beforeAll(async () => {
  t = await startTestApp({
    // Two attempts per account and address: a refusal for overload that counted as an attempt would show at once.
    env: { PASSWORD_HASH_CONCURRENCY: String(CONCURRENCY), PASSWORD_HASH_QUEUE: String(QUEUE), SIGN_IN_FAILURES_PER_ACCOUNT: '2' },
  });
  storedHash = await hashPassword(PASSWORD);
  const reader = await createUser(t.db.prisma);
  readerId = reader.id;
  readerToken = (await signInAs(t.app.services, reader.id)).token;
});
afterAll(async () => {
  await t?.close();
});

/** Accounts that all have PASSWORD (one hash, shared: the setup should not spend the queue it tests). */
async function accounts(count: number): Promise<string[]> {
  const emails: string[] = [];
  for (let i = 0; i < count; i++) {
    const user = await createUser(t.db.prisma);
    await t.db.prisma.user.update({ where: { id: user.id }, data: { passwordHash: storedHash } });
    emails.push(user.email);
  }
  return emails;
}

const signIn = (email: string, password = PASSWORD) => t.graphql(SignInDocument, { input: { email, password } });
const readMe = () => t.graphql(MeDocument, {}, { token: readerToken });

/** Takes every place in the hashing queue until `release` is called, as a burst of slow sign-ins would. */
function fillHashingQueue() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const holders = Array.from({ length: CAPACITY }, () => withPasswordWork(() => released));
  return {
    async release() {
      release();
      await Promise.all(holders);
    },
  };
}

function expectOverloaded(response: Awaited<ReturnType<typeof signIn>>) {
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('1');
  expect(response.body.errors?.[0]?.extensions?.code).toBe('OVERLOADED');
  expect(response.body.data?.signIn ?? null).toBeNull();
}

describe('password hashing under a sign-in burst', () => {
  it('lets every sign-in through while the burst stays within the limits', async () => {
    const emails = await accounts(CAPACITY);
    const responses = await Promise.all(emails.map((email) => signIn(email)));
    expect(responses.map((r) => r.status)).toEqual(emails.map(() => 200));
    for (const response of responses) expect(response.body.data?.signIn?.accessToken).toBeTruthy();
    expect(passwordHashingLoad()).toEqual({ admitted: 0, running: 0, waiting: 0 });
  });

  it('refuses sign-ins beyond the limits with 503 and Retry-After, serves the admitted ones, and keeps serving authenticated reads', async () => {
    const emails = await accounts(3 * CAPACITY);
    // The burst lands while earlier sign-ins are still hashing (one caller with a dozen hashes to do), as it would
    // in the middle of a longer one: otherwise whether the queue ever fills depends on how fast this machine parses
    // requests compared with how fast it hashes.
    const earlier = withPasswordWork((passwords) => Promise.all(Array.from({ length: 12 }, (_, i) => passwords.hash(`earlier sign-in ${i}`))));
    let signInsInFlight = emails.length;
    const burst = Promise.all(
      emails.map((email) =>
        signIn(email).finally(() => {
          signInsInFlight--;
        }),
      ),
    );
    // A client reading one request after another for as long as the burst lasts.
    const reads: Array<Awaited<ReturnType<typeof readMe>>> = [];
    let readsDuringBurst = 0;
    while (signInsInFlight > 0) {
      reads.push(await readMe());
      if (signInsInFlight > 0) readsDuringBurst++;
    }
    const responses = await burst;
    await earlier;

    const statuses = responses.map((r) => r.status);
    expect(statuses.every((status) => status === 200 || status === 503), statuses.join()).toBe(true);
    const admitted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(admitted.length).toBeGreaterThan(0);
    for (const response of refused) expectOverloaded(response);
    for (const response of admitted) {
      const token = response.body.data?.signIn?.accessToken;
      expect(token).toBeTruthy();
      expect((await t.graphql(MeDocument, {}, { token })).status).toBe(200);
    }

    expect(readsDuringBurst).toBeGreaterThan(0);
    for (const read of reads) {
      expect(read.status).toBe(200);
      expect(read.body.data?.me.id).toBe(readerId);
    }
    expect(passwordHashingLoad()).toEqual({ admitted: 0, running: 0, waiting: 0 });
  });

  it('gives a known email, a wrong password and an unknown email the identical 503, and counts none of them as an attempt', async () => {
    const [email] = await accounts(1);
    const queue = fillHashingQueue();
    let answers;
    try {
      answers = [await signIn(email!), await signIn(email!, 'wrong password'), await signIn(`nobody-${Date.now()}@example.test`)];
      answers.push(await signIn(email!), await signIn(email!));
    } finally {
      await queue.release();
    }
    for (const answer of answers) expectOverloaded(answer);
    const bodies = new Set(answers.map((answer) => JSON.stringify(answer.body)));
    expect(bodies.size).toBe(1);
    expect(new Set(answers.map((answer) => answer.headers.get('retry-after'))).size).toBe(1);

    // Five refusals, and the account's limit is two attempts: the right password still signs in once hashing has room.
    const after = await signIn(email!);
    expect(after.status).toBe(200);
    expect(after.body.data?.signIn?.accessToken).toBeTruthy();
  });

  it('answers app sign-in with a password 503 with Retry-After while hashing is saturated, and signs in once it is not', async () => {
    const org = await appOrganization(t);
    const registration = await org.createRegistration(['127.0.0.1']);
    const signAppIn = () => post(`${t.url}/v1/Auth/SignAppin`, { authorization: psAuth(registration.key, org.runner.email, RUNNER_PASSWORD) });
    const queue = fillHashingQueue();
    let refused;
    try {
      refused = await signAppIn();
    } finally {
      await queue.release();
    }
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({ error: { code: 'OVERLOADED' } });
    expect((await signAppIn()).status).toBe(200);
  });

  it('serves authenticated reads while every thread of libuv’s pool is busy', async () => {
    // Work as long as many password hashes, on every pool thread: token verification must not wait for it.
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const order: string[] = [];
    const poolWork = Array.from(
      { length: poolSize },
      () => new Promise<void>((resolve, reject) => pbkdf2('pool', 'salt', 1_000_000, 32, 'sha256', (error) => (error ? reject(error) : (order.push('pool'), resolve())))),
    );
    const reads = await Promise.all([readMe(), readMe(), readMe()]);
    order.push('reads');
    await Promise.all(poolWork);
    expect(reads.map((read) => [read.status, read.body.data?.me.id])).toEqual(reads.map(() => [200, readerId]));
    expect(order[0]).toBe('reads');
  });
});
