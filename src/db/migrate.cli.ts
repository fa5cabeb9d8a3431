import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations, projectRoot } from './migrator.ts';

// Same variables and defaults as src/config.ts: DATABASE_URL selects PostgreSQL, otherwise PGlite in DATA_DIR/pglite.
async function migrate(): Promise<{ applied: string[]; where: string }> {
  const url = process.env.DATABASE_URL?.trim();
  if (url) return { ...(await applyMigrations({ kind: 'postgres', url })), where: 'the PostgreSQL database at DATABASE_URL' };
  const dataDir = path.resolve(process.env.DATA_DIR?.trim() || path.join(projectRoot, 'data'));
  const pgliteDir = path.join(dataDir, 'pglite');
  // PGlite creates its own directory but not missing parents.
  await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create(pgliteDir);
  try {
    return { ...(await applyMigrations({ kind: 'pglite', pglite })), where: `the embedded database in ${pgliteDir}` };
  } finally {
    await pglite.close();
  }
}

function report({ applied, where }: { applied: string[]; where: string }): void {
  if (applied.length === 0) {
    process.stdout.write(`No pending migrations: ${where} is up to date.\n`);
    return;
  }
  const list = applied.map((name) => `  ${name}\n`).join('');
  process.stdout.write(`Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${where}:\n${list}`);
}

// Exits explicitly: the schema engine leaves a 10 s timer behind that would otherwise hold the process open.
migrate().then(
  (outcome) => {
    report(outcome);
    process.exit(0);
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`Migration failed: ${message.split('\n').map((line) => line.trim()).filter(Boolean).join(': ')}`);
    process.exit(1);
  },
);
