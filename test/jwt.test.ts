import { KeyObject, randomBytes, sign as signWithNode } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_AUDIENCE, SESSION_TOKEN_TYPE } from '../src/modules/auth/access-token.ts';
import { decryptPrivateJwk, encryptPrivateJwk, KeyDecryptionError, loadConfiguredKeyStore } from '../src/modules/auth/keys.ts';
import { MeDocument } from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { createUser, signInAs } from './support/factories.ts';

const clock = new ManualClock(new Date('2026-06-01T12:00:00Z'));
let t: TestApp;
let userId: string;
let sessionId: string;
let validToken: string;

beforeAll(async () => {
  t = await startTestApp({ clock });
  const user = await createUser(t.db.prisma);
  userId = user.id;
  const signed = await signInAs(t.app.services, user.id);
  sessionId = signed.session.id;
  validToken = signed.token;
});
afterAll(async () => {
  await t?.close();
});

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
const claims = () => ({ sub: userId, sid: sessionId, iss: 'http://safeclose.test', aud: ACCESS_TOKEN_AUDIENCE, iat: nowSeconds(), exp: nowSeconds() + 600 });

async function meStatus(token: string) {
  const { status, headers, body } = await t.graphql(MeDocument, {}, { token });
  return { status, wwwAuthenticate: headers.get('www-authenticate'), code: body.errors?.[0]?.extensions?.code };
}

function signWith(key: Parameters<SignJWT['sign']>[0], header: Record<string, unknown>, payload: Record<string, unknown> = claims()) {
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid, ...header } as never).sign(key);
}

describe('access-token verification', () => {
  it('accepts the genuine token', async () => {
    expect((await meStatus(validToken)).status).toBe(200);
  });

  it('refuses alg "none"', async () => {
    const token = `${b64({ alg: 'none', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid })}.${b64(claims())}.`;
    expect(await meStatus(token)).toEqual({ status: 401, wwwAuthenticate: 'Bearer error="invalid_token"', code: 'UNAUTHENTICATED' });
  });

  it('refuses HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const publicJwk = t.app.services.keys.jwks().keys[0] as JWK;
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: SESSION_TOKEN_TYPE, kid: publicJwk.kid }).sign(secret);
    expect((await meStatus(token)).status).toBe(401);
  });

  it('refuses a wrong audience, a wrong issuer and a wrong type', async () => {
    const key = t.app.services.keys.signing.privateKey;
    expect((await meStatus(await signWith(key, {}, { ...claims(), aud: 'another-api' }))).status).toBe(401);
    expect((await meStatus(await signWith(key, {}, { ...claims(), iss: 'https://evil.example' }))).status).toBe(401);
    expect((await meStatus(await signWith(key, { typ: 'at+jwt' }))).status).toBe(401);
    // The same key and claims with every field right do pass, so the refusals above are about those fields.
    expect((await meStatus(await signWith(key, {}))).status).toBe(200);
  });

  it('refuses an unknown kid, and never fetches keys named by jku or embedded as jwk', async () => {
    const attacker = await generateKeyPair('ES256');
    const attackerJwk = await exportJWK(attacker.publicKey);
    expect((await meStatus(await signWith(attacker.privateKey, { kid: 'unknown-kid' }))).status).toBe(401);
    expect((await meStatus(await signWith(attacker.privateKey, { jku: 'https://evil.example/jwks.json' }))).status).toBe(401);
    expect((await meStatus(await signWith(attacker.privateKey, { jwk: attackerJwk }))).status).toBe(401);
  });

  it('refuses an expired token at the boundary, and accepts it one second before', async () => {
    const token = await issueFor(60);
    clock.advance(59_000);
    expect((await meStatus(token)).status).toBe(200);
    clock.advance(1_000);
    expect((await meStatus(token)).status).toBe(401);
  });

  it('refuses a token whose session was revoked, though its signature and expiry are fine', async () => {
    const token = await issueFor(600);
    expect((await meStatus(token)).status).toBe(200);
    await t.db.prisma.loginSession.update({ where: { id: sessionId }, data: { revokedAt: clock.now() } });
    expect((await meStatus(token)).status).toBe(401);
    await t.db.prisma.loginSession.update({ where: { id: sessionId }, data: { revokedAt: null } });
  });

  it('refuses a tampered signature, a tampered payload and a cut or re-encoded signature; the untouched token passes', async () => {
    const token = await issueFor(600);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = Buffer.from(signature, 'base64url');
    flipped[10]! ^= 0x01;
    expect((await meStatus(`${header}.${payload}.${flipped.toString('base64url')}`)).status).toBe(401);
    const forged = b64({ ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), sub: 'someone-else' });
    expect((await meStatus(`${header}.${forged}.${signature}`)).status).toBe(401);
    expect((await meStatus(`${header}.${payload}.${signature.slice(0, -4)}`)).status).toBe(401);
    expect((await meStatus(`${header}.${payload}.`)).status).toBe(401);
    // The same signature in DER form (what node:crypto emits by default) is not a JWS signature.
    const der = signWithNode('sha256', Buffer.from(`${header}.${payload}`), KeyObject.from(t.app.services.keys.signing.privateKey));
    expect((await meStatus(`${header}.${payload}.${der.toString('base64url')}`)).status).toBe(401);
    expect((await meStatus(`${header}.${payload}.${signature}`)).status).toBe(200);
  });

  it('refuses every algorithm but ES256, even under our kid and with a valid signature for that algorithm', async () => {
    const p384 = await generateKeyPair('ES384');
    expect((await meStatus(await new SignJWT(claims()).setProtectedHeader({ alg: 'ES384', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid }).sign(p384.privateKey))).status).toBe(401);
    const rsa = await generateKeyPair('RS256');
    expect((await meStatus(await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid }).sign(rsa.privateKey))).status).toBe(401);
    // Our own key and signature, with the header claiming another algorithm.
    expect((await meStatus(signRaw({ alg: 'ES512', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid }, claims()))).status).toBe(401);
    expect((await meStatus(signRaw({ alg: 'ES256', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid }, claims()))).status).toBe(200);
  });

  it('keeps every claim check: exp (expired or missing or not a number), nbf in the future, iat and sid required', async () => {
    const header = { alg: 'ES256', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid };
    const { exp: _exp, ...withoutExp } = claims();
    const { iat: _iat, ...withoutIat } = claims();
    const { sid: _sid, ...withoutSid } = claims();
    expect((await meStatus(signRaw(header, { ...claims(), exp: nowSeconds() - 1 }))).status).toBe(401);
    expect((await meStatus(signRaw(header, { ...claims(), exp: nowSeconds() }))).status).toBe(401);
    expect((await meStatus(signRaw(header, withoutExp))).status).toBe(401);
    expect((await meStatus(signRaw(header, { ...claims(), exp: String(nowSeconds() + 600) }))).status).toBe(401);
    expect((await meStatus(signRaw(header, withoutIat))).status).toBe(401);
    expect((await meStatus(signRaw(header, withoutSid))).status).toBe(401);
    const notYet = signRaw(header, { ...claims(), nbf: nowSeconds() + 30 });
    expect((await meStatus(notYet)).status).toBe(401);
    clock.advance(30_000);
    expect((await meStatus(notYet)).status).toBe(200);
  });

  it('refuses critical header parameters it does not understand, and an unencoded payload', async () => {
    const header = { alg: 'ES256', typ: SESSION_TOKEN_TYPE, kid: t.app.services.keys.signing.kid };
    expect((await meStatus(signRaw({ ...header, crit: ['urn:example:must-understand'], 'urn:example:must-understand': true }, claims()))).status).toBe(401);
    expect((await meStatus(signRaw({ ...header, crit: ['b64'], b64: false }, claims()))).status).toBe(401);
    expect((await meStatus(signRaw({ ...header, typ: 'JWT' }, claims()))).status).toBe(401);
    expect((await meStatus(signRaw(header, claims()))).status).toBe(200);
  });

  it('answers a malformed Authorization header with invalid_token', async () => {
    const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Basic abc' }, body: JSON.stringify({ query: '{ me { id } }' }) });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });
});

/** A compact JWS signed with the server's own key, whatever the header says (jose would refuse to sign some). */
function signRaw(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  const signature = signWithNode('sha256', Buffer.from(signingInput), { key: KeyObject.from(t.app.services.keys.signing.privateKey), dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

async function issueFor(ttlSeconds: number): Promise<string> {
  const { issueAccessToken } = await import('../src/modules/auth/access-token.ts');
  return issueAccessToken({ keys: t.app.services.keys, issuer: 'http://safeclose.test', now: clock.now(), ttlSeconds }, { userId, sessionId });
}

describe('signing keys', () => {
  it('loads keys from JWT_SIGNING_KEYS, and refuses a malformed value with a clear message', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'configured-1' };
    const keys = await loadConfiguredKeyStore(JSON.stringify([jwk]));
    expect(keys.signing.kid).toBe('configured-1');
    expect(keys.jwks().keys[0]).not.toHaveProperty('d');
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    await expect(loadConfiguredKeyStore(JSON.stringify([await exportJWK(publicKey)]))).rejects.toThrow(/JWT_SIGNING_KEYS must be/);
    await expect(loadConfiguredKeyStore(await exportSPKI(publicKey))).rejects.toThrow(/JWT_SIGNING_KEYS must be/);
  });

  it('seals private keys with AES-256-GCM bound to their kid: the right key opens them, a wrong key, another kid or a changed byte do not', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    const encryptionKey = randomBytes(32);
    const sealed = encryptPrivateJwk(encryptionKey, 'kid-1', jwk);
    expect(sealed).not.toContain(String(jwk.d));
    expect(decryptPrivateJwk(encryptionKey, 'kid-1', sealed)).toEqual(jwk);
    expect(() => decryptPrivateJwk(randomBytes(32), 'kid-1', sealed)).toThrow(KeyDecryptionError);
    expect(() => decryptPrivateJwk(encryptionKey, 'kid-2', sealed)).toThrow(KeyDecryptionError);
    const [version, iv, tag, ciphertext = ''] = sealed.split('.');
    const flipped = Buffer.from(ciphertext, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => decryptPrivateJwk(encryptionKey, 'kid-1', [version, iv, tag, flipped.toString('base64url')].join('.'))).toThrow(KeyDecryptionError);
  });
});
