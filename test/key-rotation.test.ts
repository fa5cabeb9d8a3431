import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { issueAccessToken } from '../src/modules/auth/access-token.ts';
import {
  KEY_ACTIVATION_DELAY_SECONDS,
  KEY_RETENTION_MARGIN_SECONDS,
  longestTokenLifetimeSeconds,
  resolveKeyEncryptionKey,
  rotateSigningKey,
  UNKNOWN_KID_RELOAD_GAP_MS,
} from '../src/modules/auth/keys.ts';
import { MeDocument } from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post } from './support/apps.ts';
import { createUser } from './support/factories.ts';

// Keys stored in the database, as the server keeps them, on one database shared by two instances: `t` with the
// default lifetimes (OAuth access tokens live an hour) and `short`, configured with ten-minute lifetimes only.
const clock = new ManualClock(new Date('2026-06-01T08:00:00.000Z'));
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const HOUR = 3600_000;
const KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');

let t: TestApp;
let short: TestApp;
let org: Awaited<ReturnType<typeof appOrganization>>;
let client: { id: string; clientId: string; clientSecret: string };

beforeAll(async () => {
  t = await startTestApp({ clock, storedKeys: true, env: { KEY_ENCRYPTION_KEY } });
  short = await startTestApp({ clock, storedKeys: true, database: t.db, env: { KEY_ENCRYPTION_KEY, OAUTH_ACCESS_TOKEN_TTL_SECONDS: '600', ACCESS_TOKEN_TTL_SECONDS: '600' } });
  org = await appOrganization(t);
  const registration = await org.createRegistration(['127.0.0.1', '::1']);
  client = await org.createClient(registration.id);
});
afterAll(async () => {
  await short?.close();
  await t?.close();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function oauthToken(on: TestApp = t): Promise<string> {
  const response = await post(`${on.url}/v1/Auth/Connect/Token`, { ...FORM, authorization: basic(client.clientId, client.clientSecret) }, form({ grant_type: 'client_credentials' }));
  expect(response.status).toBe(200);
  return String(response.body.access_token);
}
const introspect = async (on: TestApp, token: string) =>
  (await post(`${on.url}/v1/Auth/Connect/Introspect`, { ...FORM, authorization: basic(client.clientId, client.clientSecret) }, form({ token }))).body.active;
const signAppIn = async (on: TestApp, token: string) => (await post(`${on.url}/v1/Auth/SignAppIn`, { authorization: `Bearer ${token}` })).status;
const jwksKids = async (on: TestApp) => ((await (await fetch(`${on.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

async function rotate(): Promise<string> {
  const { kid } = await rotateSigningKey({ db: t.db.prisma, encryptionKey: await resolveKeyEncryptionKey(t.config), now: clock.now() });
  return kid;
}
async function reloadBoth(): Promise<void> {
  await t.app.services.keys.reload();
  await short.app.services.keys.reload();
}
async function sessionToken(on: TestApp): Promise<string> {
  const user = await createUser(t.db.prisma);
  const session = await t.db.prisma.loginSession.create({ data: { userId: user.id, kind: 'PASSWORD', expiresAt: new Date(clock.now().getTime() + 24 * HOUR) } });
  return issueAccessToken({ keys: on.app.services.keys, issuer: on.config.publicUrl, now: clock.now(), ttlSeconds: 600 }, { userId: user.id, sessionId: session.id });
}

describe('signing keys stored in the database', () => {
  it('both instances on one database sign with the same key and publish the same JWKS', async () => {
    expect(short.app.services.keys.signing.kid).toBe(t.app.services.keys.signing.kid);
    expect(await jwksKids(short)).toEqual(await jwksKids(t));
    const token = await sessionToken(t);
    expect((await short.graphql(MeDocument, {}, { token })).status).toBe(200);
  });

  it('keeps retired keys for the longest token lifetime in the configuration, whatever kind of token', () => {
    expect(longestTokenLifetimeSeconds(t.config)).toBe(3600);
    expect(longestTokenLifetimeSeconds(loadConfig({ OAUTH_ACCESS_TOKEN_TTL_SECONDS: '7200' }))).toBe(7200);
    expect(longestTokenLifetimeSeconds(loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '3000', OAUTH_ACCESS_TOKEN_TTL_SECONDS: '600', MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS: '600' }))).toBe(3000);
    expect(longestTokenLifetimeSeconds(loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '600', OAUTH_ACCESS_TOKEN_TTL_SECONDS: '600', MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS: '5400' }))).toBe(5400);
  });

  it('needs KEY_ENCRYPTION_KEY in production on PostgreSQL without JWT_SIGNING_KEYS, and checks its size', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgresql://app@db.internal:5432/safeclose' };
    expect(() => loadConfig(production)).toThrow(/KEY_ENCRYPTION_KEY is required in production/);
    expect(loadConfig({ ...production, KEY_ENCRYPTION_KEY }).auth.keyEncryptionKey).toHaveLength(32);
    expect(loadConfig({ ...production, JWT_SIGNING_KEYS: '[]' }).auth.keyEncryptionKey).toBeUndefined();
    expect(() => loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(16).toString('base64') })).toThrow(/KEY_ENCRYPTION_KEY must be 32 bytes in base64/);
  });

  it('without KEY_ENCRYPTION_KEY outside production, encrypts with a key generated under DATA_DIR and says so', async () => {
    const own = await startTestApp({ clock, storedKeys: true });
    try {
      const file = path.join(own.config.dataDir, 'keys', 'key-encryption-key');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
      expect(own.logs.entries().some((entry) => entry.msg === 'KEY_ENCRYPTION_KEY is not set: generated a key-encryption key in the data directory')).toBe(true);
      expect(own.logs.text).not.toContain(fs.readFileSync(file, 'utf8').trim());
    } finally {
      await own.close();
    }
  });

  it('publishes a new key for verification first and signs with it only after the activation delay, on every instance', async () => {
    const before = t.app.services.keys.signing.kid;
    const fresh = await rotate();
    // `short` has not reloaded yet: what `t` signs meanwhile must still verify there.
    await t.app.services.keys.reload();
    expect(await jwksKids(t)).toEqual([fresh, before]);
    const meanwhile = await oauthToken(t);
    expect(kidOf(meanwhile)).toBe(before);
    expect(await signAppIn(short, meanwhile)).toBe(200);

    clock.advance((KEY_ACTIVATION_DELAY_SECONDS + 1) * 1000);
    await short.app.services.keys.reload();
    expect(t.app.services.keys.signing.kid).toBe(fresh);
    expect(short.app.services.keys.signing.kid).toBe(fresh);
    expect(kidOf(await oauthToken(short))).toBe(fresh);
    expect(await introspect(t, meanwhile)).toBe(true);
  });

  it('two rotations inside an hour leave a client-credentials token valid for its whole hour, even on an instance configured with shorter lifetimes', async () => {
    const issued = clock.now().getTime();
    const token = await oauthToken(t);
    const signedWith = kidOf(token);

    await rotate();
    clock.advance((KEY_ACTIVATION_DELAY_SECONDS + 1) * 1000);
    await reloadBoth();
    await rotate();
    clock.advance((KEY_ACTIVATION_DELAY_SECONDS + 1) * 1000);
    await reloadBoth();
    expect(t.app.services.keys.signing.kid).not.toBe(signedWith);

    // 40 minutes on, two keys later: the token's key retired 30 minutes ago, well past ACCESS_TOKEN_TTL_SECONDS.
    clock.set(new Date(issued + 40 * 60_000));
    await reloadBoth();
    for (const on of [t, short]) {
      expect(await jwksKids(on)).toContain(signedWith);
      expect(await introspect(on, token)).toBe(true);
      expect(await signAppIn(on, token)).toBe(200);
    }

    // Its hour is over: refused for expiry, while its key is still published for a while.
    clock.set(new Date(issued + HOUR + 1000));
    await reloadBoth();
    expect(await jwksKids(t)).toContain(signedWith);
    expect(await introspect(t, token)).toBe(false);
    expect(await signAppIn(short, token)).toBe(401);
  });

  it('prunes a retired key only once the longest token it can have signed has expired, plus the margin', async () => {
    const signedWith = t.app.services.keys.signing.kid;
    await rotate();
    const retiredAt = clock.now().getTime() + KEY_ACTIVATION_DELAY_SECONDS * 1000;
    // `short` alone would keep it for ten minutes; the row says an instance signs hour-long tokens with it.
    clock.set(new Date(retiredAt + (600 + KEY_RETENTION_MARGIN_SECONDS + 60) * 1000));
    await short.app.services.keys.reload();
    expect(await jwksKids(short)).toContain(signedWith);

    clock.set(new Date(retiredAt + (3600 + KEY_RETENTION_MARGIN_SECONDS + 1) * 1000));
    await short.app.services.keys.reload();
    await t.app.services.keys.reload();
    expect(await jwksKids(short)).not.toContain(signedWith);
    expect(await jwksKids(t)).not.toContain(signedWith);
    expect(await t.db.prisma.signingKey.count({ where: { kid: signedWith } })).toBe(0);
    // The newest key stays, however old.
    expect(await jwksKids(t)).toContain(t.app.services.keys.signing.kid);
  });

  it('an instance that has not loaded a key yet reloads on a token naming it, at most once per few seconds', async () => {
    const fresh = await rotate();
    clock.advance((KEY_ACTIVATION_DELAY_SECONDS + 1) * 1000);
    await t.app.services.keys.reload();
    expect(await jwksKids(short)).not.toContain(fresh);
    const token = await sessionToken(t);
    expect(kidOf(token)).toBe(fresh);
    expect((await short.graphql(MeDocument, {}, { token })).status).toBe(200);
    expect(await jwksKids(short)).toContain(fresh);

    // A kid nobody stored: one reload, then refused without another within the gap.
    const keys = short.app.services.keys;
    const reload = keys.reload.bind(keys);
    let reloads = 0;
    keys.reload = () => {
      reloads++;
      return reload();
    };
    clock.advance(UNKNOWN_KID_RELOAD_GAP_MS + 1000);
    expect(await keys.refreshFor('no-such-kid')).toBe(false);
    expect(reloads).toBe(1);
    const forged = `${Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'session+jwt', kid: 'no-such-kid' })).toString('base64url')}.e30.AAAA`;
    expect((await short.graphql(MeDocument, {}, { token: forged })).status).toBe(401);
    expect(await keys.refreshFor('another-unknown-kid')).toBe(false);
    expect(reloads).toBe(1);
    clock.advance(UNKNOWN_KID_RELOAD_GAP_MS + 1000);
    expect((await short.graphql(MeDocument, {}, { token: forged })).status).toBe(401);
    expect(reloads).toBe(2);
  });
});
