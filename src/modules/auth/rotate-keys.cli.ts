// `npm run keys:rotate`: stores a new JWT signing key in the database every instance reads (not for
// JWT_SIGNING_KEYS, which is rotated by changing the variable). Running servers verify with it at their next reload
// and sign with it after the activation delay; no restart. How long older keys are kept is decided from what the
// key rows record, never from this command's environment.
import { loadConfig } from '../../config.ts';
import { openDatabase } from '../../db/client.ts';
import { createLogger } from '../../lib/logger.ts';
import { KEY_ACTIVATION_DELAY_SECONDS, resolveKeyEncryptionKey, rotateSigningKey } from './keys.ts';

const config = loadConfig();
if (config.auth.signingKeys) {
  console.error('JWT_SIGNING_KEYS is set: rotate by putting a new key first in that variable and keeping the old one until its tokens expire.');
  process.exit(1);
}
const logger = createLogger({ level: 'warn' });
const database = await openDatabase(config.database, { logger });
try {
  const encryptionKey = await resolveKeyEncryptionKey(config);
  const result = await rotateSigningKey({ db: database.prisma, encryptionKey, now: new Date() });
  process.stdout.write(
    `New signing key ${result.kid}: verified by every server from its next key reload, signing from ${result.activatesAt.toISOString()} ` +
      `(in ${KEY_ACTIVATION_DELAY_SECONDS / 60} minutes). Pruned keys whose tokens have all expired: ${result.pruned.join(', ') || 'none'}.\n`,
  );
} finally {
  await database.close();
}
