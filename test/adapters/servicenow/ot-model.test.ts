import { afterEach, describe, expect, it } from 'vitest';
import { ServicenowSource } from '../../../src/adapters/servicenow/source.js';
import { maxUrlBytes } from '../../../src/adapters/servicenow/table.js';
import { servicenowSourceSchema } from '../../../src/config/sources.js';
import { silentLogger } from '../../../src/log.js';
import type { ReadOptions, SourceRecord } from '../../../src/model/asset.js';
import { createNormalizer } from '../../../src/model/normalize.js';
import { stageSource } from '../../../src/sync/staging/source/stage.js';
import { describeEachEngine } from '../../support/db.js';
import { startServicenowServer, type ServicenowServer, type ServicenowServerOptions, type SnRecord } from '../../support/servicenow-server.js';
import { displayValueAllAnswer, ot, otTables, type OtTables } from '../../fixtures/servicenow/ot-model.js';

const logger = silentLogger();
const password = 'S3rvice-N0w!pass';

let servers: ServicenowServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(tables: OtTables = otTables(), extra: Partial<ServicenowServerOptions> = {}): Promise<ServicenowServer> {
  const s = await startServicenowServer({ user: 'kics.sync', password, tables: { ...tables }, ...extra });
  servers.push(s);
  return s;
}

function source(url: string, extra: Record<string, unknown> = {}): ServicenowSource {
  const config = servicenowSourceSchema.parse({ name: 'ot-cmdb', type: 'servicenow', url, user: 'kics.sync', password, ciClass: 'cmdb_ci_ot', pageSize: 2, retries: 0, ...extra });
  return new ServicenowSource(config, { normalizer: createNormalizer(), logger });
}

async function records(src: ServicenowSource, options: ReadOptions = { mode: 'full' }): Promise<SourceRecord[]> {
  const all: SourceRecord[] = [];
  for await (const batch of src.read(options)) all.push(...batch.records);
  return all;
}

const on = (sn: ServicenowServer, table: string): ServicenowServer['requests'] => sn.requests.filter((r) => r.path === `/api/now/table/${table}`);
const interfacesOf = (all: SourceRecord[], sysId: string): unknown => all.find((r) => r.externalKey === sysId)?.asset.interfaces;

describe('ServiceNow source on the OT class model', () => {
  it('stages an OT CI that has no MAC or IP on the record with each adapter as an interface, its MAC and its IPs', async () => {
    const sn = await server();
    const all = await records(source(sn.url));
    expect(all.map((r) => r.externalKey)).toEqual([ot.plc, ot.hmi, ot.rtu]);
    // The adapter named after its MAC gets no name; its own IP and its IP Address records, once each.
    expect(interfacesOf(all, ot.plc)).toEqual([
      { mac: '00:1b:1b:3a:00:01', ips: ['10.30.1.11', 'fd00:30::11'] },
      { mac: '00:1b:1b:3a:00:02', ips: ['192.168.30.11'], name: 'X2' },
    ]);
    expect(all.find((r) => r.externalKey === ot.plc)!.asset).toMatchObject({ name: 'PLC-LINE-3', hardwareVendor: 'Siemens', hardwareModel: 'SIMATIC S7-1517F', location: 'Plant B / Line 3' });
    expect(all.find((r) => r.externalKey === ot.plc)!.raw).toMatchObject({ cmdb_ci_network_adapter: [{ sys_id: ot.plcX1 }, { sys_id: ot.plcX2 }] });
  });

  it('keeps the MAC / IP a CI carries itself, merged with its adapters without repeating them', async () => {
    const sn = await server();
    const all = await records(source(sn.url));
    // The HMI's own MAC is its adapter's: one interface, the CI's IP and the adapter's IPs together.
    expect(interfacesOf(all, ot.hmi)).toEqual([{ mac: '00:1b:1b:3a:10:01', ips: ['10.30.1.21', '10.30.1.22'], name: 'eth0' }]);
    // No adapter records at all: the CI's own fields, as before.
    expect(interfacesOf(all, ot.rtu)).toEqual([{ mac: '00:80:63:3a:20:07', ips: ['10.30.2.7'] }]);
    // Neither the adapter of a CI outside the class nor an IP Address record on no adapter is read.
    expect(JSON.stringify(all)).not.toMatch(/10\.9\.0\.9|10\.30\.9\.9/);
  });

  it('reads adapters and IP addresses in bulk per page of CIs, by stored value', async () => {
    const sn = await server();
    await records(source(sn.url));
    const adapters = on(sn, 'cmdb_ci_network_adapter');
    // Two pages of CIs (pageSize 2): one adapter query for each (the first one's three adapters on two
    // pages of its own), one IP query for the page whose CIs have adapters.
    const asked = (table: string): (string | null)[][] => on(sn, table).map((r) => [r.query.get('sysparm_query'), r.query.get('sysparm_offset')]);
    expect(asked('cmdb_ci_network_adapter')).toEqual([
      [`cmdb_ciIN${ot.plc},${ot.hmi}^ORDERBYsys_id`, '0'],
      [`cmdb_ciIN${ot.plc},${ot.hmi}^ORDERBYsys_id`, '2'],
      [`cmdb_ciIN${ot.rtu}^ORDERBYsys_id`, '0'],
    ]);
    expect(adapters[0]!.query.get('sysparm_display_value')).toBe('false');
    expect(asked('cmdb_ci_ip_address')).toEqual([
      [`nicIN${ot.plcX1},${ot.plcX2},${ot.hmiEth0}^ORDERBYsys_id`, '0'],
      [`nicIN${ot.plcX1},${ot.plcX2},${ot.hmiEth0}^ORDERBYsys_id`, '2'],
    ]);
  });

  it('reads the class models’ tables and fields by default', () => {
    const config = servicenowSourceSchema.parse({ name: 'x', type: 'servicenow', url: 'https://x.service-now.com', token: 't' });
    expect(config.networkAdapters).toEqual({ enabled: true, table: 'cmdb_ci_network_adapter', ciField: 'cmdb_ci', macField: 'mac_address', ipField: 'ip_address', nameField: 'name' });
    expect(config.ipAddresses).toEqual({ enabled: true, table: 'cmdb_ci_ip_address', adapterField: 'nic', ipField: 'ip_address' });
    expect(() => servicenowSourceSchema.parse({ name: 'x', type: 'servicenow', url: 'https://x.service-now.com', token: 't', ipAddresses: { adapterField: 'nic^ORsys_id' } })).toThrow(/a ServiceNow field name/);
  });

  it('reads other tables and fields when configured, and only the CI when adapters are switched off', async () => {
    const tables = otTables();
    const renamed = { u_ot_nic: tables.cmdb_ci_network_adapter.map(({ cmdb_ci, ...rest }) => ({ ...rest, u_device: cmdb_ci! })), cmdb_ci_ip_address: tables.cmdb_ci_ip_address, cmdb_ci_ot: tables.cmdb_ci_ot };
    const sn = await startServicenowServer({ user: 'kics.sync', password, tables: renamed });
    servers.push(sn);
    const all = await records(source(sn.url, { networkAdapters: { table: 'u_ot_nic', ciField: 'u_device' }, ipAddresses: { enabled: false } }));
    expect(interfacesOf(all, ot.plc)).toEqual([
      { mac: '00:1b:1b:3a:00:01', ips: ['10.30.1.11'] },
      { mac: '00:1b:1b:3a:00:02', ips: [], name: 'X2' },
    ]);
    const off = await records(source(sn.url, { networkAdapters: { enabled: false } }));
    expect(interfacesOf(off, ot.plc)).toEqual([]);
  });

  it('leaves out an adapter with an invalid MAC, with a note, and stages the CI with the rest', async () => {
    const tables = otTables();
    tables.cmdb_ci_network_adapter[1]!.mac_address = 'not-a-mac';
    const sn = await server(tables);
    const plc = (await records(source(sn.url))).find((r) => r.externalKey === ot.plc)!;
    expect(plc.asset.interfaces).toEqual([{ mac: '00:1b:1b:3a:00:01', ips: ['10.30.1.11', 'fd00:30::11'] }]);
    expect(plc.notes).toEqual([expect.stringMatching(new RegExp(`^cmdb_ci_network_adapter ${ot.plcX2} \\(X2\\): mac_address: "not-a-mac" is not a MAC address.*; adapter left out$`))]);
  });

  it('leaves out an IP Address record that holds no host address (a subnet), with a note, and keeps its adapter', async () => {
    const tables = otTables();
    tables.cmdb_ci_ip_address.find((r) => r.sys_id === ot.ipPlcX2)!.ip_address = '192.168.30.0/26';
    const sn = await server(tables);
    const plc = (await records(source(sn.url))).find((r) => r.externalKey === ot.plc)!;
    expect(plc.asset.interfaces).toEqual([
      { mac: '00:1b:1b:3a:00:01', ips: ['10.30.1.11', 'fd00:30::11'] },
      { mac: '00:1b:1b:3a:00:02', ips: [], name: 'X2' },
    ]);
    expect(plc.notes).toEqual([expect.stringMatching(new RegExp(`^cmdb_ci_network_adapter ${ot.plcX2} \\(X2\\): IP: .*192\\.168\\.30\\.0/26.*; that IP left out$`))]);
  });

  it('keeps every request URL under the bound while reading 700 CIs a page of 1,000 at a time', async () => {
    const hex = (prefix: string, i: number): string => `${prefix}${String(i).padStart(31, '0')}`;
    const cis: SnRecord[] = [];
    const adapters: SnRecord[] = [];
    const ips: SnRecord[] = [];
    for (let i = 0; i < 700; i += 1) {
      cis.push({ sys_id: hex('a', i), name: `plc-${i}`, sys_class_name: { value: 'cmdb_ci_ot_plc', display_value: 'PLC' }, sys_updated_on: '2025-02-03 08:00:00', mac_address: '', ip_address: '' });
      const mac = `00:1b:1b:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
      adapters.push({ sys_id: hex('b', i), name: mac, mac_address: mac, ip_address: '', cmdb_ci: { value: hex('a', i), display_value: `plc-${i}`, table: 'cmdb_ci' } });
      ips.push({ sys_id: hex('c', i), ip_address: `10.40.${Math.floor(i / 200)}.${(i % 200) + 1}`, nic: { value: hex('b', i), display_value: mac, table: 'cmdb_ci_network_adapter' } });
    }
    const sn = await server({ cmdb_ci_ot: cis, cmdb_ci_network_adapter: adapters, cmdb_ci_ip_address: ips });
    const all = await records(source(sn.url, { pageSize: 1000 }));
    expect(all).toHaveLength(700);
    expect(all.every((r) => r.asset.interfaces.length === 1 && r.asset.interfaces[0]!.mac && r.asset.interfaces[0]!.ips.length === 1)).toBe(true);
    const longest = Math.max(...sn.requests.map((r) => r.url.length));
    expect(longest).toBeLessThanOrEqual(maxUrlBytes);
    expect(on(sn, 'cmdb_ci_network_adapter').length).toBeGreaterThan(1);
  });

  it('follows pages that row ACLs left short to the end, with or without a Link header', async () => {
    const tables = otTables();
    // The PLC (first row of the first page) is hidden from the integration user.
    const hidden = (table: string, record: SnRecord): boolean => table === 'cmdb_ci_ot' && record.sys_id === ot.plc;
    for (const linkHeader of [true, false]) {
      const sn = await server(tables, { hidden, linkHeader });
      const all = await records(source(sn.url));
      expect(all.map((r) => r.externalKey)).toEqual([ot.hmi, ot.rtu]);
      // The instance counts the hidden row: the second page starts a full limit on.
      expect(on(sn, 'cmdb_ci_ot').map((r) => r.query.get('sysparm_offset'))).toEqual(['0', '2']);
    }
  });

  it('checks every table a read uses, and names the one the user may not read', async () => {
    const sn = await server();
    await source(sn.url).check();
    expect(sn.requests.map((r) => r.path)).toEqual(['/api/now/table/cmdb_ci_ot', '/api/now/table/cmdb_ci_network_adapter', '/api/now/table/cmdb_ci_ip_address']);
    // 403 for an ACL refusal is documented ("REST API HTTP response codes"); the body's wording is a guess.
    sn.fail({ status: 403, path: '/api/now/table/cmdb_ci_ip_address', body: JSON.stringify({ error: { message: 'Operation Failed', detail: 'ACL Exception: read denied' }, status: 'failure' }) });
    await expect(source(sn.url).check()).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:\d+\/api\/now\/table\/cmdb_ci_ip_address\?.* answered 403 Forbidden: Operation Failed \(ACL Exception: read denied\)/);
  });

  it('renders sysparm_display_value=all as the Table API does (the stand-in against the recorded shape)', async () => {
    const sn = await server();
    const response = await fetch(`${sn.url}/api/now/table/cmdb_ci_ot?sysparm_display_value=all&sysparm_fields=manufacturer,install_status,name&sysparm_limit=1`, {
      headers: { authorization: `Basic ${Buffer.from(`kics.sync:${password}`).toString('base64')}` },
    });
    expect(await response.json()).toEqual(displayValueAllAnswer(sn.url));
  });
});

describeEachEngine('ServiceNow OT model staging', (t) => {
  /** The staged records of the source, as the reconciler will load them. */
  const staged = async (): Promise<unknown[]> => t().db.query(`SELECT external_key, normalized FROM source_record WHERE missing_since IS NULL ORDER BY external_key`);

  it('stages the same records incrementally as a full read after adapter and IP address edits and moves', async () => {
    const tables = otTables();
    const sn = await server(tables);
    const first = await stageSource(t().db, source(sn.url), { mode: 'incremental', logger });
    expect(first).toMatchObject({ mode: 'full', valid: 3 });
    const before = await staged();

    // Edits that move only the adapter's / IP record's sys_updated_on, never a CI's.
    const later = '2099-01-01 00:00:00';
    const adapter = (id: string): SnRecord => tables.cmdb_ci_network_adapter.find((a) => a.sys_id === id)!;
    const ipRecord = (id: string): SnRecord => tables.cmdb_ci_ip_address.find((r) => r.sys_id === id)!;
    // The PLC's adapter X2 gets another MAC.
    Object.assign(adapter(ot.plcX2), { mac_address: '00:1b:1b:3a:00:22', sys_updated_on: later });
    // The HMI's second IP changes.
    Object.assign(ipRecord(ot.ipHmi2), { ip_address: '10.30.1.23', name: '10.30.1.23', sys_updated_on: later });
    // The PLC's IPv6 address moves to the HMI's adapter.
    Object.assign(ipRecord(ot.ipPlcV6), { nic: { value: ot.hmiEth0, display_value: 'eth0', table: 'cmdb_ci_network_adapter' }, sys_updated_on: later });
    // The PLC's adapter X1 (with its IP record) moves to the RTU.
    Object.assign(adapter(ot.plcX1), { cmdb_ci: { value: ot.rtu, display_value: 'RTU-PUMP-7', table: 'cmdb_ci' }, sys_updated_on: later });

    const second = await stageSource(t().db, source(sn.url), { mode: 'incremental', logger });
    expect(second).toMatchObject({ mode: 'incremental', changed: 3, missing: 0 });
    const incremental = await staged();
    expect(incremental).not.toEqual(before);

    const full = await stageSource(t().db, source(sn.url), { mode: 'full', logger });
    expect(full).toMatchObject({ mode: 'full', changed: 0, new: 0 });
    expect(await staged()).toEqual(incremental);
    const interfaces = (rows: unknown[], key: string): unknown => (rows as { external_key: string; normalized: { interfaces: unknown } }[]).find((r) => r.external_key === key)?.normalized.interfaces;
    expect(interfaces(incremental, ot.plc)).toEqual([{ mac: '00:1b:1b:3a:00:22', ips: ['192.168.30.11'], name: 'X2' }]);
    expect(interfaces(incremental, ot.hmi)).toEqual([{ mac: '00:1b:1b:3a:10:01', ips: ['10.30.1.21', '10.30.1.23', 'fd00:30::11'], name: 'eth0' }]);
    expect(interfaces(incremental, ot.rtu)).toEqual([
      { mac: '00:1b:1b:3a:00:01', ips: ['10.30.1.11'] },
      { mac: '00:80:63:3a:20:07', ips: ['10.30.2.7'] },
    ]);
  });

  it('one NUL in one CI costs that CI only: the others are staged with their adapters, the reject names the CI and the field', async () => {
    const tables = otTables();
    tables.cmdb_ci_ot.find((ci) => ci.sys_id === ot.hmi)!.short_description = 'panel\u0000 by the filler';
    const sn = await server(tables);
    const summary = await stageSource(t().db, source(sn.url), { mode: 'full', logger });
    expect(summary).toMatchObject({ read: 3, rejected: 1, valid: 2 });
    const keys = ((await staged()) as { external_key: string }[]).map((r) => r.external_key);
    expect(keys).toEqual([ot.plc, ot.rtu].sort());
    const rejects = await t().db.query<{ location: string; reason: string }>(`SELECT location, reason FROM source_reject ORDER BY id`);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]!.location).toContain(ot.hmi);
    expect(rejects[0]!.reason).toMatch(/^description: NUL character \(U\+0000\)/);
  });
});
