import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope sender (MAIL FROM). */
  from: string;
  /** The envelope recipients (RCPT TO). */
  to: string[];
  /** The Subject header, RFC 2047 encoded words decoded. */
  subject: string;
  /** The text/plain body, transfer encoding undone and line breaks as `\n`. */
  text: string;
  /** The message as it arrived, headers and all. */
  raw: string;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`, for SMTP_URL. */
  url: string;
  /** Every message received, in arrival order. */
  messages: ReceivedMail[];
  /** The first message (already received or still to come) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** A real SMTP server on a free local port that keeps what it receives, for tests of mail sent over the wire. */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<(mail: ReceivedMail) => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const { mailFrom, rcptTo } = session.envelope;
        const mail = { from: mailFrom ? mailFrom.address : '', to: rcptTo.map((r) => r.address), ...parseMail(Buffer.concat(chunks).toString('utf8')) };
        messages.push(mail);
        for (const notify of waiters) notify(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  function waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs = 5000): Promise<ReceivedMail> {
    const found = messages.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const notify = (mail: ReceivedMail) => {
        if (!predicate(mail)) return;
        clearTimeout(timer);
        waiters.delete(notify);
        resolve(mail);
      };
      const timer = setTimeout(() => {
        waiters.delete(notify);
        reject(new Error(`No matching mail within ${timeoutMs} ms (${messages.length} received: ${messages.map((m) => JSON.stringify(m.subject)).join(', ') || 'none'})`));
      }, timeoutMs);
      waiters.add(notify);
    });
  }

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The http and https URLs in a text, without the punctuation that ends a sentence around them. */
export function extractLinks(text: string): string[] {
  return [...text.matchAll(/https?:\/\/[^\s<>"']+/g)].map(([link]) => link.replace(/[.,;:!?)\]]+$/, ''));
}

interface Entity {
  headers: Map<string, string>;
  body: string;
}

/** Subject and text/plain body of a raw RFC 5322 message: enough MIME for what the server sends, no more. */
export function parseMail(raw: string): { subject: string; text: string; raw: string } {
  const message = parseEntity(raw);
  return { subject: decodeEncodedWords(message.headers.get('subject') ?? ''), text: findPlainText(message) ?? '', raw };
}

function parseEntity(raw: string): Entity {
  const separator = /\r?\n\r?\n/.exec(raw);
  const head = separator ? raw.slice(0, separator.index) : raw;
  const body = separator ? raw.slice(separator.index + separator[0].length) : '';
  const headers = new Map<string, string>();
  // Unfolding removes the line break before continuation whitespace, and keeps the whitespace (RFC 5322 §2.2.3).
  for (const line of head.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function contentType(entity: Entity): { type: string; params: Map<string, string> } {
  const value = entity.headers.get('content-type') ?? 'text/plain; charset=us-ascii';
  const type = (value.split(';', 1)[0] ?? '').trim().toLowerCase();
  const params = new Map<string, string>();
  for (const [, name = '', quoted, bare] of value.matchAll(/;\s*([^=\s;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/g)) {
    params.set(name.toLowerCase(), quoted === undefined ? (bare ?? '') : quoted.replace(/\\(.)/g, '$1'));
  }
  return { type, params };
}

/** The first text/plain part, depth first, so multipart/alternative and multipart/mixed both work. */
function findPlainText(entity: Entity, depth = 0): string | undefined {
  const { type, params } = contentType(entity);
  if (type.startsWith('multipart/')) {
    const boundary = params.get('boundary');
    if (!boundary) return undefined;
    for (const part of splitMultipart(entity.body, boundary)) {
      const text = findPlainText(parseEntity(part), depth + 1);
      if (text !== undefined) return text;
    }
    return undefined;
  }
  if (type !== 'text/plain') return undefined;
  // The sender ends the last line of a whole message with a line break whether or not the text had one (nodemailer
  // adds it), so it is not part of the text; inside a multipart, the break before a delimiter is the delimiter's.
  const content = depth === 0 ? entity.body.replace(/\r?\n$/, '') : entity.body;
  return decodeBody(content, entity.headers.get('content-transfer-encoding') ?? '7bit', params.get('charset') ?? 'utf-8');
}

/** The parts between `--boundary` lines; the line break before each delimiter belongs to the delimiter (RFC 2046). */
function splitMultipart(body: string, boundary: string): string[] {
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\r?\n/)) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}--`) break;
    if (trimmed === `--${boundary}`) {
      if (current) parts.push(current.join('\r\n'));
      current = [];
    } else {
      current?.push(line);
    }
  }
  if (current) parts.push(current.join('\r\n'));
  return parts;
}

function decodeBody(body: string, transferEncoding: string, charset: string): string {
  const encoding = transferEncoding.trim().toLowerCase();
  const decoded =
    encoding === 'base64'
      ? decodeBytes(Buffer.from(body.replace(/\s+/g, ''), 'base64'), charset)
      : encoding === 'quoted-printable'
        ? decodeBytes(decodeQuotedPrintable(body), charset)
        : body;
  // Line breaks travel as CRLF (RFC 5322); they come back as the app writes them.
  return decoded.replace(/\r\n/g, '\n');
}

/**
 * Soft line breaks (`=` at the end of a line) join lines; `=XX` are bytes, so multi-byte UTF-8 survives. A space
 * before the `=` is text (only whitespace after it, at the very end of the line, is transport padding: RFC 2045 6.7).
 */
function decodeQuotedPrintable(body: string): Buffer {
  const joined = body.replace(/=[ \t]*\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined[i] === '=' ? joined.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/**
 * RFC 2047 encoded words (`=?UTF-8?Q?...?=`, `=?UTF-8?B?...?=`). Whitespace between two adjacent encoded words is
 * dropped (§6.2), and their bytes are joined before decoding, since a sender may split a character between them.
 */
function decodeEncodedWords(value: string): string {
  const word = /=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g;
  let out = '';
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | undefined;
  const flush = () => {
    if (pending) out += decodeBytes(Buffer.concat(pending.bytes), pending.charset);
    pending = undefined;
  };
  for (const match of value.matchAll(word)) {
    const [whole, charsetSpec = 'utf-8', encoding = 'Q', encoded = ''] = match;
    const between = value.slice(last, match.index);
    const charset = charsetSpec.split('*', 1)[0] ?? 'utf-8';
    const adjacent = pending !== undefined && /^[ \t]*$/.test(between);
    if (!adjacent || pending?.charset.toLowerCase() !== charset.toLowerCase()) flush();
    if (!adjacent) out += between;
    const bytes = encoding.toUpperCase() === 'B' ? Buffer.from(encoded, 'base64') : decodeQuotedPrintable(encoded.replace(/_/g, ' '));
    pending ??= { charset, bytes: [] };
    pending.bytes.push(bytes);
    last = match.index + whole.length;
  }
  flush();
  return out + value.slice(last);
}

function decodeBytes(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}
