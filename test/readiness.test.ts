import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { applyMigrations } from '../src/db/migrator.ts';
import { createLogger } from '../src/lib/logger.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createEmptyPostgresDatabase, testDatabaseUrl } from './support/database.ts';
import { createUser, signInAs } from './support/factories.ts';
import { TcpProxy } from './support/tcp-proxy.ts';

async function readiness(url: string) {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Record<string, unknown> };
}

describe('liveness and readiness', () => {
  let t: TestApp | undefined;
  afterAll(async () => {
    await t?.close();
  });

  it('reports alive and ready while the database answers, and 503 DATABASE_UNAVAILABLE once it is closed', async () => {
    t = await startTestApp();
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await readiness(t.url)).toMatchObject({ status: 200, body: { status: 'ok' } });

    await t.db.close();
    const down = await readiness(t.url);
    expect(down.status).toBe(503);
    expect(down.retryAfter).toBe('5');
    expect(down.body).toEqual({ error: { code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable.', retryAfter: 5 } });
    // Liveness never depends on the database.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});

// Taking a database server away and bringing it back needs a server: this runs in the PostgreSQL pass
// (TEST_DATABASE_URL), which CI always runs.
const postgresCases = testDatabaseUrl ? [testDatabaseUrl] : [];
for (const baseUrl of postgresCases) {
  describe('readiness against PostgreSQL going away and coming back', () => {
    it('flips to 503 when the server is unreachable and back to 200 when it returns, without a restart', async () => {
      const empty = await createEmptyPostgresDatabase(baseUrl);
      const target = new URL(empty.url);
      const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      await proxy.start();
      const proxied = new URL(empty.url);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      const logger = createLogger({ level: 'silent' });
      const database = await openDatabase({ kind: 'postgres', url: proxied.toString(), poolSize: 2 }, { logger });
      await applyMigrations(database.migrationTarget);
      const t = await startTestApp({ database: Object.assign(database, { url: proxied.toString(), destroy: () => database.close() }) });
      try {
        const user = await createUser(database.prisma, { roles: ['ADMIN'] });
        const { token } = await signInAs(t.app.services, user.id);
        expect((await readiness(t.url)).status).toBe(200);

        await proxy.cut();
        const down = await readiness(t.url);
        expect(down.status).toBe(503);
        expect(down.body).toMatchObject({ error: { code: 'DATABASE_UNAVAILABLE' } });
        // A GraphQL request during the outage gets the same code, not a driver message.
        const { status: graphqlStatus, body } = await t.graphql('{ document(id: "00000000-0000-7000-8000-000000000000") { id } }', {}, { token });
        expect(graphqlStatus).toBe(503);
        expect(body.errors?.[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');
        expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|prisma|SELECT|127\.0\.0\.1/i);

        await proxy.restore();
        let status = 0;
        for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
          status = (await readiness(t.url)).status;
          if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
        }
        expect(status).toBe(200);
      } finally {
        await t.close();
        await database.close();
        await proxy.cut();
        await empty.drop();
      }
    });
  });
}
