// `npm run audit:verify [-- <organizationId>|platform]`: checks the activity record's hash chains (every chain when
// none is named) and reports the first broken link of each broken one. Exit 0: all intact; 1: a link is broken;
// 2: bad usage. Reads only.
import { loadConfig } from '../../config.ts';
import { openDatabase } from '../../db/client.ts';
import { isUuid } from '../../lib/ids.ts';
import { createLogger } from '../../lib/logger.ts';
import { allChains, verifyChain } from './audit-chain.ts';

const args = process.argv.slice(2);
const [named] = args;
if (args.length > 1 || (named !== undefined && named !== 'platform' && !isUuid(named))) {
  console.error('Usage: npm run audit:verify [-- <organizationId>|platform]');
  process.exit(2);
}
const config = loadConfig();
const database = await openDatabase(config.database, { logger: createLogger({ level: 'warn' }) });
let broken = 0;
try {
  const chains = named ? [named.toLowerCase()] : await allChains(database.prisma);
  for (const chain of chains) {
    const report = await verifyChain(database.prisma, chain);
    if (report.ok) {
      process.stdout.write(`ok     ${chain}: ${report.checked} rows\n`);
    } else {
      broken += 1;
      const at = report.broken!;
      process.stdout.write(`BROKEN ${chain}: first broken link at position ${at.chainSeq}${at.id ? ` (row ${at.id})` : ''}: ${at.problem}; ${report.checked} rows before it are intact\n`);
    }
  }
  if (chains.length === 0) process.stdout.write('No activity yet.\n');
} finally {
  await database.close();
}
process.exit(broken > 0 ? 1 : 0);
