import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ManualClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createRateLimiter, type RateLimiter } from '../src/lib/rate-limit.ts';
import { createEventBus, type ActivityEvent, type EventBus } from '../src/realtime/event-bus.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

describe('REDIS_NAMESPACE', () => {
  it('defaults to a short hash of the database: equal for one database whatever the credentials, different for another', () => {
    const namespace = (env: Record<string, string>) => loadConfig(env).redisNamespace;
    const main = namespace({ DATABASE_URL: 'postgresql://app:secret@db.internal:5432/safeclose' });
    expect(main).toMatch(/^sc-[0-9a-f]{12}$/);
    expect(namespace({ DATABASE_URL: 'postgresql://other:changed@db.internal:5432/safeclose' })).toBe(main);
    expect(namespace({ DATABASE_URL: 'postgresql://app:secret@db.internal:5432/safeclose_staging' })).not.toBe(main);
    expect(namespace({ DATABASE_URL: 'postgresql://app:secret@db2.internal:5432/safeclose' })).not.toBe(main);
    expect(namespace({ DATA_DIR: '/srv/a' })).not.toBe(namespace({ DATA_DIR: '/srv/b' }));
    expect(namespace({ DATA_DIR: '/srv/a' })).toBe(namespace({ DATA_DIR: '/srv/a' }));
    expect(main).not.toContain('secret');
  });

  it('can be set, and refuses characters that do not belong in a key', () => {
    expect(loadConfig({ REDIS_NAMESPACE: 'safeclose-prod' }).redisNamespace).toBe('safeclose-prod');
    expect(() => loadConfig({ REDIS_NAMESPACE: 'a b*' })).toThrow(/REDIS_NAMESPACE must be 1 to 64 letters/);
  });
});

// Two deployments (two databases, so two default namespaces) on one Redis; runs when TEST_REDIS_URL names a server.
for (const redisUrl of process.env.TEST_REDIS_URL ? [process.env.TEST_REDIS_URL] : []) {
  describe('two deployments on one Redis', () => {
    const logger = createLogger({ level: 'silent' });
    const clock = new ManualClock(new Date('2026-03-02T09:00:00.000Z'));
    const run = randomBytes(4).toString('hex');
    const first = loadConfig({ DATABASE_URL: `postgresql://app@db.internal:5432/first_${run}`, REDIS_URL: redisUrl });
    const second = loadConfig({ DATABASE_URL: `postgresql://app@db.internal:5432/second_${run}`, REDIS_URL: redisUrl });
    let raw: Redis;
    let database: TestDatabase;
    const closers: Array<() => Promise<void>> = [];

    beforeAll(async () => {
      raw = new Redis(redisUrl);
      database = await createTestDatabase();
    });
    afterAll(async () => {
      for (const close of closers) await close();
      for (const config of [first, second]) {
        const found = await raw.keys(`${config.redisNamespace}:*`);
        if (found.length) await raw.del(...found);
      }
      raw.disconnect();
      await database?.destroy();
    });

    const bus = (config: typeof first): EventBus => {
      const created = createEventBus({ redisUrl: config.redisUrl, namespace: config.redisNamespace, logger });
      closers.push(() => created.close());
      return created;
    };
    const limiter = (config: typeof first): RateLimiter => {
      const created = createRateLimiter({ redisUrl: config.redisUrl, namespace: config.redisNamespace, db: database.prisma, clock });
      closers.push(() => created.close());
      return created;
    };
    const event = (id: string): ActivityEvent => ({ id, seq: '1', type: 'document.registered', occurredAt: new Date().toISOString(), actorUserId: null, organizationId: null, documentId: null, packageId: null });

    /** Polls Redis until `channel` has `count` subscribers. */
    async function subscribers(channel: string, count: number): Promise<void> {
      for (let waited = 0; waited < 10_000; waited += 50) {
        const [, found] = (await raw.pubsub('NUMSUB', channel)) as [string, number];
        if (Number(found) >= count) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`${channel} never reached ${count} subscribers`);
    }

    it('events go to the deployment\'s own channel: its other instances hear them, the other deployment does not', async () => {
      expect(first.redisNamespace).not.toBe(second.redisNamespace);
      const firstA = bus(first);
      const firstB = bus(first);
      const secondA = bus(second);
      const heardOnFirstB: string[] = [];
      const heardOnSecond: string[] = [];
      const listen = async (target: EventBus, into: string[]) => {
        for await (const received of target.pubSub.subscribe('activity')) into.push(received.id);
      };
      void listen(firstB, heardOnFirstB);
      void listen(secondA, heardOnSecond);
      // Proof that Redis handled the first deployment's publish: a plain subscriber on its namespaced channel.
      const witness = new Redis(redisUrl);
      closers.push(async () => witness.disconnect());
      const witnessed: string[] = [];
      witness.on('message', (channel: string, message: string) => witnessed.push(`${channel} ${(JSON.parse(message) as ActivityEvent).id}`));
      await witness.subscribe(`${first.redisNamespace}:activity`, 'activity');
      await subscribers(`${first.redisNamespace}:activity`, 2);
      await subscribers(`${second.redisNamespace}:activity`, 1);

      firstA.pubSub.publish('activity', event('from-first'));
      await waitFor(() => witnessed.length === 1 && heardOnFirstB.length === 1);
      expect(witnessed).toEqual([`${first.redisNamespace}:activity from-first`]);
      expect(heardOnFirstB).toEqual(['from-first']);

      // The second deployment's own event arrives; the first deployment's never did.
      bus(second).pubSub.publish('activity', event('from-second'));
      await waitFor(() => heardOnSecond.length === 1);
      expect(heardOnSecond).toEqual(['from-second']);
      expect(heardOnFirstB).toEqual(['from-first']);
    });

    it('rate-limit counters are kept under each deployment\'s namespace', async () => {
      const rule = { limit: 1, windowSeconds: 60 };
      const key = `signin:address:203.0.113.9:${run}`;
      const firstLimiter = limiter(first);
      const secondLimiter = limiter(second);
      expect((await firstLimiter.hit(key, rule)).allowed).toBe(true);
      expect((await firstLimiter.hit(key, rule)).allowed).toBe(false);
      expect((await secondLimiter.hit(key, rule)).allowed).toBe(true);
      expect(await raw.exists(`${first.redisNamespace}:ratelimit:${key}`)).toBe(1);
      expect(await raw.exists(`${second.redisNamespace}:ratelimit:${key}`)).toBe(1);
      expect(await raw.exists(`ratelimit:${key}`)).toBe(0);
      // Another instance of the first deployment shares its counter.
      expect((await limiter(first).hit(key, rule)).allowed).toBe(false);
    });
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 20) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('condition not reached within 10 s');
}
