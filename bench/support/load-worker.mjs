// Drives HTTP load from its own thread (its own event loop), so the server being measured is not slowed by the
// client's work in the same loop. Posts back { requests, errors, latenciesMs }.
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { url, method, headers, body, concurrency, durationMs } = workerData;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const latencies = [];
let requests = 0;
let errors = 0;
const deadline = performance.now() + durationMs;

function once() {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method, headers, agent }, (res) => {
      let ok = res.statusCode === 200;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (ok && validate) ok = validate(Buffer.concat(chunks).toString('utf8'));
        latencies.push(performance.now() - started);
        if (ok) requests++;
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    if (body) req.end(body);
    else req.end();
  });
}

const validate = workerData.expect ? (text) => text.includes(workerData.expect) : undefined;

async function loop() {
  while (performance.now() < deadline) await once();
}

await Promise.all(Array.from({ length: concurrency }, loop));
agent.destroy();
parentPort.postMessage({ requests, errors, latencies });
