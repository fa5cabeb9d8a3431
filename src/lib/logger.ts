import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config.ts';

export type { Logger };

/**
 * Keys whose values never reach a log line, at any depth: credentials in headers, passwords, every kind of token,
 * keys and secrets, and magic-link URLs. Matching is on the normalised key name (case and separators ignored).
 */
const SECRET_KEY = /^(authorization|proxyauthorization|cookie|setcookie|password|newpassword|currentpassword|oldpassword|passwordhash|token|accesstoken|refreshtoken|idtoken|tokenhash|authenticationtoken|value|secret|clientsecret|apikey|swapikey|key|privatekey|url|magiclink|magiclinkurl|variables)$/;

export const REDACTED = '[redacted]';

function normalise(key: string): string {
  return key.toLowerCase().replace(/[-_\s]/g, '');
}

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: value.message, stack: value.stack };
  }
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(normalise(key)) ? REDACTED : redactSecrets(inner, depth + 1);
  }
  return out;
}

export function createLogger(options: { level: LogLevel; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object) as Record<string, unknown>,
      },
    },
    options.destination,
  );
}
