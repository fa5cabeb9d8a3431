import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface LoadResult {
  label: string;
  requestsPerSecond: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadOptions {
  label: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** A substring every successful response body must contain (guards against measuring errors). */
  expect?: string;
  concurrency?: number;
  durationMs?: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Runs closed-loop HTTP load from a separate process (plain node, without the TypeScript loader) and reports
 * throughput and latency percentiles. Never a thread of this process: it would share the server's cores.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const durationMs = options.durationMs ?? Number(process.env.BENCH_DURATION_MS ?? 5000);
  const child = fork(fileURLToPath(new URL('./load-client.mjs', import.meta.url)), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = await new Promise<{ requests: number; errors: number; latencies: number[] }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { requests: number; errors: number; latencies: number[] }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`The load client exited (${code}) before reporting.`)));
    child.send({
      url: options.url,
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      body: options.body,
      expect: options.expect,
      concurrency: options.concurrency ?? Number(process.env.BENCH_CONCURRENCY ?? 16),
      durationMs,
    });
  });
  // The next case starts only once this client is gone, so two never compete for the cores.
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  const sorted = result.latencies.sort((a, b) => a - b);
  return {
    label: options.label,
    requestsPerSecond: result.requests / (durationMs / 1000),
    errors: result.errors,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

export function printTable(title: string, rows: LoadResult[], baseline: LoadResult): void {
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`${'case'.padEnd(44)}${'req/s'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'errors'.padStart(8)}${'vs baseline'.padStart(13)}\n`);
  for (const row of rows) {
    const ratio = row.requestsPerSecond / baseline.requestsPerSecond;
    process.stdout.write(
      `${row.label.padEnd(44)}${row.requestsPerSecond.toFixed(0).padStart(10)}${row.p50Ms.toFixed(2).padStart(10)}${row.p99Ms.toFixed(2).padStart(10)}${String(row.errors).padStart(8)}${`${ratio.toFixed(2)}x`.padStart(13)}\n`,
    );
  }
}

/**
 * Warms every case for a second, then runs them in turn for `rounds` rounds, so slow drift (thermal, GC, the
 * database's caches) hits every case alike; returns each case's best round, in the order given.
 */
export async function compareLoads(cases: LoadOptions[], rounds = 2): Promise<LoadResult[]> {
  for (const c of cases) await runLoad({ ...c, durationMs: 1000 });
  const runs: LoadResult[][] = cases.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, c] of cases.entries()) runs[index]!.push(await runLoad(c));
  }
  return runs.map((list) => list.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a)));
}
