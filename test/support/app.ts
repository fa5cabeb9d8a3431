import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { ManualClock, systemClock, type Clock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createMemoryKeyStore } from '../../src/modules/auth/keys.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export { ManualClock };

/** Collects every log line the app writes, parsed, so tests can assert on them. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
  entries(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

export interface TestApp {
  app: App;
  url: string;
  db: TestDatabase;
  config: Config;
  logs: LogCapture;
  /** SQL statements seen since the last reset (when started with countQueries). */
  queries: string[];
  /** POSTs a GraphQL operation to /graphql and returns the HTTP status and parsed body. */
  graphql<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables> | string,
    variables?: TVariables,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: { data?: TResult | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }>;
  close(): Promise<void>;
}

export interface StartTestAppOptions {
  env?: Record<string, string>;
  clock?: Clock;
  countQueries?: boolean;
  database?: TestDatabase;
  logLevel?: 'info' | 'debug' | 'trace';
  /** Keys stored in (and shared through) the database, as the server keeps them, instead of one key in memory. */
  storedKeys?: boolean;
}

/** One Redis namespace per test database, so instances on one database share events and files never do. */
const redisNamespaces = new WeakMap<TestDatabase, string>();
function redisNamespaceFor(db: TestDatabase): string {
  let namespace = redisNamespaces.get(db);
  if (!namespace) redisNamespaces.set(db, (namespace = `test-${randomBytes(6).toString('hex')}`));
  return namespace;
}

/** Starts the real app on a free port over a fresh database; `close()` stops it and destroys the database. */
export async function startTestApp(options: StartTestAppOptions = {}): Promise<TestApp> {
  const queries: string[] = [];
  const logs = new LogCapture();
  const logger = createLogger({ level: options.logLevel ?? 'info', destination: logs });
  const ownsDatabase = !options.database;
  const db = options.database ?? (await createTestDatabase({ logger, onQuery: options.countQueries ? (e) => queries.push(e.query) : undefined }));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'safeclose-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    PUBLIC_URL: 'http://safeclose.test',
    MIGRATE_ON_START: 'false',
    DATA_DIR: dataDir,
    // Every test signs in from 127.0.0.1; the per-address limit has its own test.
    SIGN_IN_FAILURES_PER_ADDRESS: '10000',
    // Likewise for partner keys, OAuth client secrets and app sign-in keys; their limits have their own tests.
    CREDENTIAL_FAILURES_PER_ADDRESS: '10000',
    CREDENTIAL_FAILURES_PER_IDENTIFIER: '10000',
    REDIS_NAMESPACE: redisNamespaceFor(db),
    ...options.env,
  });
  const clock = options.clock ?? systemClock;
  const keys = options.storedKeys ? undefined : await createMemoryKeyStore();
  const app = await buildApp(config, { logger, clock, database: db, keys });
  const { url } = await app.start();
  return {
    app,
    url,
    db,
    config,
    logs,
    queries,
    async graphql(document, variables, requestOptions = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          ...(requestOptions.token ? { authorization: `Bearer ${requestOptions.token}` } : {}),
          ...requestOptions.headers,
        },
        body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
      });
      return { status: response.status, headers: response.headers, body: (await response.json()) as never };
    },
    async close() {
      await app.stop();
      if (ownsDatabase) await db.destroy();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
