import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AddressMatcher, InvalidAddressRange, parseAddressRange } from './lib/ip.ts';
import { defaultCpuConcurrency } from './lib/work-queue.ts';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

const listOf = (value: string | undefined) => (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);

/** `https://a.test//` without its trailing slashes (a loop: `/\/+$/` backtracks quadratically on many slashes). */
function withoutTrailingSlashes(value: string): string {
  let end = value.length;
  while (end > 0 && value[end - 1] === '/') end--;
  return value.slice(0, end);
}

/** The versions of the REST compatibility API (`/v1/...`); DISABLED_API_VERSIONS can switch one off (410). */
export const API_VERSIONS: readonly string[] = ['v1'];

const boolean = z
  .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1');

/** Every environment variable the server reads. Each one is documented in docs/configuration.md. */
const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test'], { message: 'must be development, production or test' }).default('development'),
  HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  PORT: integer(0, 65535).default(4000),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_SIZE: integer(1, 500).default(10),
  DATA_DIR: z.string().trim().min(1, 'must not be empty').optional(),
  MIGRATE_ON_START: boolean.default(true),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_NAMESPACE: z.string().trim().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, dots, dashes or underscores').optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  BODY_LIMIT_BYTES: integer(1024, 50 * 1024 * 1024).default(1024 * 1024),
  IMPORT_MAX_BYTES: integer(1024, 1024 * 1024 * 1024).default(50 * 1024 * 1024),
  GRAPHQL_MAX_DEPTH: integer(1, 100).default(12),
  GRAPHQL_MAX_ALIASES: integer(0, 1000).default(15),
  GRAPHQL_MAX_TOKENS: integer(10, 100_000).default(2000),
  GRAPHQL_MAX_COST: integer(1, 1_000_000).default(5000),
  GRAPHQL_MAX_DIRECTIVES: integer(1, 1000).default(50),
  GRAPHQL_MAX_STRING_LENGTH: integer(256, 1_000_000).default(10_000),
  SHUTDOWN_TIMEOUT_MS: integer(0, 120_000).default(10_000),
  TRUST_PROXY: z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      for (const entry of listOf(value)) {
        try {
          parseAddressRange(entry);
        } catch (error) {
          if (!(error instanceof InvalidAddressRange)) throw error;
          ctx.addIssue({ code: 'custom', message: `must list IP addresses or CIDR ranges: ${error.message}` });
        }
      }
    })
    .optional(),
  CORS_ORIGINS: z.string().trim().optional(),
  ACCESS_TOKEN_TTL_SECONDS: integer(30, 3600).default(600),
  REFRESH_TOKEN_TTL_SECONDS: integer(300, 90 * 86_400).default(30 * 86_400),
  JWT_SIGNING_KEYS: z.string().trim().optional(),
  KEY_ENCRYPTION_KEY: z
    .string()
    .trim()
    .refine((value) => /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32, 'must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)')
    .optional(),
  KEY_RELOAD_SECONDS: integer(1, 120).default(60),
  PASSWORD_RESET_TTL_SECONDS: integer(60, 86_400).default(1800),
  AUTH_TOKEN_TTL_SECONDS: integer(60, 86_400).default(1800),
  LIMITED_SESSION_MAX_SECONDS: integer(60, 86_400).default(4 * 3600),
  SIGNING_EXPIRY_SWEEP_SECONDS: integer(1, 86_400).default(60),
  IDEMPOTENCY_KEY_TTL_SECONDS: integer(60, 7 * 86_400).default(86_400),
  SIGN_IN_FAILURES_PER_ACCOUNT: integer(1, 1000).default(5),
  SIGN_IN_FAILURES_PER_ADDRESS: integer(1, 10_000).default(30),
  SIGN_IN_FAILURE_WINDOW_SECONDS: integer(10, 86_400).default(900),
  PASSWORD_RESETS_PER_EMAIL: integer(1, 1000).default(3),
  PASSWORD_RESET_WINDOW_SECONDS: integer(60, 86_400).default(3600),
  PASSWORD_HASH_CONCURRENCY: integer(1, 64).optional(),
  PASSWORD_HASH_QUEUE: integer(0, 10_000).default(16),
  MAIL_FROM: z.string().trim().min(3, 'must be a sender address such as "Safeclose <no-reply@example.com>"').default('Safeclose <no-reply@safeclose.local>'),
  COOKIE_SECURE: boolean.optional(),
  WS_SESSION_CHECK_MS: integer(100, 300_000).default(5000),
  WS_MAX_CONNECTIONS_PER_ADDRESS: integer(1, 100_000).default(50),
  WS_MAX_CONNECTIONS_PER_SESSION: integer(1, 10_000).default(10),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: integer(1, 10_000).default(50),
  WS_CONNECTION_INIT_TIMEOUT_MS: integer(100, 60_000).default(3000),
  PORTAL_HOME_URL: url(['http:', 'https:']).optional(),
  MAGIC_LINK_TTL_SECONDS: integer(60, 86_400).default(3600),
  MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS: integer(30, 86_400).default(3600),
  MAGIC_LINKS_PER_PARTNER: integer(1, 1_000_000).default(300),
  MAGIC_LINKS_PER_CUSTOMER: integer(1, 10_000).default(5),
  MAGIC_LINK_WINDOW_SECONDS: integer(1, 86_400).default(60),
  INVITATIONS_PER_SENDER: integer(1, 100_000).default(20),
  INVITATIONS_PER_ORGANIZATION: integer(1, 1_000_000).default(100),
  INVITATION_WINDOW_SECONDS: integer(1, 7 * 86_400).default(3600),
  ORGANIZATION_RETENTION_DAYS: integer(0, 3650).default(90),
  OAUTH_ACCESS_TOKEN_TTL_SECONDS: integer(60, 86_400).default(3600),
  CREDENTIAL_FAILURES_PER_ADDRESS: integer(1, 100_000).default(20),
  CREDENTIAL_FAILURES_PER_IDENTIFIER: integer(1, 1_000_000).default(100),
  CREDENTIAL_FAILURE_WINDOW_SECONDS: integer(10, 86_400).default(300),
  DISABLED_API_VERSIONS: z
    .string()
    .trim()
    .refine((value) => listOf(value).every((version) => API_VERSIONS.includes(version.toLowerCase())), `must list API versions among ${API_VERSIONS.join(', ')}`)
    .optional(),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** Base for links in mails and magic links. */
  publicUrl: string;
  logLevel: LogLevel;
  database:
    | { kind: 'postgres'; url: string; poolSize: number }
    /** `dataDir` undefined means in memory (tests). */
    | { kind: 'pglite'; dataDir: string | undefined };
  dataDir: string;
  migrateOnStart: boolean;
  redisUrl: string | undefined;
  /**
   * Prefix of every Redis key and pub/sub channel (REDIS_NAMESPACE), so deployments sharing one Redis stay apart.
   * Default: a short hash of the database's host, port and name (or of the embedded database's directory).
   */
  redisNamespace: string;
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed (TRUST_PROXY); empty: the socket's address. */
  trustProxy: AddressMatcher;
  /** Browser origins allowed to call the API with credentials (PUBLIC_URL's origin, plus CORS_ORIGINS). */
  corsOrigins: string[];
  limits: {
    bodyBytes: number;
    depth: number;
    aliases: number;
    tokens: number;
    cost: number;
    directives: number;
    /** The longest string a GraphQL operation may carry, in a variable or inline, checked before anything reads it. */
    stringLength: number;
    /** The largest CSV upload (a document import, GraphQL or REST multipart), IMPORT_MAX_BYTES; larger ones get 413. */
    importBytes: number;
  };
  shutdownTimeoutMs: number;
  auth: {
    accessTokenTtlSeconds: number;
    /** Lifetime of the access tokens of partner magic-link sessions (seed 003: about an hour, refreshed while active). */
    magicLinkAccessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    /** JSON array of private JWKs (newest first) from JWT_SIGNING_KEYS; undefined means keys in the database. */
    signingKeys: string | undefined;
    /** Encrypts private signing keys in the database (KEY_ENCRYPTION_KEY); undefined: a key under DATA_DIR. */
    keyEncryptionKey: Buffer | undefined;
    /** How often each instance reloads the shared signing keys. */
    keyReloadSeconds: number;
    passwordResetTtlSeconds: number;
    /** Lifetime of signing authentication tokens (user, sender and signer tokens). */
    authTokenTtlSeconds: number;
    /** Longest life of a sender or signer token session (which also ends when its package closes). */
    limitedSessionMaxSeconds: number;
    signInFailuresPerAccount: number;
    signInFailuresPerAddress: number;
    signInFailureWindowSeconds: number;
    passwordResetsPerEmail: number;
    passwordResetWindowSeconds: number;
    cookieSecure: boolean;
    /**
     * Password hashes (Argon2id) computed at once, and callers that may wait beyond those; more answer 503
     * OVERLOADED with Retry-After.
     */
    passwordHashing: { concurrency: number; queueLimit: number };
  };
  realtime: {
    /** How often open WebSocket connections have their sessions re-checked (revocation closes them with 4401). */
    sessionCheckMs: number;
    /** Open WebSockets per client address (over it, the upgrade is refused with 429). */
    maxConnectionsPerAddress: number;
    /** Open WebSockets per session (over it, closed with 4429 at connection_init). */
    maxConnectionsPerSession: number;
    /** Operations running at once on one WebSocket, subscriptions included (over it, an error for that operation). */
    maxSubscriptionsPerConnection: number;
    /** A WebSocket that has not sent connection_init by then is closed with 4408. */
    connectionInitTimeoutMs: number;
  };
  signing: {
    /** How often overdue signing packages have their expiry recorded (status, activity, live event). */
    expirySweepSeconds: number;
  };
  idempotency: {
    /** How long an `Idempotency-Key` and the answer stored for it are kept; never replayed after that. */
    keyTtlSeconds: number;
  };
  magicLinks: {
    /** Where a confirmed magic link sends the browser (PORTAL_HOME_URL, default `${PUBLIC_URL}/`). */
    portalHomeUrl: string;
    ttlSeconds: number;
    /** Issue requests per partner, and per customer, per window. */
    perPartner: number;
    perCustomer: number;
    windowSeconds: number;
  };
  invitations: {
    /** Invitations one account may send, and one organization may receive senders' invitations for, per window. */
    perSender: number;
    perOrganization: number;
    windowSeconds: number;
  };
  organizations: {
    /** How long a closed organization's data is kept before `npm run organizations:purge` deletes it. */
    retentionDays: number;
  };
  /**
   * Failed authentications with machine credentials (partner API keys, OAuth client secrets, app sign-in keys), per
   * client address and per credential identifier (partner id, client id, key prefix), each per window.
   */
  credentialLimits: {
    perAddress: number;
    perIdentifier: number;
    windowSeconds: number;
  };
  publicApi: {
    /** REST API versions answered with 410 Gone (DISABLED_API_VERSIONS), lower-case. */
    disabledVersions: ReadonlySet<string>;
    /** Lifetime of OAuth client-credentials access tokens. */
    accessTokenTtlSeconds: number;
  };
  mail: {
    smtpUrl: string | undefined;
    from: string;
    /** Where mail goes when no SMTP_URL is set: one .eml file per message. */
    outboxDir: string;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * `sc-` and 12 hex digits of SHA-256 over the database's host, port and name (user and password left out, so a
 * changed password keeps the namespace), or over the embedded database's directory.
 */
function defaultRedisNamespace(databaseUrl: string | undefined, dataDir: string): string {
  let identity = `pglite:${dataDir}`;
  if (databaseUrl) {
    const parsed = new URL(databaseUrl);
    identity = `postgres:${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  }
  return `sc-${createHash('sha256').update(identity).digest('hex').slice(0, 12)}`;
}

/** Parses the environment once, failing fast with a message that names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(environmentSchema.shape)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        return `${name} ${issue.message} (got ${JSON.stringify(present[name])})`;
      }),
    );
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && e.DATABASE_URL && !e.JWT_SIGNING_KEYS && !e.KEY_ENCRYPTION_KEY) {
    throw new ConfigError(['KEY_ENCRYPTION_KEY is required in production when DATABASE_URL is set and JWT_SIGNING_KEYS is not: it encrypts the signing keys shared in the database']);
  }
  const dataDir = path.resolve(e.DATA_DIR ?? path.join(projectRoot, 'data'));
  const publicUrl = withoutTrailingSlashes(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl,
    logLevel: e.LOG_LEVEL,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }
      : { kind: 'pglite', dataDir: path.join(dataDir, 'pglite') },
    dataDir,
    migrateOnStart: e.MIGRATE_ON_START,
    redisUrl: e.REDIS_URL,
    redisNamespace: e.REDIS_NAMESPACE ?? defaultRedisNamespace(e.DATABASE_URL, dataDir),
    trustProxy: new AddressMatcher(listOf(e.TRUST_PROXY)),
    corsOrigins: [
      new URL(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).origin,
      ...(e.CORS_ORIGINS ?? '').split(',').map((o) => withoutTrailingSlashes(o.trim())).filter(Boolean),
    ],
    limits: {
      bodyBytes: e.BODY_LIMIT_BYTES,
      importBytes: e.IMPORT_MAX_BYTES,
      depth: e.GRAPHQL_MAX_DEPTH,
      aliases: e.GRAPHQL_MAX_ALIASES,
      tokens: e.GRAPHQL_MAX_TOKENS,
      cost: e.GRAPHQL_MAX_COST,
      directives: e.GRAPHQL_MAX_DIRECTIVES,
      stringLength: e.GRAPHQL_MAX_STRING_LENGTH,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    auth: {
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      magicLinkAccessTokenTtlSeconds: e.MAGIC_LINK_ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
      signingKeys: e.JWT_SIGNING_KEYS,
      keyEncryptionKey: e.KEY_ENCRYPTION_KEY ? Buffer.from(e.KEY_ENCRYPTION_KEY, 'base64') : undefined,
      keyReloadSeconds: e.KEY_RELOAD_SECONDS,
      passwordResetTtlSeconds: e.PASSWORD_RESET_TTL_SECONDS,
      authTokenTtlSeconds: e.AUTH_TOKEN_TTL_SECONDS,
      limitedSessionMaxSeconds: e.LIMITED_SESSION_MAX_SECONDS,
      signInFailuresPerAccount: e.SIGN_IN_FAILURES_PER_ACCOUNT,
      signInFailuresPerAddress: e.SIGN_IN_FAILURES_PER_ADDRESS,
      signInFailureWindowSeconds: e.SIGN_IN_FAILURE_WINDOW_SECONDS,
      passwordResetsPerEmail: e.PASSWORD_RESETS_PER_EMAIL,
      passwordResetWindowSeconds: e.PASSWORD_RESET_WINDOW_SECONDS,
      cookieSecure: e.COOKIE_SECURE ?? e.NODE_ENV === 'production',
      passwordHashing: { concurrency: e.PASSWORD_HASH_CONCURRENCY ?? defaultCpuConcurrency(), queueLimit: e.PASSWORD_HASH_QUEUE },
    },
    realtime: {
      sessionCheckMs: e.WS_SESSION_CHECK_MS,
      maxConnectionsPerAddress: e.WS_MAX_CONNECTIONS_PER_ADDRESS,
      maxConnectionsPerSession: e.WS_MAX_CONNECTIONS_PER_SESSION,
      maxSubscriptionsPerConnection: e.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      connectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
    },
    signing: { expirySweepSeconds: e.SIGNING_EXPIRY_SWEEP_SECONDS },
    idempotency: { keyTtlSeconds: e.IDEMPOTENCY_KEY_TTL_SECONDS },
    magicLinks: {
      portalHomeUrl: e.PORTAL_HOME_URL ?? `${publicUrl}/`,
      ttlSeconds: e.MAGIC_LINK_TTL_SECONDS,
      perPartner: e.MAGIC_LINKS_PER_PARTNER,
      perCustomer: e.MAGIC_LINKS_PER_CUSTOMER,
      windowSeconds: e.MAGIC_LINK_WINDOW_SECONDS,
    },
    invitations: { perSender: e.INVITATIONS_PER_SENDER, perOrganization: e.INVITATIONS_PER_ORGANIZATION, windowSeconds: e.INVITATION_WINDOW_SECONDS },
    organizations: { retentionDays: e.ORGANIZATION_RETENTION_DAYS },
    credentialLimits: {
      perAddress: e.CREDENTIAL_FAILURES_PER_ADDRESS,
      perIdentifier: e.CREDENTIAL_FAILURES_PER_IDENTIFIER,
      windowSeconds: e.CREDENTIAL_FAILURE_WINDOW_SECONDS,
    },
    publicApi: {
      disabledVersions: new Set(listOf(e.DISABLED_API_VERSIONS).map((version) => version.toLowerCase())),
      accessTokenTtlSeconds: e.OAUTH_ACCESS_TOKEN_TTL_SECONDS,
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM, outboxDir: path.join(dataDir, 'outbox') },
  };
}
