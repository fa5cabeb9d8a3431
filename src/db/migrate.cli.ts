// `npm run db:migrate`: applies pending migrations to the configured database (DATABASE_URL, else the embedded
// database in DATA_DIR), through the same openDatabase as the server, so it honours the embedded database's lock.
import { loadConfig } from '../config.ts';
import { createLogger } from '../lib/logger.ts';
import { openDatabase } from './client.ts';
import { applyMigrations } from './migrator.ts';

async function migrate(): Promise<{ applied: string[]; where: string }> {
  const config = loadConfig();
  const database = await openDatabase(config.database, { logger: createLogger({ level: 'warn' }) });
  const where = config.database.kind === 'postgres' ? 'the PostgreSQL database at DATABASE_URL' : `the embedded database in ${config.database.dataDir}`;
  try {
    return { ...(await applyMigrations(database.migrationTarget)), where };
  } finally {
    await database.close();
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
