// `npm run admin:grant -- <email>`: makes an existing account a platform admin, on behalf of whoever runs the
// server. This is how a fresh install gets its first admin (after that, admins grant roles through the API). It
// opens the configured database (DATABASE_URL, else the embedded database in DATA_DIR) through the same
// openDatabase as the server: the embedded database is one process's, so stop the server first there.
import { loadConfig } from '../../config.ts';
import { openDatabase } from '../../db/client.ts';
import { AppError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { grantPlatformAdminFromCommandLine } from './users.service.ts';

async function grantAdmin(email: string): Promise<string> {
  const config = loadConfig();
  const database = await openDatabase(config.database, { logger: createLogger({ level: 'warn' }) });
  try {
    const result = await grantPlatformAdminFromCommandLine(database.prisma, { email });
    const disabled = result.disabled ? ' The account is disabled: another admin must enable it before it can sign in.' : '';
    return result.granted ? `${email.trim().toLowerCase()} is now a platform admin.${disabled}\n` : `${email.trim().toLowerCase()} was already a platform admin.${disabled}\n`;
  } finally {
    await database.close();
  }
}

const [email, ...rest] = process.argv.slice(2);
if (!email || rest.length > 0) {
  process.stderr.write('Usage: npm run admin:grant -- <email of an existing account>\n');
  process.exit(2);
}
// Exits explicitly, as db:migrate does: nothing this command opened should hold the process open.
grantAdmin(email).then(
  (message) => {
    process.stdout.write(message);
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof AppError || error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
