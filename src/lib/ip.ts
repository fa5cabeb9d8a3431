import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * IP addresses and CIDR ranges, parsed by ipaddr.js so that matching compares addresses, not strings:
 * `::ffff:10.0.0.1`, `0:0:0:0:0:ffff:a00:1` and `10.0.0.1` are one client, and `2001:DB8::/32` and
 * `2001:db8:0::/32` one range. IPv4-mapped IPv6 addresses and ranges are normalised to IPv4.
 */
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

export interface AddressRange {
  network: IpAddress;
  prefix: number;
}

const bitsOf = (address: IpAddress) => (address.kind() === 'ipv4' ? 32 : 128);

/**
 * Only the standard spellings: node:net's checks refuse what ipaddr.js would also take (`10`, `0x0a.0.0.1`,
 * octal parts) and zone ids (`fe80::1%eth0`), which no client address or configured range should use.
 */
function parseStrict(text: string): IpAddress | null {
  if (isIPv4(text)) return ipaddr.IPv4.parse(text);
  if (isIPv6(text) && !text.includes('%')) return ipaddr.IPv6.parse(text);
  return null;
}

/** Parses an IPv4 or IPv6 address (zone ids are not accepted); IPv4-mapped IPv6 becomes IPv4. Null if invalid. */
export function parseIp(text: string): IpAddress | null {
  const parsed = parseStrict(text.trim());
  if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) return parsed.toIPv4Address();
  return parsed;
}

/** IPv4 dotted; IPv6 in RFC 5952's compressed lower-case form. */
function formatIp(address: IpAddress): string {
  return address instanceof ipaddr.IPv6 ? address.toRFC5952String() : address.toString();
}

/** The canonical text of an address: IPv4 dotted, IPv6 compressed lower-case; null when not an address. */
export function normaliseIp(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const parsed = parseIp(text);
  return parsed ? formatIp(parsed) : undefined;
}

export class InvalidAddressRange extends Error {}

const PREFIX = /^\d{1,3}$/;

/** The network address of `address/prefix`: the address with its host bits cleared. */
function networkOf(address: IpAddress, prefix: number): IpAddress {
  const cidr = `${address.toString()}/${prefix}`;
  return address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
}

/**
 * Parses `10.0.0.7`, `10.0.0.0/8`, `2001:db8::/32` or `::ffff:10.0.0.0/104` (an IPv4-mapped range, stored as
 * `10.0.0.0/8`). A range with host bits set (`10.1.2.3/8`) is refused rather than silently widened or narrowed.
 */
export function parseAddressRange(text: string): AddressRange {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  const written = addressText.length <= 64 ? parseStrict(addressText) : null;
  if (!written) throw new InvalidAddressRange(`"${text}" is not an IP address or CIDR range.`);
  const bits = bitsOf(written);
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!PREFIX.test(prefixText) || Number(prefixText) > bits) {
      throw new InvalidAddressRange(`"${text}" has an invalid prefix length: use /0 to /${bits}.`);
    }
    prefix = Number(prefixText);
  }
  const network = networkOf(written, prefix);
  if (network.toNormalizedString() !== written.toNormalizedString()) {
    throw new InvalidAddressRange(`"${text}" has host bits set; did you mean ${formatIp(network)}/${prefix}?`);
  }
  if (written instanceof ipaddr.IPv6 && prefix >= 96 && written.isIPv4MappedAddress()) {
    return { network: written.toIPv4Address(), prefix: prefix - 96 };
  }
  return { network: written, prefix };
}

/** The canonical text of a range: a single address without `/32` or `/128`, else `network/prefix`. */
export function formatAddressRange(range: AddressRange): string {
  const address = formatIp(range.network);
  return range.prefix === bitsOf(range.network) ? address : `${address}/${range.prefix}`;
}

export function rangeContains(range: AddressRange, address: IpAddress): boolean {
  return range.network.kind() === address.kind() && address.match(range.network, range.prefix);
}

/** A fixed set of ranges, parsed once. */
export class AddressMatcher {
  readonly ranges: readonly AddressRange[];

  constructor(entries: readonly (string | AddressRange)[]) {
    this.ranges = entries.map((entry) => (typeof entry === 'string' ? parseAddressRange(entry) : entry));
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** True when the address (any textual form) lies in one of the ranges; false for anything unparsable. */
  matches(address: string | undefined): boolean {
    if (!address) return false;
    const parsed = parseIp(address);
    return parsed !== null && this.ranges.some((range) => rangeContains(range, parsed));
  }

  toStrings(): string[] {
    return this.ranges.map(formatAddressRange);
  }
}
