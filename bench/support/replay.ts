// A GraphQL read measured against a bare node:http + pg handler that verifies the same bearer token with jose and
// runs exactly the SQL statements Prisma sent for that read (captured from one probe request), in the same run on
// the same PostgreSQL database.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { ACCESS_TOKEN_AUDIENCE, SESSION_TOKEN_TYPE } from '../../src/modules/auth/access-token.ts';
import { createMemoryKeyStore, JWT_ALGORITHM } from '../../src/modules/auth/keys.ts';
import { createEmptyPostgresDatabase } from '../../test/support/database.ts';
import { compareLoads, printTable, type LoadResult } from './measure.ts';

export const benchDatabaseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const POOL_SIZE = 10;

export interface ReplayBench {
  name: string;
  title: string;
  graphqlLabel: string;
  /** Creates the data; returns the operation to measure, a viewer token and a string every answer must contain. */
  setup(app: App, database: Database): Promise<{ query: string; variables: Record<string, unknown>; token: string; expect: string }>;
}

export async function runReplayBench(bench: ReplayBench): Promise<{ ratio: number }> {
  const empty = await createEmptyPostgresDatabase(benchDatabaseUrl, 'safeclose_bench');
  const logger = createLogger({ level: 'silent' });
  const captured: Array<{ query: string; params: string }> = [];
  let capturing = false;
  const database = await openDatabase(
    { kind: 'postgres', url: empty.url, poolSize: POOL_SIZE },
    { logger, onQuery: (event) => capturing && captured.push({ query: event.query, params: event.params }) },
  );
  const baselinePool = new pg.Pool({ connectionString: empty.url, max: POOL_SIZE });
  let baselineServer: http.Server | undefined;
  const config = loadConfig({ NODE_ENV: 'production', PORT: '0', KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'silent', DATABASE_URL: empty.url, DATABASE_POOL_SIZE: String(POOL_SIZE), PUBLIC_URL: 'http://bench.local' });
  const keys = await createMemoryKeyStore();
  const app = await buildApp(config, { logger, database, keys });
  try {
    const operation = await bench.setup(app, database);
    const { url } = await app.start();
    const body = JSON.stringify({ query: operation.query, variables: operation.variables });
    const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${operation.token}` };

    capturing = true;
    const probe = await (await fetch(`${url}/graphql`, { method: 'POST', headers, body })).text();
    capturing = false;
    if (!probe.includes(operation.expect) || probe.includes('"errors"')) throw new Error(`GraphQL probe failed: ${probe.slice(0, 500)}`);
    const statements = captured.map(({ query, params }) => ({ text: query, values: JSON.parse(params) as unknown[] }));

    baselineServer = http.createServer(async (req, res) => {
      try {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        await jwtVerify(bearer, (header) => keys.verificationKey(header.kid ?? '')!, {
          algorithms: [JWT_ALGORITHM], typ: SESSION_TOKEN_TYPE, issuer: config.publicUrl, audience: ACCESS_TOKEN_AUDIENCE,
        });
        for await (const _chunk of req) {
          // drain the request body, as the GraphQL server must
        }
        const results: unknown[] = [];
        for (const statement of statements) results.push((await baselinePool.query(statement)).rows);
        const payload = JSON.stringify({ data: results, expect: operation.expect });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
      } catch {
        res.writeHead(500).end();
      }
    });
    await new Promise<void>((resolve) => baselineServer!.listen(0, '127.0.0.1', resolve));
    const baselineUrl = `http://127.0.0.1:${(baselineServer.address() as AddressInfo).port}/`;

    const load = { method: 'POST' as const, headers, body, expect: operation.expect };
    const [baseline, graphql] = (await compareLoads([
      { ...load, label: `bare node:http + pg (${statements.length} SQL statements)`, url: baselineUrl },
      { ...load, label: bench.graphqlLabel, url: `${url}/graphql` },
    ])) as [LoadResult, LoadResult];
    printTable(`${bench.title} (best of 2 rounds each)`, [baseline, graphql], baseline);
    const ratio = graphql.requestsPerSecond / baseline.requestsPerSecond;
    process.stdout.write(`${bench.name} ratio (GraphQL / bare): ${ratio.toFixed(3)}\n`);
    if (graphql.errors > 0 || baseline.errors > 0) process.stdout.write('warning: some requests failed; the figures above count only successes\n');
    return { ratio };
  } finally {
    await app.stop();
    await new Promise<void>((resolve) => (baselineServer?.listening ? baselineServer.close(() => resolve()) : resolve()));
    await baselinePool.end();
    await database.close();
    await empty.drop();
  }
}
