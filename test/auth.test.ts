import { hash as argon2Hash } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangePasswordDocument,
  MeDocument,
  MySessionsDocument,
  RefreshSessionDocument,
  RevokeSessionDocument,
  SignInDocument,
  SignOutDocument,
  SignUpDocument,
} from './generated/graphql.ts';
import { signUpVerified } from './support/accounts.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization } from './support/factories.ts';

let t: TestApp;
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

let counter = 0;
/** A new account through sign-up and its mailed link, with the session the link starts. */
async function signUp(password = PASSWORD) {
  const email = `Person${++counter}.${Date.now()}@Example.test`;
  return { ...(await signUpVerified(t, { email, password, name: `Person ${counter}` })), email };
}

const code = (body: { errors?: Array<{ extensions?: Record<string, unknown> }> }) => body.errors?.[0]?.extensions?.code;

describe('sign-up and sign-in', () => {
  it('signs up, stores the email lower-cased, and the access token reads `me`', async () => {
    const account = await signUp();
    expect(account.tokenType).toBe('Bearer');
    expect(account.user.email).toBe(account.email.toLowerCase());
    const { body } = await t.graphql(MeDocument, {}, { token: account.accessToken });
    expect(body.data?.me).toMatchObject({ email: account.email.toLowerCase(), roles: [], memberships: [], identities: [] });
    const stored = await t.db.prisma.user.findUniqueOrThrow({ where: { id: account.user.id } });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(stored.passwordHash).not.toContain(PASSWORD);
  });

  it('makes no second account for the same email in another case, and answers as for a new one', async () => {
    const account = await signUp();
    const { body } = await t.graphql(SignUpDocument, { input: { email: account.email.toUpperCase(), password: PASSWORD, name: 'Again' } });
    expect(body.data?.signUp.email).toBe(account.email.toLowerCase());
    expect(await t.db.prisma.user.count({ where: { email: account.email.toLowerCase() } })).toBe(1);
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: account.user.id } })).name).not.toBe('Again');
  });

  it('enforces 8 to 128 characters', async () => {
    for (const password of ['1234567', 'x'.repeat(129)]) {
      const { body } = await t.graphql(SignUpDocument, { input: { email: `short${++counter}@example.test`, password, name: 'Short' } });
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password' });
    }
    const email = `ok${++counter}@example.test`;
    const { body } = await t.graphql(SignUpDocument, { input: { email, password: 'x'.repeat(128), name: 'Long' } });
    expect(body.data?.signUp.email).toBe(email);
  });

  it('signs in with the exact password, in any email case', async () => {
    const account = await signUp('  spaces count  ');
    const ok = await t.graphql(SignInDocument, { input: { email: account.email.toUpperCase(), password: '  spaces count  ' } });
    expect(ok.body.data?.signIn?.user.id).toBe(account.user.id);
    const trimmed = await t.graphql(SignInDocument, { input: { email: account.email, password: 'spaces count' } });
    expect(code(trimmed.body)).toBe('UNAUTHENTICATED');
  });

  it('answers a wrong password and an unknown email with byte-identical 401 responses', async () => {
    const account = await signUp();
    const post = (email: string) =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: 'mutation($e: String!) { signIn(input: { email: $e, password: "wrong password!" }) { accessToken } }', variables: { e: email } }),
      });
    const wrong = await post(account.email);
    const unknown = await post(`nobody-${Date.now()}@example.test`);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [wrongText, unknownText] = [await wrong.text(), await unknown.text()];
    expect(wrongText).toBe(unknownText);
    expect(JSON.parse(wrongText).errors[0].message).toBe('Email or password is incorrect.');
  });

  it('upgrades a password hash made with older parameters on the next sign-in', async () => {
    const account = await signUp();
    const weak = await argon2Hash(PASSWORD, { algorithm: 2, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await t.db.prisma.user.update({ where: { id: account.user.id }, data: { passwordHash: weak } });
    const { body } = await t.graphql(SignInDocument, { input: { email: account.email, password: PASSWORD } });
    expect(body.data?.signIn?.user.id).toBe(account.user.id);
    const stored = await t.db.prisma.user.findUniqueOrThrow({ where: { id: account.user.id } });
    expect(stored.passwordHash).toMatch(/m=19456,t=2,p=1/);
  });
});

describe('sessions', () => {
  it('rotates refresh tokens; reusing an old one revokes the whole session', async () => {
    const account = await signUp();
    const first = await t.graphql(RefreshSessionDocument, { refreshToken: account.refreshToken });
    const rotated = first.body.data!.refreshSession;
    expect(rotated.refreshToken).not.toBe(account.refreshToken);
    expect((await t.graphql(MeDocument, {}, { token: rotated.accessToken })).status).toBe(200);

    const reuse = await t.graphql(RefreshSessionDocument, { refreshToken: account.refreshToken });
    expect(reuse.status).toBe(401);
    expect(code(reuse.body)).toBe('UNAUTHENTICATED');
    // The family is gone: the newest tokens stop working too.
    expect((await t.graphql(MeDocument, {}, { token: rotated.accessToken })).status).toBe(401);
    expect(code((await t.graphql(RefreshSessionDocument, { refreshToken: rotated.refreshToken })).body)).toBe('UNAUTHENTICATED');
    const activity = await t.db.prisma.activity.findFirst({ where: { type: 'auth.refresh.reuse', subjectUserId: account.user.id } });
    expect(activity).not.toBeNull();
  });

  it('never accepts a refresh token as an access token', async () => {
    const account = await signUp();
    const { status, headers } = await t.graphql(MeDocument, {}, { token: account.refreshToken });
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('signs out: the access token is refused on the very next request', async () => {
    const account = await signUp();
    expect((await t.graphql(SignOutDocument, {}, { token: account.accessToken })).body.data?.signOut).toBe(true);
    const after = await t.graphql(MeDocument, {}, { token: account.accessToken });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('lists my sessions and revokes one of mine; another account’s session is NOT_FOUND', async () => {
    const account = await signUp();
    const second = (await t.graphql(SignInDocument, { input: { email: account.email, password: PASSWORD } }, { headers: { 'user-agent': 'second-device' } })).body.data!.signIn!;
    const sessions = (await t.graphql(MySessionsDocument, {}, { token: account.accessToken })).body.data!.mySessions;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const other = sessions.find((s) => !s.current)!;
    expect(other).toMatchObject({ kind: 'PASSWORD', userAgent: 'second-device', ip: '127.0.0.1' });

    const stranger = await signUp();
    const denied = await t.graphql(RevokeSessionDocument, { id: other.id }, { token: stranger.accessToken });
    expect(code(denied.body)).toBe('NOT_FOUND');
    expect((await t.graphql(MeDocument, {}, { token: second.accessToken })).status).toBe(200);

    expect((await t.graphql(RevokeSessionDocument, { id: other.id }, { token: account.accessToken })).body.data?.revokeSession).toBe(true);
    expect((await t.graphql(MeDocument, {}, { token: second.accessToken })).status).toBe(401);
  });

  it('changes the password: a wrong current password is refused; success ends the other sessions only', async () => {
    const account = await signUp();
    const other = (await t.graphql(SignInDocument, { input: { email: account.email, password: PASSWORD } })).body.data!.signIn!;
    const wrong = await t.graphql(ChangePasswordDocument, { currentPassword: 'not my password', newPassword: 'a brand new secret' }, { token: account.accessToken });
    expect(wrong.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'WRONG_PASSWORD' });

    const ok = await t.graphql(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'a brand new secret' }, { token: account.accessToken });
    expect(ok.body.data?.changePassword).toBe(true);
    expect((await t.graphql(MeDocument, {}, { token: account.accessToken })).status).toBe(200);
    expect((await t.graphql(MeDocument, {}, { token: other.accessToken })).status).toBe(401);
    expect(code((await t.graphql(SignInDocument, { input: { email: account.email, password: PASSWORD } })).body)).toBe('UNAUTHENTICATED');
    expect((await t.graphql(SignInDocument, { input: { email: account.email, password: 'a brand new secret' } })).body.data?.signIn).toBeTruthy();
  });

  it('refuses the session of a disabled account on its next request', async () => {
    const account = await signUp();
    expect((await t.graphql(MeDocument, {}, { token: account.accessToken })).status).toBe(200);
    await t.db.prisma.user.update({ where: { id: account.user.id }, data: { disabledAt: new Date() } });
    expect((await t.graphql(MeDocument, {}, { token: account.accessToken })).status).toBe(401);
  });

  it('sets HttpOnly SameSite cookies that browsers can use with the CSRF header', async () => {
    const account = await signUp();
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', variables: { i: { email: account.email, password: PASSWORD } } }),
    });
    const cookies = response.headers.getSetCookie();
    const access = cookies.find((c) => c.startsWith('sc_access='))!;
    expect(access).toMatch(/HttpOnly/);
    expect(access).toMatch(/SameSite=Lax/);
    expect(cookies.find((c) => c.startsWith('sc_refresh='))).toMatch(/Path=\/graphql; .*HttpOnly; SameSite=Strict/);
    const cookie = access.split(';')[0]!;
    const me = `${t.url}/graphql?query=${encodeURIComponent('{ me { email } }')}`;
    const withHeader = await fetch(me, { headers: { cookie, 'x-safeclose-csrf': '1' } });
    expect(((await withHeader.json()) as { data: { me: { email: string } } }).data.me.email).toBe(account.email.toLowerCase());
    const withoutHeader = await fetch(me, { headers: { cookie } });
    expect(withoutHeader.status).toBe(403);
  });
});

describe('me', () => {
  it('shows memberships with effective permission keys: owners hold billing whatever their role', async () => {
    const owner = await signUp();
    const member = await signUp();
    const { organization, role } = await createOrganization(t.db.prisma, { name: 'Billing Test Org', permissions: ['documents'] });
    await addMember(t.db.prisma, { userId: owner.user.id, organizationId: organization.id, roleId: role.id, isOwner: true });
    await addMember(t.db.prisma, { userId: member.user.id, organizationId: organization.id, roleId: role.id });
    const ownerView = (await t.graphql(MeDocument, {}, { token: owner.accessToken })).body.data!.me.memberships[0]!;
    expect(ownerView.role.permissions).toEqual(['documents']);
    expect([...ownerView.permissions].sort()).toEqual(['billing', 'documents']);
    const memberView = (await t.graphql(MeDocument, {}, { token: member.accessToken })).body.data!.me.memberships[0]!;
    expect(memberView.permissions).toEqual(['documents']);
  });

  it('answers 401 without a token', async () => {
    const { status, headers } = await t.graphql(MeDocument, {});
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer');
  });
});
