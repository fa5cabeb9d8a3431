import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses and CIDR ranges as numbers, so that matching is arithmetic rather than string comparison:
 * `::ffff:10.0.0.1`, `0:0:0:0:0:ffff:a00:1` and `10.0.0.1` are one client, and `2001:DB8::/32` and
 * `2001:db8:0::/32` one range. IPv4-mapped IPv6 addresses and ranges are normalised to IPv4.
 */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface AddressRange {
  version: 4 | 6;
  network: bigint;
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;
const MAPPED_PREFIX = 0xffffn << 32n;
const MAPPED_MASK = ((1n << 96n) - 1n) << 32n;

function parseIPv4(text: string): bigint {
  return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

function parseIPv6(text: string): bigint {
  let source = text;
  const lastColon = source.lastIndexOf(':');
  const tail = source.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail);
    source = `${source.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = source.split('::');
  const left = head ? head.split(':') : [];
  const right = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** Parses an IPv4 or IPv6 address (zone ids are not accepted); IPv4-mapped IPv6 becomes IPv4. Null if invalid. */
export function parseIp(text: string): IpAddress | null {
  const trimmed = text.trim();
  if (isIPv4(trimmed)) return { version: 4, value: parseIPv4(trimmed) };
  if (!isIPv6(trimmed) || trimmed.includes('%')) return null;
  const value = parseIPv6(trimmed);
  if ((value & MAPPED_MASK) === MAPPED_PREFIX) return { version: 4, value: value & 0xffffffffn };
  return { version: 6, value };
}

function formatIp(address: IpAddress): string {
  if (address.version === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => ((address.value >> BigInt(112 - i * 16)) & 0xffffn).toString(16));
  // The WHATWG URL parser prints IPv6 hosts in RFC 5952's compressed form.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The canonical text of an address: IPv4 dotted, IPv6 compressed lower-case; null when not an address. */
export function normaliseIp(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const parsed = parseIp(text);
  return parsed ? formatIp(parsed) : undefined;
}

const mask = (version: 4 | 6, prefix: number) => {
  const bits = BigInt(BITS[version]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
};

export class InvalidAddressRange extends Error {}

/**
 * Parses `10.0.0.7`, `10.0.0.0/8`, `2001:db8::/32` or `::ffff:10.0.0.0/104` (an IPv4-mapped range, stored as
 * `10.0.0.0/8`). A range with host bits set (`10.1.2.3/8`) is refused rather than silently widened or narrowed.
 */
export function parseAddressRange(text: string): AddressRange {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  if (addressText.includes('%') || !(isIPv4(addressText) || isIPv6(addressText))) {
    throw new InvalidAddressRange(`"${text}" is not an IP address or CIDR range.`);
  }
  const written: IpAddress = isIPv4(addressText) ? { version: 4, value: parseIPv4(addressText) } : { version: 6, value: parseIPv6(addressText) };
  const bits = BITS[written.version];
  let prefix: number = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      throw new InvalidAddressRange(`"${text}" has an invalid prefix length: use /0 to /${bits}.`);
    }
    prefix = Number(prefixText);
  }
  if ((written.value & ~mask(written.version, prefix) & ((1n << BigInt(bits)) - 1n)) !== 0n) {
    const network = formatIp({ version: written.version, value: written.value & mask(written.version, prefix) });
    throw new InvalidAddressRange(`"${text}" has host bits set; did you mean ${network}/${prefix}?`);
  }
  if (written.version === 6 && prefix >= 96 && (written.value & MAPPED_MASK) === MAPPED_PREFIX) {
    return { version: 4, network: written.value & 0xffffffffn, prefix: prefix - 96 };
  }
  return { version: written.version, network: written.value, prefix };
}

/** The canonical text of a range: a single address without `/32` or `/128`, else `network/prefix`. */
export function formatAddressRange(range: AddressRange): string {
  const address = formatIp({ version: range.version, value: range.network });
  return range.prefix === BITS[range.version] ? address : `${address}/${range.prefix}`;
}

export function rangeContains(range: AddressRange, address: IpAddress): boolean {
  return range.version === address.version && (address.value & mask(range.version, range.prefix)) === range.network;
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
