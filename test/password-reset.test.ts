import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument, RequestPasswordResetDocument, ResetPasswordDocument, SignInDocument, SignUpDocument } from './generated/graphql.ts';
import { signUpVerified } from './support/accounts.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { extractLinks, startSmtpServer } from './support/smtp.ts';

const clock = new ManualClock(new Date('2026-03-01T09:00:00Z'));
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let t: TestApp;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ clock, env: { SMTP_URL: smtp.url, PASSWORD_RESETS_PER_EMAIL: '3' } });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

let counter = 0;
async function account() {
  const email = `reset${++counter}.${Date.now()}@example.test`;
  const session = await signUpVerified(t, { email, password: 'original password', name: 'Reset Person' }, { smtp });
  return { email, token: session.accessToken };
}

/** Asks for a reset link and follows the link in the mail that arrives, returning its token. */
async function resetTokenFor(email: string): Promise<string> {
  const before = smtp.messages.length;
  const { body } = await t.graphql(RequestPasswordResetDocument, { email });
  expect(body.data?.requestPasswordReset).toBe(true);
  const mail = await smtp.waitFor((m) => m.to.includes(email) && smtp.messages.indexOf(m) >= before);
  expect(mail.subject).toBe('Reset your Safeclose password');
  const link = extractLinks(mail.text).find((l) => l.startsWith('http://safeclose.test/reset-password?token='));
  expect(link).toBeDefined();
  return new URL(link!).searchParams.get('token')!;
}

describe('forgot password', () => {
  it('mails a single-use link through SMTP; using it sets the password and ends every session', async () => {
    const { email, token: session } = await account();
    const resetToken = await resetTokenFor(email);
    const stored = await t.db.prisma.authToken.findFirstOrThrow({ where: { purpose: 'PASSWORD_RESET', user: { email } } });
    expect(stored.tokenHash).not.toContain(resetToken);
    expect(stored.expiresAt.getTime() - clock.now().getTime()).toBe(30 * 60 * 1000);

    const { body } = await t.graphql(ResetPasswordDocument, { token: resetToken, newPassword: 'chosen after reset' });
    expect(body.data?.resetPassword).toBe(true);
    expect((await t.graphql(MeDocument, {}, { token: session })).status).toBe(401);
    expect((await t.graphql(SignInDocument, { input: { email, password: 'chosen after reset' } })).body.data?.signIn).toBeTruthy();

    const again = await t.graphql(ResetPasswordDocument, { token: resetToken, newPassword: 'second attempt here' });
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_RESET_TOKEN' });
  });

  it('answers an unknown email exactly like a known one, and sends nothing', async () => {
    const { email } = await account();
    const ask = (address: string) =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: 'mutation($e: String!) { requestPasswordReset(email: $e) }', variables: { e: address } }),
      });
    const sentBefore = smtp.messages.length;
    const known = await ask(email);
    const unknown = await ask(`ghost-${Date.now()}@example.test`);
    expect(known.status).toBe(unknown.status);
    expect(await known.text()).toBe(await unknown.text());
    await smtp.waitFor((m) => m.to.includes(email));
    // Give a stray message for the unknown address time to arrive, then check none did.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages.slice(sentBefore).every((m) => m.to.includes(email))).toBe(true);
  });

  it('lets exactly one of ten concurrent uses of a reset token succeed', async () => {
    const { email } = await account();
    const resetToken = await resetTokenFor(email);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => t.graphql(ResetPasswordDocument, { token: resetToken, newPassword: `concurrent password ${i}` })),
    );
    const winners = results.filter((r) => r.body.data?.resetPassword === true);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.body.errors?.[0]?.extensions?.reason === 'INVALID_RESET_TOKEN')).toHaveLength(9);
  });

  it('expires the link after 30 minutes: valid a millisecond before, refused at the boundary', async () => {
    const { email } = await account();
    const first = await resetTokenFor(email);
    const second = await resetTokenFor(email);
    clock.advance(30 * 60 * 1000 - 1);
    expect((await t.graphql(ResetPasswordDocument, { token: first, newPassword: 'just in time pass' })).body.data?.resetPassword).toBe(true);
    clock.advance(1);
    // The first reset also revoked the second link; a fresh one is refused at its own boundary below.
    expect((await t.graphql(ResetPasswordDocument, { token: second, newPassword: 'too late password' })).body.errors?.[0]?.extensions?.reason).toBe('INVALID_RESET_TOKEN');
    const third = await resetTokenFor(email);
    clock.advance(30 * 60 * 1000);
    expect((await t.graphql(ResetPasswordDocument, { token: third, newPassword: 'too late password' })).body.errors?.[0]?.extensions?.reason).toBe('INVALID_RESET_TOKEN');
  });

  it('throttles reset requests per email with 429 and Retry-After', async () => {
    const email = `throttle-${Date.now()}@example.test`;
    for (let i = 0; i < 3; i++) expect((await t.graphql(RequestPasswordResetDocument, { email })).status).toBe(200);
    const { status, headers, body } = await t.graphql(RequestPasswordResetDocument, { email });
    expect(status).toBe(429);
    expect(Number(headers.get('retry-after'))).toBeGreaterThan(0);
    expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('records the reset in the activity log without the token', async () => {
    const { email } = await account();
    const resetToken = await resetTokenFor(email);
    await t.graphql(ResetPasswordDocument, { token: resetToken, newPassword: 'audited new password' });
    const user = await t.db.prisma.user.findUniqueOrThrow({ where: { email }, select: { id: true } });
    const events = await t.db.prisma.activity.findMany({ where: { subjectUserId: user.id }, orderBy: { seq: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['auth.sign_up', 'auth.password_reset.requested', 'auth.password_reset.completed']));
    expect(JSON.stringify(events, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))).not.toContain(resetToken);
    expect(events.find((e) => e.type === 'auth.password_reset.completed')?.ip).toBe('127.0.0.1');
  });
});
