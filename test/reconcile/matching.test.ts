import { describe, expect, it } from 'vitest';
import type { KicsDevice } from '../../src/model/kics.js';
import type { ConflictKind, PlanCounts, PlanValue } from '../../src/reconcile/plan-schema.js';
import type { StagedRecord } from '../../src/reconcile/types.js';
import { asset, config, device, itemsOf, plan, record } from './support.js';

const macA = '00:1b:1b:00:00:0a';
const macB = '00:1b:1b:00:00:0b';
const macC = '00:1b:1b:00:00:0c';

interface Case {
  title: string;
  records: StagedRecord[];
  devices: KicsDevice[];
  matchByName?: boolean;
  counts: Partial<PlanCounts>;
  conflict?: ConflictKind;
  check?: (p: PlanValue) => void;
}

const cases: Case[] = [
  {
    title: 'matched by (space, MAC) with nothing to change: unchanged, no item',
    records: [record('cmdb', 'a', asset('plc-1', [{ mac: macA, ips: ['10.1.0.5'] }], { category: 'Plc', influence: 'Normal' }))],
    // The device already carries the managed attributes the asset gives (Criticality from its influence).
    devices: [device(1, 'plc-1', [{ mac: macA, ips: ['10.1.0.5'], space: 1 }], { userAttributes: [{ name: 'Criticality', value: 'Normal' }] })],
    counts: { unchanged: 1 },
    check: (p) => expect(p.items).toEqual([]),
  },
  {
    title: 'matched by (space, IP) when the source has no MAC',
    records: [record('cmdb', 'a', asset('plc-renamed', [{ ips: ['10.1.0.5'] }]))],
    devices: [device(1, 'plc-1', [{ mac: macA, ips: ['10.1.0.5'], space: 1 }])],
    counts: { update: 1 },
    check: (p) => {
      const [update] = itemsOf(p, 'update');
      expect(update).toMatchObject({ kicsDeviceId: 1, matchKeys: [{ kind: 'ip', space: 1, value: '10.1.0.5' }], before: { name: 'plc-1' }, after: { name: 'plc-renamed' } });
    },
  },
  {
    title: 'new: in a source, not in KICS -> create with whatIfDuplicate Skip and no loss of process control settings',
    records: [record('cmdb', 'n', asset('hmi-9', [{ mac: macB, ips: ['10.1.0.9'] }], { category: 'HmiPanel', labels: ['line-2'] }))],
    devices: [],
    counts: { create: 1 },
    check: (p) => {
      const [create] = itemsOf(p, 'create');
      expect(create!.request).toEqual({
        whatIfDuplicate: 'Skip',
        allowProcessControlSettingsLoss: false,
        name: 'hmi-9',
        category: 'HmiPanel',
        labels: ['line-2'],
        status: 'Recognized',
        addressInformation: [{ networkInterfaceName: null, macAddress: macB, macAddressSpaceId: 1, ipAddresses: [{ ip: '10.1.0.9', addressSpaceId: 1 }] }],
      });
      expect(create!.addressSpaceId).toBe(1);
      expect(create!.status).toBe('pending');
    },
  },
  {
    title: 'unknown: in KICS, in no source',
    records: [],
    devices: [device(7, 'rogue', [{ mac: macC, ips: ['10.2.0.7'], space: 2 }])],
    counts: { unknown: 1 },
    check: (p) => expect(itemsOf(p, 'unknown')[0]).toMatchObject({ kicsDeviceId: 7, deviceName: 'rogue', addressSpaceId: 2, status: 'not_applicable' }),
  },
  {
    title: 'archived devices in no source are counted, not listed as unknown',
    records: [],
    devices: [device(7, 'old', [{ mac: macC, ips: ['10.2.0.7'], space: 2 }], { status: 'Archived' })],
    counts: { unknown: 0 },
    check: (p) => expect(p.header.summary.archivedUnmatched).toBe(1),
  },
  {
    title: 'the same IP in two address spaces is two devices, never a conflict (VLAN tells them apart)',
    records: [
      record('cmdb', 'a', asset('pump-a', [{ ips: ['192.168.0.5'], vlan: 10 }])),
      record('cmdb', 'b', asset('pump-b', [{ ips: ['192.168.0.5'], vlan: 20 }])),
    ],
    devices: [device(1, 'pump-a', [{ mac: macA, ips: ['192.168.0.5'], space: 1 }]), device(2, 'pump-b', [{ mac: macB, ips: ['192.168.0.5'], space: 2 }])],
    counts: { unchanged: 2, conflict: 0, create: 0, unknown: 0 },
  },
  {
    title: 'one asset matching several KICS devices',
    records: [record('cmdb', 'a', asset('twin', [{ mac: macA, ips: [] }, { mac: macB, ips: [] }]))],
    devices: [device(1, 'one', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }]), device(2, 'two', [{ mac: macB, ips: ['10.1.0.2'], space: 1 }])],
    counts: { conflict: 1, unknown: 0 },
    conflict: 'several_devices',
    check: (p) => {
      const c = itemsOf(p, 'conflict')[0]!;
      expect(c.conflict!.devices.map((d) => d.id)).toEqual([1, 2]);
      expect(c.conflict!.assets.map((a) => a.key)).toEqual(['a']);
      expect(c.reason).toMatch(/matches 2 KICS devices/);
    },
  },
  {
    title: 'several assets matching one device',
    records: [record('cmdb', 'a', asset('left', [{ mac: macA }])), record('cmdb', 'b', asset('right', [{ mac: macB }]))],
    devices: [device(1, 'dual', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }, { mac: macB, ips: ['10.1.0.2'], space: 1 }])],
    counts: { conflict: 1, update: 0, unknown: 0 },
    conflict: 'several_assets',
    check: (p) => {
      const c = itemsOf(p, 'conflict')[0]!;
      expect(c.kicsDeviceId).toBe(1);
      expect(c.conflict!.assets.map((a) => a.key).sort()).toEqual(['a', 'b']);
    },
  },
  {
    title: "MAC pointing at one device and IP at another (KICS would merge them): conflict, no change",
    records: [record('cmdb', 'a', asset('mixed', [{ mac: macA, ips: ['10.1.0.2'] }]))],
    devices: [device(1, 'by-mac', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }]), device(2, 'by-ip', [{ mac: macB, ips: ['10.1.0.2'], space: 1 }])],
    counts: { conflict: 1, update: 0, unknown: 0 },
    conflict: 'mac_ip_split',
    check: (p) => expect(itemsOf(p, 'conflict')[0]!.reason).toMatch(/MAC 00:1b:1b:00:00:0a .* is on device 1, but IP 10\.1\.0\.2 .* is on device 2/),
  },
  {
    title: 'sources disagreeing on an identity field (one IP, two MACs)',
    records: [record('cmdb', 'a', asset('x', [{ mac: macA, ips: ['10.1.0.5'] }])), record('csv', 'row-3', asset('x', [{ mac: macB, ips: ['10.1.0.5'] }]))],
    devices: [],
    counts: { conflict: 1, create: 0 },
    conflict: 'sources_disagree',
    check: (p) => expect(itemsOf(p, 'conflict')[0]!.reason).toMatch(/cmdb says 00:1b:1b:00:00:0a, csv says 00:1b:1b:00:00:0b/),
  },
  {
    title: 'sources agreeing on an asset are correlated into one (one create, both records behind it)',
    records: [record('cmdb', 'a', asset('x', [{ mac: macA, ips: ['10.1.0.5'] }])), record('csv', 'row-3', asset(null, [{ ips: ['10.1.0.5'] }], { description: 'from csv' }))],
    devices: [],
    counts: { create: 1, conflict: 0 },
    check: (p) => {
      const [create] = itemsOf(p, 'create');
      expect(create!.sourceKeys).toEqual([
        { source: 'cmdb', key: 'a' },
        { source: 'csv', key: 'row-3' },
      ]);
      expect(create!.request).toMatchObject({ name: 'x', description: 'from csv' });
    },
  },
  {
    title: 'one source listing the same MAC twice',
    records: [record('csv', 'row-1', asset('a', [{ mac: macA }])), record('csv', 'row-2', asset('b', [{ mac: macA }]))],
    devices: [device(1, 'a', [{ mac: macA, ips: [], space: null }])],
    counts: { conflict: 1, unknown: 0 },
    conflict: 'duplicate_identity',
    check: (p) => expect(itemsOf(p, 'conflict')[0]!.reason).toMatch(/csv records "row-1" and "row-2" both claim MAC 00:1b:1b:00:00:0a/),
  },
  {
    title: 'an IP in a subnet of two address spaces with no VLAN: conflict, never a guess',
    records: [record('cmdb', 'a', asset('pump', [{ ips: ['192.168.0.5'] }]))],
    devices: [device(1, 'pump-a', [{ ips: ['192.168.0.5'], space: 1 }])],
    counts: { conflict: 1, update: 0, create: 0, unknown: 0 },
    conflict: 'ambiguous_address_space',
    check: (p) => {
      const c = itemsOf(p, 'conflict')[0]!;
      expect(c.reason).toMatch(/IP 192\.168\.0\.5 binds to address spaces 1 and 2 equally and the source gives no VLAN/);
      expect(c.conflict!.devices.map((d) => d.id)).toEqual([1]);
    },
  },
  {
    title: 'a MAC given alone takes the one address space KICS knows it in',
    records: [record('cmdb', 'a', asset('plc-1', [{ mac: macA }], { description: 'from a MAC-only record' }))],
    devices: [device(1, 'plc-1', [{ mac: macA, ips: ['10.2.0.1'], space: 2 }])],
    counts: { update: 1, unknown: 0 },
    check: (p) => expect(itemsOf(p, 'update')[0]!.matchKeys).toEqual([{ kind: 'mac', space: 2, value: macA }]),
  },
  {
    title: 'a MAC given alone but known in two address spaces: conflict, never a guess',
    records: [record('cmdb', 'a', asset('x', [{ mac: macA }]))],
    devices: [device(1, 'in-a', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }]), device(2, 'in-b', [{ mac: macA, ips: ['10.2.0.1'], space: 2 }])],
    counts: { conflict: 1, unknown: 0, update: 0 },
    conflict: 'ambiguous_address_space',
    check: (p) => expect(itemsOf(p, 'conflict')[0]!.reason).toBe('MAC 00:1b:1b:00:00:0a is known in address spaces 1 and 2 and the source gives no IP or VLAN to tell which'),
  },
  {
    title: 'an address space the source names but KICS lacks',
    records: [record('cmdb', 'a', asset('pump', [{ ips: ['10.1.0.5'], addressSpace: 'Plant Z' }]))],
    devices: [],
    counts: { conflict: 1, create: 0 },
    conflict: 'unknown_address_space',
  },
  {
    title: 'the source may name the address space explicitly (by name, case-insensitive)',
    records: [record('cmdb', 'a', asset('pump', [{ ips: ['172.16.0.5'], addressSpace: 'plant b' }]))],
    devices: [device(1, 'pump', [{ ips: ['172.16.0.5'], space: 2 }])],
    counts: { unchanged: 1 },
  },
  {
    title: 'a create whose name another device holds',
    records: [record('cmdb', 'a', asset('taken', [{ mac: macB, ips: ['10.1.0.9'] }]))],
    devices: [device(1, 'taken', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }])],
    counts: { conflict: 1, create: 0, unknown: 0 },
    conflict: 'duplicate_name',
  },
  {
    title: 'a rename to a name another device holds',
    records: [record('cmdb', 'a', asset('taken', [{ mac: macA }], { description: 'also changed' }))],
    devices: [device(1, 'mine', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }]), device(2, 'taken', [{ mac: macB, ips: ['10.1.0.2'], space: 1 }])],
    counts: { conflict: 1, update: 0, unknown: 0 },
    conflict: 'duplicate_name',
    check: (p) => expect(itemsOf(p, 'conflict')[0]!.reason).toBe('name "taken" is already used by device 2'),
  },
  {
    title: 'two new assets with one name',
    records: [record('cmdb', 'a', asset('twin', [{ mac: macA, ips: ['10.1.0.1'] }])), record('csv', 'b', asset('twin', [{ mac: macB, ips: ['10.1.0.2'] }]))],
    devices: [],
    counts: { conflict: 2, create: 0 },
    conflict: 'duplicate_name',
    check: (p) => expect(itemsOf(p, 'conflict').map((i) => i.reason)).toEqual(['name "twin" is planned for several assets', 'name "twin" is planned for several assets']),
  },
  {
    title: 'a create with more interfaces than KICS allows',
    records: [record('cmdb', 'a', asset('big', Array.from({ length: 65 }, (_, i) => ({ mac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}` }))))],
    devices: [],
    counts: { conflict: 1, create: 0 },
    conflict: 'too_many_interfaces',
  },
  {
    title: 'a new asset without a name cannot be created',
    records: [record('cmdb', 'a', asset(null, [{ mac: macA }]))],
    devices: [],
    counts: { conflict: 1, create: 0 },
    conflict: 'incomplete_asset',
  },
  {
    title: 'exact name matches only when configured',
    records: [record('cmdb', 'a', asset('boiler', [], { description: 'by name' }))],
    devices: [device(1, 'boiler', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }])],
    matchByName: true,
    counts: { update: 1, unknown: 0 },
    check: (p) => expect(itemsOf(p, 'update')[0]!.matchKeys).toEqual([{ kind: 'name', space: null, value: 'boiler' }]),
  },
  {
    title: 'without matchByName a name alone matches nothing',
    records: [record('cmdb', 'a', asset('boiler', [], { description: 'by name' }))],
    devices: [device(1, 'boiler', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }])],
    counts: { update: 0, unknown: 1, conflict: 1 },
    conflict: 'incomplete_asset',
  },
  {
    title: 'an archived device with the same MAC as an active one does not compete with it',
    records: [record('cmdb', 'a', asset('plc', [{ mac: macA, ips: ['10.1.0.5'] }]))],
    devices: [device(1, 'plc-old', [{ mac: macA, ips: ['10.1.0.5'], space: 1 }], { status: 'Archived' }), device(2, 'plc', [{ mac: macA, ips: ['10.1.0.5'], space: 1 }])],
    counts: { unchanged: 1, conflict: 0 },
  },
];

describe('matching', () => {
  it.each(cases)('$title', (c) => {
    const p = plan({ records: c.records, devices: c.devices, config: config({ matchByName: c.matchByName ?? false }) });
    for (const [action, count] of Object.entries(c.counts)) expect(p.header.summary.counts[action as keyof PlanCounts], action).toBe(count);
    if (c.conflict) expect(itemsOf(p, 'conflict').map((i) => i.conflict?.kind)).toContain(c.conflict);
    for (const item of itemsOf(p, 'conflict')) {
      expect(item.status).toBe('not_applicable');
      expect(item.ops).toBeNull();
      expect(item.conflict!.reason).toBe(item.reason);
    }
    c.check?.(p);
  });

  it('numbers items from 1 in a stable order: creates, updates, uploads, archives, deletes, then what is only reported', () => {
    const p = plan({
      records: [
        record('cmdb', 'n2', asset('new-b', [{ mac: macB, ips: ['10.1.0.20'] }])),
        record('cmdb', 'n1', asset('new-a', [{ mac: macA, ips: ['10.1.0.10'] }])),
        record('cmdb', 'u', asset('renamed', [{ mac: macC }])),
      ],
      devices: [device(3, 'old', [{ mac: macC, ips: ['10.1.0.30'], space: 1 }]), device(4, 'rogue', [{ ips: ['10.2.0.4'], space: 2 }])],
    });
    expect(p.items.map((i) => [i.seq, i.action, i.deviceName])).toEqual([
      [1, 'create', 'new-a'],
      [2, 'create', 'new-b'],
      [3, 'update', 'old'],
      [4, 'unknown', 'rogue'],
    ]);
  });

  it('conflicted devices are never reported as unknown, and never changed', () => {
    const p = plan({
      records: [record('cmdb', 'a', asset('mixed', [{ mac: macA, ips: ['10.1.0.2'] }], { description: 'would change' }))],
      devices: [device(1, 'by-mac', [{ mac: macA, ips: ['10.1.0.1'], space: 1 }]), device(2, 'by-ip', [{ mac: macB, ips: ['10.1.0.2'], space: 1 }])],
    });
    expect(p.items.map((i) => i.action)).toEqual(['conflict']);
  });
});
