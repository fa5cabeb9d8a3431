import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/lib/logger.ts';
import { issueAccessToken } from '../src/modules/auth/access-token.ts';
import { KEY_ACTIVATION_DELAY_SECONDS, resolveKeyEncryptionKey, rotateSigningKey } from '../src/modules/auth/keys.ts';
import { MeDocument } from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from './support/database.ts';
import { createUser } from './support/factories.ts';

// Two instances, each with its own data directory, on one database: the keys they sign and verify with come from
// that database. On PostgreSQL (TEST_DATABASE_URL) each has its own connection pool and the real rotation command
// runs beside them; on the embedded database, one process's only connection is shared and the rotation is done by
// the same function the command calls.
const KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');
const ENV = { KEY_ENCRYPTION_KEY, KEY_RELOAD_SECONDS: '1', ACCESS_TOKEN_TTL_SECONDS: '3600' };

async function secondConnection(db: TestDatabase): Promise<TestDatabase> {
  if (!db.url) return { ...db, destroy: async () => {} };
  const database = await openDatabase({ kind: 'postgres', url: db.url!, poolSize: 3 }, { logger: createLogger({ level: 'silent' }) });
  return Object.assign(database, { url: db.url, destroy: () => database.close() });
}

/** Polls until `check` holds (the instances reload every second), for at most 20 s. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; waited < 20_000; waited += 100) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not reached within 20 s');
}

function runRotateCommand(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsx = path.join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const child = spawn(process.execPath, [tsx, path.join(projectRoot, 'src', 'modules', 'auth', 'rotate-keys.cli.ts')], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe(`two instances on one ${testDatabaseUrl ? `PostgreSQL database (${new URL(testDatabaseUrl).host})` : 'embedded database'}`, () => {
  // The rotation command stamps its key with the real time, so the instances' clock starts from it.
  const clock = new ManualClock(Date.now());
  let db: TestDatabase;
  let dbForB: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  const commandDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'safeclose-rotate-'));

  beforeAll(async () => {
    db = await createTestDatabase();
    dbForB = await secondConnection(db);
    a = await startTestApp({ clock, database: db, storedKeys: true, env: ENV });
    b = await startTestApp({ clock, database: dbForB, storedKeys: true, env: ENV });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await dbForB?.destroy();
    await db?.destroy();
    fs.rmSync(commandDataDir, { recursive: true, force: true });
  });

  async function rotateByCommand(): Promise<string | undefined> {
    const command = await runRotateCommand({ ...ENV, DATABASE_URL: db.url!, DATA_DIR: commandDataDir, ACCESS_TOKEN_TTL_SECONDS: '30', OAUTH_ACCESS_TOKEN_TTL_SECONDS: '60' });
    expect(command.stderr).toBe('');
    expect(command.code).toBe(0);
    return /New signing key (\S+):/.exec(command.stdout)?.[1];
  }
  const jwksKids = async (on: TestApp) => ((await (await fetch(`${on.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid).sort();
  const meStatus = async (on: TestApp, token: string) => (await on.graphql(MeDocument, {}, { token })).status;
  async function tokenFrom(on: TestApp): Promise<string> {
    const user = await createUser(db.prisma);
    const session = await db.prisma.loginSession.create({ data: { userId: user.id, kind: 'PASSWORD', expiresAt: new Date(clock.now().getTime() + 86_400_000) } });
    return issueAccessToken({ keys: on.app.services.keys, issuer: on.config.publicUrl, now: clock.now(), ttlSeconds: 3600 }, { userId: user.id, sessionId: session.id });
  }

  it('share one signing key: a token issued by either is accepted by the other, and both publish the same JWKS', async () => {
    expect(b.app.services.keys.signing.kid).toBe(a.app.services.keys.signing.kid);
    expect(await jwksKids(a)).toEqual(await jwksKids(b));
    expect(await jwksKids(a)).toHaveLength(1);
    expect(await meStatus(b, await tokenFrom(a))).toBe(200);
    expect(await meStatus(a, await tokenFrom(b))).toBe(200);
    // A token under a key neither stored is refused by both.
    const stranger = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sid: 'x' })
      .setProtectedHeader({ alg: 'ES256', typ: 'session+jwt', kid: a.app.services.keys.signing.kid })
      .setSubject('x')
      .setIssuer('http://safeclose.test')
      .setAudience('safeclose-api')
      .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
      .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + 600)
      .sign(stranger.privateKey);
    expect(await meStatus(a, forged)).toBe(401);
    expect(await meStatus(b, forged)).toBe(401);
  });

  it('stores private keys encrypted: an instance with another KEY_ENCRYPTION_KEY refuses to start', async () => {
    const rows = await db.prisma.signingKey.findMany();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.encryptedPrivateJwk).toMatch(/^v1\./);
      expect(JSON.stringify(row)).not.toMatch(/"d"/);
    }
    const other = await secondConnection(db);
    try {
      await expect(startTestApp({ clock, database: other, storedKeys: true, env: { ...ENV, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } })).rejects.toThrow(/cannot be decrypted with this KEY_ENCRYPTION_KEY/);
    } finally {
      await other.destroy();
    }
  });

  it('a rotation on A and one by the command (on PostgreSQL; by B on the embedded database) reach the other without a restart; tokens signed before verify on both until they expire', async () => {
    const original = a.app.services.keys.signing.kid;
    const before = await tokenFrom(a);
    const issuedAt = clock.now().getTime();

    // A rotation on A's connection.
    const onA = await rotateSigningKey({ db: a.db.prisma, encryptionKey: await resolveKeyEncryptionKey(a.config), now: clock.now() });
    await eventually(async () => (await jwksKids(b)).includes(onA.kid));

    // The command, run with its own and very different token lifetimes: they decide nothing about retention. A
    // second later than A's, so its key activates after A's and is the one both end up signing with.
    clock.advance(1000);
    const commandKid = db.url ? await rotateByCommand() : (await rotateSigningKey({ db: b.db.prisma, encryptionKey: await resolveKeyEncryptionKey(b.config), now: clock.now() })).kid;
    expect(commandKid).toBeDefined();
    await eventually(async () => (await jwksKids(a)).includes(commandKid!) && (await jwksKids(b)).includes(commandKid!));
    expect(await jwksKids(a)).toEqual([original, onA.kid, commandKid].sort());
    expect(await jwksKids(b)).toEqual(await jwksKids(a));

    // Published, not yet signing.
    expect(decodeProtectedHeader(await tokenFrom(b)).kid).toBe(original);

    // After the activation delay both sign with the newest key and accept each other's tokens, and the old one.
    clock.advance((KEY_ACTIVATION_DELAY_SECONDS + 60) * 1000);
    await eventually(async () => a.app.services.keys.signing.kid === commandKid && b.app.services.keys.signing.kid === commandKid);
    const fromA = await tokenFrom(a);
    const fromB = await tokenFrom(b);
    expect(decodeProtectedHeader(fromA).kid).toBe(commandKid);
    expect(await meStatus(b, fromA)).toBe(200);
    expect(await meStatus(a, fromB)).toBe(200);
    clock.set(new Date(issuedAt + 3500_000));
    await a.app.services.keys.reload();
    await b.app.services.keys.reload();
    expect(await meStatus(a, before)).toBe(200);
    expect(await meStatus(b, before)).toBe(200);
    expect(await jwksKids(b)).toContain(original);

    // Expired: refused on both.
    clock.set(new Date(issuedAt + 3601_000));
    expect(await meStatus(a, before)).toBe(401);
    expect(await meStatus(b, before)).toBe(401);
  });
});
