import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { AddressMatcher, formatAddressRange, normaliseIp, parseAddressRange } from '../src/lib/ip.ts';

describe('IP addresses and ranges', () => {
  it('normalises every spelling of an address to one canonical form', () => {
    expect(normaliseIp('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normaliseIp('::FFFF:c000:0201')).toBe('192.0.2.1');
    expect(normaliseIp('0:0:0:0:0:ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normaliseIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normaliseIp('::1')).toBe('::1');
    expect(normaliseIp('::')).toBe('::');
    expect(normaliseIp('not an address')).toBeUndefined();
    expect(normaliseIp('fe80::1%eth0')).toBeUndefined();
    expect(normaliseIp('192.0.2.256')).toBeUndefined();
  });

  it('matches addresses against IPv4 and IPv6 ranges, mapped addresses as IPv4', () => {
    const matcher = new AddressMatcher(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::ffff:198.51.100.0/120']);
    expect(matcher.toStrings()).toEqual(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '198.51.100.0/24']);
    for (const inside of ['10.0.0.1', '10.255.255.255', '::ffff:10.1.2.3', '192.0.2.7', '2001:db8::1', '2001:db8:ffff::9', '198.51.100.200']) {
      expect(matcher.matches(inside), inside).toBe(true);
    }
    for (const outside of ['11.0.0.0', '9.255.255.255', '192.0.2.8', '2001:db9::1', '::a00:1', '198.51.101.1', 'garbage', '']) {
      expect(matcher.matches(outside), outside).toBe(false);
    }
    expect(new AddressMatcher(['0.0.0.0/0']).matches('203.0.113.1')).toBe(true);
    expect(new AddressMatcher(['0.0.0.0/0']).matches('2001:db8::1')).toBe(false);
    expect(new AddressMatcher([]).matches('127.0.0.1')).toBe(false);
  });

  it('refuses ranges with host bits, bad prefixes or no address, naming the fix', () => {
    expect(() => parseAddressRange('10.1.2.3/8')).toThrow('did you mean 10.0.0.0/8');
    expect(() => parseAddressRange('2001:db8::1/32')).toThrow('did you mean 2001:db8::/32');
    expect(() => parseAddressRange('10.0.0.0/33')).toThrow('/0 to /32');
    expect(() => parseAddressRange('::/129')).toThrow('/0 to /128');
    expect(() => parseAddressRange('10.0.0.0/')).toThrow('prefix');
    expect(() => parseAddressRange('localhost')).toThrow('not an IP address');
    expect(formatAddressRange(parseAddressRange(' 2001:0db8::/128 '))).toBe('2001:db8::');
  });

  it('TRUST_PROXY takes addresses and ranges, and fails fast on anything else', () => {
    const config = loadConfig({ TRUST_PROXY: '10.0.0.0/8, ::1' });
    expect(config.trustProxy.matches('10.2.3.4')).toBe(true);
    expect(config.trustProxy.matches('::1')).toBe(true);
    expect(config.trustProxy.matches('11.0.0.1')).toBe(false);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.internal' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ DISABLED_API_VERSIONS: 'v9' })).toThrow(/DISABLED_API_VERSIONS/);
    expect(loadConfig({ DISABLED_API_VERSIONS: 'V1' }).publicApi.disabledVersions.has('v1')).toBe(true);
  });
});
