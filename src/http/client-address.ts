import type { IncomingMessage } from 'node:http';

/** `::ffff:192.0.2.1` and `192.0.2.1` are one client; store and compare the IPv4 form. */
export function normaliseAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return (mapped?.[1] ?? address).toLowerCase();
}

/**
 * The client's address: the socket's peer, unless that peer is a configured trusted proxy, in which case the
 * nearest X-Forwarded-For entry that is not itself a trusted proxy. A client-sent header is never believed when
 * the request did not come through a trusted proxy.
 */
export function clientAddress(req: IncomingMessage | undefined, trustedProxies: readonly string[]): string | undefined {
  const peer = normaliseAddress(req?.socket.remoteAddress);
  if (!req || !peer || !trustedProxies.includes(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => normaliseAddress(h.trim())).filter(Boolean) as string[];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!trustedProxies.includes(hop)) return hop;
  }
  return peer;
}
