import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/lib/tokens.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post } from './support/apps.ts';
import { signInAs } from './support/factories.ts';

const ME = '{ me { id } }';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const clock = new ManualClock(new Date('2026-06-01T08:00:00.000Z'));

let t: TestApp;
let org: Awaited<ReturnType<typeof appOrganization>>;
let client: { id: string; clientId: string; clientSecret: string };
let registrationId: string;

beforeAll(async () => {
  t = await startTestApp({ clock });
  org = await appOrganization(t);
  const registration = await org.createRegistration(['127.0.0.1', '::1']);
  registrationId = registration.id;
  client = await org.createClient(registration.id);
});
afterAll(() => t.close());

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

const tokenRequest = (fields: Record<string, string>, headers: Record<string, string> = { authorization: basic(client.clientId, client.clientSecret) }) =>
  post(`${t.url}/v1/Auth/Connect/Token`, { ...FORM, ...headers }, form(fields));

async function accessToken(forClient = client): Promise<string> {
  const response = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(forClient.clientId, forClient.clientSecret) });
  expect(response.status).toBe(200);
  return String(response.body.access_token);
}

const introspect = (token: string, as = client) =>
  post(`${t.url}/v1/Auth/Connect/Introspect`, { ...FORM, authorization: basic(as.clientId, as.clientSecret) }, form({ token }));
const revoke = (token: string, as = client) =>
  post(`${t.url}/v1/Auth/Connect/Revocation`, { ...FORM, authorization: basic(as.clientId, as.clientSecret) }, form({ token, token_type_hint: 'access_token' }));
const signAppIn = (authorization: string) => post(`${t.url}/v1/Auth/SignAppIn`, { authorization });

describe('POST /v1/Auth/Connect/Token', () => {
  it('issues a Bearer at+jwt with a jti for the publicapi scope, never cached and without a refresh token', async () => {
    const response = await tokenRequest({ grant_type: 'client_credentials' });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    expect(Object.keys(response.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(response.body).toMatchObject({ expires_in: 3600, token_type: 'Bearer', scope: 'publicapi' });
    const token = String(response.body.access_token);
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ client_id: client.clientId, sub: client.clientId, scope: 'publicapi', aud: 'safeclose-public-api', iss: 'http://safeclose.test' });
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
    const stored = await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(String(claims.jti)) } });
    expect(stored).toMatchObject({ purpose: 'OAUTH_ACCESS', oauthClientId: client.id, userId: org.runner.id });
    expect(JSON.stringify(stored)).not.toContain(token);
  });

  it('gives every token its own jti', async () => {
    const first = decodeJwt(await accessToken());
    const second = decodeJwt(await accessToken());
    expect(first.jti).not.toBe(second.jti);
  });

  it('accepts client authentication by form fields as well as HTTP Basic', async () => {
    const response = await tokenRequest({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope: 'publicapi' }, {});
    expect(response.status).toBe(200);
  });

  it('answers invalid_client with 401 and WWW-Authenticate for a wrong secret, an unknown client or none', async () => {
    const attempts: Array<{ headers: Record<string, string>; fields: Record<string, string> }> = [
      { headers: { authorization: basic(client.clientId, 'wrong') }, fields: { grant_type: 'client_credentials' } },
      { headers: { authorization: basic('scc_nobody', client.clientSecret) }, fields: { grant_type: 'client_credentials' } },
      { headers: {}, fields: { grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong' } },
      { headers: {}, fields: { grant_type: 'client_credentials' } },
      { headers: { authorization: `Bearer ${client.clientSecret}` }, fields: { grant_type: 'client_credentials' } },
    ];
    for (const attempt of attempts) {
      const response = await tokenRequest(attempt.fields, attempt.headers);
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_client');
      expect(typeof response.body.error_description).toBe('string');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('answers the RFC 6749 errors for bad requests', async () => {
    expect((await tokenRequest({ grant_type: 'password', username: 'x', password: 'y' })).body).toMatchObject({ error: 'unsupported_grant_type' });
    expect((await tokenRequest({ grant_type: 'authorization_code', code: 'x' })).status).toBe(400);
    expect((await tokenRequest({})).body).toMatchObject({ error: 'invalid_request' });
    expect((await tokenRequest({ grant_type: 'client_credentials', scope: 'admin' })).body).toMatchObject({ error: 'invalid_scope' });
    expect((await tokenRequest({ grant_type: 'client_credentials', scope: 'publicapi admin' })).status).toBe(400);
    const twoMethods = await tokenRequest({ grant_type: 'client_credentials', client_secret: client.clientSecret });
    expect(twoMethods.body).toMatchObject({ error: 'invalid_request' });
    const duplicate = await post(`${t.url}/v1/Auth/Connect/Token`, { ...FORM, authorization: basic(client.clientId, client.clientSecret) }, 'grant_type=client_credentials&grant_type=client_credentials');
    expect(duplicate.body).toMatchObject({ error: 'invalid_request' });
    const json = await post(`${t.url}/v1/Auth/Connect/Token`, { 'content-type': 'application/json', authorization: basic(client.clientId, client.clientSecret) }, JSON.stringify({ grant_type: 'client_credentials' }));
    expect(json.status).toBe(400);
    expect(json.body).toMatchObject({ error: 'invalid_request' });
  });

  it('answers an oversized body in the OAuth error format, with 413', async () => {
    const response = await tokenRequest({ grant_type: 'client_credentials', padding: 'x'.repeat(2 * 1024 * 1024) });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a client whose application user is not allowed from this address, or has left the groups', async () => {
    const elsewhere = await org.createRegistration(['203.0.113.0/24']);
    const remote = await org.createClient(elsewhere.id);
    const response = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(remote.clientId, remote.clientSecret) });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'unauthorized_client' });
    const outsiderClient = await org.createClient(registrationId, org.outsider.id);
    const outsider = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(outsiderClient.clientId, outsiderClient.clientSecret) });
    expect(outsider.body).toMatchObject({ error: 'unauthorized_client' });
  });

  it('a revoked client can no longer authenticate, and its tokens stop working', async () => {
    const doomed = await org.createClient(registrationId);
    const token = await accessToken(doomed);
    await org.gql(`mutation($id: ID!) { revokeOAuthClient(id: $id) { disabledAt } }`, { id: doomed.id });
    expect((await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(doomed.clientId, doomed.clientSecret) })).status).toBe(401);
    expect((await introspect(token, doomed)).status).toBe(401);
    expect((await signAppIn(`Bearer ${token}`)).status).toBe(401);
  });
});

describe('POST /v1/Auth/SignAppIn with a Bearer access token', () => {
  it("creates a session for the client's application user", async () => {
    const response = await signAppIn(`Bearer ${await accessToken()}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ SID: org.runner.id, EmailAddress: org.runner.email, Name: 'Rita Runner' });
    expect(response.headers.getSetCookie().some((c) => c.startsWith('sc_access='))).toBe(true);
    const me = await t.graphql(ME, undefined, { token: response.headers.get('x-access-token')! });
    expect(me.body.data).toEqual({ me: { id: org.runner.id } });
  });

  it('never accepts the access token as a user session, nor a user session as an access token', async () => {
    const token = await accessToken();
    const asSession = await t.graphql(ME, undefined, { token });
    expect(asSession.status).toBe(401);
    expect(asSession.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await post(`${t.url}/v1/Auth/Signout`, { authorization: `Bearer ${token}` })).status).toBe(401);
    const tokenRoute = await fetch(`${t.url}/api/cs-authenticationTokens/user`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(tokenRoute.status).toBe(401);

    const { token: sessionToken } = await signInAs(t.app.services, org.runner.id);
    expect((await t.graphql(ME, undefined, { token: sessionToken })).status).toBe(200);
    expect((await signAppIn(`Bearer ${sessionToken}`)).status).toBe(401);
    expect((await introspect(sessionToken)).body).toEqual({ active: false });
  });
});

describe('introspection (RFC 7662) and revocation (RFC 7009)', () => {
  it('tells the client about its own live token, and nobody else anything', async () => {
    const token = await accessToken();
    const claims = decodeJwt(token);
    const own = await introspect(token);
    expect(own.status).toBe(200);
    expect(own.headers.get('cache-control')).toBe('no-store');
    expect(own.body).toEqual({
      active: true,
      scope: 'publicapi',
      client_id: client.clientId,
      token_type: 'Bearer',
      exp: claims.exp,
      iat: claims.iat,
      sub: client.clientId,
      aud: 'safeclose-public-api',
      iss: 'http://safeclose.test',
      jti: claims.jti,
    });
    const other = await org.createClient(registrationId);
    expect((await introspect(token, other)).body).toEqual({ active: false });
    expect((await introspect('not-a-token')).body).toEqual({ active: false });
    expect((await post(`${t.url}/v1/Auth/Connect/Introspect`, FORM, form({ token }))).status).toBe(401);
  });

  it('revokes a token and ends the sessions it opened; unknown tokens still get 200', async () => {
    const token = await accessToken();
    const session = (await signAppIn(`Bearer ${token}`)).headers.get('x-access-token')!;
    expect((await t.graphql(ME, undefined, { token: session })).status).toBe(200);
    const revoked = await revoke(token);
    expect(revoked.status).toBe(200);
    expect(revoked.text).toBe('');
    expect((await introspect(token)).body).toEqual({ active: false });
    expect((await signAppIn(`Bearer ${token}`)).status).toBe(401);
    expect((await t.graphql(ME, undefined, { token: session })).status).toBe(401);
    expect((await revoke('unknown-token')).status).toBe(200);
    expect((await post(`${t.url}/v1/Auth/Connect/Revocation`, { ...FORM, authorization: basic(client.clientId, client.clientSecret) }, '')).body).toMatchObject({ error: 'invalid_request' });
  });

  it('reports a token inactive once its application user would be refused', async () => {
    const leaver = await org.createClient(registrationId);
    const token = await accessToken(leaver);
    expect((await introspect(token, leaver)).body).toMatchObject({ active: true });
    await t.db.prisma.userGroupMember.delete({ where: { groupId_userId: { groupId: org.group.id, userId: org.runner.id } } });
    try {
      expect((await introspect(token, leaver)).body).toEqual({ active: false });
    } finally {
      await t.db.prisma.userGroupMember.create({ data: { groupId: org.group.id, userId: org.runner.id } });
    }
    expect((await introspect(token, leaver)).body).toMatchObject({ active: true });
  });

  it("a client cannot revoke another client's token", async () => {
    const token = await accessToken();
    const other = await org.createClient(registrationId);
    expect((await revoke(token, other)).status).toBe(200);
    expect((await introspect(token)).body).toMatchObject({ active: true });
  });

  it('expires tokens at expires_in, to the second', async () => {
    const token = await accessToken();
    const start = clock.now().getTime();
    clock.set(new Date(start + 3599_000));
    expect((await introspect(token)).body).toMatchObject({ active: true });
    expect((await signAppIn(`Bearer ${token}`)).status).toBe(200);
    clock.set(new Date(start + 3600_000));
    expect((await introspect(token)).body).toEqual({ active: false });
    expect((await signAppIn(`Bearer ${token}`)).status).toBe(401);
    clock.set(new Date(start));
  });

  it('never logs client secrets or access tokens', async () => {
    const token = await accessToken();
    await signAppIn(`Bearer ${token}`);
    await revoke(token);
    expect(t.logs.text).not.toContain(client.clientSecret);
    expect(t.logs.text).not.toContain(token);
  });
});

describe('managing app access in GraphQL', () => {
  const REGISTRATIONS = `query($id: ID!) { organization(id: $id) { apiRegistrations { id keyPrefix allowedSources } userGroups { name members { user { id } } } } }`;

  it('needs orgSettings: a member holding it can, a member without it cannot', async () => {
    const allowed = await t.graphql<{ organization: { apiRegistrations: unknown[] } }, unknown>(REGISTRATIONS, { id: org.organization.id }, { token: (await signInAs(t.app.services, org.settingsAdmin.id)).token });
    expect(allowed.body.errors).toBeUndefined();
    expect(allowed.body.data!.organization.apiRegistrations.length).toBeGreaterThan(0);
    const outsiderToken = (await signInAs(t.app.services, org.outsider.id)).token;
    const denied = await t.graphql(REGISTRATIONS, { id: org.organization.id }, { token: outsiderToken });
    expect(denied.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const create = await t.graphql(
      `mutation($input: CreateApiRegistrationInput!) { createApiRegistration(input: $input) { key } }`,
      { input: { organizationId: org.organization.id, name: 'Nope', allowedSources: ['127.0.0.1'], groupIds: [org.group.id] } },
      { token: outsiderToken },
    );
    expect(create.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('validates and normalises allowed sources', async () => {
    const created = await org.createRegistration(['2001:DB8:0::/32', '10.0.0.0/8', '10.0.0.0/8', '192.0.2.1/32']);
    expect(created.allowedSources).toEqual(['2001:db8::/32', '10.0.0.0/8', '192.0.2.1']);
    for (const [bad, hint] of [['10.1.2.3/8', 'did you mean 10.0.0.0/8'], ['10.0.0.0/33', 'prefix'], ['example.com', 'not an IP address'], ['fe80::1%eth0', 'not an IP address']] as const) {
      const response = await t.graphql(
        `mutation($input: CreateApiRegistrationInput!) { createApiRegistration(input: $input) { key } }`,
        { input: { organizationId: org.organization.id, name: 'Bad', allowedSources: [bad], groupIds: [] } },
        { token: org.ownerToken },
      );
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'allowedSources' });
      expect(response.body.errors?.[0]?.message).toContain(hint);
    }
  });

  it('shows the key and the client secret once: they are not readable afterwards', async () => {
    const registration = await org.createRegistration(['127.0.0.1']);
    const listed = await t.graphql<{ organization: { apiRegistrations: Array<Record<string, unknown>> } }, unknown>(REGISTRATIONS, { id: org.organization.id }, { token: org.ownerToken });
    expect(JSON.stringify(listed.body)).not.toContain(registration.key);
    expect(JSON.stringify(listed.body)).toContain(registration.keyPrefix);
    const clientRow = await t.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: client.id } });
    expect(clientRow.secretHash).toBe(hashSecret(client.clientSecret));
    expect(JSON.stringify(clientRow)).not.toContain(client.clientSecret);
  });

  it('a non-owner cannot grant a registration to a group an owner is in, when creating or updating it', async () => {
    const settingsToken = (await signInAs(t.app.services, org.settingsAdmin.id)).token;
    const ownersGroup = (await org.gql(`mutation($input: CreateUserGroupInput!) { createUserGroup(input: $input) { id } }`, { input: { organizationId: org.organization.id, name: 'Owners' } }))
      .createUserGroup as { id: string };
    await org.gql(`mutation($input: UserGroupMemberInput!) { addUserGroupMember(input: $input) { id } }`, { input: { groupId: ownersGroup.id, userId: org.owner.id } });
    const create = await t.graphql(
      `mutation($input: CreateApiRegistrationInput!) { createApiRegistration(input: $input) { key } }`,
      { input: { organizationId: org.organization.id, name: 'Sneaky', allowedSources: ['127.0.0.1'], groupIds: [ownersGroup.id] } },
      { token: settingsToken },
    );
    expect(create.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'PERMISSION_ESCALATION' });
    const staffGroup = await t.graphql(
      `mutation($input: CreateApiRegistrationInput!) { createApiRegistration(input: $input) { key } }`,
      { input: { organizationId: org.organization.id, name: 'Staff', allowedSources: ['127.0.0.1'], groupIds: [org.group.id] } },
      { token: settingsToken },
    );
    expect(staffGroup.body.errors?.[0]?.message).toContain('permissions you do not hold (documents, signing)');
    const peersGroup = (await org.gql(`mutation($input: CreateUserGroupInput!) { createUserGroup(input: $input) { id } }`, { input: { organizationId: org.organization.id, name: 'Peers' } }))
      .createUserGroup as { id: string };
    await org.gql(`mutation($input: UserGroupMemberInput!) { addUserGroupMember(input: $input) { id } }`, { input: { groupId: peersGroup.id, userId: org.settingsAdmin.id } });
    const mine = await t.graphql<{ createApiRegistration: { apiRegistration: { id: string } } }, unknown>(
      `mutation($input: CreateApiRegistrationInput!) { createApiRegistration(input: $input) { apiRegistration { id } } }`,
      { input: { organizationId: org.organization.id, name: 'Fine', allowedSources: ['127.0.0.1'], groupIds: [peersGroup.id] } },
      { token: settingsToken },
    );
    expect(mine.body.errors).toBeUndefined();
    const update = await t.graphql(
      `mutation($input: UpdateApiRegistrationInput!) { updateApiRegistration(input: $input) { id } }`,
      { input: { id: mine.body.data!.createApiRegistration.apiRegistration.id, groupIds: [ownersGroup.id] } },
      { token: settingsToken },
    );
    expect(update.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'PERMISSION_ESCALATION' });
    const byOwner = await org.createRegistration(['127.0.0.1'], [ownersGroup.id]);
    expect(byOwner.key).toMatch(/^scak_/);
  });

  it('only an owner may make an owner reachable through app credentials', async () => {
    const settingsToken = (await signInAs(t.app.services, org.settingsAdmin.id)).token;
    const addOwner = await t.graphql(
      `mutation($input: UserGroupMemberInput!) { addUserGroupMember(input: $input) { id } }`,
      { input: { groupId: org.group.id, userId: org.owner.id } },
      { token: settingsToken },
    );
    expect(addOwner.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'PERMISSION_ESCALATION' });
    const byOwner = await t.graphql(
      `mutation($input: UserGroupMemberInput!) { addUserGroupMember(input: $input) { members { user { id } } } }`,
      { input: { groupId: org.group.id, userId: org.owner.id } },
      { token: org.ownerToken },
    );
    expect(byOwner.body.errors).toBeUndefined();
    await t.graphql(`mutation($input: UserGroupMemberInput!) { removeUserGroupMember(input: $input) { id } }`, { input: { groupId: org.group.id, userId: org.owner.id } }, { token: org.ownerToken });
  });
});
