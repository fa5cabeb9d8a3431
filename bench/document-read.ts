// Throughput of a GraphQL read of one document by id (with its loan), as a ratio against a bare node:http + pg
// handler that verifies the same bearer token with jose and runs exactly the SQL Prisma sent for that request,
// measured in the same run on the same PostgreSQL database.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/lib/logger.ts';
import { ACCESS_TOKEN_AUDIENCE, SESSION_TOKEN_TYPE } from '../src/modules/auth/access-token.ts';
import { JWT_ALGORITHM, loadKeyStore } from '../src/modules/auth/keys.ts';
import { createEmptyPostgresDatabase } from '../test/support/database.ts';
import { createDocument, createOrganization, createUser, signInAs } from '../test/support/factories.ts';
import { compareLoads, printTable, type LoadResult } from './support/measure.ts';

const baseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const POOL_SIZE = 10;
const QUERY = 'query DocumentById($id: ID!) { document(id: $id) { id serialNumber ownerName status loan { loanNumber status balance } } }';

export async function benchDocumentRead(): Promise<{ ratio: number }> {
  const empty = await createEmptyPostgresDatabase(baseUrl, 'safeclose_bench');
  const logger = createLogger({ level: 'silent' });
  const captured: Array<{ query: string; params: string }> = [];
  let capturing = false;
  const database = await openDatabase(
    { kind: 'postgres', url: empty.url, poolSize: POOL_SIZE },
    { logger, onQuery: (event) => capturing && captured.push({ query: event.query, params: event.params }) },
  );
  const baselinePool = new pg.Pool({ connectionString: empty.url, max: POOL_SIZE });
  let baselineServer: http.Server | undefined;
  const config = loadConfig({ NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: empty.url, DATABASE_POOL_SIZE: String(POOL_SIZE), PUBLIC_URL: 'http://bench.local' });
  const keys = await loadKeyStore({ dataDir: undefined, now: new Date() });
  const app = await buildApp(config, { logger, database, keys });
  try {
    const { organization } = await createOrganization(database.prisma);
    const document = await createDocument(database.prisma, { organizationId: organization.id });
    await database.prisma.loan.create({
      data: { organizationId: organization.id, documentId: document.id, loanNumber: 'B-1', borrowerName: 'Bench', principal: '1000.00', balance: '900.00' },
    });
    const admin = await createUser(database.prisma, { roles: ['ADMIN'] });
    const { token } = await signInAs(app.services, admin.id);
    const { url } = await app.start();
    const graphqlBody = JSON.stringify({ query: QUERY, variables: { id: document.id } });
    const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` };

    capturing = true;
    const probe = await fetch(`${url}/graphql`, { method: 'POST', headers, body: graphqlBody });
    capturing = false;
    const probeText = await probe.text();
    if (!probeText.includes(document.serialNumber)) throw new Error(`GraphQL probe failed: ${probeText}`);
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
        let rows: unknown[] = [];
        for (const statement of statements) rows = (await baselinePool.query(statement)).rows;
        const payload = JSON.stringify({ data: rows, serialNumber: document.serialNumber });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
      } catch {
        res.writeHead(500).end();
      }
    });
    await new Promise<void>((resolve) => baselineServer!.listen(0, '127.0.0.1', resolve));
    const baselineUrl = `http://127.0.0.1:${(baselineServer.address() as AddressInfo).port}/`;

    const load = { method: 'POST' as const, headers, body: graphqlBody, expect: document.serialNumber };
    const [baseline, graphql] = await compareLoads([
      { ...load, label: `bare node:http + pg (${statements.length} SQL statements)`, url: baselineUrl },
      { ...load, label: 'GraphQL document(id) with loan', url: `${url}/graphql` },
    ]) as [LoadResult, LoadResult];
    printTable('Document read by id (best of 2 rounds each)', [baseline, graphql], baseline);
    const ratio = graphql.requestsPerSecond / baseline.requestsPerSecond;
    process.stdout.write(`document-read ratio (GraphQL / bare): ${ratio.toFixed(3)}\n`);
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

