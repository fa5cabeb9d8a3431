import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Db } from '../db/client.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './logger.ts';

/** At most `limit` hits per fixed window of `windowSeconds`. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

export interface RateLimitResult {
  /** For `hit`: this hit is within the limit. For `peek` and `undo`: one more hit would be. */
  allowed: boolean;
  /** Hits counted in the current window (for `hit`, including this one). */
  count: number;
  /** The rule's limit, for the `RateLimit-Limit` header. */
  limit: number;
  /** Hits still allowed in the current window. */
  remaining: number;
  /** When the current window ends and the count starts again from nothing. */
  resetAt: Date;
  /** Whole seconds until the window ends (at least 1) when not allowed, else 0. */
  retryAfterSeconds: number;
}

/**
 * Fixed-window counters keyed by opaque caller-chosen strings (`signin:account:<email>`, ...). Windows are aligned
 * to multiples of the window length on the clock, so both backends agree on when a window ends and a test clock
 * moves them deterministically. Each key is meant to be used with one rule.
 */
export interface RateLimiter {
  hit(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  /** The state of the current window without counting a hit. */
  peek(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  /**
   * Takes back one hit that `hit` answered with `counted`, when its window is still the current one (a window
   * that has ended already forgot it). For attempts counted before their outcome is known, kept only if they fail.
   */
  undo(key: string, rule: RateLimitRule, counted: RateLimitResult): Promise<RateLimitResult>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

/** Longer keys are stored as their SHA-256, so input chosen by clients (emails, addresses) cannot bloat storage. */
const MAX_KEY_BYTES = 200;

export function storageKey(key: string): string {
  if (Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES) return key;
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

interface Window {
  index: number;
  endMs: number;
}

function currentWindow(nowMs: number, rule: RateLimitRule): Window {
  const windowMs = rule.windowSeconds * 1000;
  const index = Math.floor(nowMs / windowMs);
  return { index, endMs: (index + 1) * windowMs };
}

function retryAfter(allowed: boolean, endMs: number, nowMs: number): number {
  return allowed ? 0 : Math.max(1, Math.ceil((endMs - nowMs) / 1000));
}

function result(allowed: boolean, count: number, rule: RateLimitRule, endMs: number, nowMs: number): RateLimitResult {
  return {
    allowed,
    count,
    limit: rule.limit,
    remaining: Math.max(0, rule.limit - count),
    resetAt: new Date(endMs),
    retryAfterSeconds: retryAfter(allowed, endMs, nowMs),
  };
}

function hitResult(count: number, rule: RateLimitRule, endMs: number, nowMs: number): RateLimitResult {
  return result(count <= rule.limit, count, rule, endMs, nowMs);
}

/** A peek answers for the next hit: a key at exactly its limit is already closed. */
function peekResult(count: number, rule: RateLimitRule, endMs: number, nowMs: number): RateLimitResult {
  return result(count < rule.limit, count, rule, endMs, nowMs);
}

/**
 * Counters in the `RateLimitCounter` table, for deployments without Redis. Every hit is one upsert, so concurrent
 * hits on one key serialise on its row and each sees its own count. Times come from the clock as parameters, never
 * from the database's now(), so tests can move them.
 */
export class DatabaseRateLimiter implements RateLimiter {
  readonly #db: Db;
  readonly #clock: Clock;

  constructor(options: { db: Db; clock: Clock }) {
    this.#db = options.db;
    this.#clock = options.clock;
  }

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    const now = this.#clock.now();
    const windowEnd = new Date(currentWindow(now.getTime(), rule).endMs);
    const rows = await this.#db.$queryRaw<{ count: number; windowEnd: Date }[]>`
      INSERT INTO "RateLimitCounter" ("key", "count", "windowEnd")
      VALUES (${storageKey(key)}, 1, ${windowEnd}::timestamptz)
      ON CONFLICT ("key") DO UPDATE SET
        "count" = CASE WHEN "RateLimitCounter"."windowEnd" <= ${now}::timestamptz THEN 1
                       ELSE "RateLimitCounter"."count" + 1 END,
        "windowEnd" = CASE WHEN "RateLimitCounter"."windowEnd" <= ${now}::timestamptz THEN ${windowEnd}::timestamptz
                           ELSE "RateLimitCounter"."windowEnd" END
      RETURNING "count", "windowEnd"`;
    const row = rows[0];
    if (!row) throw new Error('Rate limit upsert returned no row');
    return hitResult(row.count, rule, new Date(row.windowEnd).getTime(), now.getTime());
  }

  async peek(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    const nowMs = this.#clock.now().getTime();
    const row = await this.#db.rateLimitCounter.findUnique({ where: { key: storageKey(key) }, select: { count: true, windowEnd: true } });
    const live = row !== null && row.windowEnd.getTime() > nowMs;
    const endMs = live ? row.windowEnd.getTime() : currentWindow(nowMs, rule).endMs;
    return peekResult(live ? row.count : 0, rule, endMs, nowMs);
  }

  async undo(key: string, rule: RateLimitRule, counted: RateLimitResult): Promise<RateLimitResult> {
    const nowMs = this.#clock.now().getTime();
    if (counted.resetAt.getTime() <= nowMs) return this.peek(key, rule);
    const rows = await this.#db.$queryRaw<{ count: number }[]>`
      UPDATE "RateLimitCounter" SET "count" = "count" - 1
      WHERE "key" = ${storageKey(key)} AND "windowEnd" = ${counted.resetAt}::timestamptz AND "count" > 0
      RETURNING "count"`;
    const row = rows[0];
    return row ? peekResult(row.count, rule, counted.resetAt.getTime(), nowMs) : this.peek(key, rule);
  }

  async reset(key: string): Promise<void> {
    await this.#db.rateLimitCounter.deleteMany({ where: { key: storageKey(key) } });
  }

  /** Deletes counters whose window has ended; returns how many. Run it periodically to keep the table small. */
  async purgeExpired(): Promise<number> {
    const { count } = await this.#db.rateLimitCounter.deleteMany({ where: { windowEnd: { lte: this.#clock.now() } } });
    return count;
  }

  /** The database belongs to the app, which closes it. */
  async close(): Promise<void> {}
}

/**
 * One hash per caller key, one field per window index. A new window's first hit sets the expiry and drops the
 * fields of earlier windows, so a key never holds more than the window in use (plus one from a slower clock). One
 * hash per key, rather than one Redis key per window, lets `reset` delete a key without knowing its rule.
 * Returns the field's count after the hit.
 */
const HIT_SCRIPT = `
local count = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local window = tonumber(ARGV[1])
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if tonumber(field) < window then redis.call('HDEL', KEYS[1], field) end
  end
end
return count
`;

/** Takes one hit back from a window's field, never below zero; returns the field's count (0 when it is gone). */
const UNDO_SCRIPT = `
local count = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if count > 0 then count = redis.call('HINCRBY', KEYS[1], ARGV[1], -1) end
return count
`;

/** Kept past the window's end so clocks a little apart across servers still find the counter. */
const EXPIRY_MARGIN_MS = 5_000;

/**
 * Counters in Redis, shared by every server of a deployment. Windows come from the clock (the hash field is
 * `floor(nowMs / windowMs)`); Redis's own expiry only reclaims memory. The limiter owns the connection it is given:
 * `close` quits it.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis;
  readonly #clock: Clock;
  readonly #prefix: string;

  constructor(options: { redis: Redis; clock: Clock; prefix?: string }) {
    this.#redis = options.redis;
    this.#clock = options.clock;
    this.#prefix = options.prefix ?? 'ratelimit:';
  }

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    const nowMs = this.#clock.now().getTime();
    const window = currentWindow(nowMs, rule);
    const ttlMs = rule.windowSeconds * 1000 + EXPIRY_MARGIN_MS;
    const count = await this.#redis.eval(HIT_SCRIPT, 1, this.#redisKey(key), window.index, ttlMs);
    return hitResult(Number(count), rule, window.endMs, nowMs);
  }

  async peek(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    const nowMs = this.#clock.now().getTime();
    const window = currentWindow(nowMs, rule);
    const count = await this.#redis.hget(this.#redisKey(key), String(window.index));
    return peekResult(Number(count ?? 0), rule, window.endMs, nowMs);
  }

  async undo(key: string, rule: RateLimitRule, counted: RateLimitResult): Promise<RateLimitResult> {
    const nowMs = this.#clock.now().getTime();
    const window = currentWindow(nowMs, rule);
    if (counted.resetAt.getTime() !== window.endMs) return this.peek(key, rule);
    const count = await this.#redis.eval(UNDO_SCRIPT, 1, this.#redisKey(key), window.index);
    return peekResult(Number(count), rule, window.endMs, nowMs);
  }

  async reset(key: string): Promise<void> {
    await this.#redis.del(this.#redisKey(key));
  }

  async close(): Promise<void> {
    if (this.#redis.status === 'end') return;
    // quit waits for replies in flight; when Redis is unreachable it cannot, so drop the connection instead.
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #redisKey(key: string): string {
    return `${this.#prefix}${storageKey(key)}`;
  }
}

/**
 * Redis when REDIS_URL is set (counters shared by every server), else the database. A Redis outage makes hits
 * fail (after two reconnection attempts) rather than crash the process; callers see the rejected promise.
 */
export function createRateLimiter(options: { redisUrl: string | undefined; namespace?: string; db: Db; clock: Clock; logger?: Logger }): RateLimiter {
  if (!options.redisUrl) return new DatabaseRateLimiter({ db: options.db, clock: options.clock });
  const redis = new Redis(options.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
  watchConnection(redis, options.logger);
  // Keys are `<REDIS_NAMESPACE>:ratelimit:<key>`, so deployments sharing one Redis never share counters.
  return new RedisRateLimiter({ redis, clock: options.clock, prefix: options.namespace ? `${options.namespace}:ratelimit:` : undefined });
}

/** An unhandled 'error' event would crash the process; report an outage once, not on every reconnection attempt. */
function watchConnection(redis: Redis, logger: Logger | undefined): void {
  let healthy = true;
  redis.on('error', (error: Error) => {
    if (healthy) logger?.warn({ err: error }, 'rate limiter lost its Redis connection');
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) logger?.info('rate limiter reconnected to Redis');
    healthy = true;
  });
}

/**
 * The same limiter, reporting every state it answers to `observe`: after a hit, peek or undo the key's state, after
 * a reset null (the key starts again from nothing). Lets an answer show the limits its request was counted against.
 */
export function observedRateLimiter(limiter: RateLimiter, observe: (key: string, state: RateLimitResult | null) => void): RateLimiter {
  const report = (key: string) => (state: RateLimitResult) => {
    observe(key, state);
    return state;
  };
  return {
    hit: (key, rule) => limiter.hit(key, rule).then(report(key)),
    peek: (key, rule) => limiter.peek(key, rule).then(report(key)),
    undo: (key, rule, counted) => limiter.undo(key, rule, counted).then(report(key)),
    async reset(key) {
      await limiter.reset(key);
      observe(key, null);
    },
    close: () => limiter.close(),
  };
}
