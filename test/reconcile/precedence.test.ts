import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { ConfigFileInfo } from '../../src/reconcile/types.js';
import { asset, config, device, itemsOf, now, plan, record } from './support.js';

const mac = '00:1b:1b:00:00:01';
const daysAgo = (n: number): Date => new Date(now.getTime() - n * 86_400_000);
const kicsDevice = (fields: Parameters<typeof device>[3] = {}) => device(1, 'plc-1', [{ mac, ips: ['10.1.0.1'], space: 1 }], fields);

describe('precedence', () => {
  it('sources own what describes the asset, in config order; a later source fills what earlier ones leave out', () => {
    const p = plan({
      records: [record('cmdb', 'a', asset('from-cmdb', [{ mac }], { category: 'Server' })), record('csv', 'r1', asset('from-csv', [{ mac }], { description: 'csv text', category: 'Rpa' }))],
      devices: [kicsDevice()],
    });
    const [update] = itemsOf(p, 'update');
    expect(update!.after).toEqual({ name: 'from-cmdb', description: 'csv text', category: 'Server' });
    expect(update!.before).toEqual({ name: 'plc-1', description: null, category: 'Plc' });
    expect(update!.reason).toBe('name from cmdb, description from csv, category from cmdb');
  });

  it('KICS keeps what it discovers; a source value is used only where KICS has none', () => {
    const withOs = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }], { os: 'VxWorks', softwareVersion: '2.1' }))], devices: [kicsDevice({ os: 'Linux' })] });
    expect(itemsOf(withOs, 'update')[0]!.after).toEqual({ softwareVersion: '2.1' });
  });

  it('a configured list overrides the default per field, and a source not listed cannot write the field', () => {
    const p = plan({
      records: [record('cmdb', 'a', asset('from-cmdb', [{ mac }], { os: 'VxWorks' })), record('csv', 'r', asset('from-csv', [{ mac }]))],
      devices: [kicsDevice({ os: 'Linux' })],
      config: config({ precedence: { os: ['cmdb', 'kics'], name: ['csv'] } }),
    });
    expect(itemsOf(p, 'update')[0]!.after).toEqual({ name: 'from-csv', os: 'VxWorks' });
    expect(p.header.options.precedence.name).toEqual(['csv']);
    expect(p.header.options.precedence.hardwareModel).toEqual(['cmdb', 'csv']);
    expect(p.header.options.precedence.isRouter).toEqual(['kics', 'cmdb', 'csv']);
  });

  it('null clears a nullable field; null for a field KICS requires is no opinion', () => {
    const p = plan({ records: [record('cmdb', 'a', asset(null, [{ mac }], { name: null, description: null, category: null }))], devices: [kicsDevice({ description: 'old text' })] });
    const [update] = itemsOf(p, 'update');
    expect(update!.after).toEqual({ description: null });
    expect(update!.ops).toEqual([
      { op: 'Test', path: '/description', value: 'old text' },
      { op: 'Replace', path: '/description', value: null },
    ]);
  });

  it('refuses an unknown field or source with the config path in the message', () => {
    expect(() => plan({ records: [], devices: [], config: config({ precedence: { colour: ['cmdb'] } }) })).toThrow(ConfigError);
    expect(() => plan({ records: [], devices: [], config: config({ precedence: { colour: ['cmdb'] } }) })).toThrow(/reconcile\.precedence\.colour: unknown field/);
    expect(() => plan({ records: [], devices: [], config: config({ precedence: { name: ['kics', 'netbox'] } }) })).toThrow(/reconcile\.precedence\.name\[1\]: "netbox" is not a configured, enabled source/);
  });
});

describe('staleness', () => {
  const sources = [{ name: 'cmdb', staleAfterDays: 7 }, { name: 'csv' }];

  it('a source that has not confirmed a record within its window loses its precedence for it', () => {
    const p = plan({
      sources,
      records: [record('cmdb', 'a', asset('from-cmdb', [{ mac }]), daysAgo(10)), record('csv', 'r', asset('from-csv', [{ mac }]), daysAgo(400))],
      devices: [kicsDevice()],
    });
    expect(itemsOf(p, 'update')[0]!.after).toEqual({ name: 'from-csv' });
  });

  it('within the window it keeps it', () => {
    const p = plan({ sources, records: [record('cmdb', 'a', asset('from-cmdb', [{ mac }]), daysAgo(6)), record('csv', 'r', asset('from-csv', [{ mac }]))], devices: [kicsDevice()] });
    expect(itemsOf(p, 'update')[0]!.after).toEqual({ name: 'from-cmdb' });
  });

  it('an asset only stale records describe is reported stale and not touched (nor created)', () => {
    const p = plan({
      sources,
      records: [record('cmdb', 'a', asset('from-cmdb', [{ mac }]), daysAgo(10)), record('cmdb', 'b', asset('new-one', [{ mac: '00:1b:1b:00:00:02', ips: ['10.1.0.2'] }]), null)],
      devices: [kicsDevice()],
    });
    expect(p.items.map((i) => [i.action, i.kicsDeviceId, i.status])).toEqual([
      ['stale', null, 'not_applicable'],
      ['stale', 1, 'not_applicable'],
    ]);
    expect(itemsOf(p, 'stale').find((i) => i.kicsDeviceId === 1)!.reason).toBe(`not touched: cmdb "a" last confirmed ${daysAgo(10).toISOString()}, more than 7 days ago`);
    expect(p.header.summary.counts.unknown).toBe(0);
  });
});

describe('labels and user attributes', () => {
  it('labels are only added by default, appended with Add /labels/- under a Test guard', () => {
    const p = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }], { labels: ['line-1', 'safety'] }))], devices: [kicsDevice({ labels: ['kics-tag', 'line-1'] })] });
    const [update] = itemsOf(p, 'update');
    expect(update!.after).toEqual({ labels: ['kics-tag', 'line-1', 'safety'] });
    expect(update!.ops).toEqual([
      { op: 'Test', path: '/labels', value: ['kics-tag', 'line-1'] },
      { op: 'Add', path: '/labels/-', value: 'safety' },
    ]);
  });

  it('labels: replace gives the device exactly the sources\' labels', () => {
    const p = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }], { labels: ['line-1'] }))], devices: [kicsDevice({ labels: ['kics-tag', 'line-1'] })], config: config({ labels: 'replace' }) });
    expect(itemsOf(p, 'update')[0]!.ops).toEqual([
      { op: 'Test', path: '/labels', value: ['kics-tag', 'line-1'] },
      { op: 'Replace', path: '/labels', value: ['line-1'] },
    ]);
  });

  it('only managed user attributes are set and removed; all others stay exactly as they are', () => {
    const before = [
      { name: 'Zone', value: '3' },
      { name: 'Owner', value: 'bob' },
      { name: 'Criticality', value: 'high' },
      { name: 'Legacy', value: 'x' },
    ];
    const p = plan({
      records: [record('cmdb', 'a', asset('plc-1', [{ mac }], { userAttributes: { Owner: 'alice', Location: 'Hall 2', Zone: '9' } }))],
      devices: [kicsDevice({ userAttributes: before })],
      config: config({ managedAttributes: ['Owner', 'Location', 'Criticality'] }),
    });
    const [update] = itemsOf(p, 'update');
    expect(update!.after).toEqual({
      userAttributes: [
        { name: 'Zone', value: '3' },
        { name: 'Owner', value: 'alice' },
        { name: 'Legacy', value: 'x' },
        { name: 'Location', value: 'Hall 2' },
      ],
    });
    expect(update!.ops).toEqual([
      { op: 'Test', path: '/userAttributes', value: before },
      { op: 'Replace', path: '/userAttributes', value: update!.after!.userAttributes },
    ]);
  });

  it('a managed attribute is left alone when none of the sources that own it describes the asset', () => {
    const before = [{ name: 'Owner', value: 'set by hand' }];
    const p = plan({
      records: [record('csv', 'r', asset('plc-1', [{ mac }], { description: 'from csv' }))],
      devices: [kicsDevice({ userAttributes: before })],
      config: config({ managedAttributes: ['Owner'], precedence: { userAttributes: ['cmdb'] } }),
    });
    expect(itemsOf(p, 'update')[0]!.after).toEqual({ description: 'from csv' });
    const owned = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }]))], devices: [kicsDevice({ userAttributes: before })], config: config({ managedAttributes: ['Owner'], precedence: { userAttributes: ['cmdb'] } }) });
    expect(itemsOf(owned, 'update')[0]!.after).toEqual({ userAttributes: [] });
  });

  it('vendor from the OUI is the lowest precedence, used only when no source and not KICS has one', () => {
    const vendorFromMac = (m: string) => (m.startsWith('00:1b:1b') ? 'Siemens AG' : undefined);
    const none = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }]))], devices: [kicsDevice()], vendorFromMac });
    expect(itemsOf(none, 'update')[0]!.after).toEqual({ hardwareVendor: 'Siemens AG' });
    expect(itemsOf(none, 'update')[0]!.reason).toBe('hardwareVendor from oui');
    const fromSource = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }], { hardwareVendor: 'Schneider' }))], devices: [kicsDevice()], vendorFromMac });
    expect(itemsOf(fromSource, 'update')[0]!.after).toEqual({ hardwareVendor: 'Schneider' });
    const kicsHasOne = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }]))], devices: [kicsDevice({ hardwareVendor: 'Rockwell' })], vendorFromMac });
    expect(kicsHasOne.items).toEqual([]);
    const off = plan({ records: [record('cmdb', 'a', asset('plc-1', [{ mac }]))], devices: [kicsDevice()], vendorFromMac, config: config({ vendorFromOui: false }) });
    expect(off.items).toEqual([]);
  });
});

describe('addresses', () => {
  it('adds the IPs and interfaces the sources know and the device lacks, never removing what KICS has', () => {
    const p = plan({
      records: [record('cmdb', 'a', asset('plc-1', [{ mac, ips: ['10.1.0.1', '10.1.0.99'] }, { mac: '00:1b:1b:00:00:77', ips: ['10.1.0.77'] }]))],
      devices: [device(1, 'plc-1', [{ mac, ips: ['10.1.0.1'], space: 1 }, { mac: '00:1b:1b:00:00:55', ips: ['10.1.0.55'], space: 1 }])],
    });
    const [update] = itemsOf(p, 'update');
    const after = update!.after!.addressInformation as { macAddress: string; ipAddresses: { ip: string }[] }[];
    expect(after.map((i) => [i.macAddress, i.ipAddresses.map((a) => a.ip)])).toEqual([
      [mac, ['10.1.0.1', '10.1.0.99']],
      ['00:1b:1b:00:00:55', ['10.1.0.55']],
      ['00:1b:1b:00:00:77', ['10.1.0.77']],
    ]);
    expect(update!.ops!.map((o) => [o.op, o.path])).toEqual([
      ['Test', '/addressInformation'],
      ['Replace', '/addressInformation'],
    ]);
  });

  it('never takes a device past 64 interfaces: the new interfaces are left out and the reason says so', () => {
    const ifaces = Array.from({ length: 64 }, (_, i) => ({ mac: `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`, ips: [], space: 1 }));
    const p = plan({
      records: [record('cmdb', 'a', asset('plc-1', [{ mac: ifaces[0]!.mac, ips: ['10.1.0.1'] }, { mac: '00:1b:1b:00:00:99', ips: ['10.1.0.99'] }], { description: 'x' }))],
      devices: [device(1, 'plc-1', ifaces.map((i, n) => (n === 0 ? { ...i, ips: ['10.1.0.1'] } : i)))],
    });
    const [update] = itemsOf(p, 'update');
    expect(Object.keys(update!.after!)).toEqual(['description']);
    expect(update!.reason).toMatch(/1 interface\(s\) not added: the device has 64 and KICS allows at most 64/);
  });
});

describe('retired assets', () => {
  const records = [record('cmdb', 'a', asset('plc-1', [{ mac }], { retired: true }))];

  it('are left alone unless archiving is enabled', () => {
    const p = plan({ records, devices: [kicsDevice()] });
    expect(p.items).toEqual([]);
    expect(p.header.summary.counts.unchanged).toBe(1);
  });

  it('are archived when reconcile.archiveRetired is on', () => {
    const p = plan({ records, devices: [kicsDevice()], config: config({ archiveRetired: true }) });
    expect(itemsOf(p, 'archive')[0]).toMatchObject({
      before: { status: 'Recognized' },
      after: { status: 'Archived' },
      ops: [
        { op: 'Test', path: '/status', value: 'Recognized' },
        { op: 'Replace', path: '/status', value: 'Archived' },
      ],
    });
  });

  it('are deleted only when reconcile.allowDelete is on, and the reason says so loudly', () => {
    const p = plan({ records, devices: [kicsDevice()], config: config({ archiveRetired: true, allowDelete: true }) });
    expect(p.items.map((i) => i.action)).toEqual(['delete']);
    expect(itemsOf(p, 'delete')[0]!.reason).toMatch(/DELETED from KICS/);
  });

  it('are never created', () => {
    const p = plan({ records, devices: [] });
    expect(p.items).toEqual([]);
    expect(p.header.summary.notCreated).toBe(1);
  });
});

describe('industrial configuration uploads', () => {
  const file = (hash: string): ConfigFileInfo => ({ ok: true, path: 'plc-1.xml', resolvedPath: '/cfg/plc-1.xml', contentHash: hash, size: 10 });
  const records = [record('cmdb', 'a', asset('plc-1', [{ mac, ips: ['10.1.0.1'] }], { industrialConfig: 'plc-1.xml' }))];

  it('uploads when the content differs from the last upload, in Merge mode by default', () => {
    const p = plan({ records, devices: [kicsDevice()], configFiles: new Map([['plc-1.xml', file('h2')]]), lastUploads: new Map([[1, { path: 'plc-1.xml', contentHash: 'h1' }]]) });
    expect(itemsOf(p, 'upload_config')[0]).toMatchObject({
      kicsDeviceId: 1,
      status: 'pending',
      request: { mode: 'Merge', path: 'plc-1.xml', resolvedPath: '/cfg/plc-1.xml', contentHash: 'h2', size: 10 },
      before: { industrialConfig: { path: 'plc-1.xml', contentHash: 'h1' } },
    });
  });

  it('does not upload the same content again', () => {
    const p = plan({ records, devices: [kicsDevice()], configFiles: new Map([['plc-1.xml', file('h1')]]), lastUploads: new Map([[1, { path: 'plc-1.xml', contentHash: 'h1' }]]) });
    expect(p.items).toEqual([]);
  });

  it('reports a rejected file as a conflict with its reason', () => {
    const reason = '"../etc/passwd" resolves outside reconcile.industrialConfig.root';
    const p = plan({ records, devices: [kicsDevice()], configFiles: new Map([['plc-1.xml', { ok: false, path: 'plc-1.xml', reason }]]) });
    expect(itemsOf(p, 'conflict')[0]!.conflict).toMatchObject({ kind: 'config_file_rejected', reason });
  });

  it('uploads to a device this plan creates after its create (createSeq)', () => {
    const p = plan({ records, devices: [], configFiles: new Map([['plc-1.xml', file('h1')]]) });
    expect(p.items.map((i) => i.action)).toEqual(['create', 'upload_config']);
    expect(p.items[1]!.request).toMatchObject({ createSeq: p.items[0]!.seq });
  });
});

describe('scope', () => {
  const records = [
    record('cmdb', 'a', asset('alice-plc', [{ mac, ips: ['10.1.0.1'] }], { owner: 'Alice', description: 'new' })),
    record('csv', 'b', asset('bob-plc', [{ mac: '00:1b:1b:00:00:02', ips: ['10.2.0.2'] }], { owner: 'bob' })),
  ];
  const devices = [kicsDevice(), device(9, 'rogue', [{ ips: ['10.2.0.9'], space: 2 }])];

  it('--owner keeps only that owner\'s assets (case-insensitive), and no unknown devices', () => {
    const p = plan({ records, devices, scope: { owner: 'alice' } });
    expect(p.items.map((i) => [i.action, i.deviceName])).toEqual([['update', 'plc-1']]);
    expect(p.header.scope).toEqual({ owner: 'alice' });
  });

  it('--source keeps the assets that source describes', () => {
    expect(plan({ records, devices, scope: { sources: ['csv'] } }).items.map((i) => i.deviceName)).toEqual(['bob-plc']);
  });

  it('--address-space and --device', () => {
    expect(plan({ records, devices, scope: { addressSpaceId: 2 } }).items.map((i) => [i.action, i.deviceName])).toEqual([
      ['create', 'bob-plc'],
      ['unknown', 'rogue'],
    ]);
    expect(plan({ records, devices, scope: { deviceId: 9 } }).items.map((i) => i.deviceName)).toEqual(['rogue']);
  });
});
