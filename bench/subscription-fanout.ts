// Subscription fan-out: one activity event delivered to N graphql-ws subscribers on one instance (each delivery
// authorized against the database, then executed and sent), against a raw `ws` server broadcasting a payload of
// the same size to N plain clients. Prints p50/p99 delivery latency and server heap per connection for both.
// The clients live in a worker thread, so the main thread's heap is the server's.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createMemoryKeyStore } from '../src/modules/auth/keys.ts';
import type { ActivityEvent } from '../src/realtime/event-bus.ts';
import { createEmptyPostgresDatabase } from '../test/support/database.ts';
import { addMember, createOrganization, createUser, signInAs } from '../test/support/factories.ts';
import { benchDatabaseUrl } from './support/replay.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const CLIENTS = Number(process.env.BENCH_FANOUT_CLIENTS ?? 1000);
const EVENTS = 5;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const now = () => performance.timeOrigin + performance.now();

interface FanoutResult {
  label: string;
  delivered: number;
  expected: number;
  p50: number;
  p99: number;
  bytesPerConnection: number;
}

async function measure(label: string, workerData: Record<string, unknown>, broadcast: () => void | Promise<void>): Promise<FanoutResult> {
  const worker = new Worker(new URL('./support/ws-clients-worker.mjs', import.meta.url), { workerData: { count: CLIENTS, ...workerData } });
  let failure: unknown;
  worker.on('error', (error) => (failure = error));
  const ask = <T>(command: string) =>
    new Promise<T>((resolve, reject) => {
      if (failure) reject(failure);
      worker.once('message', (message: T & { error?: string }) => (message.error ? reject(new Error(message.error)) : resolve(message)));
      worker.postMessage(command);
    });
  const before = heapUsed();
  await ask('connect');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const bytesPerConnection = (heapUsed() - before) / CLIENTS;
  const latencies: number[] = [];
  let delivered = 0;
  for (let i = 0; i < EVENTS; i++) {
    const started = now();
    await broadcast();
    let got: number[] = [];
    const deadline = Date.now() + 30_000;
    while (got.length < CLIENTS && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      got = got.concat((await ask<{ received: number[] }>('collect')).received);
    }
    delivered += got.length;
    latencies.push(...got.map((t) => t - started));
  }
  await ask('close');
  await worker.terminate();
  latencies.sort((a, b) => a - b);
  return { label, delivered, expected: CLIENTS * EVENTS, p50: percentile(latencies, 50), p99: percentile(latencies, 99), bytesPerConnection };
}

export async function benchSubscriptionFanout(): Promise<{ p99Ratio: number }> {
  const empty = await createEmptyPostgresDatabase(benchDatabaseUrl, 'safeclose_bench');
  const logger = createLogger({ level: 'silent' });
  const database = await openDatabase({ kind: 'postgres', url: empty.url, poolSize: 10 }, { logger });
  const config = loadConfig({
    NODE_ENV: 'production', PORT: '0', KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'silent', DATABASE_URL: empty.url, PUBLIC_URL: 'http://bench.local', WS_SESSION_CHECK_MS: '60000',
    // Every subscriber here shares one session and one address: the caps on both are not what this measures.
    WS_MAX_CONNECTIONS_PER_SESSION: String(CLIENTS), WS_MAX_CONNECTIONS_PER_ADDRESS: String(CLIENTS),
  });
  const app = await buildApp(config, { logger, database, keys: await createMemoryKeyStore() });
  const raw = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  try {
    const { organization, role } = await createOrganization(database.prisma);
    const member = await createUser(database.prisma);
    await addMember(database.prisma, { userId: member.id, organizationId: organization.id, roleId: role.id });
    const { token } = await signInAs(app.services, member.id);
    const { url } = await app.start();
    let seq = 0;
    const event = (): ActivityEvent => ({
      id: crypto.randomUUID(), seq: String(++seq), type: 'document.updated', occurredAt: new Date().toISOString(),
      actorUserId: member.id, organizationId: organization.id, documentId: crypto.randomUUID(), packageId: null,
    });
    const query = 'subscription($org: ID!) { activity(organizationId: $org) { id seq type occurredAt actorUserId organizationId documentId packageId } }';
    const graphql = await measure(
      `graphql-ws activity feed, ${CLIENTS} subscribers`,
      { url: url.replace('http', 'ws') + '/graphql', protocol: 'graphql-transport-ws', connectionParams: { authorization: `Bearer ${token}` }, payload: { query, variables: { org: organization.id } } },
      () => app.services.events.pubSub.publish('activity', event()),
    );
    // The baseline sends the same JSON a graphql-ws subscriber receives, already serialised once for everyone.
    const rawUrl = `ws://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    const baseline = await measure(`raw ws broadcast, ${CLIENTS} clients`, { url: rawUrl }, () => {
      const payload = JSON.stringify({ kind: 'broadcast', id: '1', type: 'broadcast', payload: { data: { activity: event() } } });
      for (const client of raw.clients) client.send(payload);
    });

    process.stdout.write(`\nSubscription fan-out (${EVENTS} events each)\n`);
    process.stdout.write(`${'case'.padEnd(44)}${'delivered'.padStart(12)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'heap/conn'.padStart(12)}\n`);
    for (const r of [baseline, graphql]) {
      process.stdout.write(`${r.label.padEnd(44)}${`${r.delivered}/${r.expected}`.padStart(12)}${r.p50.toFixed(1).padStart(10)}${r.p99.toFixed(1).padStart(10)}${`${(r.bytesPerConnection / 1024).toFixed(1)} KiB`.padStart(12)}\n`);
    }
    const p99Ratio = graphql.p99 / baseline.p99;
    process.stdout.write(`subscription-fanout p99 latency ratio (graphql-ws / raw ws): ${p99Ratio.toFixed(1)}; memory ratio: ${(graphql.bytesPerConnection / baseline.bytesPerConnection).toFixed(1)}\n`);
    return { p99Ratio };
  } finally {
    await new Promise<void>((resolve) => raw.close(() => resolve()));
    await app.stop();
    await database.close();
    await empty.drop();
  }
}
