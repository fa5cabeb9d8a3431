import { createCipheriv, createDecipheriv, createPublicKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errors, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type JWSHeaderParameters } from 'jose';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';

export const JWT_ALGORITHM = 'ES256';

/**
 * A new key verifies (and is listed in the JWKS) as soon as it is stored, but signs only this long afterwards: long
 * enough for every instance to have reloaded the key set (KEY_RELOAD_SECONDS is at most 120) and for verifiers
 * outside the server to have refreshed their cached JWKS (served with max-age 300), clock skew included.
 */
export const KEY_ACTIVATION_DELAY_SECONDS = 600;

/**
 * Added to a retired key's retention, on top of the longest token it can have signed: clock skew between servers,
 * and a server whose reloads failed for a while and kept signing with the old key past its retirement.
 */
export const KEY_RETENTION_MARGIN_SECONDS = 300;

/** A token naming a `kid` this instance does not know reloads the key set, but not more often than this. */
export const UNKNOWN_KID_RELOAD_GAP_MS = 5_000;

/**
 * The longest lifetime of any JWT this server signs (the only two signing calls are `issueAccessToken` and the
 * OAuth token endpoint): session access tokens (sender and signer sessions' are capped by them), magic-link sessions'
 * access tokens and OAuth client-credentials access tokens. A retired key is kept at least this long after it
 * stopped signing.
 */
export function longestTokenLifetimeSeconds(config: Config): number {
  return Math.max(config.auth.accessTokenTtlSeconds, config.auth.magicLinkAccessTokenTtlSeconds, config.publicApi.accessTokenTtlSeconds);
}

/**
 * jose's key lookup for tokens this server signed: by `kid`, from the key store only. Header-supplied keys (`jku`,
 * `x5u`, `jwk`) are never consulted. An unknown `kid` reloads the store first (rate-limited): another instance
 * may have stored a key this one has not loaded yet.
 */
export function verificationKeyResolver(keys: Pick<KeyStore, 'verificationKey' | 'refreshFor'>) {
  return async (header: JWSHeaderParameters): Promise<CryptoKey> => {
    if (!header.kid) throw new errors.JWKSNoMatchingKey();
    const key = keys.verificationKey(header.kid) ?? ((await keys.refreshFor(header.kid)) ? keys.verificationKey(header.kid) : undefined);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  };
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/** The keys that sign access tokens (the newest active one) and verify them (every key still listed). */
export interface KeyStore {
  /** The key to sign with now. */
  readonly signing: SigningKey;
  verificationKey(kid: string): CryptoKey | undefined;
  /** The same public key as a Node KeyObject, for synchronous verification off libuv's thread pool. */
  verificationKeyObject(kid: string): KeyObject | undefined;
  /**
   * For a `kid` this store does not know: reloads the shared key set (at most once per UNKNOWN_KID_RELOAD_GAP_MS)
   * and answers whether the key is known now. Stores that cannot change answer false.
   */
  refreshFor(kid: string): Promise<boolean>;
  /** Reads the shared key set again now (what the periodic reload does); a no-op for stores that cannot change. */
  reload(): Promise<void>;
  /** The public half of every key, for /.well-known/jwks.json. */
  jwks(): { keys: JWK[] };
  /** Stops periodic reloading. */
  close(): void;
}

interface PublicKeys {
  cryptoKeys: Map<string, CryptoKey>;
  keyObjects: Map<string, KeyObject>;
  jwks: JWK[];
}

function publicPart(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

async function importPublicKeys(keys: Array<{ kid: string; jwk: JWK }>): Promise<PublicKeys> {
  const result: PublicKeys = { cryptoKeys: new Map(), keyObjects: new Map(), jwks: [] };
  for (const { kid, jwk } of keys) {
    const publicJwk = publicPart(jwk);
    result.cryptoKeys.set(kid, (await importJWK({ ...publicJwk, alg: JWT_ALGORITHM }, JWT_ALGORITHM)) as CryptoKey);
    result.keyObjects.set(kid, createPublicKey({ key: publicJwk as never, format: 'jwk' }));
    result.jwks.push({ ...publicJwk, kid, alg: JWT_ALGORITHM, use: 'sig' });
  }
  return result;
}

async function importPrivateKey(jwk: JWK): Promise<CryptoKey> {
  return (await importJWK({ ...jwk, alg: JWT_ALGORITHM }, JWT_ALGORITHM)) as CryptoKey;
}

async function generatePrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(JWT_ALGORITHM, { extractable: true });
  return exportJWK(privateKey);
}

/** A store whose keys never change: JWT_SIGNING_KEYS, or one key in memory (tests). */
async function staticKeyStore(keys: Array<{ kid: string; jwk: JWK }>): Promise<KeyStore> {
  const newest = keys[0];
  if (!newest) throw new Error('No signing key available.');
  const publicKeys = await importPublicKeys(keys);
  const signing = { kid: newest.kid, privateKey: await importPrivateKey(newest.jwk) };
  return {
    signing,
    verificationKey: (kid) => publicKeys.cryptoKeys.get(kid),
    verificationKeyObject: (kid) => publicKeys.keyObjects.get(kid),
    refreshFor: async () => false,
    reload: async () => {},
    jwks: () => ({ keys: publicKeys.jwks.map((jwk) => ({ ...jwk })) }),
    close: () => {},
  };
}

/** One freshly generated key, held in memory only: for tests that do not exercise key storage. */
export async function createMemoryKeyStore(): Promise<KeyStore> {
  return staticKeyStore([{ kid: randomUUID(), jwk: await generatePrivateJwk() }]);
}

/** Parses JWT_SIGNING_KEYS: a JSON array of private EC P-256 JWKs, each with a `kid`, the signing key first. */
function parseConfiguredKeys(json: string): Array<{ kid: string; jwk: JWK }> {
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
    return { kid: jwk.kid, jwk };
  });
}

export async function loadConfiguredKeyStore(json: string): Promise<KeyStore> {
  return staticKeyStore(parseConfiguredKeys(json));
}

// ---------------------------------------------------------------------------------------------------------------
// Encryption of private keys at rest

const CIPHER_VERSION = 'v1';

export class KeyDecryptionError extends Error {
  constructor(kid: string) {
    super(`Signing key ${kid} cannot be decrypted with this KEY_ENCRYPTION_KEY: every instance on one database needs the same one.`);
    this.name = 'KeyDecryptionError';
  }
}

/** AES-256-GCM with a fresh 96-bit nonce; the `kid` is bound as associated data, so ciphertexts cannot be swapped. */
export function encryptPrivateJwk(encryptionKey: Buffer, kid: string, jwk: JWK): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', encryptionKey, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
  return [CIPHER_VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

export function decryptPrivateJwk(encryptionKey: Buffer, kid: string, sealed: string): JWK {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== CIPHER_VERSION || !iv || !tag || ciphertext === undefined) throw new KeyDecryptionError(kid);
  try {
    const decipher = createDecipheriv('aes-256-gcm', encryptionKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as JWK;
  } catch {
    throw new KeyDecryptionError(kid);
  }
}

/**
 * The key that encrypts private signing keys in the database: KEY_ENCRYPTION_KEY when set; otherwise (development,
 * tests, and the embedded database, which lives in the same directory anyway) one generated once into
 * `$DATA_DIR/keys/key-encryption-key` (mode 600). Production with DATABASE_URL requires the variable (config.ts).
 */
export async function resolveKeyEncryptionKey(config: Pick<Config, 'dataDir' | 'auth'>, logger?: Logger): Promise<Buffer> {
  if (config.auth.keyEncryptionKey) return config.auth.keyEncryptionKey;
  const file = path.join(config.dataDir, 'keys', 'key-encryption-key');
  const read = async () => Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'base64');
  try {
    const key = await read();
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key.`);
    logger?.info({ file }, 'KEY_ENCRYPTION_KEY is not set: signing keys are encrypted with the key in the data directory');
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await fs.writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    logger?.info({ file }, 'KEY_ENCRYPTION_KEY is not set: generated a key-encryption key in the data directory');
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return read();
}

// ---------------------------------------------------------------------------------------------------------------
// Keys shared through the database

interface KeyRow {
  kid: string;
  publicJwk: unknown;
  encryptedPrivateJwk: string;
  createdAt: Date;
  activatesAt: Date;
  maxTokenTtlSeconds: number;
}

const byActivation = (a: KeyRow, b: KeyRow) => a.activatesAt.getTime() - b.activatesAt.getTime() || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);

/**
 * Keys whose every token has expired: a key retires when the next key activates, and its tokens live at most the
 * longest token lifetime of any server that loaded it (recorded in the row), plus the margin. The newest active key
 * and keys waiting to activate are never among them. Decided from the rows alone, so every server and the
 * rotation command agree, whatever their own settings.
 */
export function expiredKeys(rows: KeyRow[], now: Date): string[] {
  const sorted = [...rows].sort(byActivation);
  const expired: string[] = [];
  for (let index = 0; index < sorted.length - 1; index++) {
    const key = sorted[index]!;
    const successor = sorted[index + 1]!;
    const retiredAt = successor.activatesAt.getTime();
    if (retiredAt > now.getTime()) break;
    if (now.getTime() > retiredAt + (key.maxTokenTtlSeconds + KEY_RETENTION_MARGIN_SECONDS) * 1000) expired.push(key.kid);
  }
  return expired;
}

async function newKeyRow(encryptionKey: Buffer, now: Date, activatesAt: Date): Promise<KeyRow> {
  const kid = randomUUID();
  const jwk = await generatePrivateJwk();
  return { kid, publicJwk: publicPart(jwk), encryptedPrivateJwk: encryptPrivateJwk(encryptionKey, kid, jwk), createdAt: now, activatesAt, maxTokenTtlSeconds: 0 };
}

/** Keys persisted by earlier versions in `$DATA_DIR/keys/jwt-signing-keys.json`, newest first. */
async function readLegacyKeyFile(dataDir: string): Promise<Array<{ kid: string; createdAt: string; jwk: JWK }>> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(dataDir, 'keys', 'jwt-signing-keys.json'), 'utf8')) as { keys?: Array<{ kid: string; createdAt: string; jwk: JWK }> };
    return Array.isArray(parsed.keys) ? parsed.keys.filter((key) => typeof key.kid === 'string' && key.jwk?.d) : [];
  } catch {
    return [];
  }
}

/**
 * The first key of an empty table, inserted only while the table is empty. Two instances starting at once may
 * both insert: both keys verify everywhere, and every instance signs with the same one (the highest `kid`).
 * Keys from an earlier version's key file are imported first, so tokens they signed stay valid.
 */
async function seedKeys(db: Db, encryptionKey: Buffer, now: Date, dataDir: string | undefined): Promise<void> {
  if ((await db.signingKey.count()) > 0) return;
  const legacy = dataDir ? await readLegacyKeyFile(dataDir) : [];
  const rows: KeyRow[] = legacy.length
    ? legacy.map((key, index) => ({
        kid: key.kid,
        publicJwk: publicPart(key.jwk),
        encryptedPrivateJwk: encryptPrivateJwk(encryptionKey, key.kid, key.jwk),
        createdAt: Number.isNaN(Date.parse(key.createdAt)) ? now : new Date(key.createdAt),
        // The file's first key signs now; the others retired when it did, so their activation only orders them.
        activatesAt: index === 0 ? now : new Date(now.getTime() - index * 1000),
        maxTokenTtlSeconds: 0,
      }))
    : [await newKeyRow(encryptionKey, now, now)];
  for (const row of rows) {
    await db.$executeRaw`
      INSERT INTO "SigningKey" ("kid", "publicJwk", "encryptedPrivateJwk", "createdAt", "activatesAt", "maxTokenTtlSeconds")
      SELECT ${row.kid}, ${JSON.stringify(row.publicJwk)}::jsonb, ${row.encryptedPrivateJwk}, ${row.createdAt}::timestamptz, ${row.activatesAt}::timestamptz, 0
      WHERE ${legacy.length > 0} OR NOT EXISTS (SELECT 1 FROM "SigningKey")
      ON CONFLICT ("kid") DO NOTHING`;
  }
}

/**
 * `npm run keys:rotate` and its tests: stores a new key that every instance starts verifying at its next reload and
 * signing with KEY_ACTIVATION_DELAY_SECONDS from now. Nothing about the old keys is decided here: they retire when
 * the new key activates and are pruned by the rule in `expiredKeys`, from what the rows record.
 */
export async function rotateSigningKey(options: { db: Db; encryptionKey: Buffer; now: Date }): Promise<{ kid: string; activatesAt: Date; pruned: string[] }> {
  const activatesAt = new Date(options.now.getTime() + KEY_ACTIVATION_DELAY_SECONDS * 1000);
  const row = await newKeyRow(options.encryptionKey, options.now, activatesAt);
  await options.db.signingKey.create({ data: { ...row, publicJwk: row.publicJwk as object } });
  const pruned = await pruneExpiredKeys(options.db, options.now);
  return { kid: row.kid, activatesAt, pruned };
}

async function pruneExpiredKeys(db: Db, now: Date): Promise<string[]> {
  const rows = await db.signingKey.findMany({ select: { kid: true, activatesAt: true, maxTokenTtlSeconds: true } });
  const expired = expiredKeys(rows as KeyRow[], now);
  if (expired.length) await db.signingKey.deleteMany({ where: { kid: { in: expired } } });
  return expired;
}

interface LoadedKeys {
  publicKeys: PublicKeys;
  /** Keys this instance may sign with, oldest activation first: the active one and those waiting to activate. */
  signers: Array<{ kid: string; activatesAt: number; privateKey: CryptoKey }>;
}

/**
 * Keys shared by every instance on one database. The set is reloaded every KEY_RELOAD_SECONDS and when a token
 * names an unknown `kid`; each reload records this instance's longest token lifetime on the keys it may sign with
 * (so pruning waits for its tokens) and prunes keys whose tokens have all expired.
 */
class DatabaseKeyStore implements KeyStore {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #encryptionKey: Buffer;
  readonly #maxTokenTtlSeconds: number;
  readonly #logger: Logger | undefined;
  readonly #privateKeys = new Map<string, CryptoKey>();
  #loaded: LoadedKeys | undefined;
  #lastLoadMs = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(options: { db: Db; clock: Clock; encryptionKey: Buffer; maxTokenTtlSeconds: number; logger?: Logger | undefined }) {
    this.#db = options.db;
    this.#clock = options.clock;
    this.#encryptionKey = options.encryptionKey;
    this.#maxTokenTtlSeconds = options.maxTokenTtlSeconds;
    this.#logger = options.logger;
  }

  startReloading(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.reload().then(
        () => {
          if (this.#failing) this.#logger?.info('signing keys reloaded again');
          this.#failing = false;
        },
        (error: unknown) => {
          if (!this.#failing) this.#logger?.warn({ err: error }, 'signing keys could not be reloaded; verifying and signing with the keys already loaded');
          this.#failing = true;
        },
      );
    }, intervalMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  get signing(): SigningKey {
    const signers = this.#loaded?.signers ?? [];
    const nowMs = this.#clock.now().getTime();
    let chosen = signers[0];
    for (const signer of signers) if (signer.activatesAt <= nowMs) chosen = signer;
    if (!chosen) throw new Error('No signing key available.');
    return { kid: chosen.kid, privateKey: chosen.privateKey };
  }

  verificationKey(kid: string): CryptoKey | undefined {
    return this.#loaded?.publicKeys.cryptoKeys.get(kid);
  }

  verificationKeyObject(kid: string): KeyObject | undefined {
    return this.#loaded?.publicKeys.keyObjects.get(kid);
  }

  jwks(): { keys: JWK[] } {
    return { keys: (this.#loaded?.publicKeys.jwks ?? []).map((jwk) => ({ ...jwk })) };
  }

  async refreshFor(kid: string): Promise<boolean> {
    if (this.verificationKey(kid)) return true;
    if (!this.#loading && this.#clock.now().getTime() - this.#lastLoadMs < UNKNOWN_KID_RELOAD_GAP_MS) return false;
    try {
      await this.reload();
    } catch (error) {
      this.#logger?.warn({ err: error }, 'signing keys could not be reloaded for an unknown key id');
      return false;
    }
    return this.verificationKey(kid) !== undefined;
  }

  /** Concurrent callers share one reload. */
  reload(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const now = this.#clock.now();
    this.#lastLoadMs = now.getTime();
    await pruneExpiredKeys(this.#db, now);
    const rows = ((await this.#db.signingKey.findMany()) as KeyRow[]).sort(byActivation);
    if (rows.length === 0) throw new Error('No signing key available.');
    let activeIndex = 0;
    rows.forEach((row, index) => {
      if (row.activatesAt.getTime() <= now.getTime()) activeIndex = index;
    });
    const candidates = rows.slice(activeIndex);
    // Before signing with a key, make sure pruning will wait for the longest token this instance may sign with it.
    await this.#db.signingKey.updateMany({
      where: { kid: { in: candidates.map((row) => row.kid) }, maxTokenTtlSeconds: { lt: this.#maxTokenTtlSeconds } },
      data: { maxTokenTtlSeconds: this.#maxTokenTtlSeconds },
    });
    const signers: LoadedKeys['signers'] = [];
    for (const row of candidates) {
      let privateKey = this.#privateKeys.get(row.kid);
      if (!privateKey) {
        privateKey = await importPrivateKey(decryptPrivateJwk(this.#encryptionKey, row.kid, row.encryptedPrivateJwk));
        this.#privateKeys.set(row.kid, privateKey);
      }
      signers.push({ kid: row.kid, activatesAt: row.activatesAt.getTime(), privateKey });
    }
    const known = new Set(rows.map((row) => row.kid));
    for (const kid of this.#privateKeys.keys()) if (!known.has(kid)) this.#privateKeys.delete(kid);
    // Newest first in the JWKS, as before.
    const publicKeys = await importPublicKeys([...rows].reverse().map((row) => ({ kid: row.kid, jwk: row.publicJwk as JWK })));
    this.#loaded = { publicKeys, signers };
  }
}

/**
 * The server's key store. JWT_SIGNING_KEYS, when set, overrides everything. Otherwise the keys live in the
 * database (PostgreSQL or the embedded PGlite alike), shared by every instance on it, private halves encrypted
 * with the key-encryption key; the first start stores the first key.
 */
export async function loadKeyStore(options: { config: Config; db: Db; clock: Clock; logger?: Logger }): Promise<KeyStore> {
  const { config } = options;
  if (config.auth.signingKeys) return loadConfiguredKeyStore(config.auth.signingKeys);
  const encryptionKey = await resolveKeyEncryptionKey(config, options.logger);
  await seedKeys(options.db, encryptionKey, options.clock.now(), config.dataDir);
  const store = new DatabaseKeyStore({
    db: options.db,
    clock: options.clock,
    encryptionKey,
    maxTokenTtlSeconds: longestTokenLifetimeSeconds(config),
    logger: options.logger,
  });
  await store.reload();
  store.startReloading(config.auth.keyReloadSeconds * 1000);
  return store;
}
