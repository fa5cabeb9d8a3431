// `npm run organizations:purge`: deletes the organizations closed more than ORGANIZATION_RETENTION_DAYS ago, with
// their records; their activity rows stay. Safe to run at any time and as often as wanted (from cron, say): an
// organization still inside its retention period is left alone. The embedded database is opened by one process at
// a time, so with it stop the server first; on PostgreSQL (DATABASE_URL) it runs beside the servers.
import { loadConfig } from '../../config.ts';
import { openDatabase } from '../../db/client.ts';
import { systemClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/logger.ts';
import { purgeClosedOrganizations } from './closing.ts';

const config = loadConfig();
const logger = createLogger({ level: 'warn' });
const database = await openDatabase(config.database, { logger });
try {
  const result = await purgeClosedOrganizations({ db: database.prisma, clock: systemClock, config });
  for (const organization of result.purged) process.stdout.write(`Purged organization ${organization.id} (closed ${organization.closedAt.toISOString()}).\n`);
  process.stdout.write(
    `Purged ${result.purged.length} closed organization(s); ${result.retained} closed organization(s) are kept until ${config.organizations.retentionDays} days after closing.\n`,
  );
} finally {
  await database.close();
}
