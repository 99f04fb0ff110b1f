import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CanonicalAsset } from '../../src/model/asset.js';
import { assetTypes } from '../../src/model/kics.js';
import {
  MappingTableError,
  assetContentHash,
  canonicalAsset,
  canonicalJson,
  checkFieldLimits,
  createNormalizer,
  insertInterfaces,
  isRetiredStatus,
  mappingKey,
  normalizeInterface,
  parseBoolean,
  parseVlan,
  stableStringify,
  unionSorted,
} from '../../src/model/normalize.js';
import { ouiVendor } from '../../src/model/oui.js';

const require = createRequire(import.meta.url);

describe('category mapping', () => {
  const normalizer = createNormalizer({ categoryMap: { 'Dosing Skid': 'Plc', 'Toaster-X': 'other' } });

  it.each([
    ['PLC', 'Plc'],
    ['plc', 'Plc'],
    ['Programmable Logic Controller', 'Plc'],
    ['ScadaHmi', 'ScadaHmi'],
    ['SCADA server', 'ScadaHmi'],
    ['HMI', 'HmiPanel'],
    ['Operator-Panel', 'HmiPanel'],
    ['engineering_workstation', 'EngineeringStation'],
    ['EWS', 'EngineeringStation'],
    ['Switch', 'Switch'],
    ['core-switch-01', 'Switch'],
    ['Access Point', 'WiFi'],
    ['protection relay', 'Rpa'],
    ['cmdb_ci_ip_switch', 'Switch'],
    ['cmdb_ci_win_server', 'Server'],
    ['UPS', 'UPS'],
    ['dosing skid', 'Plc'],
    ['TOASTER X', 'Other'],
    ['network-device', 'NetworkDevice'],
  ])('maps %j to %s', (input, expected) => {
    expect(normalizer.category(input)).toEqual({ ok: true, value: expected });
  });

  it('knows every KICS category by its own name', () => {
    for (const type of assetTypes) expect(normalizer.category(type)).toEqual({ ok: true, value: type });
  });

  it('refuses an unknown category with a reason that says how to map it', () => {
    const result = normalizer.category('Toaster');
    expect(result).toEqual({ ok: false, reason: 'unknown category "Toaster": not a KICS category and not in reconcile.categoryMap' });
  });

  it('refuses a configured table that maps to something KICS does not have, naming every bad entry', () => {
    const build = (): unknown => createNormalizer({ categoryMap: { skid: 'Skid' }, influenceMap: { p1: 'Critical' } });
    expect(build).toThrow(MappingTableError);
    expect(build).toThrow(/reconcile\.categoryMap: "skid" maps to "Skid", which is not one of ScadaHmi, .*; reconcile\.influenceMap: "p1" maps to "Critical"/);
  });
});

describe('influence and vendor mapping', () => {
  const normalizer = createNormalizer({ influenceMap: { P1: 'BusinessCritical', '3': 'normal' }, vendorMap: { 'Acme Controls': 'ACME' } });

  it.each([
    ['Business Critical', 'BusinessCritical'],
    ['high', 'BusinessCritical'],
    ['1 - most critical', 'BusinessCritical'],
    ['Medium', 'Important'],
    ['low', 'Normal'],
    ['p1', 'BusinessCritical'],
    ['3', 'Normal'],
  ])('maps criticality %j to %s', (input, expected) => {
    expect(normalizer.influence(input)).toEqual({ ok: true, value: expected });
  });

  it('refuses a number nobody mapped (plants disagree on whether 1 is high)', () => {
    expect(normalizer.influence('1').ok).toBe(false);
  });

  it.each([
    ['Siemens AG', 'Siemens'],
    ['SIEMENS', 'Siemens'],
    ['Allen-Bradley', 'Rockwell Automation'],
    ['Schneider Electric SE', 'Schneider Electric'],
    ['Phoenix Contact GmbH & Co. KG', 'Phoenix Contact'],
    ['acme controls', 'ACME'],
    ['  Obscure   Vendor Ltd ', 'Obscure Vendor Ltd'],
  ])('writes vendor %j as %j', (input, expected) => {
    expect(normalizer.vendor(input)).toBe(expected);
  });

  it('compares keys without case or punctuation', () => {
    expect(mappingKey('Engineering-Station_01')).toBe('engineering station 01');
    expect(mappingKey('  B&R  ')).toBe('b&r');
  });
});

describe('values', () => {
  it.each([
    ['10', 10],
    [' 4095 ', 4095],
    ['0', 0],
  ])('reads VLAN %j', (input, vlan) => {
    expect(parseVlan(input)).toEqual({ ok: true, value: vlan });
  });
  it.each(['4096', '-1', 'ten', '1.5'])('refuses VLAN %j', (input) => {
    expect(parseVlan(input).ok).toBe(false);
  });
  it('reads yes / no and lifecycle words', () => {
    expect(parseBoolean('Yes')).toEqual({ ok: true, value: true });
    expect(parseBoolean('0')).toEqual({ ok: true, value: false });
    expect(parseBoolean('maybe').ok).toBe(false);
    expect(isRetiredStatus('Decommissioned')).toBe(true);
    expect(isRetiredStatus('In service')).toBe(false);
  });
});

describe('normalizeInterface', () => {
  it('canonicalises MAC and IPs and keeps VLAN and address space', () => {
    expect(normalizeInterface({ name: 'eth0', mac: '001B.1BAA.BBCC', ips: ['10.0.0.5/24', '2001:DB8::1'], vlan: 10, addressSpace: 'Cell A' })).toEqual({
      interface: { name: 'eth0', mac: '00:1b:1b:aa:bb:cc', ips: ['10.0.0.5', '2001:db8::1'], vlan: 10, addressSpace: 'Cell A' },
      errors: [],
      notes: [],
    });
  });

  it('separates invalid values (errors) from valid ones that cannot identify a device (notes)', () => {
    const result = normalizeInterface({ mac: '01:00:5e:00:00:fb', ips: ['10.0.0.300', '224.0.0.1', '10.0.0.7'] });
    expect(result.errors).toEqual([{ field: 'ip', reason: '"10.0.0.300" is not an IP address' }]);
    expect(result.notes).toEqual(['01:00:5e:00:00:fb: multicast MAC address, not used as identity', '224.0.0.1: multicast IP address, not used as identity']);
    expect(result.interface).toEqual({ mac: null, ips: ['10.0.0.7'] });
  });

  it('gives no interface when nothing usable is left', () => {
    expect(normalizeInterface({ mac: 'ff:ff:ff:ff:ff:ff', ips: [] }).interface).toBeNull();
  });
});

describe('KICS field limits', () => {
  it('reports over-long fields and too many interfaces, and nothing for a normal asset', () => {
    const ok: CanonicalAsset = { name: 'PLC-1', interfaces: [{ mac: '00:1b:1b:aa:bb:cc', ips: [] }] };
    expect(checkFieldLimits(ok)).toEqual([]);
    const bad: CanonicalAsset = {
      name: 'x'.repeat(8193),
      description: 'd'.repeat(65537),
      userAttributes: { Owner: 'o'.repeat(65537) },
      interfaces: Array.from({ length: 65 }, (_, i) => ({ mac: null, ips: [`10.0.0.${i + 1}`] })),
    };
    expect(checkFieldLimits(bad)).toEqual([
      { field: 'name', reason: "8193 characters, more than KICS's limit of 8192" },
      { field: 'description', reason: "65537 characters, more than KICS's limit of 65536" },
      { field: 'userAttributes.Owner', reason: "65537 characters, more than KICS's limit of 65536" },
      { field: 'interfaces', reason: "65 interfaces, more than KICS's limit of 64 per device" },
    ]);
  });
});

describe('canonical form and content hash', () => {
  const asset: CanonicalAsset = {
    name: 'PLC-1',
    labels: ['b', 'a', 'b'],
    userAttributes: { Zone: 'Z1', Area: 'A' },
    interfaces: [
      { name: 'eth1', mac: '00:1b:1b:aa:bb:cd', ips: ['10.0.0.20', '10.0.0.3', '10.0.0.20'] },
      { name: 'eth0', mac: '00:1b:1b:aa:bb:cc', ips: [] },
    ],
  };

  it('sorts and de-duplicates labels and IPs (numerically) and orders interfaces', () => {
    expect(canonicalAsset(asset)).toEqual({
      name: 'PLC-1',
      labels: ['a', 'b'],
      userAttributes: { Zone: 'Z1', Area: 'A' },
      interfaces: [
        { name: 'eth0', mac: '00:1b:1b:aa:bb:cc', ips: [] },
        { name: 'eth1', mac: '00:1b:1b:aa:bb:cd', ips: ['10.0.0.3', '10.0.0.20'] },
      ],
    });
  });

  it('gives the same hash whatever the order of keys, labels, IPs and interfaces (property)', () => {
    const ip = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `10.1.${b}.${a}`);
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
    const iface = fc.record({ name: fc.string({ maxLength: 8 }), mac, ips: fc.uniqueArray(ip, { maxLength: 4 }) });
    const assetArb = fc.record({
      name: fc.string({ maxLength: 20 }),
      labels: fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 5 }),
      userAttributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 }),
      interfaces: fc.uniqueArray(iface, { maxLength: 4, selector: (i) => i.mac }),
    });
    fc.assert(
      fc.property(assetArb, fc.infiniteStream(fc.nat()), (a, seeds) => {
        const shuffle = <T>(list: T[]): T[] => list.map((v) => [seeds.next().value, v] as const).sort((x, y) => x[0] - y[0]).map(([, v]) => v);
        const reordered: CanonicalAsset = {
          interfaces: shuffle(a.interfaces.map((i) => ({ ips: shuffle(i.ips), mac: i.mac, name: i.name }))),
          userAttributes: Object.fromEntries(shuffle(Object.entries(a.userAttributes))),
          labels: shuffle(a.labels),
          name: a.name,
        };
        expect(assetContentHash(canonicalAsset(reordered))).toBe(assetContentHash(canonicalAsset(a)));
        expect(canonicalAsset(canonicalAsset(a))).toEqual(canonicalAsset(a));
      }),
    );
  });

  it('gives the same hash under every locale (interfaces ordered by code, not by a language\'s collation)', () => {
    // Interfaces that differ by name only: Swedish sorts "ä" after "z", Turkish (like English) sorts it
    // with "a"; Turkish sorts dotless "ı" before "i", English after it.
    const asset: CanonicalAsset = { name: 'PLC-7', interfaces: ['z', 'ä', 'i', 'ı', 'B', 'a'].map((name) => ({ name, mac: null, ips: [] })) };
    const inLocale = (locale: string): { locale: string; json: string; hash: string } => {
      const env = { ...process.env, LANG: locale, LC_ALL: locale };
      const out = execFileSync(process.execPath, ['--import', require.resolve('tsx'), path.join(import.meta.dirname, '..', 'support', 'asset-hash.ts'), JSON.stringify(asset)], { env, encoding: 'utf8' });
      return JSON.parse(out) as { locale: string; json: string; hash: string };
    };
    const swedish = inLocale('sv_SE.UTF-8');
    const turkish = inLocale('tr_TR.UTF-8');
    expect([swedish.locale, turkish.locale]).toEqual(['sv-SE', 'tr-TR']);
    expect(turkish.hash).toBe(swedish.hash);
    expect((JSON.parse(swedish.json) as CanonicalAsset).interfaces.map((i) => i.name)).toEqual(['B', 'a', 'i', 'z', 'ä', 'ı']);
    expect(assetContentHash(canonicalAsset(asset))).toBe(swedish.hash);
  });

  it('leaves an asset already in canonical form unchanged, and its plain JSON is the stable JSON (property)', () => {
    const ip = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `10.2.${b}.${a}`);
    const iface = fc.record({ name: fc.string({ maxLength: 4 }), mac: fc.constantFrom('00:1b:1b:00:00:01', '00:1b:1b:00:00:02', null), ips: fc.array(ip, { maxLength: 3 }), vlan: fc.integer({ min: 0, max: 9 }) }, { requiredKeys: ['ips'] });
    // Names that are array indices ("0", "12") come first in any object whatever the order they were added
    // in, so such an object is never in sorted order: canonicalJson() writes it with stableStringify().
    const attributeName = fc.string({ minLength: 1, maxLength: 3 }).filter((k) => !/^(0|[1-9]\d*)$/.test(k));
    const assetArb = fc.record(
      { owner: fc.string({ maxLength: 5 }), name: fc.string({ maxLength: 5 }), labels: fc.array(fc.string({ maxLength: 3 }), { maxLength: 4 }), userAttributes: fc.dictionary(attributeName, fc.string({ maxLength: 3 }), { maxKeys: 3 }), interfaces: fc.array(iface, { maxLength: 3 }) },
      { requiredKeys: ['interfaces'] },
    );
    fc.assert(
      fc.property(assetArb, (a) => {
        const c = canonicalAsset(a);
        expect(canonicalAsset(c)).toEqual(c);
        expect(JSON.stringify(c)).toBe(stableStringify(c));
      }),
    );
  });

  it('merges the rows of one asset into canonical form: what canonicalAsset() makes of the concatenation (property)', () => {
    const ip = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `10.3.${b}.${a}`);
    const iface = fc.record({ name: fc.constantFrom('eth0', 'eth1', 'X1'), mac: fc.constantFrom('00:1b:1b:00:00:01', '00:1b:1b:00:00:02', 'f8:bc:12:00:00:01'), ips: fc.uniqueArray(ip, { maxLength: 2 }) }, { requiredKeys: ['ips'] });
    const part = fc.record({ labels: fc.uniqueArray(fc.constantFrom('line-1', 'line-2', 'safety', 'spare', 'Z', 'ä'), { maxLength: 4 }), interfaces: fc.array(iface, { maxLength: 3 }) });
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (rows) => {
        const rowsCanonical = rows.map((r) => canonicalAsset({ name: 'plc', labels: r.labels, interfaces: r.interfaces }));
        const merged = structuredClone(rowsCanonical[0]!);
        for (const row of rowsCanonical.slice(1)) {
          if (row.labels) merged.labels = merged.labels ? unionSorted(merged.labels, row.labels) : row.labels;
          insertInterfaces(merged.interfaces, structuredClone(row.interfaces));
        }
        const expected = canonicalAsset({ name: 'plc', labels: rowsCanonical.flatMap((r) => r.labels ?? []), interfaces: rowsCanonical.flatMap((r) => r.interfaces) });
        expect(merged).toEqual(expected);
        expect(canonicalAsset(merged)).toEqual(merged);
      }),
    );
  });

  it('brings an asset that breaks any rule of the canonical form into that form', () => {
    const canonical = canonicalAsset(asset);
    const nic = canonical.interfaces[1]!;
    const broken: CanonicalAsset[] = [
      { ...canonical, labels: ['a', 'a', 'b'] },
      { ...canonical, labels: ['b', 'a'] },
      { ...canonical, interfaces: [canonical.interfaces[0]!, { ...nic, ips: ['10.0.0.20', '10.0.0.3'] }] },
      { ...canonical, interfaces: [canonical.interfaces[0]!, { name: nic.name!, mac: nic.mac!, ips: nic.ips }] },
      { ...canonical, interfaces: [canonical.interfaces[1]!, canonical.interfaces[0]!] },
      { name: canonical.name!, interfaces: canonical.interfaces, labels: canonical.labels!, userAttributes: canonical.userAttributes! },
      { ...canonical, description: undefined },
      { ...canonical, userAttributes: { Zone: 'Z1', Area: 'A' } },
    ];
    for (const [i, variant] of broken.entries()) {
      expect(JSON.stringify(canonicalAsset(variant)), `variant ${i}`).toBe(JSON.stringify(canonical));
    }
    const withEmpty = canonicalAsset({ ...canonical, userAttributes: {} });
    expect(withEmpty.userAttributes).toBeUndefined();
  });

  it('writes stable JSON byte for byte as the engine always has (stored content hashes stay valid) (property)', () => {
    // The stable JSON hashes were computed with: JSON.stringify with every object's keys sorted by code unit.
    const sortKeys = (_key: string, value: unknown): unknown =>
      value === null || typeof value !== 'object' || Array.isArray(value) ? value : Object.fromEntries(Object.keys(value).sort().map((k) => [k, (value as Record<string, unknown>)[k]]));
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(stableStringify(value)).toBe(JSON.stringify(value, sortKeys));
      }),
    );
    expect(stableStringify({ '10': 1, b: { '2': null, a: 'x' }, '1': [{ z: 1, y: undefined }] })).toBe('{"1":[{"z":1}],"10":1,"b":{"2":null,"a":"x"}}');
    // A "__proto__" key read from JSON is data like any other key, not lost.
    expect(stableStringify(JSON.parse('{"z":1,"__proto__":{"a":1}}'))).toBe('{"__proto__":{"a":1},"z":1}');
  });

  it('changes when any field changes, and tells empty (null) from absent', () => {
    const base = canonicalAsset(asset);
    const hash = assetContentHash(base);
    expect(assetContentHash({ ...base, name: 'PLC-2' })).not.toBe(hash);
    expect(assetContentHash({ ...base, description: null })).not.toBe(hash);
    expect(assetContentHash({ ...base, description: undefined })).toBe(hash);
    expect(assetContentHash({ ...base, interfaces: [{ ...base.interfaces[0]!, vlan: 5 }, base.interfaces[1]!] })).not.toBe(hash);
  });

  it('writes the stored JSON of an asset exactly as the sorted-key serialiser does, every field set or not (property)', () => {
    const text = fc.option(fc.string({ maxLength: 12 }), { nil: undefined });
    const nullable = fc.option(fc.string({ maxLength: 12 }), { nil: null });
    const iface = fc.record(
      {
        name: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
        mac: fc.option(fc.constantFrom('00:1b:1b:00:00:01', 'aa:bb:cc:dd:ee:ff'), { nil: null }),
        ips: fc.array(fc.constantFrom('10.0.0.1', '10.0.0.2', 'fe80::1'), { maxLength: 3 }),
        vlan: fc.option(fc.integer({ min: 0, max: 4095 }), { nil: null }),
        addressSpace: fc.option(fc.oneof(fc.nat(), fc.string({ maxLength: 6 })), { nil: null }),
      },
      { requiredKeys: ['ips'] },
    );
    const assetArb = fc.record(
      {
        name: nullable,
        description: nullable,
        category: fc.option(fc.constantFrom(...assetTypes), { nil: null }),
        os: text,
        hardwareVendor: text,
        hardwareModel: nullable,
        hardwareVersion: text,
        softwareVendor: text,
        softwareModel: text,
        softwareVersion: nullable,
        networkName: text,
        isRouter: fc.option(fc.boolean(), { nil: null }),
        influence: fc.option(fc.constantFrom('High', 'Medium', 'Low'), { nil: null }),
        labels: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
        owner: nullable,
        location: nullable,
        userAttributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 }),
        interfaces: fc.array(iface, { maxLength: 3 }),
        retired: fc.boolean(),
        industrialConfig: nullable,
      },
      { requiredKeys: ['interfaces'] },
    );
    fc.assert(
      fc.property(assetArb, (a) => {
        const asset = canonicalAsset(a as CanonicalAsset);
        expect(canonicalJson(asset).json).toBe(stableStringify(asset));
      }),
      { numRuns: 500 },
    );
    // A field the writer does not know still lands in the JSON (through the sorted-key serialiser).
    const extra = { interfaces: [], name: 'x', zone: 'A' } as unknown as CanonicalAsset;
    expect(canonicalJson(extra).json).toBe('{"interfaces":[],"name":"x","zone":"A"}');
  });

  it('serialises with sorted keys at every depth', () => {
    expect(stableStringify({ b: 1, a: { d: [2, { z: 1, y: null }], c: undefined } })).toBe('{"a":{"d":[2,{"y":null,"z":1}]},"b":1}');
  });
});

describe('ouiVendor', () => {
  it('names the registered vendor of a MAC block', () => {
    expect(ouiVendor('00:1b:1b:aa:bb:cc')).toBe('Siemens AG');
    expect(ouiVendor('00:80:f4:01:02:03')).toBe('TELEMECANIQUE ELECTRIQUE');
  });

  it('prefers the most specific assignment (MA-S, MA-M) over the registry block that holds it', () => {
    expect(ouiVendor('00:1b:c5:00:00:10')).toBe('Converging Systems Inc.');
    expect(ouiVendor('00:1b:c5:00:10:10')).toBe('OpenRB.com, Direct SIA');
    expect(ouiVendor('10:06:48:01:02:03')).toBe('FLEXTRONICS TECHNOLOGIES (INDIA) PVT LTD');
  });

  it('has no vendor for locally administered or unassigned addresses', () => {
    expect(ouiVendor('02:00:00:aa:bb:cc')).toBeUndefined();
    expect(ouiVendor('not a mac')).toBeUndefined();
  });
});
