import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { NetboxSource } from '../../../src/adapters/netbox/source.js';
import { netboxSourceSchema } from '../../../src/config/sources.js';
import { createLogger, silentLogger, type Logger } from '../../../src/log.js';
import type { AssetInterface, ReadOptions, SourceRecord } from '../../../src/model/asset.js';
import { createNormalizer } from '../../../src/model/normalize.js';
import { stageSource } from '../../../src/sync/staging/source/stage.js';
import { describeEachEngine } from '../../support/db.js';
import { generateNetbox, startNetboxServer, type Json, type NetboxData, type NetboxServer } from '../../support/netbox-server.js';

/**
 * The NetBox source against answers recorded per NetBox release (test/fixtures/netbox/netbox-<version>.json,
 * each built from that tag's serializers, named in its `_source`), served by the stand-in with that
 * release's filter behaviour.
 */
const token = '0123456789abcdef0123456789abcdef01234567';
const versions = ['3.7', '4.1', '4.4.3', '4.4.4', '4.5'] as const;
type Version = (typeof versions)[number];
const recorded = (version: Version): NetboxData => JSON.parse(readFileSync(path.resolve(import.meta.dirname, `../../fixtures/netbox/netbox-${version}.json`), 'utf8')) as NetboxData;
const macObjects = (version: Version): boolean => !['3.7', '4.1'].includes(version);

let servers: NetboxServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(data: NetboxData, version?: string): Promise<NetboxServer> {
  const s = await startNetboxServer({ token, data, ...(version ? { version } : {}) });
  servers.push(s);
  return s;
}

function source(url: string, extra: Record<string, unknown> = {}, logger: Logger = silentLogger()): NetboxSource {
  return new NetboxSource(netboxSourceSchema.parse({ name: 'netbox', type: 'netbox', url, token, retries: 0, ...extra }), { normalizer: createNormalizer(), logger });
}

async function readAll(src: NetboxSource, options: ReadOptions = { mode: 'full' }): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  for await (const batch of src.read(options)) records.push(...batch.records);
  return records;
}

const interfaces = (records: SourceRecord[]): Record<string, AssetInterface[]> => Object.fromEntries(records.map((r) => [r.externalKey, r.asset.interfaces]));

describe('NetBox source on each NetBox release', () => {
  it.each(versions)('NetBox %s: every device with every MAC (primary or not) and every IP on its interfaces', async (version) => {
    const nb = await serve(recorded(version));
    const records = await readAll(source(nb.url));
    const x1 = { name: 'X1 P1', mac: '00:1b:1b:20:01:01', ips: ['10.20.1.11'] };
    const x2 = { name: 'X2 P1', mac: '00:1b:1b:20:02:01', ips: ['192.168.20.11'] };
    expect(interfaces(records)).toEqual({
      // From 4.2, X1 P1 also has a MAC object added after the migration (not primary), and X2 P1's only
      // MAC object is not designated primary (its `mac_address` is null).
      '201': macObjects(version) ? [x1, { name: 'X1 P1', mac: '00:1b:1b:20:01:99', ips: [] }, x2] : [x1, x2],
      '202': [{ name: 'eth0', mac: '00:0e:8c:20:11:01', ips: ['10.20.1.21'] }],
    });
    // The address on a virtual machine's interface is not a device's.
    expect(JSON.stringify(records)).not.toContain('10.20.9.5');
  });

  it.each(versions)('NetBox %s: no request sends assigned_object_type, which 4.0 to 4.4.3 refuse as dcim.interface', async (version) => {
    const nb = await serve(recorded(version));
    await readAll(source(nb.url));
    await readAll(source(nb.url), { mode: 'incremental', since: '2020-01-01T00:00:00Z' });
    expect(nb.requests.filter((r) => r.query.has('assigned_object_type'))).toEqual([]);
    expect(nb.requests.every((r) => r.path !== '/api/dcim/mac-addresses/' || macObjects(version))).toBe(true);
  });

  it('the stand-in answers the assigned_object_type filter as each release does', async () => {
    const answer = async (version: Version, value: string): Promise<{ status: number; body: Json }> => {
      const nb = await serve(recorded(version));
      const res = await fetch(`${nb.url}/api/ipam/ip-addresses/?assigned_object_type=${value}`, { headers: { authorization: `Token ${token}` } });
      return { status: res.status, body: (await res.json()) as Json };
    };
    expect(await answer('3.7', 'dcim.interface')).toMatchObject({ status: 200, body: { count: 4 } });
    expect(await answer('4.1', 'dcim.interface')).toEqual({ status: 400, body: { assigned_object_type: ['Select a valid choice. That choice is not one of the available choices.'] } });
    expect(await answer('4.4.3', 'dcim.interface')).toMatchObject({ status: 400 });
    expect(await answer('4.4.4', 'dcim.interface')).toMatchObject({ status: 200, body: { count: 3 } });
    expect(await answer('4.5', 'virtualization.vminterface')).toMatchObject({ status: 200, body: { count: 1 } });
  });

  it('logs the NetBox release it reads, once per read', async () => {
    const nb = await serve(recorded('4.4.3'));
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(...chunk.toString().trim().split('\n')), done()) });
    await readAll(source(nb.url, {}, createLogger({ level: 'info', pretty: false, destination: sink })));
    const said = lines.map((l) => JSON.parse(l) as Json).filter((l) => l.netboxVersion !== undefined);
    expect(said).toMatchObject([{ msg: 'NetBox 4.4.3', netboxVersion: '4.4.3', source: 'netbox' }]);
  });

  it('a filter NetBox does not know is ignored, as NetBox ignores unknown query parameters, not refused', async () => {
    const nb = await serve(recorded('4.5'));
    const records = await readAll(source(nb.url, { filters: { no_such_filter: 'x' } }));
    expect(records.map((r) => r.externalKey)).toEqual(['201', '202']);
  });

  it('keeps every request line under 4,000 bytes: 700 devices at pageSize 1000', async () => {
    const nb = await serve(generateNetbox(700), '4.4.4');
    const src = source(nb.url, { pageSize: 1000 });
    const records = await readAll(src);
    expect(records).toHaveLength(700);
    expect(records[699]!.asset.interfaces).toEqual([{ name: 'eth0', mac: '00:1b:1b:00:02:bc', ips: ['10.0.2.188'] }]);
    for (const d of nb.data.devices) d.last_updated = '2030-01-01T00:00:00.000000Z';
    expect(await readAll(src, { mode: 'incremental', since: '2029-01-01T00:00:00Z' })).toHaveLength(700);
    expect(nb.requests.filter((r) => r.query.getAll('device_id').length + r.query.getAll('id').length > 250).length).toBeGreaterThan(0);
    expect(Math.max(...nb.requests.map((r) => r.line))).toBeLessThan(4000);
  });

  it('the stand-in refuses a request line over 4,094 bytes, as gunicorn does', async () => {
    const nb = await serve(recorded('4.5'));
    const ids = Array.from({ length: 400 }, (_, i) => `device_id=${1000 + i}`).join('&');
    const res = await fetch(`${nb.url}/api/dcim/interfaces/?${ids}`, { headers: { authorization: `Token ${token}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Request Line is too large');
  });

  it('sends a v2 token as Bearer on 4.5 and reports a refused one as a refused token', async () => {
    const v2 = 'nbt_4f2c1a9e7b3d.X9kq2m7Vw1rT5yZ8pL3nB6cD0fG4hJ7k';
    const nb = await startNetboxServer({ token: v2, data: recorded('4.5') });
    servers.push(nb);
    expect(await readAll(source(nb.url, { token: v2 }))).toHaveLength(2);
    expect(new Set(nb.requests.map((r) => r.authorization))).toEqual(new Set([`Bearer ${v2}`]));
    await expect(readAll(source(nb.url, { token: 'nbt_4f2c1a9e7b3d.wrong' }))).rejects.toMatchObject({
      code: 'SOURCE_AUTH_FAILED',
      message: expect.stringMatching(/^netbox: token refused by NetBox: GET http:\/\/127\.0\.0\.1:\d+\/api\/status\/: answered 403 Forbidden: Invalid token/) as unknown,
    });
  });
});

// ------------------------------------------------------------------------------- incremental reads

const later = '2030-01-01T00:00:00.000000Z';

/** The changes NetBox makes, each saving only the object it says (fact: a MAC edit or an IP move leaves the device and interfaces alone). */
function editMac(data: NetboxData, version: Version): void {
  if (macObjects(version)) {
    const mac = data.macAddresses!.find((m) => m.id === 4011)!;
    Object.assign(mac, { mac_address: '00:0E:8C:20:11:02', display: '00:0E:8C:20:11:02', last_updated: later });
  } else {
    Object.assign(data.interfaces.find((i) => i.id === 2011)!, { mac_address: '00:0E:8C:20:11:02', last_updated: later });
  }
}

function moveIp(data: NetboxData): void {
  const to = data.interfaces.find((i) => i.id === 2002)!;
  const ip = data.ipAddresses.find((a) => a.id === 3011)!;
  Object.assign(ip, { assigned_object_id: 2002, assigned_object: { ...(ip.assigned_object as Json), id: 2002, url: to.url, display: to.name, name: to.name, device: to.device }, last_updated: later });
}

function addMac(data: NetboxData): void {
  const nic = data.interfaces.find((i) => i.id === 2011)!;
  const first = data.macAddresses!.find((m) => m.id === 4011)!;
  data.macAddresses!.push({ ...first, id: 4012, url: 'http://netbox.example/api/dcim/mac-addresses/4012/', mac_address: '00:0E:8C:20:11:77', display: '00:0E:8C:20:11:77', assigned_object: first.assigned_object, created: later, last_updated: later });
  expect(nic.last_updated).not.toBe(later);
}

describeEachEngine('NetBox incremental staging', (t) => {
  const staged = async (): Promise<{ key: string; normalized: unknown }[]> => t().db.query(`SELECT external_key AS key, normalized FROM source_record ORDER BY external_key`);

  it.each(['4.1', '4.5'] as const)('NetBox %s: an incremental read after a MAC edit, an IP move and an added MAC stages what a full read stages', async (version) => {
    const nb = await serve(recorded(version));
    const logger = silentLogger();
    await stageSource(t().db, source(nb.url), { mode: 'full', logger });

    // The IP alone moves: its old holder is known only from what was staged.
    moveIp(nb.data);
    expect(await stageSource(t().db, source(nb.url), { mode: 'incremental', logger })).toMatchObject({ mode: 'incremental', read: 2, changed: 2 });
    editMac(nb.data, version);
    if (macObjects(version)) addMac(nb.data);
    expect(await stageSource(t().db, source(nb.url), { mode: 'incremental', logger })).toMatchObject({ mode: 'incremental', changed: 1 });
    const afterIncremental = await staged();
    expect(afterIncremental.map((r) => [r.key, (r.normalized as { interfaces: AssetInterface[] }).interfaces])).toEqual([
      ['201', expect.arrayContaining([{ name: 'X2 P1', mac: '00:1b:1b:20:02:01', ips: ['10.20.1.21', '192.168.20.11'] }])],
      // 10.20.1.21 left eth0 for device 201: the old holder lost it.
      ['202', [{ name: 'eth0', mac: '00:0e:8c:20:11:02', ips: [] }, ...(macObjects(version) ? [{ name: 'eth0', mac: '00:0e:8c:20:11:77', ips: [] }] : [])]],
    ]);

    const full = await stageSource(t().db, source(nb.url), { mode: 'full', logger });
    expect(full).toMatchObject({ read: 2, new: 0, changed: 0, missing: 0 });
    expect(await staged()).toEqual(afterIncremental);
  });

  it('one NUL in one device costs that device only: the rest is staged, the reject names the device and the field; a NUL in a field kept only as raw is cleaned', async () => {
    const data = recorded('4.5');
    // As NetBox's API would answer it: its models store what PostgreSQL takes, but a name holding
    // a NUL reaches NetBox through imports on some backends; the source must survive it either way.
    data.devices.find((d) => d.id === 202)!.name = 'HMI\u0000-2';
    data.devices.find((d) => d.id === 201)!.custom_fields = { import_note: 'left by \u0000 an import' };
    const nb = await serve(data);
    const summary = await stageSource(t().db, source(nb.url), { mode: 'full', logger: silentLogger() });
    expect(summary).toMatchObject({ read: 2, rejected: 1 });
    // 201 is staged; 202 is not staged from this read (an earlier read's record of it, if any, is kept as it was).
    const rows = await staged();
    expect(rows.map((r) => r.key)).toContain('201');
    expect(JSON.stringify(rows)).not.toContain('HMI\\u0000');
    const rejects = await t().db.query<{ location: string; reason: string }>(`SELECT location, reason FROM source_reject ORDER BY id`);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]!.location).toContain('202');
    expect(rejects[0]!.reason).toMatch(/^name: NUL character \(U\+0000\)/);
    const [raw] = await t().db.query<{ note: string }>(`SELECT raw->'custom_fields'->>'import_note' AS note FROM source_record WHERE external_key = '201'`);
    expect(raw!.note).toBe('left by \uFFFD an import');
  });
});
