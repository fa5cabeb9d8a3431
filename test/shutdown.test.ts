import { describe, expect, it } from 'vitest';
import type { Db } from '../src/db/client.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

async function waitFor(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A test database whose document inserts wait for `release()`: a slow operation the test controls. It notes when
 * an insert starts and finishes, and whether the database was closed before it finished.
 */
async function gatedDatabase() {
  const db = await createTestDatabase();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const state = { started: false, finished: false, closed: false, finishedBeforeClose: false };
  const prisma = db.prisma.$extends({
    query: {
      document: {
        async create({ args, query }) {
          state.started = true;
          await gate;
          const created = await query(args);
          state.finished = true;
          state.finishedBeforeClose = !state.closed;
          return created;
        },
      },
    },
  }) as unknown as Db;
  const database: TestDatabase = {
    ...db,
    prisma,
    async destroy() {
      state.closed = true;
      await db.destroy();
    },
  };
  return { database, plain: db.prisma, release, state };
}

async function slowRegistration(t: TestApp, signal: AbortSignal) {
  const user = await createUser(t.db.prisma);
  const { organization, role, location } = await createOrganization(t.db.prisma);
  await addMember(t.db.prisma, { userId: user.id, organizationId: organization.id, roleId: role.id, locationIds: [location.id], isOwner: true });
  const { token } = await signInAs(t.app.services, user.id);
  const input = { organizationId: organization.id, locationId: location.id, serialNumber: 'SN-SHUTDOWN-1', manufacturer: 'Clayton', ownerName: 'Dana Reyes', addressLine1: '1 Main St', city: 'Austin', state: 'TX', postalCode: '78701' };
  return fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'mutation Register($i: RegisterChattelInput!) { registerChattel(input: $i) { id } }', variables: { i: input } }),
    signal,
  }).catch(() => 'aborted' as const);
}

describe('graceful shutdown', () => {
  it('waits for an operation whose client went away before closing the database', async () => {
    const { database, plain, release, state } = await gatedDatabase();
    const t = await startTestApp({ database });
    try {
      const client = new AbortController();
      const answer = slowRegistration(t, client.signal);
      await waitFor(() => state.started);
      client.abort();
      expect(await answer).toBe('aborted');

      const stopped = t.app.stop();
      // The connection is gone, the operation is not: shutdown says it waits for it, and does.
      await waitFor(() => t.logs.entries().some((e) => e.msg === 'shutdown waiting for running operations'));
      expect(state.finished).toBe(false);
      release();
      await stopped;
      expect(state.finished).toBe(true);
      expect(await plain.document.count({ where: { serialNumber: 'SN-SHUTDOWN-1' } })).toBe(1);
    } finally {
      release();
      await t.close();
    }
    expect(state.finishedBeforeClose).toBe(true);
    expect(t.logs.entries().filter((e) => e.msg === 'unexpected error' || e.level === 'error')).toEqual([]);
  });

  it('gives up waiting at SHUTDOWN_TIMEOUT_MS and says so', async () => {
    const { database, release, state } = await gatedDatabase();
    const t = await startTestApp({ database, env: { SHUTDOWN_TIMEOUT_MS: '300' } });
    try {
      const client = new AbortController();
      const answer = slowRegistration(t, client.signal);
      await waitFor(() => state.started);
      client.abort();
      await answer;
      await t.app.stop();
      expect(state.finished).toBe(false);
      expect(t.logs.entries().filter((e) => e.msg === 'shutdown timeout reached: operations still running')).toEqual([
        expect.objectContaining({ level: 'warn', operations: 1 }),
      ]);
    } finally {
      release();
      await waitFor(() => state.finished);
      await t.close();
    }
  });
});
