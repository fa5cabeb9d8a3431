import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../src/config.ts';
import { spawnServer } from './support/process.ts';

const tempDirs: string[] = [];
function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safeclose-proc-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Opens a graphql-ws connection and resolves once the server acknowledged it. */
function openSubscriptionSocket(url: string): Promise<{ socket: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<{ code: number; reason: string }>((done) => socket.on('close', (code, reason) => done({ code, reason: reason.toString() })));
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    socket.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { type: string }).type === 'connection_ack') resolve({ socket, closed });
    });
    socket.on('error', reject);
  });
}

describe('configuration', () => {
  it('accepts the defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, host: '127.0.0.1', env: 'development', database: { kind: 'pglite' }, publicUrl: 'http://localhost:4000' });
  });

  it('uses PostgreSQL when DATABASE_URL is set, with the pool size', () => {
    const config = loadConfig({ DATABASE_URL: 'postgresql://u@db.internal:5432/safeclose', DATABASE_POOL_SIZE: '25' });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgresql://u@db.internal:5432/safeclose', poolSize: 25 });
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', SMTP_URL: 'not a url' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'SMTP_URL']) expect(message).toContain(name);
    expect(message).toContain('"eighty"');
  });

  it('stops the process at start-up with the variable named and exit code 78', async () => {
    const server = spawnServer({ PORT: '99999', DATA_DIR: tempDataDir() });
    const { code } = await server.exited;
    expect(code).toBe(78);
    expect(server.stderr.join('')).toMatch(/PORT must be at most 65535 \(got "99999"\)/);
  });
});

describe('the server process', () => {
  it('starts on a fresh embedded database, finishes in-flight requests on SIGTERM, closes WebSockets with 1001 and exits 0', async () => {
    const dataDir = tempDataDir();
    const server = spawnServer({ DATA_DIR: dataDir });
    const url = await server.ready;
    expect(fs.existsSync(path.join(dataDir, 'pglite'))).toBe(true);
    // Signing keys live in the database; without KEY_ENCRYPTION_KEY their encryption key is generated here.
    expect(fs.existsSync(path.join(dataDir, 'keys', 'key-encryption-key'))).toBe(true);
    expect((fs.statSync(path.join(dataDir, 'keys', 'key-encryption-key')).mode & 0o777).toString(8)).toBe('600');

    const { closed } = await openSubscriptionSocket(url);

    // An in-flight request: headers and half the body sent before SIGTERM, the rest after.
    const body = JSON.stringify({ query: '{ __typename }' });
    const target = new URL(url);
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = http.request(
        { host: target.hostname, port: target.port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      request.on('error', reject);
      request.write(body.slice(0, 10));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => request.end(body.slice(10)), 300);
      }, 100);
    });

    const finished = await response;
    expect(finished.status).toBe(200);
    expect(JSON.parse(finished.text)).toEqual({ data: { __typename: 'Query' } });
    expect(await closed).toEqual({ code: 1001, reason: 'Server shutting down' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    // The embedded database's lock is released, so the next start on the same directory succeeds.
    expect(fs.existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);
    await expect(fetch(`${target.origin}/healthz`)).rejects.toThrow();
  });

  it('lets only one of two servers started at once on the same embedded database run', async () => {
    const dataDir = tempDataDir();
    const first = spawnServer({ DATA_DIR: dataDir });
    const second = spawnServer({ DATA_DIR: dataDir });
    const outcomes = await Promise.allSettled([first.ready, second.ready]);
    const winners = outcomes.filter((o) => o.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    const loser = outcomes[0]?.status === 'fulfilled' ? second : first;
    const winner = loser === first ? second : first;
    expect((await loser.exited).code).toBe(1);
    expect(loser.stderr.join('')).toMatch(/is in use by process \d+/);
    winner.child.kill('SIGTERM');
    expect((await winner.exited).code).toBe(0);

    // Restarting on the same directory keeps the data and applies no migration twice.
    const again = spawnServer({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    await again.ready;
    expect(again.stdout.join('')).not.toContain('applied database migrations');
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });
});
