import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../../config.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/** An SMTP delivery that failed. Its message names the server but never the credentials of SMTP_URL. */
export class MailDeliveryError extends Error {
  /** Nodemailer's error code (ECONNECTION, EAUTH, EENVELOPE, ...), when it gave one. */
  readonly code: string | undefined;
  /** The SMTP reply code, when the server answered. */
  readonly responseCode: number | undefined;

  constructor(message: string, details: { code?: string | undefined; responseCode?: number | undefined }) {
    super(message);
    this.name = 'MailDeliveryError';
    this.code = details.code;
    this.responseCode = details.responseCode;
  }
}

/**
 * SMTP when `smtpUrl` is set; otherwise a development outbox of `.eml` files that any mail client opens.
 * Log lines name the recipient's domain and the subject only: bodies carry one-time links and tokens.
 */
export function createMailer(config: Config['mail'], logger: Logger, clock: Clock = systemClock): Mailer {
  return config.smtpUrl ? createSmtpMailer(config.smtpUrl, config.from, logger) : createOutboxMailer(config.outboxDir, config.from, logger, clock);
}

function createSmtpMailer(smtpUrl: string, from: string, logger: Logger): Mailer {
  // Nodemailer's defaults wait up to 2 minutes to connect and 10 minutes on a silent socket; a request that sends
  // mail should learn much sooner that the server is not answering.
  const transport = nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }, { from });
  return {
    async send(message) {
      try {
        await transport.sendMail(toNodemailer(message));
      } catch (error) {
        throw deliveryError(error, smtpUrl);
      }
      logger.info({ toDomain: domainOf(message.to), subject: message.subject }, 'mail sent');
    },
    async close() {
      transport.close();
    },
  };
}

function createOutboxMailer(outboxDir: string, from: string, logger: Logger, clock: Clock): Mailer {
  // The stream transport only renders the message; writing it is ours, so the file name and mode are ours too.
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' }, { from });
  return {
    async send(message) {
      const { message: rendered } = await composer.sendMail(toNodemailer(message));
      if (!Buffer.isBuffer(rendered)) throw new Error('nodemailer returned a stream although buffer: true was set');
      await mkdir(outboxDir, { recursive: true });
      const file = path.join(outboxDir, outboxFileName(clock.now()));
      // Owner-only, and never overwriting: the file holds a live one-time link.
      await writeFile(file, rendered, { mode: 0o600, flag: 'wx' });
      logger.info({ toDomain: domainOf(message.to), subject: message.subject, file }, 'mail written to outbox');
    },
    async close() {
      composer.close();
    },
  };
}

function toNodemailer(message: MailMessage) {
  return { to: message.to, subject: message.subject, text: message.text, ...(message.html === undefined ? {} : { html: message.html }) };
}

/** `2026-01-01T09-30-00.000Z-1a2b3c4d.eml`: sorts by time, and ':' is not allowed in Windows file names. */
function outboxFileName(now: Date): string {
  return `${now.toISOString().replaceAll(':', '-')}-${randomBytes(4).toString('hex')}.eml`;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? '(no domain)' : address.slice(at + 1).replace(/>$/, '').toLowerCase();
}

/**
 * Rebuilds the error from scratch rather than wrapping it: nodemailer's error carries the SMTP conversation
 * (`command`, `response`), and a server may echo what it was sent. Only the code, reply code and a scrubbed
 * message survive, and the message names the server by host and port.
 */
function deliveryError(error: unknown, smtpUrl: string): MailDeliveryError {
  const { code, responseCode, message } = (error ?? {}) as { code?: unknown; responseCode?: unknown; message?: unknown };
  const target = new URL(smtpUrl);
  const server = `${target.hostname}:${target.port || (target.protocol === 'smtps:' ? '465' : '587')}`;
  const reason = scrub(typeof message === 'string' ? message : String(error), credentialsOf(target));
  return new MailDeliveryError(`Sending mail through the SMTP server at ${server} failed: ${reason}`, {
    code: typeof code === 'string' ? code : undefined,
    responseCode: typeof responseCode === 'number' ? responseCode : undefined,
  });
}

function credentialsOf(url: URL): string[] {
  const raw = [url.username, url.password].filter(Boolean);
  const decoded = raw.map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  // Longest first, so a password containing the user name is removed whole.
  return [...new Set([...raw, ...decoded])].sort((a, b) => b.length - a.length);
}

function scrub(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}
