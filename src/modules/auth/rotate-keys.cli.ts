// `npm run keys:rotate`: a new JWT signing key for the keys persisted under DATA_DIR (not for JWT_SIGNING_KEYS,
// which is rotated by changing the variable). Restart the servers afterwards to sign with it.
import { loadConfig } from '../../config.ts';
import { rotateSigningKey } from './keys.ts';

const config = loadConfig();
if (config.auth.signingKeys) {
  console.error('JWT_SIGNING_KEYS is set: rotate by putting a new key first in that variable and keeping the old one until its tokens expire.');
  process.exit(1);
}
const result = await rotateSigningKey({ dataDir: config.dataDir, now: new Date(), verifyForSeconds: config.auth.accessTokenTtlSeconds });
process.stdout.write(`New signing key ${result.kid}. Still verifying: ${result.kept.join(', ') || 'none'}. Dropped: ${result.dropped.join(', ') || 'none'}.\nRestart the server to sign with the new key.\n`);
