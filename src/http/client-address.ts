import type { IncomingMessage } from 'node:http';
import { normaliseIp, type AddressMatcher } from '../lib/ip.ts';

/** `::ffff:192.0.2.1` and `192.0.2.1` are one client: addresses are stored and compared in canonical form. */
export function normaliseAddress(address: string | undefined): string | undefined {
  return normaliseIp(address);
}

/**
 * The client's address: the socket's peer, unless that peer is a configured trusted proxy (TRUST_PROXY: addresses
 * or CIDR ranges), in which case the nearest X-Forwarded-For entry that is not itself a trusted proxy. A header
 * sent by the client is never believed when the request did not come through a trusted proxy. A hop that is not an
 * address (after dropping the port some proxies append) leaves the client unknown, never a proxy's own address.
 */
export function clientAddress(req: IncomingMessage | undefined, trustedProxies: AddressMatcher): string | undefined {
  const peer = normaliseAddress(req?.socket.remoteAddress);
  if (!req || !peer || !trustedProxies.matches(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((hop) => hop.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    // No address with a port is longer; a longer hop is not an address and is never parsed.
    const hop = hops[i]!.length <= 64 ? normaliseAddress(withoutPort(hops[i]!)) : undefined;
    if (!hop) return undefined;
    if (!trustedProxies.matches(hop)) return hop;
  }
  // Every hop is a trusted proxy: the request started inside; the first of them is the client.
  return (hops[0] && hops[0].length <= 64 ? normaliseAddress(withoutPort(hops[0])) : undefined) ?? peer;
}

/** `203.0.113.7:5123` and `[2001:db8::7]:5123` as some proxies write them; bare IPv6 keeps its colons. */
function withoutPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed?.[1]) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4?.[1] ?? hop;
}
