import { describe, expect, it } from 'vitest';
import { indexAddressSpaces } from '../../src/model/address-space.js';
import { parseIp } from '../../src/model/ip.js';
import { macIdentityProblem, macOui, parseMac } from '../../src/model/mac.js';
import type { AddressSpace } from '../../src/model/kics.js';

describe('parseMac', () => {
  it.each([
    ['00:1B:1B:AA:BB:CC', '00:1b:1b:aa:bb:cc'],
    ['00-1b-1b-aa-bb-cc', '00:1b:1b:aa:bb:cc'],
    ['001b.1baa.bbcc', '00:1b:1b:aa:bb:cc'],
    ['001B1BAABBCC', '00:1b:1b:aa:bb:cc'],
    ['  0:1b:1b:a:bb:c ', '00:1b:1b:0a:bb:0c'],
  ])('reads %s as %s', (input, mac) => {
    expect(parseMac(input)).toEqual({ ok: true, mac });
  });

  it.each(['', '00:1b:1b:aa:bb', '00:1b:1b:aa:bb:cc:dd', '00:1b-1b:aa:bb:cc', 'zz:1b:1b:aa:bb:cc', '001b.1baa.bbc'])('rejects %j with a reason', (input) => {
    const result = parseMac(input);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/MAC/);
  });

  it('tells which MACs cannot identify a device', () => {
    expect(macIdentityProblem('00:00:00:00:00:00')).toBe('all-zero MAC address');
    expect(macIdentityProblem('ff:ff:ff:ff:ff:ff')).toBe('broadcast MAC address');
    expect(macIdentityProblem('01:00:5e:00:00:fb')).toBe('multicast MAC address');
    expect(macIdentityProblem('00:1b:1b:aa:bb:cc')).toBeNull();
    expect(macOui('00:1b:1b:aa:bb:cc')).toBe('001B1B');
  });
});

describe('parseIp', () => {
  it.each([
    ['10.0.0.5', '10.0.0.5'],
    [' 10.0.0.5/24 ', '10.0.0.5'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['[fe80::1%eth0]', 'fe80::1'],
    ['::ffff:192.168.0.1', '192.168.0.1'],
  ])('reads %s as %s', (input, ip) => {
    expect(parseIp(input)).toMatchObject({ ok: true, ip });
  });

  it.each(['', '300.1.1.1', '10.1', '010.0.0.1', 'host.example', '10.0.0.1/x', '1:2:3'])('rejects %j', (input) => {
    expect(parseIp(input).ok).toBe(false);
  });
});

describe('address space binding', () => {
  const spaces: AddressSpace[] = [
    { id: 1, name: 'Plant', rules: [{ subnetType: 'L2AndL3', vlanType: 'AnyVlanOrNoVlanTagged', subnets: [{ from: '10.0.0.0/8', to: null }] }] },
    { id: 2, name: 'Line 1', rules: [{ subnetType: 'L2AndL3', vlanType: 'AnyVlanOrNoVlanTagged', subnets: [{ from: '10.1.0.0/16', to: null }] }] },
    { id: 3, name: 'Cell A', rules: [{ subnetType: 'L2AndL3', vlanType: 'SpecificVlans', vlans: [{ from: 10, to: 10 }], subnets: [{ from: '192.168.0.1', to: '192.168.0.254' }] }] },
    { id: 4, name: 'Cell B', rules: [{ subnetType: 'L2AndL3', vlanType: 'SpecificVlans', vlans: [{ from: 20, to: 20 }], subnets: [{ from: '192.168.0.1', to: '192.168.0.254' }] }] },
    { id: 5, name: 'Switch mgmt', rules: [{ subnetType: 'L2Only', vlanType: 'SpecificVlans', vlans: [{ from: 99, to: 99 }] }] },
    { id: 6, name: 'v6', rules: [{ subnetType: 'L3Only', vlanType: 'AnyVlanOrNoVlanTagged', subnets: [{ from: '2001:db8::/32', to: null }] }] },
  ];
  const index = indexAddressSpaces(spaces);

  it('binds an IP to the most specific subnet', () => {
    expect(index.bindIp('10.2.3.4')).toEqual({ spaceId: 1 });
    expect(index.bindIp('10.1.3.4')).toEqual({ spaceId: 2 });
    expect(index.bindIp('172.16.0.1')).toEqual({ spaceId: null });
    expect(index.bindIp('2001:db8::1')).toEqual({ spaceId: 6 });
  });

  it('tells the same IP in two VLANs apart, and says when an unknown VLAN leaves it ambiguous', () => {
    expect(index.bindIp('192.168.0.20', 10)).toEqual({ spaceId: 3 });
    expect(index.bindIp('192.168.0.20', 20)).toEqual({ spaceId: 4 });
    expect(index.bindIp('192.168.0.20')).toEqual({ spaceId: null, ambiguous: [3, 4] });
    expect(index.bindIp('192.168.0.20', 30)).toEqual({ spaceId: null });
  });

  it('binds a MAC with its IP under an L2-and-L3 rule, else by an L2 rule for its VLAN', () => {
    expect(index.bindMac(['10.1.0.7'])).toEqual({ spaceId: 2 });
    expect(index.bindMac([], 99)).toEqual({ spaceId: 5 });
    expect(index.bindMac(['2001:db8::1'])).toEqual({ spaceId: null });
  });

  it('finds spaces by id or name', () => {
    expect(index.find(2)?.name).toBe('Line 1');
    expect(index.find('cell a')?.id).toBe(3);
    expect(index.find('4')?.id).toBe(4);
    expect(index.find('nope')).toBeUndefined();
  });
});
