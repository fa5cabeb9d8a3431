import { AppError } from './errors.ts';

/**
 * The one place where patterns run against text a client sent. Every validator here takes a length cap and checks
 * it before any pattern runs, so no pattern ever sees more than a few hundred characters; and every pattern is one
 * that cannot backtrack catastrophically (test/redos.test.ts checks every regular expression in src/).
 */

/**
 * Refused in every single-line field (names, titles, emails...): C0 and C1 controls and DEL (CR, LF, ESC, NUL...),
 * the Unicode line and paragraph separators, and the bidirectional controls (embeddings, overrides, isolates,
 * marks) that can make text read differently from what it is.
 */
const SINGLE_LINE_FORBIDDEN = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}]/u;
/** Multi-line fields (messages, notes, templates) also take tab, line feed and carriage return. */
const MULTI_LINE_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\p{Zl}\p{Zp}\p{Bidi_Control}]/u;

/** The longest email address (RFC 5321's path limit less its angle brackets). */
export const EMAIL_MAX_LENGTH = 254;
/** `local@domain.tld`: no spaces, one `@`, and a domain of non-empty dot-separated labels. */
export const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

export interface TextLimits {
  min?: number;
  /** Checked first, before anything else looks at the value. */
  max: number;
  pattern?: RegExp;
  /** The message when `pattern` does not match. */
  hint?: string;
  /** Allow line breaks and tabs (messages, notes); every other control character is still refused. */
  multiline?: boolean;
}

const lengthError = (field: string, min: number, max: number, reason: 'TOO_LONG' | 'TOO_SHORT') =>
  new AppError('BAD_USER_INPUT', `${field} must be ${min} to ${max} characters.`, { field, reason });

/**
 * Trimmed text of a bounded length, or a BAD_USER_INPUT naming the field: over `max` (reason TOO_LONG) before any
 * pattern runs; then control characters (CONTROL_CHARACTERS); then `pattern` (INVALID_FORMAT).
 */
export function text(value: string, field: string, limits: TextLimits): string {
  const trimmed = value.trim();
  const min = limits.min ?? 1;
  if (trimmed.length > limits.max) throw lengthError(field, min, limits.max, 'TOO_LONG');
  if (trimmed.length < min) throw lengthError(field, min, limits.max, 'TOO_SHORT');
  if ((limits.multiline ? MULTI_LINE_FORBIDDEN : SINGLE_LINE_FORBIDDEN).test(trimmed)) {
    throw new AppError('BAD_USER_INPUT', `${field} must not contain control characters${limits.multiline ? '' : ' or line breaks'}.`, { field, reason: 'CONTROL_CHARACTERS' });
  }
  if (limits.pattern && !limits.pattern.test(trimmed)) {
    throw new AppError('BAD_USER_INPUT', limits.hint ?? `${field} has an invalid format.`, { field, reason: 'INVALID_FORMAT' });
  }
  return trimmed;
}

/** Like `text`, for optional fields: null/undefined/blank become null. */
export function optionalText(value: string | null | undefined, field: string, limits: Omit<TextLimits, 'min'>): string | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  return text(value, field, { ...limits, min: 1 });
}

/** An email address, trimmed and lower-cased (the form the database stores and compares). */
export function email(value: string, field = 'email'): string {
  const address = value.trim();
  if (address.length > EMAIL_MAX_LENGTH) {
    throw new AppError('BAD_USER_INPUT', `Enter a valid email address (at most ${EMAIL_MAX_LENGTH} characters).`, { field, reason: 'TOO_LONG' });
  }
  if (SINGLE_LINE_FORBIDDEN.test(address) || !EMAIL.test(address)) throw new AppError('BAD_USER_INPUT', 'Enter a valid email address.', { field, reason: 'INVALID_FORMAT' });
  return address.toLowerCase();
}

const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TOP_LEVEL_LABEL = /^[a-z]{2,63}$/;

/** A DNS host name such as `app.lender.example`, lower-cased: labels of 1 to 63 letters, digits and inner dashes. */
export function hostName(value: string, field: string, hint = `${field} must be a host name such as app.lender.example.`): string {
  const host = value.trim().toLowerCase();
  if (host.length > 253) throw new AppError('BAD_USER_INPUT', hint, { field, reason: 'TOO_LONG' });
  const labels = host.split('.');
  const top = labels.pop() ?? '';
  if (labels.length === 0 || !labels.every((label) => matchesWithin(label, 63, HOST_LABEL)) || !TOP_LEVEL_LABEL.test(top)) {
    throw new AppError('BAD_USER_INPUT', hint, { field, reason: 'INVALID_FORMAT' });
  }
  return host;
}

/** For parsers of headers and other client text that answer "no match" rather than an input error. */
export function matchesWithin(value: string, max: number, pattern: RegExp): boolean {
  return value.length <= max && pattern.test(value);
}

export function integerInRange(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError('BAD_USER_INPUT', `${field} must be a whole number from ${min} to ${max}.`, { field });
  }
  return value;
}

const MONEY = /^\d{1,12}(\.\d{1,2})?$/;

/** Money as an exact decimal string with at most two decimals, never negative. */
export function money(value: string, field: string): string {
  if (value.length > 15) {
    throw new AppError('BAD_USER_INPUT', `${field} must be an amount of at most 12 digits and 2 decimals.`, { field, reason: 'TOO_LONG' });
  }
  if (!MONEY.test(value)) {
    throw new AppError('BAD_USER_INPUT', `${field} must be an amount such as "1234.50" (not negative, at most 2 decimals).`, { field, reason: 'INVALID_FORMAT' });
  }
  return value;
}

/**
 * Text for a `contains`/`startsWith` filter, matched literally: Prisma hands it to LIKE/ILIKE as it is, where `%`
 * and `_` are wildcards and `\` (PostgreSQL's default escape character) escapes them.
 */
export function likeLiteral(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}

