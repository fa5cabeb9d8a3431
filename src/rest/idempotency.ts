import { createHash } from 'node:crypto';
import type { Db } from '../db/client.ts';
import type { Services } from '../graphql/context.ts';
import type { Clock } from '../lib/clock.ts';
import { AppError } from '../lib/errors.ts';
import { runPeriodically, type PeriodicTask } from '../lib/periodic.ts';
import type { Logger } from '../lib/logger.ts';
import type { Viewer } from '../modules/auth/viewer.ts';

/**
 * `Idempotency-Key` for mutating requests, shared by GraphQL over HTTP (src/graphql/idempotency.ts) and the REST
 * routes. A transport:
 *
 * 1. reads the header with `readIdempotencyKey` (absent: no idempotency; malformed: 400),
 * 2. refuses it for answers that carry secrets (`idempotencyNotSupported`): they are never stored or replayed,
 * 3. names the caller with `idempotencyScope(viewer)` (anonymous callers are refused: 400),
 * 4. fingerprints what the request asks for (`requestFingerprint` or `graphqlFingerprint`),
 * 5. calls `store.run({ scope, key, fingerprint }, produce)`, where `produce` does the work and returns the answer
 *    to keep; the answer it gets back is either that one or, with `replayed: true`, the one stored by the first
 *    request (send it with `Idempotent-Replayed: true`).
 *
 * `run` throws AppErrors for the client: CONFLICT 409 IDEMPOTENCY_KEY_IN_USE while the first request still runs,
 * BAD_USER_INPUT 422 IDEMPOTENCY_KEY_REUSED when the key was used for a different request.
 */

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Set to `true` on an answer that is a stored one, replayed. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/** The longest key accepted; keys are printable ASCII (space to tilde). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
const PRINTABLE_ASCII = /^[\x20-\x7E]+$/;

/**
 * A claim still running after this long is taken to be abandoned (its process died before it could finish or
 * release it): the next retry takes the key over and runs. Far longer than any mutation takes.
 */
export const ABANDONED_CLAIM_MS = 5 * 60_000;

/** How often expired keys are deleted. */
export const PURGE_INTERVAL_MS = 10 * 60_000;

/** Response headers never stored, whatever a producer passes: they could carry secrets or per-request state. */
const UNSTORED_HEADERS = new Set(['set-cookie', 'x-request-id', 'date', 'content-length', 'connection', 'transfer-encoding']);

/** An answer as kept for replay: the status, the few headers worth replaying, and the body as sent. */
export interface StoredResponse {
  status: number;
  /** By lower-case name (e.g. `location`, `etag`, `content-type`). */
  headers: Record<string, string>;
  body: string;
}

export interface IdempotencyInput {
  /** The caller, from `idempotencyScope`: keys never cross callers. */
  scope: string;
  /** The `Idempotency-Key` header, from `readIdempotencyKey`. */
  key: string;
  /** What the request asked for, from `requestFingerprint` or `graphqlFingerprint`. */
  fingerprint: string;
}

export interface IdempotentResult {
  /** True when `response` is the stored answer of an earlier request with the same key. */
  replayed: boolean;
  response: StoredResponse;
}

/**
 * The `Idempotency-Key` header's value: undefined when the request has none, else a key of 1 to 255 printable ASCII
 * characters; anything else is a 400 BAD_USER_INPUT naming the header.
 */
export function readIdempotencyKey(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value.length < 1 || value.length > IDEMPOTENCY_KEY_MAX_LENGTH || !PRINTABLE_ASCII.test(value)) {
    throw new AppError('BAD_USER_INPUT', `${IDEMPOTENCY_KEY_HEADER} must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters.`, {
      field: IDEMPOTENCY_KEY_HEADER,
      reason: 'INVALID_IDEMPOTENCY_KEY',
      status: 400,
    });
  }
  return value;
}

/** The answer to an `Idempotency-Key` on a request that cannot have one; `why` completes "Idempotency keys ...". */
export function idempotencyNotSupported(why: string): AppError {
  return new AppError('BAD_USER_INPUT', `Idempotency keys ${why}. Send the request without ${IDEMPOTENCY_KEY_HEADER}.`, {
    field: IDEMPOTENCY_KEY_HEADER,
    reason: 'IDEMPOTENCY_NOT_SUPPORTED',
    status: 400,
  });
}

/**
 * Whose key space a request uses. A full session is its account; a session that reaches less than its account is
 * narrowed to what it reaches (an app sign-in session to its organization, a sender or signer token session to its
 * package and signer slot), so a replay never hands a narrower session an answer only the account could get.
 * Anonymous requests have no key space: two strangers must never share one, so their keys are refused.
 */
export function idempotencyScope(viewer: Pick<Viewer, 'userId' | 'organizationScope' | 'packageId' | 'signerId'> | null): string {
  if (!viewer) throw idempotencyNotSupported('need a signed-in caller');
  if (viewer.packageId) return `user:${viewer.userId}:package:${viewer.packageId}:signer:${viewer.signerId ?? '-'}`;
  if (viewer.organizationScope) return `user:${viewer.userId}:organization:${viewer.organizationScope}`;
  return `user:${viewer.userId}`;
}

/** JSON with object keys sorted, so the same values in another key order fingerprint alike. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A REST request's fingerprint: method, path (with its query string) and JSON body. */
export function requestFingerprint(request: { method: string; path: string; body: unknown }): string {
  return sha256(canonicalJson({ kind: 'rest', method: request.method.toUpperCase(), path: request.path, body: request.body ?? null }));
}

/** A GraphQL operation's fingerprint: its query text, variables and operation name. */
export function graphqlFingerprint(params: { query?: string | null; variables?: unknown; operationName?: string | null }): string {
  return sha256(canonicalJson({ kind: 'graphql', query: params.query ?? null, variables: params.variables ?? null, operationName: params.operationName ?? null }));
}

/** 5xx and 429 say "try again": the key is released so the retry runs; every other answer is kept. */
function isStored(status: number): boolean {
  return status < 500 && status !== 429;
}

function storedHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!UNSTORED_HEADERS.has(lower)) kept[lower] = value;
  }
  return kept;
}

type Claim = { claimed: true; id: string } | { claimed: false; response: StoredResponse };

export interface IdempotencyStoreOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** How long a key and its answer are kept (IDEMPOTENCY_KEY_TTL_SECONDS). */
  ttlSeconds: number;
  abandonedClaimMs?: number;
}

/**
 * Keys in the `IdempotencyKey` table, shared by every instance on the database. Each claim is one row, inserted
 * atomically (the unique (scope, key) index decides who runs); the row's id identifies the claim, so a request
 * only ever completes or releases its own. Times come from the clock.
 */
export class IdempotencyStore {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #abandonedClaimMs: number;

  constructor(options: IdempotencyStoreOptions) {
    this.#db = options.db;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#abandonedClaimMs = options.abandonedClaimMs ?? ABANDONED_CLAIM_MS;
  }

  /**
   * Runs `produce` once per (scope, key): the first request runs it and its answer is stored (unless it throws or
   * answers 5xx or 429, which releases the key for a retry); a retry with the same fingerprint gets the stored
   * answer; a retry while the first still runs is 409; a different fingerprint is 422.
   */
  async run(input: IdempotencyInput, produce: () => Promise<StoredResponse>): Promise<IdempotentResult> {
    const claim = await this.#claim(input);
    if (!claim.claimed) return { replayed: true, response: claim.response };
    let response: StoredResponse;
    try {
      response = await produce();
    } catch (error) {
      await this.#release(claim.id);
      throw error;
    }
    if (isStored(response.status)) await this.#complete(claim.id, response);
    else await this.#release(claim.id);
    return { replayed: false, response };
  }

  /** Deletes keys past their expiry; returns how many. */
  async purgeExpired(): Promise<number> {
    const { count } = await this.#db.idempotencyKey.deleteMany({ where: { expiresAt: { lte: this.#clock.now() } } });
    return count;
  }

  /** Purges expired keys every `intervalMs` on a timer that never holds the process open. */
  schedulePurge(intervalMs = PURGE_INTERVAL_MS): PeriodicTask {
    return runPeriodically(
      async () => void (await this.purgeExpired()),
      intervalMs,
      (error) => this.#logger.warn({ err: error }, 'idempotency key purge failed'),
    );
  }

  async #claim(input: IdempotencyInput): Promise<Claim> {
    // A few rounds at most: each one that does not decide removed a row (expired, abandoned) or lost one to a release.
    for (let round = 0; round < 4; round++) {
      const now = this.#clock.now();
      const inserted = await this.#db.idempotencyKey.createManyAndReturn({
        data: [{ scope: input.scope, key: input.key, fingerprint: input.fingerprint, createdAt: now, expiresAt: new Date(now.getTime() + this.#ttlMs) }],
        skipDuplicates: true,
        select: { id: true },
      });
      const mine = inserted[0];
      if (mine) return { claimed: true, id: mine.id };

      const existing = await this.#db.idempotencyKey.findUnique({ where: { scope_key: { scope: input.scope, key: input.key } } });
      if (!existing) continue;
      if (existing.expiresAt <= now) {
        await this.#db.idempotencyKey.deleteMany({ where: { id: existing.id, expiresAt: { lte: now } } });
        continue;
      }
      if (existing.fingerprint !== input.fingerprint) {
        throw new AppError('BAD_USER_INPUT', `This ${IDEMPOTENCY_KEY_HEADER} was already used for a different request.`, {
          field: IDEMPOTENCY_KEY_HEADER,
          reason: 'IDEMPOTENCY_KEY_REUSED',
          status: 422,
        });
      }
      if (existing.completedAt && existing.responseStatus !== null && existing.responseBody !== null) {
        return {
          claimed: false,
          response: { status: existing.responseStatus, headers: (existing.responseHeaders ?? {}) as Record<string, string>, body: existing.responseBody },
        };
      }
      if (now.getTime() - existing.createdAt.getTime() >= this.#abandonedClaimMs) {
        this.#logger.warn({ idempotencyKeyId: existing.id }, 'taking over an abandoned idempotency key');
        await this.#db.idempotencyKey.deleteMany({ where: { id: existing.id, completedAt: null } });
        continue;
      }
      break;
    }
    throw new AppError('CONFLICT', `A request with this ${IDEMPOTENCY_KEY_HEADER} is still running. Retry when it has finished.`, {
      reason: 'IDEMPOTENCY_KEY_IN_USE',
      retryAfterSeconds: 1,
    });
  }

  async #complete(id: string, response: StoredResponse): Promise<void> {
    // The work is done and its answer goes to the client either way; a failure here leaves the claim running until
    // it is taken to be abandoned.
    try {
      const { count } = await this.#db.idempotencyKey.updateMany({
        where: { id, completedAt: null },
        data: { completedAt: this.#clock.now(), responseStatus: response.status, responseHeaders: storedHeaders(response.headers), responseBody: response.body },
      });
      if (count === 0) this.#logger.warn({ idempotencyKeyId: id }, 'idempotency key was taken over before its answer was stored');
    } catch (error) {
      this.#logger.warn({ err: error, idempotencyKeyId: id }, 'storing an idempotent answer failed');
    }
  }

  async #release(id: string): Promise<void> {
    try {
      await this.#db.idempotencyKey.deleteMany({ where: { id, completedAt: null } });
    } catch (error) {
      this.#logger.warn({ err: error, idempotencyKeyId: id }, 'releasing an idempotency key failed');
    }
  }
}

/** The app's store: the database, clock and logger every service uses, and the configured key lifetime. */
export function createIdempotencyStore(services: Pick<Services, 'db' | 'clock' | 'logger' | 'config'>): IdempotencyStore {
  return new IdempotencyStore({ db: services.db, clock: services.clock, logger: services.logger, ttlSeconds: services.config.idempotency.keyTtlSeconds });
}
