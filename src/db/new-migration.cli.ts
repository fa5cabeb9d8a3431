import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { diffMigrationsToSchema, MIGRATION_LOCK_CONTENT, MIGRATION_LOCK_FILE, migrationsDir } from './migrator.ts';

const NAME = /^[a-z0-9_]+$/;

/** Prisma's folder prefix: the UTC time as yyyymmddhhmmss, so folders sort in creation order. */
function utcTimestamp(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 14);
}

async function writeLockFileIfMissing(): Promise<void> {
  await mkdir(migrationsDir, { recursive: true });
  await writeFile(path.join(migrationsDir, MIGRATION_LOCK_FILE), MIGRATION_LOCK_CONTENT, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}

async function main(args: string[]): Promise<number> {
  const [name] = args;
  if (args.length !== 1 || name === undefined || !NAME.test(name)) {
    console.error('Usage: npm run db:migration:new -- <name>   (name: lower-case letters, digits and underscores)');
    return 2;
  }
  const sql = await diffMigrationsToSchema();
  if (sql === '') {
    process.stdout.write('No schema changes\n');
    return 0;
  }
  await writeLockFileIfMissing();
  const dir = path.join(migrationsDir, `${utcTimestamp(new Date())}_${name}`);
  await mkdir(dir);
  const file = path.join(dir, 'migration.sql');
  await writeFile(file, sql, { flag: 'wx' });
  process.stdout.write(`Wrote ${path.relative(process.cwd(), file)}\n`);
  return 0;
}

// Exits explicitly: the schema engine leaves a 10 s timer behind that would otherwise hold the process open.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
