import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database, type OpenDatabaseOptions } from '../../src/db/client.ts';
import { applyMigrations } from '../../src/db/migrator.ts';
import { createLogger } from '../../src/lib/logger.ts';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;

/** `postgres` when the suite runs against the machine's PostgreSQL (TEST_DATABASE_URL), else `pglite`. */
export const testDatabaseKind: 'postgres' | 'pglite' = testDatabaseUrl ? 'postgres' : 'pglite';

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Creates an empty, uniquely named PostgreSQL database and returns its URL and a function that drops it. */
export async function createEmptyPostgresDatabase(baseUrl: string, prefix = 'safeclose_t'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(baseUrl, name),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface TestDatabase extends Database {
  /** The PostgreSQL URL of this database (postgres runs only). */
  url: string | undefined;
  /** Closes the connection and, on PostgreSQL, drops the database. */
  destroy(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file: an in-memory PGlite by default, or a new database on the
 * PostgreSQL server named by TEST_DATABASE_URL. Files never share one.
 */
export async function createTestDatabase(options: Partial<OpenDatabaseOptions> = {}): Promise<TestDatabase> {
  const logger = options.logger ?? createLogger({ level: 'silent' });
  if (!testDatabaseUrl) {
    const database = await openDatabase({ kind: 'pglite', dataDir: undefined }, { ...options, logger });
    await applyMigrations(database.migrationTarget);
    return Object.assign(database, { url: undefined, destroy: () => database.close() });
  }
  const empty = await createEmptyPostgresDatabase(testDatabaseUrl);
  const database = await openDatabase({ kind: 'postgres', url: empty.url, poolSize: 5 }, { ...options, logger });
  await applyMigrations(database.migrationTarget);
  return Object.assign(database, {
    url: empty.url,
    async destroy() {
      await database.close();
      await empty.drop();
    },
  });
}
