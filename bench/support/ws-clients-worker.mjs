// Holds many WebSocket clients in their own thread (and V8 heap), so the server's memory per connection can be
// read from the main thread's heap, and records when each client receives each broadcast.
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const { url, count, protocol, connectionParams, payload } = workerData;
const sockets = [];
const received = [];

function open() {
  return new Promise((resolve, reject) => {
    const socket = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
    socket.on('error', reject);
    // A server that refuses the connection (a cap, a bad token) closes it: fail instead of waiting for ever.
    socket.on('close', (code, reason) => reject(new Error(`The server closed a connection: ${code} ${reason}`)));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
        setTimeout(resolve, 0);
        return;
      }
      if (message.type === 'next' || message.kind === 'broadcast') received.push(performance.timeOrigin + performance.now());
      if (message.type === 'error') reject(new Error(JSON.stringify(message.payload)));
    });
    socket.on('open', () => {
      sockets.push(socket);
      if (protocol) socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams ?? {} }));
      else resolve();
    });
  });
}

parentPort.on('message', async (command) => {
  try {
    if (command === 'connect') {
      for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, open));
      parentPort.postMessage({ connected: sockets.length });
    } else if (command === 'collect') {
      parentPort.postMessage({ received: received.splice(0) });
    } else if (command === 'close') {
      for (const socket of sockets) socket.terminate();
      parentPort.postMessage({ closed: true });
    }
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
