import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/lib/tokens.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth, RUNNER_PASSWORD } from './support/apps.ts';
import { signInAs } from './support/factories.ts';

const ME = '{ me { id email } }';

// The app listens on every interface, so the same test reaches it as 127.0.0.1 (seen on the socket as the
// IPv4-mapped ::ffff:127.0.0.1) and as ::1.
let t: TestApp;
let port: number;
let org: Awaited<ReturnType<typeof appOrganization>>;
const v4 = (path: string) => `http://127.0.0.1:${port}${path}`;
const v6 = (path: string) => `http://[::1]:${port}${path}`;

beforeAll(async () => {
  t = await startTestApp({ env: { HOST: '::' } });
  port = Number(new URL(t.url.replace('[::]', 'localhost')).port);
  org = await appOrganization(t);
});
afterAll(() => t.close());

const signAppIn = (authorization: string | undefined, base = v4, path = '/v1/Auth/SignAppin', headers: Record<string, string> = {}) =>
  post(base(path), { ...(authorization ? { authorization } : {}), ...headers });

describe('POST /v1/Auth/SignAppin', () => {
  it('signs in with the key and run-as user and answers the user model, a session cookie and a usable token', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const response = await signAppIn(psAuth(registration.key, org.runner.email));
    expect(response.status).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual(['EmailAddress', 'Name', 'SID', 'UserId', 'UserName']);
    const numericId = (await t.db.prisma.user.findUniqueOrThrow({ where: { id: org.runner.id } })).numericId;
    expect(response.body).toEqual({ UserId: numericId, SID: org.runner.id, EmailAddress: org.runner.email, UserName: org.runner.email, Name: 'Rita Runner' });
    expect(Number.isInteger(response.body.UserId)).toBe(true);
    expect(response.headers.getSetCookie().some((c) => c.startsWith('sc_access=') && c.includes('HttpOnly'))).toBe(true);
    const token = response.headers.get('x-access-token')!;
    const me = await t.graphql(ME, undefined, { token });
    expect(me.body.data).toEqual({ me: { id: org.runner.id, email: org.runner.email } });
    const session = await t.db.prisma.loginSession.findFirstOrThrow({ where: { userId: org.runner.id, kind: 'APP_SIGN_IN' }, orderBy: { createdAt: 'desc' } });
    expect(session.apiRegistrationId).toBe(registration.id);
  });

  it('matches the path case-insensitively, as the seed writes both SignAppin and SignAppIn', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    for (const path of ['/v1/Auth/SignAppIn', '/V1/AUTH/SIGNAPPIN', '/v1/auth/signappin']) {
      expect((await signAppIn(psAuth(registration.key, org.runner.email), v4, path)).status).toBe(200);
    }
    expect((await post(v4('/v1/Auth/SignAppin2'))).status).toBe(404);
  });

  it('accepts the optional pwd=[...] only when it is the user\'s password, brackets and semicolons included', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    expect((await signAppIn(psAuth(registration.key, org.runner.email, RUNNER_PASSWORD))).status).toBe(200);
    const wrong = await signAppIn(psAuth(registration.key, org.runner.email, 'not-the-password'));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: { code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' } });
    const semicolons = await signAppIn(psAuth(registration.key, org.runner.email, 'a;b]c'));
    expect(semicolons.status).toBe(401);
  });

  it('answers 401 for a bad key, an unknown user, a malformed header and no credentials', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const badKey = await signAppIn(psAuth(`${registration.key}x`, org.runner.email));
    expect(badKey.status).toBe(401);
    expect(badKey.body).toMatchObject({ error: { code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' } });
    const unknownUser = await signAppIn(psAuth(registration.key, 'nobody@example.test'));
    expect(unknownUser.status).toBe(401);
    expect(unknownUser.body).toEqual(badKey.body);
    const malformed = await signAppIn(`PS-Auth key=${registration.key}; colour=blue;`);
    expect(malformed.status).toBe(401);
    expect(malformed.body).toMatchObject({ error: { reason: 'MALFORMED_AUTHORIZATION' } });
    const none = await signAppIn(undefined);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { reason: 'MISSING_CREDENTIALS' } });
  });

  it("answers 403 when none of the user's groups has access to the registration", async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const denied = await signAppIn(psAuth(registration.key, org.outsider.email));
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: { code: 'FORBIDDEN', reason: 'GROUP_NOT_ALLOWED' } });
    expect((await signAppIn(psAuth(registration.key, org.runner.email))).status).toBe(200);
  });

  it("answers 403 while the organization's subscription (the license) is not active", async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    for (const status of ['CANCELED', 'SUSPENDED', 'PAST_DUE'] as const) {
      await t.db.prisma.organization.update({ where: { id: org.organization.id }, data: { subscriptionStatus: status } });
      const denied = await signAppIn(psAuth(registration.key, org.runner.email));
      expect(denied.status).toBe(403);
      expect(denied.body).toMatchObject({ error: { code: 'FORBIDDEN', reason: 'LICENSE_INACTIVE' } });
    }
    await t.db.prisma.organization.update({ where: { id: org.organization.id }, data: { subscriptionStatus: 'TRIALING' } });
    expect((await signAppIn(psAuth(registration.key, org.runner.email))).status).toBe(200);
    await t.db.prisma.organization.update({ where: { id: org.organization.id }, data: { subscriptionStatus: 'ACTIVE' } });
  });

  it('a revoked registration stops working and the sessions opened with it end', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const opened = await signAppIn(psAuth(registration.key, org.runner.email));
    const token = opened.headers.get('x-access-token')!;
    expect((await t.graphql(ME, undefined, { token })).status).toBe(200);
    const revoked = await org.gql(`mutation($id: ID!) { revokeApiRegistration(id: $id) { disabledAt } }`, { id: registration.id });
    expect((revoked.revokeApiRegistration as { disabledAt: string | null }).disabledAt).not.toBeNull();
    expect((await signAppIn(psAuth(registration.key, org.runner.email))).status).toBe(401);
    expect((await t.graphql(ME, undefined, { token })).status).toBe(401);
  });

  it('stores only the hash of the key and never logs it', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    expect(registration.key.startsWith('scak_')).toBe(true);
    expect(registration.key.startsWith(registration.keyPrefix)).toBe(true);
    expect(registration.key).toMatch(/^scak_[A-Za-z0-9_-]{43}$/);
    const stored = await t.db.prisma.apiRegistration.findUniqueOrThrow({ where: { id: registration.id } });
    expect(stored.keyHash).toBe(hashSecret(registration.key));
    expect(JSON.stringify(stored)).not.toContain(registration.key);
    await signAppIn(psAuth(registration.key, org.runner.email));
    await signAppIn(psAuth(registration.key, org.runner.email, 'a-wrong-password'));
    expect(t.logs.text).not.toContain(registration.key);
    expect(t.logs.text).not.toContain('a-wrong-password');
  });
});

describe('source addresses', () => {
  it('allows a registered IPv4 address and refuses an address outside the list', async () => {
    const allowed = await org.createRegistration(['127.0.0.0/8']);
    expect((await signAppIn(psAuth(allowed.key, org.runner.email))).status).toBe(200);
    const elsewhere = await org.createRegistration(['203.0.113.0/24', '2001:db8::/32']);
    const denied = await signAppIn(psAuth(elsewhere.key, org.runner.email));
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: { code: 'FORBIDDEN', reason: 'SOURCE_ADDRESS_NOT_ALLOWED' } });
  });

  it('refuses every address when the list is empty', async () => {
    const nowhere = await org.createRegistration([]);
    expect((await signAppIn(psAuth(nowhere.key, org.runner.email))).status).toBe(403);
  });

  it('never widens access for a client-sent X-Forwarded-For when the request did not come through a trusted proxy', async () => {
    const elsewhere = await org.createRegistration(['203.0.113.0/24']);
    const spoofed = await signAppIn(psAuth(elsewhere.key, org.runner.email), v4, '/v1/Auth/SignAppin', { 'x-forwarded-for': '203.0.113.9' });
    expect(spoofed.status).toBe(403);
  });

  it('matches IPv6 clients against IPv6 addresses and ranges', async () => {
    const single = await org.createRegistration(['::1']);
    expect((await signAppIn(psAuth(single.key, org.runner.email), v6)).status).toBe(200);
    const range = await org.createRegistration(['::/127']);
    expect((await signAppIn(psAuth(range.key, org.runner.email), v6)).status).toBe(200);
    const v4Only = await org.createRegistration(['127.0.0.1']);
    expect((await signAppIn(psAuth(v4Only.key, org.runner.email), v6)).status).toBe(403);
    const otherV6 = await org.createRegistration(['2001:db8::/32']);
    expect((await signAppIn(psAuth(otherV6.key, org.runner.email), v6)).status).toBe(403);
  });

  it('treats an IPv4-mapped IPv6 client and an IPv4-mapped registration entry as the IPv4 address', async () => {
    // Reached over IPv4 on a dual-stack socket, this client is ::ffff:127.0.0.1 on the wire.
    const mapped = await org.createRegistration(['::ffff:127.0.0.1']);
    expect(mapped.allowedSources).toEqual(['127.0.0.1']);
    expect((await signAppIn(psAuth(mapped.key, org.runner.email), v4)).status).toBe(200);
    const mappedRange = await org.createRegistration(['::ffff:127.0.0.0/104']);
    expect(mappedRange.allowedSources).toEqual(['127.0.0.0/8']);
    expect((await signAppIn(psAuth(mappedRange.key, org.runner.email), v4)).status).toBe(200);
    expect((await signAppIn(psAuth(mappedRange.key, org.runner.email), v6)).status).toBe(403);
  });
});

describe('behind a trusted proxy', () => {
  let proxied: TestApp;
  let proxiedOrg: Awaited<ReturnType<typeof appOrganization>>;
  beforeAll(async () => {
    // Requests reach this app from 127.0.0.1, configured as a trusted proxy range; X-Forwarded-For then names the client.
    proxied = await startTestApp({ env: { TRUST_PROXY: '127.0.0.0/8, ::1' } });
    proxiedOrg = await appOrganization(proxied);
  });
  afterAll(() => proxied.close());

  const via = (key: string, forwardedFor: string) =>
    post(`${proxied.url}/v1/Auth/SignAppin`, { authorization: psAuth(key, proxiedOrg.runner.email), 'x-forwarded-for': forwardedFor });

  it('uses the nearest untrusted X-Forwarded-For hop, IPv4 or IPv6', async () => {
    const registration0 = await proxiedOrg.createRegistration(['127.0.0.0/8']);
    expect((await via(registration0.key, '127.0.0.5')).status).toBe(200);
    const registration = await proxiedOrg.createRegistration(['198.51.100.0/24', '2001:db8::/32']);
    expect((await via(registration.key, '198.51.100.20')).status).toBe(200);
    expect((await via(registration.key, '2001:db8::5')).status).toBe(200);
    expect((await via(registration.key, '::ffff:198.51.100.21')).status).toBe(200);
    expect((await via(registration.key, '203.0.113.5')).status).toBe(403);
    expect((await via(registration.key, '2001:db9::5')).status).toBe(403);
  });

  it('ignores entries a client prepends: only the hop the proxy added counts', async () => {
    const registration = await proxiedOrg.createRegistration(['198.51.100.0/24']);
    expect((await via(registration.key, '198.51.100.20, 203.0.113.5')).status).toBe(403);
    expect((await via(registration.key, '203.0.113.5, 198.51.100.20')).status).toBe(200);
    expect((await via(registration.key, 'not-an-address, 198.51.100.20')).status).toBe(200);
  });

  it('reads hops written with a port, and leaves a client it cannot read unknown rather than using the proxy', async () => {
    const registration = await proxiedOrg.createRegistration(['198.51.100.0/24', '2001:db8::/32', '127.0.0.0/8']);
    expect((await via(registration.key, '198.51.100.20:4711')).status).toBe(200);
    expect((await via(registration.key, '[2001:db8::5]:443')).status).toBe(200);
    expect((await via(registration.key, 'unknown')).status).toBe(403);
    expect((await via(registration.key, '198.51.100.20, _hidden')).status).toBe(403);
  });
});

describe('POST /v1/Auth/Signout', () => {
  it('ends the session it is called with, and answers 200 with no body', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const token = (await signAppIn(psAuth(registration.key, org.runner.email))).headers.get('x-access-token')!;
    const out = await post(v4('/v1/Auth/Signout'), { authorization: `Bearer ${token}` });
    expect(out.status).toBe(200);
    expect(out.text).toBe('');
    expect(out.headers.getSetCookie().some((c) => c.startsWith('sc_access=;') && c.includes('Max-Age=0'))).toBe(true);
    expect((await t.graphql(ME, undefined, { token })).status).toBe(401);
  });

  it('ends a session given by its cookie', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const token = (await signAppIn(psAuth(registration.key, org.runner.email))).headers.get('x-access-token')!;
    expect((await post(v4('/v1/auth/signout'), { cookie: `sc_access=${token}` })).status).toBe(200);
    expect((await t.graphql(ME, undefined, { token })).status).toBe(401);
  });

  it('answers 200 without credentials, and 401 for credentials that are not a live session', async () => {
    expect((await post(v4('/v1/Auth/Signout'))).status).toBe(200);
    const { token, session } = await signInAs(t.app.services, org.runner.id);
    await t.db.prisma.loginSession.update({ where: { id: session.id }, data: { revokedAt: new Date() } });
    expect((await post(v4('/v1/Auth/Signout'), { authorization: `Bearer ${token}` })).status).toBe(401);
  });
});

describe('a disabled API version', () => {
  let disabled: TestApp;
  beforeAll(async () => {
    disabled = await startTestApp({ env: { DISABLED_API_VERSIONS: 'v1' } });
  });
  afterAll(() => disabled.close());

  it('answers 410 on every /v1 endpoint, and leaves the rest of the API alone', async () => {
    const disabledOrg = await appOrganization(disabled);
    const registration = await disabledOrg.createRegistration(['127.0.0.1']);
    for (const path of ['/v1/Auth/SignAppin', '/v1/Auth/SignAppIn', '/v1/Auth/Signout', '/v1/Auth/Connect/Token']) {
      const gone = await post(`${disabled.url}${path}`, { authorization: psAuth(registration.key, disabledOrg.runner.email) });
      expect(gone.status).toBe(410);
      expect(gone.body).toMatchObject({ error: { reason: 'API_VERSION_DISABLED' } });
    }
    expect((await disabled.graphql(ME, undefined, { token: disabledOrg.ownerToken })).status).toBe(200);
  });

  it('is on in the default configuration', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    expect((await signAppIn(psAuth(registration.key, org.runner.email))).status).toBe(200);
  });
});

describe('failed app sign-ins', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ env: { CREDENTIAL_FAILURES_PER_ADDRESS: '3' } });
  });
  afterAll(() => limited.close());

  it('are limited per address: past the limit even a correct key is refused with 429', async () => {
    const limitedOrg = await appOrganization(limited);
    const registration = await limitedOrg.createRegistration(['127.0.0.1']);
    const url = `${limited.url}/v1/Auth/SignAppin`;
    expect((await post(url, { authorization: psAuth(registration.key, limitedOrg.runner.email) })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await post(url, { authorization: psAuth('scak_guess', limitedOrg.runner.email) })).status).toBe(401);
    const throttled = await post(url, { authorization: psAuth(registration.key, limitedOrg.runner.email) });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('what an app session may reach', () => {
  const DIRECTORY = '{ signingDirectory(first: 1) { edges { cursor } } }';
  const ORGANIZATION = 'query($id: ID!) { organization(id: $id) { id name } }';

  it("acts only inside the registration's organization, without the user's platform roles", async () => {
    const db = t.db.prisma;
    const other = await db.organization.create({ data: { name: 'Elsewhere', slug: `elsewhere-${Date.now()}`, subscriptionStatus: 'ACTIVE' } });
    const otherRole = await db.organizationRole.create({ data: { organizationId: other.id, name: 'Owner', permissions: ['orgSettings'] } });
    await db.membership.create({ data: { userId: org.runner.id, organizationId: other.id, roleId: otherRole.id, isOwner: true } });
    await db.user.update({ where: { id: org.runner.id }, data: { roles: ['ADMIN'] } });
    try {
      const full = (await signInAs(t.app.services, org.runner.id)).token;
      expect((await t.graphql(DIRECTORY, undefined, { token: full })).body.errors).toBeUndefined();
      expect((await t.graphql(ORGANIZATION, { id: other.id }, { token: full })).body.data).toEqual({ organization: { id: other.id, name: 'Elsewhere' } });

      const registration = await org.createRegistration(['127.0.0.1']);
      const app = (await signAppIn(psAuth(registration.key, org.runner.email))).headers.get('x-access-token')!;
      expect((await t.graphql(ORGANIZATION, { id: org.organization.id }, { token: app })).body.errors).toBeUndefined();
      expect((await t.graphql(DIRECTORY, undefined, { token: app })).body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
      expect((await t.graphql(ORGANIZATION, { id: other.id }, { token: app })).body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await db.user.update({ where: { id: org.runner.id }, data: { roles: [] } });
      await db.membership.deleteMany({ where: { organizationId: other.id } });
    }
  });

  it("leaves the account's own settings to the person: password, sessions", async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const app = (await signAppIn(psAuth(registration.key, org.runner.email))).headers.get('x-access-token')!;
    const full = (await signInAs(t.app.services, org.runner.id)).token;
    const SESSIONS = '{ mySessions { id } }';
    const CHANGE = `mutation { changePassword(currentPassword: "${RUNNER_PASSWORD}", newPassword: "another-password-2") }`;
    expect((await t.graphql(SESSIONS, undefined, { token: full })).body.errors).toBeUndefined();
    expect((await t.graphql(SESSIONS, undefined, { token: app })).body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'APP_SESSION' });
    const revoke = await t.graphql('mutation($id: ID!) { revokeSession(id: $id) }', { id: (await t.db.prisma.loginSession.findFirstOrThrow({ where: { userId: org.runner.id, kind: 'PASSWORD', revokedAt: null } })).id }, { token: app });
    expect(revoke.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'APP_SESSION' });
    expect((await t.graphql(CHANGE, undefined, { token: app })).body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'APP_SESSION' });
    expect((await t.graphql(ME, undefined, { token: full })).status).toBe(200);
  });

  it('cannot mint signing authentication tokens, which would outlive its registration', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const app = (await signAppIn(psAuth(registration.key, org.runner.email))).headers.get('x-access-token')!;
    const refused = await post(v4('/api/cs-authenticationTokens/user'), { authorization: `Bearer ${app}` });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'FORBIDDEN', reason: 'APP_SESSION' } });
    const full = (await signInAs(t.app.services, org.runner.id)).token;
    expect((await post(v4('/api/cs-authenticationTokens/user'), { authorization: `Bearer ${full}` })).status).toBe(200);
  });

  it('ends as soon as its registration is disabled, even if no revocation touched the session itself', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const opened = await signAppIn(psAuth(registration.key, org.runner.email));
    const app = opened.headers.get('x-access-token')!;
    const refresh = opened.headers.getSetCookie().find((c) => c.startsWith('sc_refresh='))!.split(';')[0]!.slice('sc_refresh='.length);
    expect((await t.graphql(ME, undefined, { token: app })).status).toBe(200);
    // As if a revocation had committed between this session's checks and its insert.
    await t.db.prisma.apiRegistration.update({ where: { id: registration.id }, data: { disabledAt: new Date() } });
    expect((await t.graphql(ME, undefined, { token: app })).status).toBe(401);
    const refreshed = await t.graphql('mutation($t: String) { refreshSession(refreshToken: $t) { accessToken } }', { t: refresh });
    expect(refreshed.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('app sign-in with pwd=[...]', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ env: { SIGN_IN_FAILURES_PER_ACCOUNT: '2' } });
  });
  afterAll(() => limited.close());

  it('tells a key holder nothing about the password of someone the key may not run as', async () => {
    const limitedOrg = await appOrganization(limited);
    const registration = await limitedOrg.createRegistration(['127.0.0.1']);
    await limited.db.prisma.user.update({ where: { id: limitedOrg.outsider.id }, data: { passwordHash: (await limited.db.prisma.user.findUniqueOrThrow({ where: { id: limitedOrg.runner.id } })).passwordHash } });
    const url = `${limited.url}/v1/Auth/SignAppin`;
    const right = await post(url, { authorization: psAuth(registration.key, limitedOrg.outsider.email, RUNNER_PASSWORD) });
    const wrong = await post(url, { authorization: psAuth(registration.key, limitedOrg.outsider.email, 'a-wrong-guess') });
    expect(right.status).toBe(403);
    expect(wrong.status).toBe(403);
    expect(wrong.body).toEqual(right.body);
  });

  it("counts password attempts against the account's sign-in limit", async () => {
    const limitedOrg = await appOrganization(limited);
    const registration = await limitedOrg.createRegistration(['127.0.0.1']);
    const url = `${limited.url}/v1/Auth/SignAppin`;
    expect((await post(url, { authorization: psAuth(registration.key, limitedOrg.runner.email, 'guess-1') })).status).toBe(401);
    expect((await post(url, { authorization: psAuth(registration.key, limitedOrg.runner.email, 'guess-2') })).status).toBe(401);
    const throttled = await post(url, { authorization: psAuth(registration.key, limitedOrg.runner.email, RUNNER_PASSWORD) });
    expect(throttled.status).toBe(429);
    // Without pwd nothing is guessed, so nothing is counted against the account.
    expect((await post(url, { authorization: psAuth(registration.key, limitedOrg.runner.email) })).status).toBe(200);
  });
});

describe('an app session and the rest of the account', () => {
  async function appToken(userEmail = org.runner.email): Promise<string> {
    const registration = await org.createRegistration(['127.0.0.1']);
    const opened = await signAppIn(psAuth(registration.key, userEmail));
    expect(opened.status).toBe(200);
    return opened.headers.get('x-access-token')!;
  }

  it("cannot open, sign or decline another organization's package addressed to the same person", async () => {
    const db = t.db.prisma;
    const other = await db.organization.create({ data: { name: 'Other Lender', slug: `other-lender-${Date.now()}`, subscriptionStatus: 'ACTIVE' } });
    const identity = await db.signingIdentity.create({ data: { userId: org.runner.id, kind: 'SIGNER', organizationId: other.id, email: org.runner.email, linkedById: org.owner.id } });
    const makePackage = () =>
      db.signingPackage.create({
        data: { organizationId: other.id, title: 'Elsewhere contract', status: 'SENT', createdById: org.owner.id, signers: { create: [{ order: 1, email: org.runner.email, name: 'Rita', signerIdentityId: identity.id }] } },
      });
    const app = await appToken();
    const VIEW = 'mutation($id: ID!) { viewSigningPackage(packageId: $id) { id title } }';
    const SIGN = 'mutation($id: ID!) { signSigningPackage(packageId: $id) { id status } }';
    const DECLINE = 'mutation($id: ID!) { declineSigningPackage(packageId: $id, reason: "no") { id status } }';
    const elsewhere = await makePackage();
    for (const operation of [VIEW, SIGN, DECLINE]) {
      const refused = await t.graphql(operation, { id: elsewhere.id }, { token: app });
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await t.graphql('{ signerQueue { id } }', undefined, { token: app })).body.data).toEqual({ signerQueue: [] });
    expect((await db.signingPackage.findUniqueOrThrow({ where: { id: elsewhere.id } })).status).toBe('SENT');
    const full = (await signInAs(t.app.services, org.runner.id)).token;
    expect((await t.graphql(VIEW, { id: elsewhere.id }, { token: full })).body.data).toEqual({ viewSigningPackage: { id: elsewhere.id, title: 'Elsewhere contract' } });
  });

  it('cannot create organizations or accept invitations for the person', async () => {
    const app = await appToken();
    const create = await t.graphql('mutation { createOrganization(input: { name: "Shadow Lending" }) { id } }', undefined, { token: app });
    expect(create.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'APP_SESSION' });
    const accept = await t.graphql('mutation { acceptInvitation(token: "whatever-token") { id } }', undefined, { token: app });
    expect(accept.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'APP_SESSION' });
    expect(await t.db.prisma.organization.count({ where: { name: 'Shadow Lending' } })).toBe(0);
    const full = (await signInAs(t.app.services, org.runner.id)).token;
    const allowed = await t.graphql('mutation { createOrganization(input: { name: "Own Lending" }) { id } }', undefined, { token: full });
    expect(allowed.body.errors).toBeUndefined();
  });

  it("shows the person's memberships and identities in its organization only", async () => {
    const db = t.db.prisma;
    const other = await db.organization.create({ data: { name: 'Hidden Org', slug: `hidden-${Date.now()}`, subscriptionStatus: 'ACTIVE' } });
    const role = await db.organizationRole.create({ data: { organizationId: other.id, name: 'Staff', permissions: ['documents'] } });
    await db.membership.create({ data: { userId: org.runner.id, organizationId: other.id, roleId: role.id } });
    const ME_ORGS = '{ me { memberships { organization { id } } identities { organization { id } } } }';
    type MeOrgs = { me: { memberships: Array<{ organization: { id: string } }>; identities: Array<{ organization: { id: string } }> } };
    const full = await t.graphql<MeOrgs, unknown>(ME_ORGS, undefined, { token: (await signInAs(t.app.services, org.runner.id)).token });
    expect(full.body.data!.me.memberships.map((m) => m.organization.id)).toContain(other.id);
    const app = await t.graphql<MeOrgs, unknown>(ME_ORGS, undefined, { token: await appToken() });
    expect(app.body.errors).toBeUndefined();
    expect(app.body.data!.me.memberships.map((m) => m.organization.id)).toEqual([org.organization.id]);
    expect(app.body.data!.me.identities.every((i) => i.organization.id === org.organization.id)).toBe(true);
    await db.membership.deleteMany({ where: { organizationId: other.id } });
  });

  it('cannot manage app access, so a key never mints a key', async () => {
    await org.gql('mutation($input: UserGroupMemberInput!) { addUserGroupMember(input: $input) { id } }', { input: { groupId: org.group.id, userId: org.settingsAdmin.id } });
    try {
      const app = await appToken(org.settingsAdmin.email);
      const input = { organizationId: org.organization.id, name: 'Minted', allowedSources: ['127.0.0.1'], groupIds: [] };
      const CREATE = 'mutation($input: CreateApiRegistrationInput!) { createApiRegistration(input: $input) { key } }';
      const refused = await t.graphql(CREATE, { input }, { token: app });
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'APP_SESSION' });
      const full = (await signInAs(t.app.services, org.settingsAdmin.id)).token;
      expect((await t.graphql(CREATE, { input }, { token: full })).body.errors).toBeUndefined();
    } finally {
      await t.db.prisma.userGroupMember.deleteMany({ where: { groupId: org.group.id, userId: org.settingsAdmin.id } });
    }
  });

  it('ends when its user leaves the groups or the subscription lapses, on the next request', async () => {
    const db = t.db.prisma;
    const app = await appToken();
    expect((await t.graphql(ME, undefined, { token: app })).status).toBe(200);
    await db.userGroupMember.delete({ where: { groupId_userId: { groupId: org.group.id, userId: org.runner.id } } });
    expect((await t.graphql(ME, undefined, { token: app })).status).toBe(401);
    await db.userGroupMember.create({ data: { groupId: org.group.id, userId: org.runner.id } });

    const second = await appToken();
    await db.organization.update({ where: { id: org.organization.id }, data: { subscriptionStatus: 'SUSPENDED' } });
    try {
      expect((await t.graphql(ME, undefined, { token: second })).status).toBe(401);
    } finally {
      await db.organization.update({ where: { id: org.organization.id }, data: { subscriptionStatus: 'ACTIVE' } });
    }
    expect((await t.graphql(ME, undefined, { token: second })).status).toBe(200);
  });
});
