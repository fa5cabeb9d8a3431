import type { IncomingMessage } from 'node:http';
import { normaliseIp, type AddressMatcher } from '../lib/ip.ts';

/** `::ffff:192.0.2.1` and `192.0.2.1` are one client: addresses are stored and compared in canonical form. */
export function normaliseAddress(address: string | undefined): string | undefined {
  return normaliseIp(address);
}

/**
 * The client's address: the socket's peer, unless that peer is a configured trusted proxy (TRUST_PROXY: addresses
 * or CIDR ranges), in which case the nearest X-Forwarded-For entry that is not itself a trusted proxy. A header
 * sent by the client is never believed when the request did not come through a trusted proxy, and entries that are
 * not addresses end the walk rather than being skipped.
 */
export function clientAddress(req: IncomingMessage | undefined, trustedProxies: AddressMatcher): string | undefined {
  const peer = normaliseAddress(req?.socket.remoteAddress);
  if (!req || !peer || !trustedProxies.matches(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((hop) => hop.trim()).filter(Boolean);
  let nearest = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseAddress(hops[i]);
    if (!hop) return nearest;
    if (!trustedProxies.matches(hop)) return hop;
    nearest = hop;
  }
  return nearest;
}
