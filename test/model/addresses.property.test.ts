import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { ipIdentityProblem, ipv4Number, parseIp } from '../../src/model/ip.js';
import { macIdentityProblem, macNumber, parseMac } from '../../src/model/mac.js';
import { KeyTable, ipKey, macKey } from '../../src/reconcile/keys.js';

const octets = fc.uint8Array({ minLength: 6, maxLength: 6 });
const hex = (b: number): string => b.toString(16).padStart(2, '0');

describe('parseMac (properties)', () => {
  it('reads every written form of the same six octets as one canonical MAC', () => {
    fc.assert(
      fc.property(octets, fc.boolean(), (bytes, upper) => {
        const pairs = [...bytes].map(hex);
        const canonical = pairs.join(':');
        const plain = pairs.join('');
        const forms = [pairs.join(':'), pairs.join('-'), plain, `${plain.slice(0, 4)}.${plain.slice(4, 8)}.${plain.slice(8)}`, pairs.map((p) => p.replace(/^0/, '')).join(':')];
        for (const form of forms) expect(parseMac(upper ? form.toUpperCase() : form)).toEqual({ ok: true, mac: canonical });
      }),
    );
  });

  it('is idempotent: a canonical MAC parses to itself', () => {
    fc.assert(
      fc.property(octets, (bytes) => {
        const first = parseMac([...bytes].map(hex).join('-'));
        expect(first.ok && parseMac(first.mac)).toEqual(first);
      }),
    );
  });

  it('flags exactly the addresses with the group bit set, and all zeros', () => {
    fc.assert(
      fc.property(octets, (bytes) => {
        const mac = [...bytes].map(hex).join(':');
        const problem = macIdentityProblem(mac);
        const expected = (bytes[0]! & 1) === 1 || bytes.every((b) => b === 0);
        expect(problem !== null).toBe(expected);
      }),
    );
  });

  it('never accepts text with a character outside hex and separators', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[^0-9a-fA-F:.\-\s]/.test(s)), (text) => {
        expect(parseMac(text).ok).toBe(false);
      }),
    );
  });
});

describe('parseIp (properties)', () => {
  it('reads any IPv4 address, with or without a host prefix, as its dotted quad', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 31, max: 32 }), (ip, prefix) => {
        expect(parseIp(ip)).toEqual({ ok: true, ip, version: 4 });
        expect(parseIp(`${ip}/${prefix}`)).toEqual({ ok: true, ip, version: 4 });
      }),
    );
  });

  it('gives IPv6 in one canonical form (RFC 5952) whatever the spelling', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (groups) => {
        const full = groups.map((g) => g.toString(16).padStart(4, '0').toUpperCase()).join(':');
        const short = groups.map((g) => g.toString(16)).join(':');
        const a = parseIp(full);
        const b = parseIp(`[${short}]`);
        expect(a.ok).toBe(true);
        expect(b).toEqual(a);
        if (a.ok) {
          expect(a.ip).toBe(a.ip.toLowerCase());
          expect(parseIp(a.ip)).toEqual(a);
        }
      }),
    );
  });

  it('strips a CIDR suffix from a host address but refuses a subnet written as a host', () => {
    expect(parseIp('10.0.0.5/24')).toEqual({ ok: true, ip: '10.0.0.5', version: 4 });
    expect(parseIp('10.0.0.0/24')).toEqual({ ok: false, reason: '"10.0.0.0/24" is a subnet, not a host address' });
    expect(parseIp('10.0.1.0/23')).toEqual({ ok: true, ip: '10.0.1.0', version: 4 });
    expect(parseIp('10.0.0.0/31')).toEqual({ ok: true, ip: '10.0.0.0', version: 4 });
    expect(parseIp('2001:db8::/64')).toEqual({ ok: false, reason: '"2001:db8::/64" is a subnet, not a host address' });
    expect(parseIp('10.0.0.5/33')).toEqual({ ok: false, reason: '"10.0.0.5/33" has prefix length 33, more than the 32 bits of the address' });
  });

  it('answers for IPv4 as ipaddr.js does: the same address, the same subnet refusals, the same unusable ranges', () => {
    const ranges: Record<string, string> = { unspecified: 'unspecified IP address', broadcast: 'broadcast IP address', multicast: 'multicast IP address', loopback: 'loopback IP address' };
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.constantFrom('0.0.0.0', '0.1.2.3', '127.0.0.1', '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255')), fc.option(fc.integer({ min: 0, max: 40 })), (ip, prefix) => {
        const address = ipaddr.IPv4.parse(ip);
        expect(ipIdentityProblem(ip)).toBe(ranges[address.range()] ?? null);
        if (prefix === null) return;
        const parsed = parseIp(`${ip}/${prefix}`);
        const network = prefix <= 32 && ipaddr.IPv4.networkAddressFromCIDR(`${ip}/${prefix}`).toString() === ip;
        if (prefix > 32) expect(parsed.ok).toBe(false);
        else if (prefix < 31 && network) expect(parsed).toEqual({ ok: false, reason: `"${ip}/${prefix}" is a subnet, not a host address` });
        else expect(parsed).toEqual({ ok: true, ip, version: 4 });
      }),
    );
  });

  it('tells which addresses cannot identify a device', () => {
    expect(ipIdentityProblem('0.0.0.0')).toBe('unspecified IP address');
    expect(ipIdentityProblem('255.255.255.255')).toBe('broadcast IP address');
    expect(ipIdentityProblem('239.1.1.1')).toBe('multicast IP address');
    expect(ipIdentityProblem('ff02::1')).toBe('multicast IP address');
    expect(ipIdentityProblem('127.0.0.1')).toBe('loopback IP address');
    expect(ipIdentityProblem('10.0.0.5')).toBeNull();
    expect(ipIdentityProblem('fe80::1')).toBeNull();
  });
});

describe('macNumber and ipv4Number (properties)', () => {
  it('give a canonical MAC its 48-bit value and a canonical IPv4 address its 32-bit value', () => {
    fc.assert(
      fc.property(octets, fc.uint8Array({ minLength: 4, maxLength: 4 }), (mac, ip) => {
        expect(macNumber([...mac].map(hex).join(':'))).toBe(mac.reduce((n, b) => n * 256 + b, 0));
        expect(ipv4Number([...ip].join('.'))).toBe(ipaddr.IPv4.parse([...ip].join('.')).toByteArray().reduce((n, b) => n * 256 + b, 0));
      }),
    );
  });

  it('refuse every text that is not canonical, so that two different texts never share a number', () => {
    for (const text of ['00:1B:1B:00:00:01', '00-1b-1b-00-00-01', '00:1b:1b:00:00:0', '00:1b:1b:00:00:011', '001b.1b00.0001', '']) expect(macNumber(text)).toBe(-1);
    for (const text of ['010.1.2.3', '10.01.2.3', '256.1.2.3', '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '::1', '10.1.0.0/16', ' 1.2.3.4', '']) expect(ipv4Number(text)).toBe(-1);
    expect(ipv4Number('0.0.0.0')).toBe(0);
    expect(ipv4Number('255.255.255.255')).toBe(2 ** 32 - 1);
  });
});

describe('KeyTable (properties)', () => {
  const space = fc.option(fc.integer({ min: 1, max: 3 }), { nil: null });
  const address = fc.oneof(
    octets.map((b) => ({ kind: 'mac' as const, value: [...b].map(hex).join(':') })),
    fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => ({ kind: 'ip' as const, value: [...b].join('.') })),
    fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ({ kind: 'ip' as const, value: ipaddr.fromByteArray([...b]).toString() })),
  );

  it('numbers each (kind, address space, address) once, however many there are, and finds each again from its text', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ space, address }), { minLength: 1, maxLength: 3000 }), (entries) => {
        const table = new KeyTable();
        const expected = new Map<string, number>();
        for (const { space: s, address: a } of entries) {
          const text = a.kind === 'mac' ? macKey(s, a.value) : ipKey(s, a.value);
          const key = a.kind === 'mac' ? table.mac(s, a.value) : table.ip(s, a.value);
          if (!expected.has(text)) expected.set(text, key);
          expect(key).toBe(expected.get(text));
          expect(table.text(key)).toBe(text);
        }
        expect(table.size).toBe(expected.size);
        for (const [text, key] of expected) expect(table.find(text)).toBe(key);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps 40,000 addresses of one space apart, also those that differ only in their upper bits', () => {
    const table = new KeyTable();
    const macs = Array.from({ length: 20000 }, (_, i) => `${hex(i & 0xff)}:${hex((i >> 8) & 0xff)}:00:00:00:00`);
    const ips = Array.from({ length: 20000 }, (_, i) => `${i & 0xff}.${(i >> 8) & 0xff}.0.1`);
    const keys = [...macs.map((m) => table.mac(5, m)), ...ips.map((ip) => table.ip(5, ip))];
    expect(new Set(keys).size).toBe(40000);
    expect(macs.map((m) => table.mac(5, m))).toEqual(keys.slice(0, 20000));
    expect(ips.map((ip) => table.find(ipKey(5, ip)))).toEqual(keys.slice(20000));
    expect(table.find(ipKey(5, '0.0.0.2'))).toBeUndefined();
    expect(table.size).toBe(40000);
  });
});
