import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from '../config.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../lib/logger.ts';
import type { MigrationTarget } from './migrator.ts';

export { PrismaClient };
export type Db = PrismaClient;

export interface Database {
  kind: 'postgres' | 'pglite';
  prisma: PrismaClient;
  migrationTarget: MigrationTarget;
  /** Resolves when the database answers a trivial query within the timeout; rejects otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  logger: Logger;
  /** Called for every SQL statement Prisma sends (tests count them). */
  onQuery?: (event: { query: string; params: string; durationMs: number }) => void;
}

export async function openDatabase(config: Config['database'], options: OpenDatabaseOptions): Promise<Database> {
  return config.kind === 'postgres' ? openPostgres(config, options) : openPglite(config.dataDir, options);
}

type QueryEvents = { $on(event: 'query', listener: (event: { query: string; params: string; duration: number }) => void): void };

function createPrisma(adapter: SqlDriverAdapterFactory, options: OpenDatabaseOptions): PrismaClient {
  if (!options.onQuery) return new PrismaClient({ adapter });
  const prisma = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  const onQuery = options.onQuery;
  (prisma as unknown as QueryEvents).$on('query', (event) => onQuery({ query: event.query, params: event.params, durationMs: event.duration }));
  return prisma;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('Database ping timed out'), { code: 'ETIMEDOUT' })), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function openPostgres(config: { url: string; poolSize: number }, options: OpenDatabaseOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', (error) => options.logger.warn({ err: error }, 'database connection lost'));
  const prisma = createPrisma(new PrismaPg(pool), options);
  let closing: Promise<void> | undefined;
  return {
    kind: 'postgres',
    prisma,
    migrationTarget: { kind: 'postgres', url: config.url },
    async ping(timeoutMs = 2_000) {
      await withTimeout(pool.query('SELECT 1'), timeoutMs);
    },
    close() {
      closing ??= prisma.$disconnect().then(() => pool.end());
      return closing;
    },
  };
}

async function openPglite(dataDir: string | undefined, options: OpenDatabaseOptions): Promise<Database> {
  const releaseLock = dataDir ? lockDataDir(dataDir) : () => {};
  try {
    const pglite = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
    const prisma = createPrisma(new PrismaPGlite(pglite), options);
    let closed = false;
    return {
      kind: 'pglite',
      prisma,
      migrationTarget: { kind: 'pglite', pglite },
      async ping(timeoutMs = 2_000) {
        if (closed || pglite.closed) throw Object.assign(new Error('Embedded database is closed'), { code: 'ECONNREFUSED' });
        await withTimeout(pglite.query('SELECT 1'), timeoutMs);
      },
      async close() {
        if (closed) return;
        closed = true;
        await prisma.$disconnect();
        await pglite.close();
        releaseLock();
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

/**
 * The embedded database is one process's files: a second server on the same data directory would corrupt it.
 * A lock file holding the owner's pid makes the second one stop with a clear message; a lock left by a process
 * that no longer runs is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const lockFile = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.lock`);
  // Written aside and hard-linked into place, so the lock never exists without its pid in it.
  const pending = `${lockFile}.${process.pid}`;
  fs.writeFileSync(pending, String(process.pid));
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.linkSync(pending, lockFile);
        return () => fs.rmSync(lockFile, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(fs.readFileSync(lockFile, 'utf8'));
        if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
          throw new Error(
            `The embedded database in ${dataDir} is in use by process ${owner}. Stop that server, or set DATA_DIR to another directory.`,
          );
        }
        fs.rmSync(lockFile, { force: true });
      }
    }
    throw new Error(`Could not lock the embedded database in ${dataDir}.`);
  } finally {
    fs.rmSync(pending, { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Turns a database outage into two log lines, one when it starts (error) and one when it ends (warn, with its
 * duration), instead of one error per failed request: `unavailable()` is called for every failure that means the
 * database cannot be reached; while the outage lasts, the database is pinged every `probeIntervalMs` until it answers.
 */
export class DatabaseOutageMonitor {
  readonly #ping: () => Promise<void>;
  readonly #logger: Logger;
  readonly #probeIntervalMs: number;
  #startedAt: number | undefined;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: { ping: () => Promise<void>; logger: Logger; probeIntervalMs?: number }) {
    this.#ping = options.ping;
    this.#logger = options.logger;
    this.#probeIntervalMs = options.probeIntervalMs ?? 1_000;
  }

  get inOutage(): boolean {
    return this.#startedAt !== undefined;
  }

  unavailable(): void {
    if (this.#stopped) return;
    this.#failures++;
    if (this.#startedAt !== undefined) return;
    this.#startedAt = performance.now();
    this.#failures = 1;
    this.#logger.error({ code: 'DATABASE_UNAVAILABLE' }, 'database outage started');
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#probe(), this.#probeIntervalMs).unref();
  }

  async #probe(): Promise<void> {
    try {
      await this.#ping();
    } catch {
      if (!this.#stopped) this.#schedule();
      return;
    }
    if (this.#startedAt === undefined || this.#stopped) return;
    const durationMs = Math.round(performance.now() - this.#startedAt);
    this.#startedAt = undefined;
    this.#logger.warn({ durationMs, failedRequests: this.#failures }, 'database outage ended');
  }
}
