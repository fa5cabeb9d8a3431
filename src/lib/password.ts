import { randomBytes } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { AppError } from './errors.ts';
import { defaultCpuConcurrency, WorkQueue, type Admission, type WorkQueueLimits } from './work-queue.ts';

/** OWASP's Argon2id recommendation (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane. */
export const PASSWORD_HASH_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

// `Algorithm` is an ambient const enum: its runtime object is empty, so the member must be written as its value.
const ARGON2ID: Algorithm = 2;
const ARGON2_VERSION = 19;

export interface PasswordCheck {
  valid: boolean;
  /** True only when `valid`: rehashing needs the plain password, and a wrong one must never replace the hash. */
  needsRehash: boolean;
}

/** Seconds a caller refused for overload is told to wait: a queue drains in well under a second. */
const OVERLOADED_RETRY_AFTER_SECONDS = 1;

/**
 * Every Argon2 call in the process goes through this one queue: hashing is what an anonymous caller can make the
 * server do most cheaply, and unbounded it fills libuv's thread pool and both cores, starving every other request.
 * One per process, because the cores and the thread pool it protects are per process. buildApp sets its limits
 * from PASSWORD_HASH_CONCURRENCY and PASSWORD_HASH_QUEUE; until then (scripts such as the seed) their defaults apply.
 */
const hashingQueue = new WorkQueue({ concurrency: defaultCpuConcurrency(), queueLimit: 16 });

export function configurePasswordHashing(limits: WorkQueueLimits): void {
  hashingQueue.configure(limits);
}

/** Admitted callers, running hashes and waiting hashes right now (for tests and diagnostics). */
export function passwordHashingLoad(): { admitted: number; running: number; waiting: number } {
  return hashingQueue.load;
}

/** The same answer for every caller and every account: nothing in it depends on who asked or for what. */
const overloaded = () =>
  new AppError('OVERLOADED', 'The server is busy. Try again in a moment.', { retryAfterSeconds: OVERLOADED_RETRY_AFTER_SECONDS });

/** The password operations of one admitted caller. */
export interface PasswordWork {
  /** Hashes a password as a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a fresh random salt. */
  hash(plain: string): Promise<string>;
  /**
   * Checks a password against a stored PHC string. Never throws: a hash that cannot be read is a wrong password,
   * and still costs a full verification so that it cannot be told apart by timing.
   */
  verify(storedHash: string, plain: string): Promise<PasswordCheck>;
  /** Spends what checking a real password costs, so that an unknown email answers as slowly as a wrong password. */
  verifyDummy(plain: string): Promise<void>;
}

function passwordWork(admission: Admission): PasswordWork {
  return {
    hash: (plain) => admission.run(() => argon2Hash(plain)),
    async verify(storedHash, plain) {
      const stored = parsePhcString(storedHash);
      if (!stored) {
        await admission.run(() => dummyVerify(plain));
        return { valid: false, needsRehash: false };
      }
      const valid = await admission.run(() => verify(storedHash, plain).catch(() => false));
      return { valid, needsRehash: valid && !isCurrent(stored) };
    },
    verifyDummy: (plain) => admission.run(() => dummyVerify(plain)),
  };
}

/**
 * Runs one caller's password work under a single admission to the hashing queue. When the queue is full it throws
 * OVERLOADED (503, Retry-After) at once, before `work` starts: call it before counting an attempt or reading an
 * account, so the refusal costs the caller no attempt and says nothing about any account.
 */
export async function withPasswordWork<T>(work: (passwords: PasswordWork) => Promise<T>): Promise<T> {
  const admission = hashingQueue.tryAdmit();
  if (!admission) throw overloaded();
  try {
    return await work(passwordWork(admission));
  } finally {
    admission.release();
  }
}

/** See PasswordWork.hash; admitted on its own (OVERLOADED when the queue is full). */
export function hashPassword(plain: string): Promise<string> {
  return withPasswordWork((passwords) => passwords.hash(plain));
}

/** See PasswordWork.verify; admitted on its own (OVERLOADED when the queue is full). */
export function verifyPassword(storedHash: string, plain: string): Promise<PasswordCheck> {
  return withPasswordWork((passwords) => passwords.verify(storedHash, plain));
}

/** See PasswordWork.verifyDummy; admitted on its own (OVERLOADED when the queue is full). */
export function verifyDummyPassword(plain: string): Promise<void> {
  return withPasswordWork((passwords) => passwords.verifyDummy(plain));
}

function argon2Hash(plain: string): Promise<string> {
  return hash(plain, { algorithm: ARGON2ID, ...PASSWORD_HASH_PARAMS });
}

interface PhcParams {
  algorithm: string;
  version: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

// Argon2 hashes written before version 1.3 carry no `v=` segment; they are version 16 (0x10).
const PHC_ARGON2 = /^\$(argon2id|argon2i|argon2d)\$(?:v=(\d+)\$)?m=(\d+),t=(\d+),p=(\d+)(?:,[^$]*)?\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

function parsePhcString(phc: string): PhcParams | undefined {
  const match = PHC_ARGON2.exec(phc);
  if (!match) return undefined;
  const [, algorithm = '', version = '16', m = '', t = '', p = ''] = match;
  return { algorithm, version: Number(version), memoryCost: Number(m), timeCost: Number(t), parallelism: Number(p) };
}

function isCurrent(params: PhcParams): boolean {
  return (
    params.algorithm === 'argon2id' &&
    params.version === ARGON2_VERSION &&
    params.memoryCost === PASSWORD_HASH_PARAMS.memoryCost &&
    params.timeCost === PASSWORD_HASH_PARAMS.timeCost &&
    params.parallelism === PASSWORD_HASH_PARAMS.parallelism
  );
}

/**
 * Enforces the length rule on the password exactly as typed: no trimming or normalisation (a space is part of a
 * passphrase), counted in code points so that an emoji is one character, and no silent truncation.
 */
export function checkPasswordPolicy(plain: string): void {
  const length = [...plain].length;
  if (length < PASSWORD_MIN_LENGTH) {
    throw new AppError('BAD_USER_INPUT', `Choose a password of at least ${PASSWORD_MIN_LENGTH} characters.`, { field: 'password', reason: 'PASSWORD_TOO_SHORT' });
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw new AppError('BAD_USER_INPUT', `Choose a password of at most ${PASSWORD_MAX_LENGTH} characters.`, { field: 'password', reason: 'PASSWORD_TOO_LONG' });
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random secret nobody knows, made on first use: start-up does not pay for it, and no password matches.
 * Made inside the slot of the verification that needs it, so it is bounded like every other hash.
 */
function getDummyHash(): Promise<string> {
  dummyHash ??= argon2Hash(randomBytes(32).toString('base64url')).catch((error: unknown) => {
    dummyHash = undefined;
    throw error;
  });
  return dummyHash;
}

async function dummyVerify(plain: string): Promise<void> {
  await verify(await getDummyHash(), plain).catch(() => false);
}
