import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errors, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type JWSHeaderParameters } from 'jose';

export const JWT_ALGORITHM = 'ES256';

/**
 * jose's key lookup for tokens this server signed: by `kid`, from the key store only. Header-supplied keys (`jku`,
 * `x5u`, `jwk`) are never consulted.
 */
export function verificationKeyResolver(keys: Pick<KeyStore, 'verificationKey'>) {
  return (header: JWSHeaderParameters): CryptoKey => {
    const key = header.kid ? keys.verificationKey(header.kid) : undefined;
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  };
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/** The keys that sign access tokens (the newest) and verify them (every key still listed). */
export interface KeyStore {
  signing: SigningKey;
  verificationKey(kid: string): CryptoKey | undefined;
  /** The same public key as a Node KeyObject, for synchronous verification off libuv's thread pool. */
  verificationKeyObject(kid: string): KeyObject | undefined;
  /** The public half of every key, for /.well-known/jwks.json. */
  jwks(): { keys: JWK[] };
}

interface StoredKey {
  kid: string;
  createdAt: string;
  /** When a newer key took over signing; the key keeps verifying until tokens it signed have expired. */
  retiredAt?: string;
  jwk: JWK;
}

async function generateStoredKey(now: Date): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(JWT_ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { kid: randomUUID(), createdAt: now.toISOString(), jwk };
}

async function buildKeyStore(stored: StoredKey[]): Promise<KeyStore> {
  const publicKeys = new Map<string, CryptoKey>();
  const publicKeyObjects = new Map<string, KeyObject>();
  const publicJwks: JWK[] = [];
  for (const key of stored) {
    const { d: _private, ...publicJwk } = key.jwk;
    publicKeys.set(key.kid, (await importJWK({ ...publicJwk, alg: JWT_ALGORITHM }, JWT_ALGORITHM)) as CryptoKey);
    publicKeyObjects.set(key.kid, createPublicKey({ key: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y }, format: 'jwk' }));
    publicJwks.push({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y, kid: key.kid, alg: JWT_ALGORITHM, use: 'sig' });
  }
  const newest = stored[0];
  if (!newest) throw new Error('No signing key available.');
  const signing = { kid: newest.kid, privateKey: (await importJWK({ ...newest.jwk, alg: JWT_ALGORITHM }, JWT_ALGORITHM)) as CryptoKey };
  return {
    signing,
    verificationKey: (kid) => publicKeys.get(kid),
    verificationKeyObject: (kid) => publicKeyObjects.get(kid),
    jwks: () => ({ keys: publicJwks.map((jwk) => ({ ...jwk })) }),
  };
}

/** Parses JWT_SIGNING_KEYS: a JSON array of private EC P-256 JWKs, each with a `kid`, the signing key first. */
function parseConfiguredKeys(json: string): StoredKey[] {
  const problem = 'JWT_SIGNING_KEYS must be a JSON array of private EC P-256 JWKs (kty "EC", crv "P-256", x, y, d, kid), the signing key first.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(problem);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(problem);
  return parsed.map((value) => {
    const jwk = value as JWK & { kid?: unknown };
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y || !jwk.d || typeof jwk.kid !== 'string' || !jwk.kid) throw new Error(problem);
    return { kid: jwk.kid, createdAt: new Date(0).toISOString(), jwk };
  });
}

function keyFile(dataDir: string): string {
  return path.join(dataDir, 'keys', 'jwt-signing-keys.json');
}

async function readStoredKeys(file: string): Promise<StoredKey[] | undefined> {
  try {
    return (JSON.parse(await fs.readFile(file, 'utf8')) as { keys: StoredKey[] }).keys;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`Could not read the signing keys in ${file}.`);
  }
}

/**
 * The signing keys: from JWT_SIGNING_KEYS when configured; otherwise persisted under `<dataDir>/keys`, the first
 * one generated on first start. Without a directory (tests) the key lives only in memory.
 */
export async function loadKeyStore(options: { dataDir: string | undefined; now: Date; configured?: string | undefined }): Promise<KeyStore> {
  if (options.configured) return buildKeyStore(parseConfiguredKeys(options.configured));
  if (!options.dataDir) return buildKeyStore([await generateStoredKey(options.now)]);
  const file = keyFile(options.dataDir);
  let stored = await readStoredKeys(file);
  if (!stored) {
    stored = [await generateStoredKey(options.now)];
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.writeFile(file, JSON.stringify({ keys: stored }, null, 2), { mode: 0o600, flag: 'wx' }).catch(async (writeError: NodeJS.ErrnoException) => {
      // Another process created it first: use theirs.
      if (writeError.code !== 'EEXIST') throw writeError;
      stored = await readStoredKeys(file);
    });
  }
  return buildKeyStore(stored ?? []);
}

/**
 * Puts a new signing key in front of the persisted ones. Older keys keep verifying for `verifyForSeconds` after
 * they were retired (the longest access-token lifetime), then drop out. Servers pick the change up on restart.
 */
export async function rotateSigningKey(options: { dataDir: string; now: Date; verifyForSeconds: number }): Promise<{ kid: string; kept: string[]; dropped: string[] }> {
  const file = keyFile(options.dataDir);
  const existing = (await readStoredKeys(file)) ?? [];
  const nowIso = options.now.toISOString();
  const fresh = await generateStoredKey(options.now);
  const kept: StoredKey[] = [];
  const dropped: string[] = [];
  for (const key of existing) {
    const retiredAt = key.retiredAt ?? nowIso;
    if (options.now.getTime() - new Date(retiredAt).getTime() > options.verifyForSeconds * 1000) dropped.push(key.kid);
    else kept.push({ ...key, retiredAt });
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, JSON.stringify({ keys: [fresh, ...kept] }, null, 2), { mode: 0o600 });
  await fs.rename(temporary, file);
  return { kid: fresh.kid, kept: kept.map((k) => k.kid), dropped };
}
