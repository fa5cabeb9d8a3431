import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

export const JWT_ALGORITHM = 'ES256';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/** The keys that sign access tokens (the newest) and verify them (every key still listed). */
export interface KeyStore {
  signing: SigningKey;
  verificationKey(kid: string): CryptoKey | undefined;
  /** The public half of every key, for /.well-known/jwks.json. */
  jwks(): { keys: JWK[] };
}

interface StoredKey {
  kid: string;
  createdAt: string;
  jwk: JWK;
}

async function generateStoredKey(now: Date): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(JWT_ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { kid: randomUUID(), createdAt: now.toISOString(), jwk };
}

async function buildKeyStore(stored: StoredKey[]): Promise<KeyStore> {
  const publicKeys = new Map<string, CryptoKey>();
  const publicJwks: JWK[] = [];
  for (const key of stored) {
    const { d: _private, ...publicJwk } = key.jwk;
    publicKeys.set(key.kid, (await importJWK({ ...publicJwk, alg: JWT_ALGORITHM }, JWT_ALGORITHM)) as CryptoKey);
    publicJwks.push({ ...publicJwk, kid: key.kid, alg: JWT_ALGORITHM, use: 'sig' });
  }
  const newest = stored[0];
  if (!newest) throw new Error('No signing key available.');
  const signing = { kid: newest.kid, privateKey: (await importJWK({ ...newest.jwk, alg: JWT_ALGORITHM }, JWT_ALGORITHM)) as CryptoKey };
  return {
    signing,
    verificationKey: (kid) => publicKeys.get(kid),
    jwks: () => ({ keys: publicJwks.map((jwk) => ({ ...jwk })) }),
  };
}

/**
 * Loads the signing keys persisted under `<dataDir>/keys`, generating the first one on first start. Without a
 * directory (tests) the key lives only in memory.
 */
export async function loadKeyStore(options: { dataDir: string | undefined; now: Date }): Promise<KeyStore> {
  if (!options.dataDir) return buildKeyStore([await generateStoredKey(options.now)]);
  const file = path.join(options.dataDir, 'keys', 'jwt-signing-keys.json');
  let stored: StoredKey[];
  try {
    stored = (JSON.parse(await fs.readFile(file, 'utf8')) as { keys: StoredKey[] }).keys;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`Could not read the signing keys in ${file}.`);
    stored = [await generateStoredKey(options.now)];
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.writeFile(file, JSON.stringify({ keys: stored }, null, 2), { mode: 0o600, flag: 'wx' }).catch(async (writeError) => {
      // Another process created it first: use theirs.
      if ((writeError as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError;
      stored = (JSON.parse(await fs.readFile(file, 'utf8')) as { keys: StoredKey[] }).keys;
    });
  }
  return buildKeyStore(stored);
}
