import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/lib/tokens.ts';
import {
  AcceptInvitationDocument,
  ChangeEmailDocument,
  InviteMemberDocument,
  LinkSigningIdentityDocument,
  MeDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  SignInDocument,
  SignUpDocument,
  VerifyEmailDocument,
} from './generated/graphql.ts';
import { signUpVerified, verificationTokenFor } from './support/accounts.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';
import { extractLinks, startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

let t: TestApp;
let smtp: TestSmtpServer;
const clock = new ManualClock(new Date('2026-03-02T09:00:00Z'));
const PASSWORD = 'a long enough password';

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ clock, env: { SMTP_URL: smtp.url, PASSWORD_RESETS_PER_EMAIL: '3' } });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

let counter = 0;
const freshEmail = (label = 'person') => `${label}${++counter}.${Date.now()}@verify.test`;
type Body = { errors?: Array<{ extensions?: Record<string, unknown> }> };
const errorOf = (response: { body: Body }) => response.body.errors?.[0]?.extensions;
const mailsTo = (email: string) => smtp.messages.filter((m) => m.to.includes(email));

describe('signUp', () => {
  it('answers a new and a registered email alike, with no session; only the new one gets an account and a link', async () => {
    const taken = freshEmail('taken');
    await signUpVerified(t, { email: taken, password: PASSWORD, name: 'First Holder' }, { smtp });
    const before = await t.db.prisma.user.findUniqueOrThrow({ where: { email: taken } });
    const fresh = freshEmail('fresh');

    const forNew = await t.graphql(SignUpDocument, { input: { email: fresh, password: PASSWORD, name: 'New Person' } });
    const forTaken = await t.graphql(SignUpDocument, { input: { email: taken, password: 'another long password', name: 'Squatter' } });
    expect(forNew.status).toBe(forTaken.status);
    expect(Object.keys(forNew.body.data!.signUp)).toEqual(Object.keys(forTaken.body.data!.signUp));
    expect(forNew.body.data!.signUp.message).toBe(forTaken.body.data!.signUp.message);
    expect(forNew.headers.getSetCookie()).toEqual([]);
    expect(forTaken.headers.getSetCookie()).toEqual([]);

    const created = await t.db.prisma.user.findUniqueOrThrow({ where: { email: fresh } });
    expect(created.emailVerifiedAt).toBeNull();
    expect(await t.db.prisma.loginSession.count({ where: { userId: created.id } })).toBe(0);
    // The registered account is untouched: same name, same password.
    expect(await t.db.prisma.user.findUniqueOrThrow({ where: { email: taken } })).toMatchObject({ name: 'First Holder', passwordHash: before.passwordHash });
    expect(await t.db.prisma.activity.count({ where: { type: 'auth.sign_up.existing_account', subjectUserId: before.id } })).toBe(1);

    const exists = await smtp.waitFor((m) => m.to.includes(taken) && m.subject === 'You already have a Safeclose account');
    expect(extractLinks(exists.text)).toEqual(['http://safeclose.test/sign-in', 'http://safeclose.test/forgot-password']);
    const verification = await smtp.waitFor((m) => m.to.includes(fresh) && m.subject === 'Confirm your email address for Safeclose');
    expect(verification.text).toContain('within 24 hours');
    expect(mailsTo(fresh)).toHaveLength(1);
  });

  it('stores the link as a hash for 24 hours; following it verifies the address and starts a session, once', async () => {
    const email = freshEmail();
    await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Link Follower' } });
    const token = await verificationTokenFor(t, email, { smtp });
    const stored = await t.db.prisma.authToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(token) } });
    expect(stored).toMatchObject({ purpose: 'EMAIL_VERIFICATION', email, maxUses: 1, consumedAt: null });
    expect(stored.expiresAt.getTime() - stored.createdAt.getTime()).toBe(24 * 3600_000);
    expect(await t.db.prisma.authToken.count({ where: { tokenHash: token } })).toBe(0);

    const verified = await t.graphql(VerifyEmailDocument, { token });
    expect(verified.body.data?.verifyEmail).toMatchObject({ tokenType: 'Bearer', user: { email, emailVerified: true, name: 'Link Follower' } });
    expect(verified.headers.getSetCookie().some((cookie) => cookie.startsWith('sc_access='))).toBe(true);
    const me = await t.graphql(MeDocument, {}, { token: verified.body.data!.verifyEmail.accessToken });
    expect(me.body.data?.me).toMatchObject({ email, emailVerified: true });

    expect(errorOf(await t.graphql(VerifyEmailDocument, { token }))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_VERIFICATION_TOKEN', field: 'token' });
    expect(errorOf(await t.graphql(VerifyEmailDocument, { token: 'not-a-token' }))).toMatchObject({ reason: 'INVALID_VERIFICATION_TOKEN' });
  });

  it('refuses a link after 24 hours; the account stays unverified, can sign in and sees emailVerified false', async () => {
    const email = freshEmail();
    await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Late Follower' } });
    const token = await verificationTokenFor(t, email, { smtp });
    clock.advance(24 * 3600_000);
    expect(errorOf(await t.graphql(VerifyEmailDocument, { token }))).toMatchObject({ reason: 'INVALID_VERIFICATION_TOKEN' });
    const signedIn = await t.graphql(SignInDocument, { input: { email, password: PASSWORD } });
    const me = await t.graphql(MeDocument, {}, { token: signedIn.body.data!.signIn!.accessToken });
    expect(me.body.data?.me.emailVerified).toBe(false);
  });

  it('a password reset verifies an unverified account (its link went to the address)', async () => {
    const email = freshEmail();
    await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Resetter' } });
    const before = smtp.messages.length;
    await t.graphql(RequestPasswordResetDocument, { email });
    const mail = await smtp.waitFor((m) => m.to.includes(email) && smtp.messages.indexOf(m) >= before && m.subject.startsWith('Reset'));
    const token = new URL(extractLinks(mail.text).find((l) => l.includes('/reset-password?token='))!).searchParams.get('token')!;
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { email } })).emailVerifiedAt).toBeNull();
    expect((await t.graphql(ResetPasswordDocument, { token, newPassword: 'a brand new password' })).body.data?.resetPassword).toBe(true);
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { email } })).emailVerifiedAt).not.toBeNull();
  });

  it('is limited per email (PASSWORD_RESETS_PER_EMAIL): the fourth sign-up for one address is 429, another address still goes through', async () => {
    const email = freshEmail('limited');
    for (let i = 0; i < 3; i++) expect((await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Again' } })).body.data?.signUp.email).toBe(email);
    const refused = await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Again' } });
    expect(errorOf(refused)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await t.graphql(SignUpDocument, { input: { email: freshEmail(), password: PASSWORD, name: 'Other' } })).body.data?.signUp).toBeTruthy();
  });

  it('is limited per address (SIGN_IN_FAILURES_PER_ADDRESS), whatever the emails', async () => {
    const narrow = await startTestApp({ env: { SIGN_IN_FAILURES_PER_ADDRESS: '2' } });
    try {
      const signUp = () => narrow.graphql(SignUpDocument, { input: { email: freshEmail(), password: PASSWORD, name: 'Sprayer' } });
      expect((await signUp()).body.data?.signUp).toBeTruthy();
      expect((await signUp()).body.data?.signUp).toBeTruthy();
      expect(errorOf(await signUp())).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await narrow.close();
    }
  });
});

describe('what an unverified account cannot do', () => {
  it('accept an invitation (EMAIL_NOT_VERIFIED), which the same account can once verified', async () => {
    const { organization, role } = await createOrganization(t.db.prisma, { permissions: ['members'] });
    const inviter = await createUser(t.db.prisma);
    await addMember(t.db.prisma, { userId: inviter.id, organizationId: organization.id, roleId: role.id, isOwner: true });
    const inviterToken = (await signInAs(t.app.services, inviter.id)).token;
    const email = freshEmail('invitee');
    await t.graphql(SignUpDocument, { input: { email, password: PASSWORD, name: 'Invitee' } });
    const verificationToken = await verificationTokenFor(t, email, { smtp });
    const unverified = (await t.graphql(SignInDocument, { input: { email, password: PASSWORD } })).body.data!.signIn!.accessToken;

    const before = smtp.messages.length;
    expect((await t.graphql(InviteMemberDocument, { input: { organizationId: organization.id, email, roleId: role.id } }, { token: inviterToken })).body.errors).toBeUndefined();
    const mail = await smtp.waitFor((m) => m.to.includes(email) && smtp.messages.indexOf(m) >= before);
    const invitation = new URL(extractLinks(mail.text).find((l) => l.includes('/accept-invitation?token='))!).searchParams.get('token')!;

    expect(errorOf(await t.graphql(AcceptInvitationDocument, { token: invitation }, { token: unverified }))).toMatchObject({ code: 'FORBIDDEN', reason: 'EMAIL_NOT_VERIFIED' });
    expect(await t.db.prisma.membership.count({ where: { organizationId: organization.id, user: { email } } })).toBe(0);

    const verified = (await t.graphql(VerifyEmailDocument, { token: verificationToken })).body.data!.verifyEmail.accessToken;
    expect((await t.graphql(AcceptInvitationDocument, { token: invitation }, { token: verified })).body.data?.acceptInvitation).toMatchObject({ organization: { id: organization.id } });
  });

  it('be linked to a signing identity (EMAIL_NOT_VERIFIED), which a verified account can', async () => {
    const { organization } = await createOrganization(t.db.prisma);
    const adminRole = await t.db.prisma.organizationRole.create({ data: { organizationId: organization.id, name: 'Org admin', permissions: ['members', 'orgSettings'] } });
    const admin = await createUser(t.db.prisma);
    await addMember(t.db.prisma, { userId: admin.id, organizationId: organization.id, roleId: adminRole.id });
    const adminToken = (await signInAs(t.app.services, admin.id)).token;
    const unverified = await createUser(t.db.prisma, { emailVerified: false });
    const verified = await createUser(t.db.prisma);
    const link = (userEmail: string) => t.graphql(LinkSigningIdentityDocument, { input: { userEmail, organizationId: organization.id, kind: 'SIGNER' } }, { token: adminToken });

    expect(errorOf(await link(unverified.email))).toMatchObject({ code: 'FORBIDDEN', reason: 'EMAIL_NOT_VERIFIED', field: 'userEmail' });
    expect(await t.db.prisma.signingIdentity.count({ where: { userId: unverified.id } })).toBe(0);
    expect((await link(verified.email)).body.data?.linkSigningIdentity).toMatchObject({ kind: 'SIGNER', email: verified.email });
  });
});

describe('changeEmail', () => {
  it('takes effect only when the link mailed to the new address is followed; the old address then signs in no more', async () => {
    const oldEmail = freshEmail('old');
    const session = await signUpVerified(t, { email: oldEmail, password: PASSWORD, name: 'Mover' }, { smtp });
    const newEmail = freshEmail('new');

    expect(errorOf(await t.graphql(ChangeEmailDocument, { newEmail, password: 'not my password' }, { token: session.accessToken }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'WRONG_PASSWORD',
    });
    expect(errorOf(await t.graphql(ChangeEmailDocument, { newEmail, password: PASSWORD }))).toMatchObject({ code: 'UNAUTHENTICATED' });
    const before = smtp.messages.length;
    expect((await t.graphql(ChangeEmailDocument, { newEmail: newEmail.toUpperCase(), password: PASSWORD }, { token: session.accessToken })).body.data?.changeEmail).toBe(true);
    const token = await verificationTokenFor(t, newEmail, { smtp, after: before });
    expect(smtp.messages.slice(before).find((m) => m.to.includes(newEmail))?.subject).toBe('Confirm your new email address for Safeclose');
    expect((await t.graphql(MeDocument, {}, { token: session.accessToken })).body.data?.me.email).toBe(oldEmail);

    const followed = await t.graphql(VerifyEmailDocument, { token });
    expect(followed.body.data?.verifyEmail.user).toMatchObject({ email: newEmail, emailVerified: true });
    expect((await t.graphql(MeDocument, {}, { token: session.accessToken })).body.data?.me.email).toBe(newEmail);
    expect(errorOf(await t.graphql(SignInDocument, { input: { email: oldEmail, password: PASSWORD } }))).toMatchObject({ reason: 'INVALID_CREDENTIALS' });
    expect((await t.graphql(SignInDocument, { input: { email: newEmail, password: PASSWORD } })).body.data?.signIn?.user.email).toBe(newEmail);
  });

  it("answers the same for another account's address, mails nothing and makes no link; a second request replaces the first link", async () => {
    const email = freshEmail('mover');
    const session = await signUpVerified(t, { email, password: PASSWORD, name: 'Mover' }, { smtp });
    const someoneElse = await createUser(t.db.prisma);
    const first = freshEmail('first');
    await t.graphql(ChangeEmailDocument, { newEmail: first, password: PASSWORD }, { token: session.accessToken });
    const firstToken = await verificationTokenFor(t, first, { smtp });

    const before = smtp.messages.length;
    const taken = await t.graphql(ChangeEmailDocument, { newEmail: someoneElse.email, password: PASSWORD }, { token: session.accessToken });
    expect(taken.body.data?.changeEmail).toBe(true);
    expect(await t.db.prisma.authToken.count({ where: { purpose: 'EMAIL_VERIFICATION', email: someoneElse.email } })).toBe(0);
    expect(errorOf(await t.graphql(VerifyEmailDocument, { token: firstToken }))).toMatchObject({ reason: 'INVALID_VERIFICATION_TOKEN' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(smtp.messages.slice(before).filter((m) => m.to.includes(someoneElse.email))).toEqual([]);
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: session.user.id } })).email).toBe(email);
  });

  it('refuses a link whose address another account took in the meantime, and changes nothing', async () => {
    const session = await signUpVerified(t, { email: freshEmail('racer'), password: PASSWORD, name: 'Racer' }, { smtp });
    const wanted = freshEmail('wanted');
    await t.graphql(ChangeEmailDocument, { newEmail: wanted, password: PASSWORD }, { token: session.accessToken });
    const token = await verificationTokenFor(t, wanted, { smtp });
    await createUser(t.db.prisma, { email: wanted });
    expect(errorOf(await t.graphql(VerifyEmailDocument, { token }))).toMatchObject({ code: 'CONFLICT', reason: 'EMAIL_TAKEN' });
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: session.user.id } })).email).not.toBe(wanted);
  });
});
