// Drives closed-loop HTTP load from its own process, forked by measure.ts: a thread of the measured process would
// take the same cores as the server and flatter every ratio. Takes its options as the first IPC message and sends
// back { requests, errors, latencies } before it exits.
import http from 'node:http';

const options = await new Promise((resolve) => process.once('message', resolve));
const { url, method, headers, body, concurrency, durationMs } = options;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const validate = options.expect ? (text) => text.includes(options.expect) : undefined;
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

async function loop() {
  while (performance.now() < deadline) await once();
}

await Promise.all(Array.from({ length: concurrency }, loop));
agent.destroy();
process.send({ requests, errors, latencies }, () => process.disconnect());
