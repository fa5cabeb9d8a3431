import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, hashSecret } from '../src/lib/tokens.ts';
import {
  ChangePasswordDocument,
  RefreshSessionDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  RevokeSessionDocument,
  SignInDocument,
  SignOutDocument,
  SignUpDocument,
  VerifyEmailDocument,
} from './generated/graphql.ts';
import { signUpVerified, verificationTokenFor } from './support/accounts.ts';
import { startTestApp, type TestApp } from './support/app.ts';

// Each account flow's audit row is its last write. A trigger on the real database makes that write fail for the
// activity types listed in a table, so a test can break one flow at its end and see that none of it remains.
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  await t.db.prisma.$executeRawUnsafe(`CREATE TABLE test_failing_activity (type text PRIMARY KEY)`);
  await t.db.prisma.$executeRawUnsafe(`
    CREATE FUNCTION test_fail_activity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM test_failing_activity WHERE type = NEW.type) THEN
        RAISE EXCEPTION 'audit write refused by the test';
      END IF;
      RETURN NEW;
    END $$`);
  await t.db.prisma.$executeRawUnsafe(`CREATE TRIGGER test_fail_activity BEFORE INSERT ON "Activity" FOR EACH ROW EXECUTE FUNCTION test_fail_activity()`);
  // The same for tokens, listed as `token:<purpose>`: a password-reset request writes its token after its audit row.
  await t.db.prisma.$executeRawUnsafe(`
    CREATE FUNCTION test_fail_token() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM test_failing_activity WHERE type = 'token:' || NEW.purpose) THEN
        RAISE EXCEPTION 'token write refused by the test';
      END IF;
      RETURN NEW;
    END $$`);
  await t.db.prisma.$executeRawUnsafe(`CREATE TRIGGER test_fail_token BEFORE INSERT ON "AuthToken" FOR EACH ROW EXECUTE FUNCTION test_fail_token()`);
});
afterEach(async () => {
  await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
});
afterAll(async () => {
  await t?.close();
});

const failAudit = (type: string) => t.db.prisma.$executeRawUnsafe(`INSERT INTO test_failing_activity (type) VALUES ($1)`, type);

let counter = 0;
const freshEmail = () => `tx${++counter}.${Date.now()}@example.test`;
const PASSWORD = 'the first password';

async function signedUp() {
  const email = freshEmail();
  const session = await signUpVerified(t, { email, password: PASSWORD, name: 'Tx Person' });
  const user = await t.db.prisma.user.findUniqueOrThrow({ where: { email } });
  return { email, user, accessToken: session.accessToken, refreshToken: session.refreshToken };
}

const liveSessions = (userId: string) => t.db.prisma.loginSession.count({ where: { userId, revokedAt: null } });
const activities = (type: string, userId: string) => t.db.prisma.activity.count({ where: { type, subjectUserId: userId } });

/** The failed flow's answer: a coded error that says nothing of the database. */
function expectCodedFailure(body: { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }) {
  expect(body.errors?.[0]?.extensions?.code).toBe('INTERNAL');
  expect(JSON.stringify(body)).not.toMatch(/refused by the test|Activity|AuthToken|prisma|SQL/i);
}

describe('account flows in one transaction', () => {
  it('signUp leaves no account and no link when its audit row fails, and the email stays free', async () => {
    await failAudit('auth.sign_up');
    const email = freshEmail();
    const failed = await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Tx Person' } });
    expectCodedFailure(failed.body);
    expect(await t.db.prisma.user.count({ where: { email } })).toBe(0);
    expect(await t.db.prisma.authToken.count({ where: { purpose: 'EMAIL_VERIFICATION', email } })).toBe(0);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    const retried = await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Tx Person' } });
    expect(retried.body.data?.signUp?.email).toBe(email);
    const user = await t.db.prisma.user.findUniqueOrThrow({ where: { email } });
    expect(user.emailVerifiedAt).toBeNull();
    expect(await liveSessions(user.id)).toBe(0);
    expect(await activities('auth.sign_up', user.id)).toBe(1);
  });

  it('verifyEmail verifies nothing, starts no session and keeps its link when its audit row fails', async () => {
    const email = freshEmail();
    await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Tx Person' } });
    const token = await verificationTokenFor(t, email);
    await failAudit('auth.email.verified');
    expectCodedFailure((await t.graphql(VerifyEmailDocument, { token })).body);
    const user = await t.db.prisma.user.findUniqueOrThrow({ where: { email } });
    expect(user.emailVerifiedAt).toBeNull();
    expect(await liveSessions(user.id)).toBe(0);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    expect((await t.graphql(VerifyEmailDocument, { token })).body.data?.verifyEmail.user.emailVerified).toBe(true);
    expect(await liveSessions(user.id)).toBe(1);
  });

  it('signIn starts no session when its audit row fails', async () => {
    const { email, user } = await signedUp();
    await failAudit('auth.sign_in.success');
    expectCodedFailure((await t.graphql(SignInDocument, { input: { email, password: PASSWORD } })).body);
    expect(await liveSessions(user.id)).toBe(1);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    expect((await t.graphql(SignInDocument, { input: { email, password: PASSWORD } })).body.data?.signIn?.accessToken).toBeTruthy();
    expect(await liveSessions(user.id)).toBe(2);
  });

  it('requestPasswordReset leaves no audit row when its reset token cannot be written', async () => {
    const { email, user } = await signedUp();
    await failAudit('token:PASSWORD_RESET');
    expectCodedFailure((await t.graphql(RequestPasswordResetDocument, { email })).body);
    expect(await activities('auth.password_reset.requested', user.id)).toBe(0);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    expect((await t.graphql(RequestPasswordResetDocument, { email })).body.data?.requestPasswordReset).toBe(true);
    expect(await activities('auth.password_reset.requested', user.id)).toBe(1);
  });

  it('requestPasswordReset creates no reset token when its audit row fails', async () => {
    const { email, user } = await signedUp();
    await failAudit('auth.password_reset.requested');
    expectCodedFailure((await t.graphql(RequestPasswordResetDocument, { email })).body);
    expect(await t.db.prisma.authToken.count({ where: { userId: user.id, purpose: 'PASSWORD_RESET' } })).toBe(0);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    expect((await t.graphql(RequestPasswordResetDocument, { email })).body.data?.requestPasswordReset).toBe(true);
    expect(await t.db.prisma.authToken.count({ where: { userId: user.id, purpose: 'PASSWORD_RESET' } })).toBe(1);
  });

  it('resetPassword keeps the password, the sessions and the token when its audit row fails', async () => {
    const { user } = await signedUp();
    const token = generateSecret();
    await t.db.prisma.authToken.create({
      data: { purpose: 'PASSWORD_RESET', tokenHash: hashSecret(token), userId: user.id, maxUses: 1, expiresAt: new Date(Date.now() + 600_000) },
    });
    await failAudit('auth.password_reset.completed');
    expectCodedFailure((await t.graphql(ResetPasswordDocument, { token, newPassword: 'a brand new password' })).body);
    const after = await t.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(after.passwordHash).toBe(user.passwordHash);
    expect(await liveSessions(user.id)).toBe(1);

    // The link was not used up: it works once the audit row can be written.
    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    expect((await t.graphql(ResetPasswordDocument, { token, newPassword: 'a brand new password' })).body.data?.resetPassword).toBe(true);
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).not.toBe(user.passwordHash);
    expect(await liveSessions(user.id)).toBe(0);
  });

  it('changePassword keeps the password and the other sessions when its audit row fails', async () => {
    const { email, user, accessToken } = await signedUp();
    await t.graphql(SignInDocument, { input: { email, password: PASSWORD } });
    await failAudit('auth.password.changed');
    expectCodedFailure((await t.graphql(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'the second password' }, { token: accessToken })).body);
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBe(user.passwordHash);
    expect(await liveSessions(user.id)).toBe(2);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    expect((await t.graphql(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'the second password' }, { token: accessToken })).body.data?.changePassword).toBe(true);
    expect(await liveSessions(user.id)).toBe(1);
  });

  it('signOut and revokeSession keep the session when their audit rows fail', async () => {
    const { email, user, accessToken } = await signedUp();
    const second = await t.graphql(SignInDocument, { input: { email, password: PASSWORD } });
    const secondSession = await t.db.prisma.loginSession.findFirstOrThrow({ where: { userId: user.id }, orderBy: { createdAt: 'desc' } });
    await failAudit('auth.sign_out');
    await failAudit('auth.session.revoked');
    expectCodedFailure((await t.graphql(SignOutDocument, {}, { token: accessToken })).body);
    expectCodedFailure((await t.graphql(RevokeSessionDocument, { id: secondSession.id }, { token: accessToken })).body);
    expect(await liveSessions(user.id)).toBe(2);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    expect((await t.graphql(RevokeSessionDocument, { id: secondSession.id }, { token: accessToken })).body.data?.revokeSession).toBe(true);
    expect((await t.graphql(SignOutDocument, {}, { token: accessToken })).body.data?.signOut).toBe(true);
    expect(await liveSessions(user.id)).toBe(0);
    expect(second.body.data?.signIn?.accessToken).toBeTruthy();
  });

  it('a refresh-token reuse revokes the session and records it together', async () => {
    const { user, refreshToken } = await signedUp();
    const rotated = await t.graphql(RefreshSessionDocument, { refreshToken });
    expect(rotated.body.data?.refreshSession?.refreshToken).toBeTruthy();
    await failAudit('auth.refresh.reuse');
    expectCodedFailure((await t.graphql(RefreshSessionDocument, { refreshToken })).body);
    expect(await activities('auth.refresh.reuse', user.id)).toBe(0);
    expect(await liveSessions(user.id)).toBe(1);

    await t.db.prisma.$executeRawUnsafe(`DELETE FROM test_failing_activity`);
    const reused = await t.graphql(RefreshSessionDocument, { refreshToken });
    expect(reused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await activities('auth.refresh.reuse', user.id)).toBe(1);
    expect(await liveSessions(user.id)).toBe(0);
  });
});
