import { hash, type Algorithm } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { AppError } from '../src/lib/errors.ts';
import {
  checkPasswordPolicy,
  configurePasswordHashing,
  hashPassword,
  PASSWORD_HASH_PARAMS,
  passwordHashingLoad,
  verifyDummyPassword,
  verifyPassword,
  withPasswordWork,
} from '../src/lib/password.ts';
import { defaultCpuConcurrency } from '../src/lib/work-queue.ts';

const ARGON2I: Algorithm = 1;
const ARGON2ID: Algorithm = 2;

function policyError(plain: string): AppError | undefined {
  try {
    checkPasswordPolicy(plain);
    return undefined;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
}

describe('hashPassword and verifyPassword', () => {
  it('hashes with Argon2id at the OWASP parameters and verifies the same password', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(PASSWORD_HASH_PARAMS).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(await verifyPassword(stored, 'correct horse battery')).toEqual({ valid: true, needsRehash: false });
  });

  it('salts every hash', async () => {
    const [first, second] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(first).not.toBe(second);
  });

  it('rejects a wrong password, including one that differs only in case or surrounding spaces', async () => {
    const stored = await hashPassword('correct horse battery');
    for (const attempt of ['wrong horse battery', 'Correct horse battery', ' correct horse battery', 'correct horse battery ', '']) {
      expect(await verifyPassword(stored, attempt)).toEqual({ valid: false, needsRehash: false });
    }
  });

  it('asks for a rehash of a correct password stored with weaker parameters or another Argon2 variant', async () => {
    const weaker = [
      await hash('old password', { algorithm: ARGON2ID, memoryCost: PASSWORD_HASH_PARAMS.memoryCost, timeCost: 1, parallelism: 1 }),
      await hash('old password', { algorithm: ARGON2ID, memoryCost: 4096, timeCost: 2, parallelism: 1 }),
      await hash('old password', { algorithm: ARGON2ID, memoryCost: PASSWORD_HASH_PARAMS.memoryCost, timeCost: 2, parallelism: 2 }),
      await hash('old password', { algorithm: ARGON2I, ...PASSWORD_HASH_PARAMS }),
    ];
    for (const stored of weaker) {
      expect(await verifyPassword(stored, 'old password'), stored).toEqual({ valid: true, needsRehash: true });
      // A wrong password must never lead to replacing the stored hash.
      expect(await verifyPassword(stored, 'not the password'), stored).toEqual({ valid: false, needsRehash: false });
    }
  });

  it('tells 128-character passwords apart by their last character', async () => {
    const base = 'p'.repeat(127);
    const stored = await hashPassword(`${base}a`);
    expect((await verifyPassword(stored, `${base}a`)).valid).toBe(true);
    expect((await verifyPassword(stored, `${base}b`)).valid).toBe(false);
    // Longer than bcrypt's 72-byte limit in UTF-8 too: no truncation hides the difference.
    const emoji = '🔑'.repeat(127);
    const storedEmoji = await hashPassword(`${emoji}x`);
    expect((await verifyPassword(storedEmoji, `${emoji}x`)).valid).toBe(true);
    expect((await verifyPassword(storedEmoji, `${emoji}y`)).valid).toBe(false);
  });

  it('treats a malformed or foreign stored hash as a wrong password instead of throwing', async () => {
    const good = await hashPassword('some password');
    const malformed = [
      '',
      'not a hash',
      'some password',
      good.slice(0, -10) + '!!!!!!!!!!',
      good.replace('$argon2id$', '$argon2x$'),
      good.replace('m=19456', 'm=abc'),
      good.replace('m=19456', 'm=1'),
      '$2b$12$C6UzMDM.H6dfI/f/IKcEeO5X1e2S8o7e6b1Zb8yL4HcK3Jm1Q7b8a',
    ];
    for (const stored of malformed) {
      await expect(verifyPassword(stored, 'some password'), stored).resolves.toEqual({ valid: false, needsRehash: false });
    }
  });
});

describe('verifyDummyPassword', () => {
  it('resolves for any input, and costs about what checking a real hash costs', async () => {
    const stored = await hashPassword('real password');
    await expect(verifyDummyPassword('warm up the cached dummy hash')).resolves.toBeUndefined();
    await expect(verifyDummyPassword('')).resolves.toBeUndefined();
    let dummy = 0;
    let real = 0;
    // Interleaved, so that a busy machine slows both sides alike.
    for (let i = 0; i < 4; i++) {
      let started = performance.now();
      await verifyDummyPassword('real password');
      dummy += performance.now() - started;
      started = performance.now();
      await verifyPassword(stored, 'wrong password');
      real += performance.now() - started;
    }
    // Same parameters, so the same work; a shortcut (no hashing at all) would be orders of magnitude faster.
    expect(dummy / real).toBeGreaterThan(0.3);
    expect(dummy / real).toBeLessThan(3);
  });
});

describe('the password-hashing queue', () => {
  it('runs at most `concurrency` hashes at once, admits `queue` more callers, and refuses the next at once with OVERLOADED', async () => {
    configurePasswordHashing({ concurrency: 1, queueLimit: 1 });
    try {
      let peakRunning = 0;
      const watch = setInterval(() => (peakRunning = Math.max(peakRunning, passwordHashingLoad().running)), 1);
      const admitted = [hashPassword('first password'), hashPassword('second password')];
      // Refused at once: no hashing, and no waiting for the two above.
      const refused = await hashPassword('third password').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(passwordHashingLoad().admitted).toBe(2);
      expect(refused).toBeInstanceOf(AppError);
      expect(refused).toMatchObject({ code: 'OVERLOADED', retryAfterSeconds: 1, status: 503 });
      const [first, second] = await Promise.all(admitted);
      clearInterval(watch);
      expect((await verifyPassword(first!, 'first password')).valid).toBe(true);
      expect((await verifyPassword(second!, 'second password')).valid).toBe(true);
      expect(peakRunning).toBe(1);
      // With the queue empty again, the same call is admitted.
      await expect(hashPassword('third password')).resolves.toMatch(/^\$argon2id\$/);
      expect(passwordHashingLoad()).toEqual({ admitted: 0, running: 0, waiting: 0 });
    } finally {
      configurePasswordHashing({ concurrency: defaultCpuConcurrency(), queueLimit: 16 });
    }
  });

  it('keeps one admission for all of a caller’s hashing, and gives it back when the work fails', async () => {
    configurePasswordHashing({ concurrency: 1, queueLimit: 0 });
    try {
      const rehashed = await withPasswordWork(async (passwords) => {
        const stored = await passwords.hash('a password');
        const check = await passwords.verify(stored, 'a password');
        // Inside the admission, a second caller finds no room.
        await expect(verifyDummyPassword('another caller')).rejects.toMatchObject({ code: 'OVERLOADED' });
        return check.valid ? passwords.hash('a new password') : undefined;
      });
      expect(rehashed).toMatch(/^\$argon2id\$/);
      await expect(withPasswordWork(() => Promise.reject(new Error('failed work')))).rejects.toThrow('failed work');
      expect(passwordHashingLoad()).toEqual({ admitted: 0, running: 0, waiting: 0 });
      await expect(verifyDummyPassword('room again')).resolves.toBeUndefined();
    } finally {
      configurePasswordHashing({ concurrency: defaultCpuConcurrency(), queueLimit: 16 });
    }
  });
});

describe('checkPasswordPolicy', () => {
  it('accepts 8 to 128 characters and rejects 7 and 129 with a stable reason', () => {
    expect(policyError('a'.repeat(8))).toBeUndefined();
    expect(policyError('a'.repeat(128))).toBeUndefined();
    expect(policyError('a'.repeat(7))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password', reason: 'PASSWORD_TOO_SHORT' });
    expect(policyError('a'.repeat(129))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password', reason: 'PASSWORD_TOO_LONG' });
    expect(policyError('')).toMatchObject({ reason: 'PASSWORD_TOO_SHORT' });
  });

  it('counts code points, so an emoji is one character', () => {
    // 7 emoji are 14 UTF-16 units: too short all the same.
    expect(policyError('😀'.repeat(7))).toMatchObject({ reason: 'PASSWORD_TOO_SHORT' });
    expect(policyError('😀'.repeat(8))).toBeUndefined();
    // 128 emoji are 256 UTF-16 units: still allowed.
    expect(policyError('😀'.repeat(128))).toBeUndefined();
    expect(policyError('😀'.repeat(129))).toMatchObject({ reason: 'PASSWORD_TOO_LONG' });
  });

  it('counts leading and trailing spaces as typed, without trimming', () => {
    expect(policyError('  abcde ')).toBeUndefined();
    expect(policyError('        ')).toBeUndefined();
    expect(policyError(' abcde ')).toMatchObject({ reason: 'PASSWORD_TOO_SHORT' });
    expect(policyError(` ${'a'.repeat(127)} `)).toMatchObject({ reason: 'PASSWORD_TOO_LONG' });
  });

  it('does not normalise: a decomposed accent counts as two code points', () => {
    const decomposed = 'e\u0301'.repeat(4); // "é" as e + combining acute: 8 code points, 4 visible letters
    const composed = '\u00e9'.repeat(4);
    expect(policyError(decomposed)).toBeUndefined();
    expect(policyError(composed)).toMatchObject({ reason: 'PASSWORD_TOO_SHORT' });
  });
});
