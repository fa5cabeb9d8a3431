// What a REST route adds to the operation it runs: GET /v1/documents/{id} (a document with its loan) against POST
// /graphql sending exactly that route's operation with the same variables and Bearer token, in the same run on the
// same PostgreSQL database. GraphQL is the baseline: the route should cost little more than the operation.
import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createMemoryKeyStore } from '../src/modules/auth/keys.ts';
import { documentResources } from '../src/modules/documents/documents.rest.ts';
import { createEmptyPostgresDatabase } from '../test/support/database.ts';
import { createDocument, createOrganization, createUser, signInAs } from '../test/support/factories.ts';
import { benchDatabaseUrl } from './support/replay.ts';
import { compareLoads, printTable, type LoadResult } from './support/measure.ts';

const POOL_SIZE = 10;

export async function benchRestDocumentRead(): Promise<{ ratio: number }> {
  const route = documentResources.find((spec) => spec.operationId === 'getDocument');
  if (!route) throw new Error('The getDocument route is not declared in documents.rest.ts.');
  const empty = await createEmptyPostgresDatabase(benchDatabaseUrl, 'safeclose_bench');
  const logger = createLogger({ level: 'silent' });
  const database = await openDatabase({ kind: 'postgres', url: empty.url, poolSize: POOL_SIZE }, { logger });
  const config = loadConfig({ NODE_ENV: 'production', PORT: '0', KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'silent', DATABASE_URL: empty.url, DATABASE_POOL_SIZE: String(POOL_SIZE), PUBLIC_URL: 'http://bench.local' });
  const keys = await createMemoryKeyStore();
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

    const authorization = `Bearer ${token}`;
    const graphqlHeaders = { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization };
    const graphqlBody = JSON.stringify({ query: route.operation, variables: { id: document.id } });
    const restUrl = `${url}/v1/documents/${encodeURIComponent(document.id)}`;
    const restHeaders = { accept: 'application/json', authorization };

    // Both must answer the same record, with its loan, before either is measured.
    const graphqlProbe = (await (await fetch(`${url}/graphql`, { method: 'POST', headers: graphqlHeaders, body: graphqlBody })).json()) as { data?: { document?: unknown }; errors?: unknown };
    const restResponse = await fetch(restUrl, { headers: restHeaders });
    const restProbe = (await restResponse.json()) as unknown;
    const same = JSON.stringify(restProbe) === JSON.stringify(graphqlProbe.data?.document);
    if (graphqlProbe.errors || restResponse.status !== 200 || !same || !JSON.stringify(restProbe).includes('"loanNumber":"B-1"')) {
      throw new Error(`The REST and GraphQL probes differ: ${restResponse.status} ${JSON.stringify(restProbe).slice(0, 300)} / ${JSON.stringify(graphqlProbe).slice(0, 300)}`);
    }

    const expect = `"serialNumber":"${document.serialNumber}"`;
    const [graphql, rest] = (await compareLoads([
      { label: 'GraphQL RestGetDocument (the same operation)', url: `${url}/graphql`, method: 'POST', headers: graphqlHeaders, body: graphqlBody, expect },
      { label: 'REST GET /v1/documents/{id}', url: restUrl, method: 'GET', headers: restHeaders, expect },
    ])) as [LoadResult, LoadResult];
    printTable('REST document read against its GraphQL operation (best of 2 rounds each)', [graphql, rest], graphql);
    const ratio = rest.requestsPerSecond / graphql.requestsPerSecond;
    process.stdout.write(`rest-document-read ratio (REST / GraphQL): ${ratio.toFixed(3)}\n`);
    if (graphql.errors > 0 || rest.errors > 0) process.stdout.write('warning: some requests failed; the figures above count only successes\n');
    return { ratio };
  } finally {
    await app.stop();
    await database.close();
    await empty.drop();
  }
}
