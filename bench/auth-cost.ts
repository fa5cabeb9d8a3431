// The cost of authentication: the same GraphQL read ({ __typename }) without and with a Bearer token (JWT
// verification plus the session lookup on every request), as a ratio, beside a bare node:http + pg + jose handler
// doing only the verification and the session SQL, all measured in the same run on the same PostgreSQL database.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/lib/logger.ts';
import { ACCESS_TOKEN_AUDIENCE, SESSION_TOKEN_TYPE } from '../src/modules/auth/access-token.ts';
import { createMemoryKeyStore, JWT_ALGORITHM } from '../src/modules/auth/keys.ts';
import { createEmptyPostgresDatabase } from '../test/support/database.ts';
import { createUser, signInAs } from '../test/support/factories.ts';
import { compareLoads, printTable, type LoadResult } from './support/measure.ts';

const baseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const POOL_SIZE = 10;

export async function benchAuthCost(): Promise<{ ratio: number }> {
  const empty = await createEmptyPostgresDatabase(baseUrl, 'safeclose_bench');
  const logger = createLogger({ level: 'silent' });
  const database = await openDatabase({ kind: 'postgres', url: empty.url, poolSize: POOL_SIZE }, { logger });
  const pool = new pg.Pool({ connectionString: empty.url, max: POOL_SIZE });
  let baseline: http.Server | undefined;
  const config = loadConfig({ NODE_ENV: 'production', PORT: '0', KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'silent', DATABASE_URL: empty.url, DATABASE_POOL_SIZE: String(POOL_SIZE), PUBLIC_URL: 'http://bench.local' });
  const keys = await createMemoryKeyStore();
  const app = await buildApp(config, { logger, database, keys });
  try {
    const user = await createUser(database.prisma);
    const { token } = await signInAs(app.services, user.id);
    const { url } = await app.start();

    baseline = http.createServer(async (req, res) => {
      try {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const { payload } = await jwtVerify(bearer, (header) => keys.verificationKey(header.kid ?? '')!, {
          algorithms: [JWT_ALGORITHM], typ: SESSION_TOKEN_TYPE, issuer: config.publicUrl, audience: ACCESS_TOKEN_AUDIENCE,
        });
        for await (const _chunk of req) {
          // drain the body, as the GraphQL server must
        }
        const { rows } = await pool.query(
          'SELECT s."userId", s."revokedAt", s."expiresAt", u."disabledAt" FROM "LoginSession" s JOIN "User" u ON u.id = s."userId" WHERE s.id = $1',
          [payload.sid],
        );
        if (!rows[0] || rows[0].revokedAt) throw new Error('no session');
        const body = '{"data":{"__typename":"Query"}}';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      } catch {
        res.writeHead(401).end();
      }
    });
    await new Promise<void>((resolve) => baseline!.listen(0, '127.0.0.1', resolve));
    const baselineUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`;

    const body = JSON.stringify({ query: '{ __typename }' });
    const json = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
    const authorised = { ...json, authorization: `Bearer ${token}` };
    const [b, anon, auth] = (await compareLoads(
      [
        { label: 'bare node:http + pg + jose (verify + session)', url: baselineUrl, headers: authorised },
        { label: 'GraphQL { __typename }, no token', url: `${url}/graphql`, headers: json },
        { label: 'GraphQL { __typename }, Bearer token', url: `${url}/graphql`, headers: authorised },
      ].map((c) => ({ ...c, method: 'POST' as const, body, expect: '"Query"' })),
    )) as [LoadResult, LoadResult, LoadResult];
    printTable('Authentication cost (best of 2 rounds each)', [b, anon, auth], b);
    const ratio = auth.requestsPerSecond / anon.requestsPerSecond;
    process.stdout.write(`auth-cost ratio (with Bearer / without): ${ratio.toFixed(3)}\n`);
    return { ratio };
  } finally {
    await app.stop();
    await new Promise<void>((resolve) => (baseline?.listening ? baseline.close(() => resolve()) : resolve()));
    await pool.end();
    await database.close();
    await empty.drop();
  }
}
