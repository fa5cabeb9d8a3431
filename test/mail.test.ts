import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createMailer, MailDeliveryError, type Mailer } from '../src/modules/mail/mailer.ts';
import { signUpVerified } from './support/accounts.ts';
import { extractLinks, parseMail, startSmtpServer, type TestSmtpServer } from './support/smtp.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

class LineCollector extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  entries(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

const FROM = 'Safeclose <no-reply@safeclose.test>';
const token = 'Zm9vYmFy_-' + 'x'.repeat(60) + '==';
const link = `https://safeclose.test/reset-password?token=${token}&next=%2Fdocuments%3Fa%3D1&b=2&c==3`;
const subject = 'Réinitialisez votre mot de passe Safeclose — lien valable trente minutes, une seule fois';
const text = ['Bonjour Zoé,', '', 'Pour choisir un nouveau mot de passe, ouvrez ce lien :', '', link, '', 'Le lien ne marche qu’une fois.'].join('\n');

/** A port that was free a moment ago and has nothing listening on it now. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectNoBodyIn(lines: string[]) {
  const logged = lines.join('\n');
  expect(logged).not.toContain(token);
  expect(logged).not.toContain('reset-password');
  expect(logged).not.toContain('Bonjour');
}

describe('createMailer over SMTP', () => {
  let smtp: TestSmtpServer;
  let mailer: Mailer;
  let logs: LineCollector;
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterEach(async () => {
    await mailer?.close();
  });
  afterAll(async () => {
    await smtp?.close();
  });

  function smtpMailer(): Mailer {
    logs = new LineCollector();
    mailer = createMailer({ smtpUrl: smtp.url, from: FROM, outboxDir: '/nonexistent/never-used' }, createLogger({ level: 'info', destination: logs }));
    return mailer;
  }

  it('delivers subject and text exactly, with a long link full of = and & intact', async () => {
    await smtpMailer().send({ to: 'zoe@example.test', subject, text });
    const mail = await smtp.waitFor((m) => m.to.includes('zoe@example.test'));
    expect(mail.from).toBe('no-reply@safeclose.test');
    expect(mail.to).toEqual(['zoe@example.test']);
    expect(mail.subject).toBe(subject);
    expect(mail.text).toBe(text);
    expect(extractLinks(mail.text)).toEqual([link]);
    // The wire form really was encoded, so the decoding above was exercised.
    expect(mail.raw).toMatch(/^Subject: =\?UTF-8\?Q\?/m);
    expect(mail.raw).toContain('Content-Transfer-Encoding: quoted-printable');
  });

  it('logs one line per message with the domain and subject, never the body or the link', async () => {
    await smtpMailer().send({ to: 'Dana.Doe@Example.TEST', subject, text });
    await smtp.waitFor((m) => m.to.some((address) => address.toLowerCase() === 'dana.doe@example.test'));
    expect(logs.entries()).toEqual([expect.objectContaining({ level: 'info', msg: 'mail sent', toDomain: 'example.test', subject })]);
    expect(logs.lines.join('\n').toLowerCase()).not.toContain('dana.doe');
    expectNoBodyIn(logs.lines);
  });

  it('takes the text/plain part of a message with an HTML alternative, also when it travels as base64', async () => {
    // More non-ASCII than Latin letters, so nodemailer picks base64 over quoted-printable for it.
    const japanese = 'パスワードを再設定するには、次のリンクを開いてください。\n'.repeat(6) + link;
    await smtpMailer().send({ to: 'kenji@example.test', subject: '再設定', text: japanese, html: `<p>HTML only</p><a href="${link}">link</a>` });
    const mail = await smtp.waitFor((m) => m.to.includes('kenji@example.test'));
    expect(mail.raw).toContain('multipart/alternative');
    expect(mail.raw).toContain('Content-Transfer-Encoding: base64');
    expect(mail.subject).toBe('再設定');
    expect(mail.text).toBe(japanese);
    expect(extractLinks(mail.text)).toEqual([link]);
  });

  it('rejects with a clear error naming the server, without the credentials of the URL, when nothing listens', async () => {
    const port = await closedPort();
    logs = new LineCollector();
    mailer = createMailer({ smtpUrl: `smtp://user:s3cret@127.0.0.1:${port}`, from: FROM, outboxDir: '/nonexistent/never-used' }, createLogger({ level: 'info', destination: logs }));
    const error = await mailer.send({ to: 'zoe@example.test', subject, text }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MailDeliveryError);
    const failure = error as MailDeliveryError;
    expect(failure.message).toContain(`SMTP server at 127.0.0.1:${port} failed`);
    expect(failure.message).toMatch(/ECONNREFUSED/);
    expect(failure.code).toEqual(expect.any(String));
    for (const exposed of [failure.message, String(failure.stack), JSON.stringify(failure), String(failure.cause)]) {
      expect(exposed).not.toContain('s3cret');
    }
    expect(logs.lines).toEqual([]);
  });

  it('scrubs the credentials from a server reply that echoes them', async () => {
    const echoing = new SMTPServer({
      authOptional: false,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 1000,
      onAuth(auth, _session, callback) {
        callback(new Error(`No account ${auth.username} with password ${auth.password ?? ''}`));
      },
    });
    await new Promise<void>((resolve) => echoing.listen(0, '127.0.0.1', () => resolve()));
    const { port } = echoing.server.address() as net.AddressInfo;
    try {
      mailer = createMailer({ smtpUrl: `smtp://mailer%40safeclose:s3cret%2Fpass@127.0.0.1:${port}`, from: FROM, outboxDir: '/nonexistent/never-used' }, createLogger({ level: 'silent' }));
      const error = (await mailer.send({ to: 'zoe@example.test', subject, text }).catch((e: unknown) => e)) as MailDeliveryError;
      expect(error).toBeInstanceOf(MailDeliveryError);
      expect(error.code).toBe('EAUTH');
      expect(error.responseCode).toBe(535);
      expect(error.message).toContain('No account [redacted] with password [redacted]');
      expect(error.message).not.toContain('s3cret');
      expect(error.message).not.toContain('mailer@safeclose');
    } finally {
      await new Promise<void>((resolve) => echoing.close(() => resolve()));
    }
  });
});

describe('createMailer without SMTP_URL (development outbox)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'safeclose-outbox-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes each message as an .eml file in a directory it creates, and logs where, not what', async () => {
    const outboxDir = path.join(root, 'data', 'outbox');
    const logs = new LineCollector();
    const clock = new ManualClock(new Date('2026-03-04T05:06:07.089Z'));
    const mailer = createMailer({ smtpUrl: undefined, from: FROM, outboxDir }, createLogger({ level: 'info', destination: logs }), clock);
    await mailer.send({ to: 'zoe@example.test', subject, text });
    await mailer.close();

    const files = await readdir(outboxDir);
    expect(files).toHaveLength(1);
    const [name = ''] = files;
    expect(name).toMatch(/^2026-03-04T05-06-07\.089Z-[0-9a-f]{8}\.eml$/);
    const file = path.join(outboxDir, name);
    const raw = await readFile(file, 'utf8');
    expect(raw).toMatch(/^Subject: /m);
    expect(raw).toMatch(/^From: Safeclose <no-reply@safeclose\.test>\r$/m);
    expect(raw).toMatch(/^To: zoe@example\.test\r$/m);
    expect(parseMail(raw)).toMatchObject({ subject, text });
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    expect(logs.entries()).toEqual([expect.objectContaining({ level: 'info', msg: 'mail written to outbox', toDomain: 'example.test', subject, file })]);
    expectNoBodyIn(logs.lines);
  });

  it('gives messages sent in the same millisecond different files', async () => {
    const outboxDir = path.join(root, 'same-instant');
    const mailer = createMailer({ smtpUrl: undefined, from: FROM, outboxDir }, createLogger({ level: 'silent' }), new ManualClock());
    await Promise.all(['a', 'b', 'c'].map((who) => mailer.send({ to: `${who}@example.test`, subject: `for ${who}`, text: 'hello there' })));
    const subjects = await Promise.all((await readdir(outboxDir)).map(async (name) => parseMail(await readFile(path.join(outboxDir, name), 'utf8')).subject));
    expect(subjects.sort()).toEqual(['for a', 'for b', 'for c']);
  });
});

describe('the test SMTP parser', () => {
  it('joins encoded words split in the middle of a character and drops the whitespace between them', () => {
    const bytes = Buffer.from('é€', 'utf8'); // c3 a9 e2 82 ac
    const raw = [
      `Subject: Prix =?UTF-8?B?${bytes.subarray(0, 3).toString('base64')}?=`,
      ` =?utf-8?Q?=${bytes[3]!.toString(16)}=${bytes[4]!.toString(16)}_net?= (HT)`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'body',
    ].join('\r\n');
    expect(parseMail(raw)).toMatchObject({ subject: 'Prix é€ net (HT)', text: 'body' });
  });

  it('decodes quoted-printable soft line breaks and multi-byte bytes, in a nested multipart', () => {
    const raw = [
      'Subject: plain ascii',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      'preamble',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>not this</p>',
      '--inner',
      'Content-Type: text/plain; charset="utf-8"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'caf=C3=A9 https://example.test/a?b=3D1&c=3D=',
      '2 and more',
      '',
      '--inner--',
      '--outer--',
    ].join('\r\n');
    const mail = parseMail(raw);
    expect(mail.text).toBe('café https://example.test/a?b=1&c=2 and more\n');
    expect(extractLinks(mail.text)).toEqual(['https://example.test/a?b=1&c=2']);
  });

  it('finds http and https links, without the punctuation around them', () => {
    expect(extractLinks('See https://a.test/x?y=1&z=2. Or (http://b.test/p), or <https://c.test/>; ftp://d.test no.')).toEqual([
      'https://a.test/x?y=1&z=2',
      'http://b.test/p',
      'https://c.test/',
    ]);
  });
});

describe('mails the platform sends show user-supplied text only in quotes', () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await startTestApp({ env: { SMTP_URL: smtp.url } });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  const PHISHING = 'Your account is locked. Verify at http://evil.example/verify';

  /** Signs up `name`, creates an organization and invites `invitee`; answers the invitation mail. */
  async function inviteAs(name: string, inviterEmail: string, invitee: string) {
    const token = (await signUpVerified(t, { email: inviterEmail, password: 'a long enough password', name }, { smtp })).accessToken;
    const created = await t.graphql('mutation { createOrganization(input: { name: "Mail \\"Quoted\\" Lending" }) { id roles { id name } } }', {}, { token });
    const organization = (created.body.data as { createOrganization: { id: string; roles: Array<{ id: string; name: string }> } }).createOrganization;
    const roleId = organization.roles.find((role) => role.name === 'Staff')!.id;
    const invited = await t.graphql('mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }', { input: { organizationId: organization.id, email: invitee, roleId } }, { token });
    expect(invited.body.errors).toBeUndefined();
    return smtp.waitFor((mail) => mail.to.includes(invitee));
  }

  it('names the inviter only inside quotes, mid-sentence, never at the start of a line or as the link', async () => {
    const mail = await inviteAs(PHISHING, 'phisher@mail.test', 'victim@mail.test');
    expect(mail.subject).toBe('Invitation to join "Mail \\"Quoted\\" Lending" on Safeclose');
    const lines = mail.text.split('\n');
    const naming = lines.filter((line) => line.includes('Your account is locked'));
    expect(naming).toEqual([expect.stringContaining(`from the Safeclose user "${PHISHING}" (phisher@mail.test).`)]);
    expect(mail.text.split(PHISHING).length - 1).toBe(mail.text.split(`"${PHISHING}"`).length - 1);
    for (const line of lines) expect(line.trimStart().startsWith('"') || line.trimStart().startsWith('Your account')).toBe(false);
    // The one line that is a link is ours.
    const linkLines = lines.filter((line) => /^https?:\/\//.test(line));
    expect(linkLines).toHaveLength(1);
    expect(linkLines[0]).toMatch(/^http:\/\/safeclose\.test\/accept-invitation\?token=/);
  });

  it('escapes quotes inside a name, so the quotes cannot be closed early', async () => {
    const mail = await inviteAs('Ann "Support" Smith', 'ann.quotes@mail.test', 'quoted@mail.test');
    expect(mail.text).toContain('from the Safeclose user "Ann \\"Support\\" Smith" (ann.quotes@mail.test).');
  });

  it('keeps a name stored before the rule on one line', async () => {
    // A row written before names refused line breaks: the mail must still not break its line.
    const inviter = await createUser(t.db.prisma, { name: 'Old Row\r\nYour account is locked', email: 'old.row@mail.test' });
    const org = await createOrganization(t.db.prisma, { permissions: ['members'] });
    await addMember(t.db.prisma, { userId: inviter.id, organizationId: org.organization.id, roleId: org.role.id, isOwner: true });
    const { token } = await signInAs(t.app.services, inviter.id);
    const invited = await t.graphql('mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }', { input: { organizationId: org.organization.id, email: 'legacy@mail.test', roleId: org.role.id } }, { token });
    expect(invited.body.errors).toBeUndefined();
    const mail = await smtp.waitFor((m) => m.to.includes('legacy@mail.test'));
    expect(mail.text).toContain('"Old Row\uFFFD\uFFFDYour account is locked" (old.row@mail.test)');
    expect(mail.text.split('\n').some((line) => line.startsWith('Your account is locked'))).toBe(false);
  });

  it('leaves the name typed at sign-up out of the verification, account-exists and password reset mails', async () => {
    const signUp = (name: string) => t.graphql('mutation($input: SignUpInput!) { signUp(input: $input) { email } }', { input: { email: 'resetter@mail.test', password: 'a long enough password', name } });
    await signUp(PHISHING);
    const verification = await smtp.waitFor((m) => m.to.includes('resetter@mail.test') && m.subject === 'Confirm your email address for Safeclose');
    expect(verification.text).toContain('Someone signed up for Safeclose with this email address.');
    expect(verification.text).toMatch(/^http:\/\/safeclose\.test\/verify-email\?token=/m);
    expect(verification.text).not.toContain('Your account is locked');
    await signUp(`Second ${PHISHING}`);
    const exists = await smtp.waitFor((m) => m.to.includes('resetter@mail.test') && m.subject === 'You already have a Safeclose account');
    expect(exists.text.split('\n').filter((line) => /^https?:\/\//.test(line))).toEqual(['http://safeclose.test/sign-in', 'http://safeclose.test/forgot-password']);
    expect(exists.text).not.toContain('Your account is locked');
    await t.graphql('mutation { requestPasswordReset(email: "resetter@mail.test") }');
    const mail = await smtp.waitFor((m) => m.to.includes('resetter@mail.test') && m.subject.startsWith('Reset'));
    expect(mail.subject).toBe('Reset your Safeclose password');
    expect(mail.text).toContain('reset the password of the Safeclose account for this email address');
    expect(mail.text).not.toContain('Your account is locked');
  });
});
