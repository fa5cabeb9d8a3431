import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/logger.ts';
import {
  createRateLimiter,
  DatabaseRateLimiter,
  RedisRateLimiter,
  storageKey,
  type RateLimiter,
  type RateLimitRule,
} from '../src/lib/rate-limit.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { LogCapture } from './support/app.ts';

// The database backend always runs; the Redis backend only when TEST_REDIS_URL names a server. Tests are
// registered for the backends present, so none is ever skipped.
const redisUrl = process.env.TEST_REDIS_URL || undefined;

// A multiple of every window length used below, so the first hit of a test opens a whole window.
const WINDOW_START = new Date('2026-03-02T09:00:00.000Z');
const clock = new ManualClock(WINDOW_START);
const rule: RateLimitRule = { limit: 3, windowSeconds: 60 };
const WINDOW_MS = rule.windowSeconds * 1000;

let keys = 0;
const freshKey = (name: string) => `test:${name}:${++keys}`;

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.destroy();
});

/** A test Redis connection whose keys all start with a prefix unique to this run; `cleanup` deletes them. */
function openTestRedis(url: string): { redis: Redis; prefix: string; cleanup(): Promise<void> } {
  const prefix = `test:ratelimit:${randomBytes(6).toString('hex')}:`;
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  return {
    redis,
    prefix,
    async cleanup() {
      for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 500 })) {
        const found = batch as string[];
        if (found.length) await redis.del(...found);
      }
    },
  };
}

interface Backend {
  name: string;
  open(): Promise<{ limiter: RateLimiter; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'database',
    async open() {
      return { limiter: new DatabaseRateLimiter({ db: database.prisma, clock }), close: async () => {} };
    },
  },
];
if (redisUrl) {
  backends.push({
    name: 'Redis',
    async open() {
      const { redis, prefix, cleanup } = openTestRedis(redisUrl);
      const limiter = new RedisRateLimiter({ redis, clock, prefix });
      return {
        limiter,
        async close() {
          await cleanup();
          await limiter.close();
        },
      };
    },
  });
}

for (const backend of backends) {
  describe(`${backend.name} rate limiter`, () => {
    let limiter: RateLimiter;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ limiter, close } = await backend.open());
    });
    afterAll(async () => {
      await close?.();
    });

    it('allows hits up to the limit, then denies them until the end of the window', async () => {
      clock.set(WINDOW_START);
      const key = freshKey('limit');
      for (let count = 1; count <= rule.limit; count++) {
        expect(await limiter.hit(key, rule)).toMatchObject({ allowed: true, count, remaining: rule.limit - count, retryAfterSeconds: 0 });
      }
      clock.advance(15_500);
      expect(await limiter.hit(key, rule)).toMatchObject({ allowed: false, count: 4, remaining: 0, retryAfterSeconds: 45 });
      // Rounded up: a client told to wait 0 seconds would retry at once and be denied again.
      clock.set(new Date(WINDOW_START.getTime() + WINDOW_MS - 1));
      expect(await limiter.hit(key, rule)).toMatchObject({ allowed: false, count: 5, remaining: 0, retryAfterSeconds: 1 });
    });

    it('starts a new count exactly at the window boundary', async () => {
      clock.set(WINDOW_START);
      const key = freshKey('rollover');
      for (let i = 0; i < 4; i++) await limiter.hit(key, rule);
      clock.advance(WINDOW_MS - 1);
      expect((await limiter.hit(key, rule)).count).toBe(5);
      clock.advance(1);
      expect(await limiter.peek(key, rule)).toMatchObject({ allowed: true, count: 0, remaining: 3, retryAfterSeconds: 0 });
      expect(await limiter.hit(key, rule)).toMatchObject({ allowed: true, count: 1, remaining: 2, retryAfterSeconds: 0 });
    });

    it('peeks without counting, and answers for the next hit', async () => {
      clock.set(WINDOW_START);
      const key = freshKey('peek');
      expect(await limiter.peek(key, rule)).toMatchObject({ allowed: true, count: 0, remaining: 3, retryAfterSeconds: 0 });
      await limiter.hit(key, rule);
      await limiter.hit(key, rule);
      expect(await limiter.peek(key, rule)).toMatchObject({ allowed: true, count: 2, remaining: 1, retryAfterSeconds: 0 });
      expect(await limiter.peek(key, rule)).toMatchObject({ allowed: true, count: 2, remaining: 1, retryAfterSeconds: 0 });
      expect((await limiter.hit(key, rule)).allowed).toBe(true);
      clock.advance(20_000);
      // At the limit the next hit would be denied, so a peek already says no.
      expect(await limiter.peek(key, rule)).toMatchObject({ allowed: false, count: 3, remaining: 0, retryAfterSeconds: 40 });
      expect((await limiter.hit(key, rule)).count).toBe(4);
    });

    it('tells the limit and when the window ends, on hits and peeks alike', async () => {
      clock.set(new Date(WINDOW_START.getTime() + 10_000));
      const key = freshKey('reset-at');
      const windowEnd = new Date(WINDOW_START.getTime() + WINDOW_MS);
      expect(await limiter.peek(key, rule)).toEqual({ allowed: true, count: 0, limit: 3, remaining: 3, resetAt: windowEnd, retryAfterSeconds: 0 });
      expect(await limiter.hit(key, rule)).toEqual({ allowed: true, count: 1, limit: 3, remaining: 2, resetAt: windowEnd, retryAfterSeconds: 0 });
      for (let i = 0; i < 3; i++) await limiter.hit(key, rule);
      expect(await limiter.peek(key, rule)).toEqual({ allowed: false, count: 4, limit: 3, remaining: 0, resetAt: windowEnd, retryAfterSeconds: 50 });
    });

    it('takes back one hit in the window it was counted in, never below zero and never in a later window', async () => {
      clock.set(WINDOW_START);
      const key = freshKey('undo');
      const counted = [];
      for (let i = 0; i < 4; i++) counted.push(await limiter.hit(key, rule));
      expect(counted[3]!.allowed).toBe(false);
      // Back at the limit: the next hit would be refused, so the state says so.
      expect(await limiter.undo(key, rule, counted[3]!)).toMatchObject({ allowed: false, count: 3, remaining: 0 });
      expect(await limiter.undo(key, rule, counted[2]!)).toMatchObject({ allowed: true, count: 2, remaining: 1 });
      expect((await limiter.hit(key, rule)).count).toBe(3);
      for (let i = 0; i < 5; i++) await limiter.undo(key, rule, counted[0]!);
      expect((await limiter.peek(key, rule)).count).toBe(0);
      // A hit from an ended window is forgotten with it: the new window's count is left alone.
      await limiter.hit(key, rule);
      clock.advance(WINDOW_MS);
      const fresh = await limiter.hit(key, rule);
      expect(fresh.count).toBe(1);
      expect(await limiter.undo(key, rule, counted[0]!)).toMatchObject({ count: 1 });
      expect(await limiter.undo(key, rule, fresh)).toMatchObject({ count: 0, remaining: 3 });
      // Nothing counted at all: nothing to take back.
      expect(await limiter.undo(freshKey('undo-none'), rule, fresh)).toMatchObject({ count: 0, remaining: 3 });
    });

    it('resets a key to no hits', async () => {
      clock.set(WINDOW_START);
      const key = freshKey('reset');
      for (let i = 0; i < 4; i++) await limiter.hit(key, rule);
      await limiter.reset(key);
      expect((await limiter.peek(key, rule)).count).toBe(0);
      expect(await limiter.hit(key, rule)).toMatchObject({ allowed: true, count: 1, remaining: 2, retryAfterSeconds: 0 });
      await expect(limiter.reset(freshKey('never-hit'))).resolves.toBeUndefined();
    });

    it('counts separate keys independently', async () => {
      clock.set(WINDOW_START);
      const [a, b] = [freshKey('a'), freshKey('b')];
      for (let i = 0; i < 4; i++) await limiter.hit(a, rule);
      expect(await limiter.hit(b, rule)).toMatchObject({ allowed: true, count: 1, remaining: 2, retryAfterSeconds: 0 });
      await limiter.reset(b);
      expect((await limiter.peek(a, rule)).count).toBe(4);
    });

    it('gives 50 concurrent hits on one key the counts 1 to 50, each exactly once', async () => {
      clock.set(WINDOW_START);
      const key = freshKey('concurrent');
      const burst: RateLimitRule = { limit: 10, windowSeconds: 60 };
      const results = await Promise.all(Array.from({ length: 50 }, () => limiter.hit(key, burst)));
      expect(results.map((r) => r.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      expect((await limiter.peek(key, burst)).count).toBe(50);
    });

    it('counts long keys, keeping keys that differ only after 200 characters apart', async () => {
      clock.set(WINDOW_START);
      const stem = `${freshKey('long')}:${'x'.repeat(300)}`;
      const [first, second] = [`${stem}:first`, `${stem}:second`];
      for (let count = 1; count <= 4; count++) expect((await limiter.hit(first, rule)).count).toBe(count);
      expect((await limiter.hit(second, rule)).count).toBe(1);
      expect((await limiter.peek(first, rule)).count).toBe(4);
      await limiter.reset(first);
      expect((await limiter.peek(first, rule)).count).toBe(0);
      expect((await limiter.peek(second, rule)).count).toBe(1);
    });
  });
}

describe('storage keys', () => {
  it('keeps keys of up to 200 bytes and stores longer ones as a fixed-length hash', () => {
    const short = `signin:account:${'a'.repeat(185)}`;
    expect(short).toHaveLength(200);
    expect(storageKey(short)).toBe(short);
    expect(storageKey(`${short}b`)).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Bytes count, not characters: 100 three-byte characters are 300 bytes.
    expect(storageKey('€'.repeat(100))).toMatch(/^sha256:/);
    expect(storageKey('x'.repeat(10_000))).toBe(storageKey('x'.repeat(10_000)));
  });
});

describe('database rate limiter storage', () => {
  it('stores a long key as its hash, never the key itself', async () => {
    clock.set(WINDOW_START);
    const limiter = new DatabaseRateLimiter({ db: database.prisma, clock });
    const key = `${freshKey('stored')}:${'y'.repeat(5_000)}`;
    await limiter.hit(key, rule);
    const row = await database.prisma.rateLimitCounter.findUnique({ where: { key: storageKey(key) } });
    expect(row).toMatchObject({ count: 1, windowEnd: new Date(WINDOW_START.getTime() + WINDOW_MS) });
    expect(await database.prisma.rateLimitCounter.count({ where: { key: { startsWith: 'test:stored' } } })).toBe(0);
  });

  it('purges counters whose window has ended, and only those', async () => {
    clock.set(WINDOW_START);
    const limiter = new DatabaseRateLimiter({ db: database.prisma, clock });
    const [ended, live] = [freshKey('ended'), freshKey('live')];
    await limiter.hit(ended, { limit: 3, windowSeconds: 60 });
    await limiter.hit(live, { limit: 3, windowSeconds: 3_600 });
    clock.advance(WINDOW_MS);
    expect(await limiter.purgeExpired()).toBeGreaterThanOrEqual(1);
    const left = await database.prisma.rateLimitCounter.findMany({ where: { key: { in: [ended, live] } }, select: { key: true } });
    expect(left.map((row) => row.key)).toEqual([live]);
  });
});

describe('createRateLimiter', () => {
  it('uses the database when no Redis URL is configured', async () => {
    const limiter = createRateLimiter({ redisUrl: undefined, db: database.prisma, clock });
    expect(limiter).toBeInstanceOf(DatabaseRateLimiter);
    await limiter.close();
  });

  it('survives an unreachable Redis: hits reject, the outage is logged once, the process keeps running', async () => {
    const port = await unusedPort();
    const logs = new LogCapture();
    const limiter = createRateLimiter({ redisUrl: `redis://127.0.0.1:${port}`, db: database.prisma, clock, logger: createLogger({ level: 'info', destination: logs }) });
    expect(limiter).toBeInstanceOf(RedisRateLimiter);
    await expect(limiter.hit(freshKey('outage'), rule)).rejects.toThrow();
    await limiter.close();
    const outages = logs.entries().filter((entry) => entry.msg === 'rate limiter lost its Redis connection');
    expect(outages).toHaveLength(1);
  });

  if (redisUrl) {
    it('uses Redis when a Redis URL is configured', async () => {
      const limiter = createRateLimiter({ redisUrl, db: database.prisma, clock });
      expect(limiter).toBeInstanceOf(RedisRateLimiter);
      const key = `test:ratelimit:create:${randomBytes(6).toString('hex')}`;
      expect((await limiter.hit(key, rule)).count).toBe(1);
      await limiter.reset(key);
      await limiter.close();
    });
  }
});

if (redisUrl) {
  describe('Redis rate limiter storage', () => {
    let test: ReturnType<typeof openTestRedis>;
    let limiter: RedisRateLimiter;
    beforeAll(() => {
      test = openTestRedis(redisUrl);
      limiter = new RedisRateLimiter({ redis: test.redis, clock, prefix: test.prefix });
    });
    afterAll(async () => {
      await test.cleanup();
      await limiter.close();
    });

    it('lets Redis expire a counter shortly after its window, and keeps only the current window', async () => {
      clock.set(WINDOW_START);
      const key = freshKey('expiry');
      const redisKey = `${test.prefix}${key}`;
      await limiter.hit(key, rule);
      const ttl = await test.redis.pttl(redisKey);
      expect(ttl).toBeGreaterThan(WINDOW_MS - 1_000);
      expect(ttl).toBeLessThanOrEqual(WINDOW_MS + 5_000);
      clock.advance(WINDOW_MS);
      await limiter.hit(key, rule);
      expect(await test.redis.hkeys(redisKey)).toEqual([String(WINDOW_START.getTime() / WINDOW_MS + 1)]);
    });

    it('stores a long key as its hash', async () => {
      clock.set(WINDOW_START);
      const key = `${freshKey('stored')}:${'z'.repeat(5_000)}`;
      await limiter.hit(key, rule);
      expect(await test.redis.exists(`${test.prefix}${storageKey(key)}`)).toBe(1);
      expect(await test.redis.exists(`${test.prefix}${key}`)).toBe(0);
    });
  });
}

/** A loopback port with nothing listening on it: connections are refused at once. */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
