import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  applyMigrations,
  diffMigrationsToSchema,
  MIGRATION_LOCK_CONTENT,
  MIGRATION_LOCK_FILE,
  migrationsDir,
  type MigrationTarget,
} from '../src/db/migrator.ts';

type Row = Record<string, unknown>;

interface FreshDatabase {
  target: MigrationTarget;
  query(sql: string): Promise<Row[]>;
  close(): Promise<void>;
}

interface TargetKind {
  name: string;
  open(): Promise<FreshDatabase>;
}

const inMemoryPglite: TargetKind = {
  name: 'in-memory PGlite',
  async open() {
    const db = await PGlite.create();
    return {
      target: { kind: 'pglite', pglite: db },
      query: async (sql) => (await db.query<Row>(sql)).rows,
      close: () => db.close(),
    };
  },
};

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

function freshPostgres(baseUrl: string): TargetKind {
  return {
    name: 'PostgreSQL',
    async open() {
      const name = `safeclose_mig_${randomBytes(6).toString('hex')}`;
      await withClient(baseUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
      const drop = () => withClient(baseUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      const url = new URL(baseUrl);
      url.pathname = `/${name}`;
      const client = new pg.Client({ connectionString: url.toString() });
      try {
        await client.connect();
      } catch (error) {
        await drop();
        throw error;
      }
      return {
        target: { kind: 'postgres', url: url.toString() },
        query: async (sql) => (await client.query<Row>(sql)).rows,
        async close() {
          await client.end();
          await drop();
        },
      };
    },
  };
}

// Only the databases available here get tests: PostgreSQL joins when TEST_DATABASE_URL names a server.
const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;
const targets: TargetKind[] = [inMemoryPglite, ...(testDatabaseUrl ? [freshPostgres(testDatabaseUrl)] : [])];

async function withFreshDatabase(kind: TargetKind, run: (db: FreshDatabase) => Promise<void>): Promise<void> {
  const db = await kind.open();
  try {
    await run(db);
  } finally {
    await db.close();
  }
}

async function migrationFolders(dir = migrationsDir): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

async function recordedMigrations(db: FreshDatabase): Promise<Row[]> {
  return db.query(
    'SELECT migration_name, finished_at IS NOT NULL AS finished, rolled_back_at IS NULL AS current FROM _prisma_migrations ORDER BY migration_name',
  );
}

/** A throwaway migrations folder: one good migration (with a semicolon inside a literal), then one that fails. */
async function withBrokenMigrations(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'safeclose-migrations-'));
  try {
    await writeFile(path.join(dir, MIGRATION_LOCK_FILE), MIGRATION_LOCK_CONTENT);
    const migrations = {
      '20000101000000_good': `CREATE TABLE "Probe" ("id" INTEGER NOT NULL, "note" TEXT NOT NULL DEFAULT 'a;b');\n`,
      '20000102000000_bad': 'CREATE TABLE "Half" ("id" INTEGER);\nSELECT * FROM "NoSuchTable";\n',
    };
    for (const [name, sql] of Object.entries(migrations)) {
      await mkdir(path.join(dir, name));
      await writeFile(path.join(dir, name, 'migration.sql'), sql);
    }
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the migrations folder', () => {
  it('produces exactly the database schema.prisma describes', async () => {
    expect(await diffMigrationsToSchema()).toBe('');
  });
});

for (const kind of targets) {
  describe(`applyMigrations on ${kind.name}`, () => {
    it('applies every migration folder once, then none', async () => {
      await withFreshDatabase(kind, async (db) => {
        const folders = await migrationFolders();
        expect(folders.length).toBeGreaterThan(0);

        expect((await applyMigrations(db.target)).applied).toEqual(folders);
        expect((await applyMigrations(db.target)).applied).toEqual([]);

        expect(await db.query(`SELECT to_regclass('public."Document"') IS NOT NULL AS present`)).toEqual([{ present: true }]);
        expect(await recordedMigrations(db)).toEqual(folders.map((name) => ({ migration_name: name, finished: true, current: true })));
      });
    });

    it('lets exactly one of four concurrent callers migrate', async () => {
      await withFreshDatabase(kind, async (db) => {
        const folders = await migrationFolders();

        const results = await Promise.all([1, 2, 3, 4].map(() => applyMigrations(db.target)));

        const applied = results.map((result) => result.applied);
        expect(applied.filter((names) => names.length > 0)).toEqual([folders]);
        expect(applied.filter((names) => names.length === 0)).toHaveLength(3);
        expect(await recordedMigrations(db)).toEqual(folders.map((name) => ({ migration_name: name, finished: true, current: true })));
      });
    });

    it('throws an error naming a failing migration, and runs each script whole', async () => {
      await withFreshDatabase(kind, (db) =>
        withBrokenMigrations(async (dir) => {
          await expect(applyMigrations(db.target, { migrationsDir: dir })).rejects.toThrow(
            /20000102000000_bad.*NoSuchTable|NoSuchTable.*20000102000000_bad/s,
          );

          expect(await recordedMigrations(db)).toEqual([
            { migration_name: '20000101000000_good', finished: true, current: true },
            { migration_name: '20000102000000_bad', finished: false, current: true },
          ]);
          expect(await db.query(`SELECT column_default FROM information_schema.columns WHERE table_name = 'Probe' AND column_name = 'note'`)).toEqual([
            { column_default: `'a;b'::text` },
          ]);
          // The failed script ran as one statement batch, so its first statement was rolled back with it.
          expect(await db.query(`SELECT to_regclass('public."Half"') AS half`)).toEqual([{ half: null }]);
        }),
      );
    });
  });
}
