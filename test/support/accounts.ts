import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SignUpDocument, VerifyEmailDocument } from '../generated/graphql.ts';
import type { TestApp } from './app.ts';
import { extractLinks, parseMail, type TestSmtpServer } from './smtp.ts';

/** The newest-first mails in the app's development outbox (where mail goes without SMTP_URL). */
async function outboxMails(t: TestApp): Promise<Array<{ to: string; subject: string; text: string }>> {
  const dir = t.config.mail.outboxDir;
  const files = await readdir(dir).catch(() => [] as string[]);
  const mails = await Promise.all(
    files.sort().reverse().map(async (file) => {
      const raw = await readFile(path.join(dir, file), 'utf8');
      const to = /^To: (.*)$/im.exec(raw)?.[1] ?? '';
      return { to, ...parseMail(raw) };
    }),
  );
  return mails;
}

/**
 * The token of the newest verification link mailed to `email` (a sign-up's or an email change's), from the SMTP
 * server when the app sends through one, else from the outbox. The mail goes out after the response, so this waits.
 */
export async function verificationTokenFor(t: TestApp, email: string, options: { smtp?: TestSmtpServer; after?: number } = {}): Promise<string> {
  const isLink = (link: string) => link.startsWith(`${t.config.publicUrl}/verify-email?token=`);
  const tokenOf = (text: string) => {
    const link = extractLinks(text).find(isLink);
    return link ? new URL(link).searchParams.get('token') : null;
  };
  if (options.smtp) {
    const smtp = options.smtp;
    const after = options.after ?? 0;
    const mail = await smtp.waitFor((m) => m.to.includes(email) && smtp.messages.indexOf(m) >= after && tokenOf(m.text) !== null);
    return tokenOf(mail.text)!;
  }
  for (let tries = 0; tries < 100; tries++) {
    const mail = (await outboxMails(t)).find((m) => m.to.includes(email) && tokenOf(m.text) !== null);
    if (mail) return tokenOf(mail.text)!;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`No verification link mailed to ${email}`);
}

/** Signs up over GraphQL and follows the mailed link, answering the session it starts (as a new customer would). */
export async function signUpVerified(
  t: TestApp,
  input: { email: string; password: string; name: string },
  options: { smtp?: TestSmtpServer; headers?: Record<string, string> } = {},
) {
  const after = options.smtp?.messages.length;
  const signedUp = await t.graphql(SignUpDocument, { input }, { headers: options.headers });
  if (!signedUp.body.data?.signUp) throw new Error(`signUp failed: ${JSON.stringify(signedUp.body.errors)}`);
  const token = await verificationTokenFor(t, input.email.trim().toLowerCase(), { ...(options.smtp ? { smtp: options.smtp, after } : {}) });
  const verified = await t.graphql(VerifyEmailDocument, { token }, { headers: options.headers });
  if (!verified.body.data?.verifyEmail) throw new Error(`verifyEmail failed: ${JSON.stringify(verified.body.errors)}`);
  return verified.body.data.verifyEmail;
}
