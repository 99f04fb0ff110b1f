import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NetboxSource } from '../../../src/adapters/netbox/source.js';
import { SourceError } from '../../../src/adapters/source-error.js';
import { netboxSourceSchema } from '../../../src/config/sources.js';
import { silentLogger } from '../../../src/log.js';
import type { ReadOptions, RecordReject, SourceBatch, SourceRecord } from '../../../src/model/asset.js';
import { createNormalizer } from '../../../src/model/normalize.js';
import { createCa, createServerCertificate } from '../../../src/simulator/kics/certificates.js';
import { stageSource } from '../../../src/sync/staging/source/stage.js';
import { describeEachEngine } from '../../support/db.js';
import { generateNetbox, startNetboxServer, type Json, type NetboxData, type NetboxServer } from '../../support/netbox-server.js';

const token = '0123456789abcdef0123456789abcdef01234567';
const fixture = (): NetboxData => JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../fixtures/netbox/plant.json'), 'utf8')) as NetboxData;
const logger = silentLogger();

let servers: NetboxServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(data: NetboxData = fixture(), publicOrigin?: string): Promise<NetboxServer> {
  const s = await startNetboxServer({ token, data, ...(publicOrigin ? { publicOrigin } : {}) });
  servers.push(s);
  return s;
}

function source(url: string, extra: Record<string, unknown> = {}): NetboxSource {
  const config = netboxSourceSchema.parse({
    name: 'netbox',
    type: 'netbox',
    url,
    token,
    pageSize: 2,
    retries: 3,
    addressSpaces: { 'ot-vrf': 1, 'cell-a': 'Cell A', 'plant-b': 3 },
    customFields: { asset_owner: 'Owner', commissioned: 'Commissioned' },
    criticalityField: 'criticality',
    ...extra,
  });
  return new NetboxSource(config, { normalizer: createNormalizer(), logger, minRetryDelayMs: 5, maxRetryDelayMs: 20 });
}

async function readAll(src: NetboxSource, options: ReadOptions = { mode: 'full' }): Promise<{ records: SourceRecord[]; rejects: RecordReject[]; batches: SourceBatch[] }> {
  const batches: SourceBatch[] = [];
  for await (const batch of src.read(options)) batches.push(batch);
  return { records: batches.flatMap((b) => b.records), rejects: batches.flatMap((b) => b.rejects), batches };
}

async function failure(promise: Promise<unknown>): Promise<SourceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SourceError);
    return error as SourceError;
  }
  throw new Error('no error');
}

describe('NetBox source', () => {
  it('reads devices with their interfaces and IP addresses, normalised', async () => {
    const nb = await server();
    const { records, rejects } = await readAll(source(nb.url));
    expect(records.map((r) => r.externalKey)).toEqual(['101', '102', '103', '104']);
    const byKey = new Map(records.map((r) => [r.externalKey, r]));
    expect(byKey.get('101')!.asset).toEqual({
      name: 'PLC-BOILER-1',
      hardwareModel: 'S7-1516F',
      hardwareVendor: 'Siemens',
      owner: 'Utilities',
      location: 'plant-a',
      category: 'Plc',
      labels: ['ot', 'boiler'],
      retired: false,
      userAttributes: { Owner: 'J. Meier', Commissioned: '2019-04-01' },
      influence: 'BusinessCritical',
      networkName: 'plc-boiler-1.ot.example',
      interfaces: [
        { name: 'X1 P1', mac: '00:1b:1b:aa:01:01', ips: ['10.10.1.11'], vlan: 10, addressSpace: 1 },
        { name: 'X2 P1', mac: '00:1b:1b:aa:01:02', ips: ['192.168.0.11'], addressSpace: 'Cell A' },
        { name: 'X2 P1', mac: null, ips: ['10.10.9.11'], addressSpace: 1 },
      ],
    });
    expect(byKey.get('102')!.asset).toMatchObject({ category: 'HmiPanel', influence: 'Important', interfaces: [{ mac: '00:1b:1b:aa:02:01', ips: ['10.10.1.21'], addressSpace: 1 }] });
    expect(byKey.get('102')!.asset.userAttributes).toBeUndefined();
    expect(byKey.get('103')!.asset).toMatchObject({ category: 'Switch', location: 'plant-b', interfaces: [{ name: 'mgmt', mac: '00:80:63:aa:03:01', ips: ['10.99.0.2'], vlan: 99, addressSpace: 3 }] });
    expect(byKey.get('104')!.asset).toMatchObject({ retired: true, hardwareVendor: 'Rockwell Automation' });
    expect(rejects).toMatchObject([{ location: 'netbox device 105', reason: 'missing identity: no name and no interface with a MAC or IP', raw: { id: 105 } }]);
    expect(rejects).toHaveLength(1);
  });

  it('keeps the raw device small and free of config contexts (which can hold credentials)', async () => {
    const nb = await server();
    const { records } = await readAll(source(nb.url));
    const raw = JSON.stringify(records.map((r) => r.raw));
    expect(raw).not.toContain('pr1vate-c0mmunity');
    expect(records[0]!.raw).toMatchObject({ id: 101, role: 'plc', serial: 'SN101', interfaces: [{ id: 1001, name: 'X1 P1', mac: '00:1B:1B:AA:01:01', vlan: 10 }, { id: 1002 }] });
    expect(nb.requests.filter((r) => r.path === '/api/dcim/devices/').every((r) => r.query.getAll('exclude').includes('config_context'))).toBe(true);
  });

  it('pages through next links and fetches interfaces and IPs per page of devices, not per device', async () => {
    const nb = await server(generateNetbox(45));
    const src = new NetboxSource(netboxSourceSchema.parse({ name: 'netbox', type: 'netbox', url: nb.url, token, pageSize: 20 }), { normalizer: createNormalizer(), logger });
    const { records, batches } = await readAll(src);
    expect(records).toHaveLength(45);
    expect(batches.map((b) => [b.records.length, b.expected])).toEqual([
      [20, 45],
      [20, 45],
      [5, 45],
    ]);
    const paths = nb.requests.map((r) => r.path);
    expect(paths.filter((p) => p === '/api/dcim/devices/')).toHaveLength(3);
    expect(paths.filter((p) => p === '/api/dcim/interfaces/')).toHaveLength(3);
    expect(paths.filter((p) => p === '/api/ipam/ip-addresses/')).toHaveLength(3);
    const firstInterfaces = nb.requests.find((r) => r.path === '/api/dcim/interfaces/')!;
    expect(firstInterfaces.query.getAll('device_id')).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    expect(records[44]!.asset.interfaces).toEqual([{ name: 'eth0', mac: '00:1b:1b:00:00:2d', ips: ['10.0.0.45'] }]);
  });

  it('follows next links on the configured origin even when NetBox writes them for another (a proxy without X-Forwarded-Proto)', async () => {
    const nb = await server(generateNetbox(5), 'http://netbox.internal:8080');
    const { records } = await readAll(source(nb.url));
    expect(records).toHaveLength(5);
    expect(nb.requests.filter((r) => r.path === '/api/dcim/devices/').map((r) => r.query.get('offset'))).toEqual([null, '2', '4']);
  });

  it('reads incrementally: devices changed since the watermark, and devices whose interfaces or IPs changed', async () => {
    const data = fixture();
    const nb = await server(data);
    const since = '2024-06-01T00:00:00.000Z';
    const device = (id: number): Json => data.devices.find((d) => d.id === id)!;
    device(102).last_updated = '2024-06-02T08:00:00.000000Z';
    data.interfaces.find((i) => i.id === 1004)!.last_updated = '2024-06-03T08:00:00.000000Z';
    data.ipAddresses.find((a) => a.id === 5006)!.last_updated = '2024-06-03T09:00:00.000000Z';
    const { records, batches } = await readAll(source(nb.url), { mode: 'incremental', since });
    expect(records.map((r) => r.externalKey)).toEqual(['102', '103', '104']);
    const withSince = nb.requests.filter((r) => r.query.get('last_updated__gte') === since).map((r) => r.path);
    expect(withSince).toEqual(['/api/dcim/devices/', '/api/dcim/interfaces/', '/api/ipam/ip-addresses/', '/api/dcim/mac-addresses/']);
    const reread = nb.requests.filter((r) => r.path === '/api/dcim/devices/' && r.query.getAll('id').length > 0);
    expect(reread.map((r) => r.query.getAll('id'))).toEqual([['102', '103', '104']]);
    expect(Date.parse(batches[0]!.watermark!)).toBeGreaterThan(Date.parse(since));

    const nothing = await readAll(source(nb.url), { mode: 'incremental', since: '2030-01-01T00:00:00Z' });
    expect(nothing.records).toEqual([]);
    expect(nothing.batches).toHaveLength(1);
    expect(nothing.batches[0]!.watermark).toBeDefined();
  });

  it('sends a v2 token as Bearer and a classic one with the Token keyword', async () => {
    const nb = await server();
    await source(nb.url).check();
    expect(nb.requests[0]!.authorization).toBe(`Token ${token}`);
    const v2 = await startNetboxServer({ token: 'nbt_abc.def', data: fixture() });
    servers.push(v2);
    await source(v2.url, { token: 'nbt_abc.def' }).check();
    expect(v2.requests[0]!.authorization).toBe('Bearer nbt_abc.def');
  });

  it('fails at once on a refused token, saying so without showing it', async () => {
    const nb = await server();
    const error = await failure(readAll(source(nb.url, { token: 'wrong-token-value' })));
    expect(error.code).toBe('SOURCE_AUTH_FAILED');
    expect(error.message).toMatch(/^netbox: token refused by NetBox: GET http:\/\/127\.0\.0\.1:\d+\/api\/status\/: answered 403 Forbidden: Invalid token \(check the credentials of source netbox/);
    expect(error.message).not.toContain('wrong-token-value');
    expect(nb.requests).toHaveLength(1);
    await expect(source(nb.url, { token: 'wrong-token-value' }).check()).rejects.toMatchObject({ code: 'SOURCE_AUTH_FAILED' });
  });

  it('waits out a 429 as long as Retry-After says, then goes on', async () => {
    const nb = await server();
    nb.fail({ status: 429, headers: { 'retry-after': '1' }, body: '{"detail": "Request was throttled. Expected available in 1 second."}', path: '/api/dcim/interfaces/' });
    const { records } = await readAll(source(nb.url));
    expect(records).toHaveLength(4);
    expect(nb.requests.filter((r) => r.path === '/api/dcim/interfaces/').length).toBe(4);
  });

  it('fails the read rather than stall when Retry-After asks for longer than a read waits', async () => {
    const nb = await server();
    nb.fail({ status: 429, headers: { 'retry-after': '3600' }, times: 5 });
    const error = await failure(readAll(source(nb.url)));
    expect(error.code).toBe('SOURCE_RATE_LIMITED');
    expect(error.message).toMatch(/answered 429 Too Many Requests: simulated 429; it asks to wait 3600 s, longer than the 120 s a read waits$/);
    expect(nb.requests).toHaveLength(1);
  });

  it('retries 5xx and network-level failures, and gives up after the configured retries', async () => {
    const nb = await server();
    nb.fail({ status: 502, body: '<html><body><h1>502 Bad Gateway</h1></body></html>', times: 2, after: 2 });
    const { records } = await readAll(source(nb.url));
    expect(records).toHaveLength(4);

    const requestsBefore = nb.requests.length;
    nb.fail({ status: 500, times: 10, path: '/api/ipam/' });
    const error = await failure(readAll(source(nb.url, { retries: 2 })));
    expect(error.code).toBe('SOURCE_SERVER_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/answered 500 Internal Server Error: simulated 500$/);
    expect(nb.requests.slice(requestsBefore).filter((r) => r.path === '/api/ipam/ip-addresses/')).toHaveLength(3);
  });

  it('does not retry a refused filter, and shows NetBox’s field error', async () => {
    const nb = await server();
    const error = await failure(readAll(source(nb.url, { filters: { site: 'no-such-site' } })));
    expect(error.code).toBe('SOURCE_HTTP_ERROR');
    expect(error.message).toContain('answered 400 Bad Request: site: Select a valid choice. no-such-site is not one of the available choices.');
    expect(nb.requests.map((r) => r.path)).toEqual(['/api/status/', '/api/dcim/devices/']);
  });

  it('verifies the TLS certificate: refused by default, accepted with its CA in caFile', async () => {
    const ca = createCa('Plant IT CA');
    const nb = await startNetboxServer({ token, data: fixture(), tls: createServerCertificate(ca, ['127.0.0.1']) });
    servers.push(nb);
    const error = await failure(source(nb.url).check());
    expect(error.code).toBe('SOURCE_TLS');
    expect(error.message).toMatch(/the TLS certificate of NetBox was not accepted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); give its CA certificate in caFile$/);
    const caFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'kics-sync-ca-')), 'ca.pem');
    writeFileSync(caFile, ca.cert);
    await expect(source(nb.url, { caFile }).check()).resolves.toBeUndefined();
    await expect(source(nb.url, { caFile: `${caFile}.missing` }).check()).rejects.toMatchObject({ code: 'SOURCE_TLS', message: `netbox: cannot read the CA file ${caFile}.missing: ENOENT` });
  });

  it('reports an unreachable server as retryable, after retrying', async () => {
    const nb = await server();
    const url = nb.url;
    await nb.close();
    servers = [];
    const error = await failure(source(url, { retries: 1 }).check());
    expect(error).toMatchObject({ code: 'SOURCE_UNREACHABLE', retryable: true });
    expect(error.message).toMatch(/cannot reach NetBox \(ECONNREFUSED\)/);
  });
});

describeEachEngine('NetBox staging', (t) => {
  it('stages NetBox, and a read that fails on a later page leaves that staging intact', async () => {
    const nb = await server(generateNetbox(30));
    const src = (): NetboxSource =>
      new NetboxSource(netboxSourceSchema.parse({ name: 'netbox', type: 'netbox', url: nb.url, token, pageSize: 10, retries: 1 }), { normalizer: createNormalizer(), logger, minRetryDelayMs: 5, maxRetryDelayMs: 10 });
    const first = await stageSource(t().db, src(), { mode: 'full', logger });
    expect(first).toMatchObject({ read: 30, new: 30, generation: 1 });
    const before = await t().db.query(`SELECT external_key, content_hash, xmin::text AS x FROM source_record ORDER BY external_key`);

    nb.data.devices[0]!.name = 'renamed';
    nb.fail({ status: 503, times: 5, path: '/api/dcim/devices/', after: 3 });
    await expect(stageSource(t().db, src(), { mode: 'full', logger })).rejects.toMatchObject({ code: 'SOURCE_SERVER_ERROR' });
    expect(await t().db.query(`SELECT external_key, content_hash, xmin::text AS x FROM source_record ORDER BY external_key`)).toEqual(before);
    const [row] = await t().db.query<{ last_error: string; generation: number }>(`SELECT last_error, generation FROM source WHERE name = 'netbox'`);
    expect(row!.generation).toBe(1);
    expect(row!.last_error).toMatch(/answered 503 Service Unavailable/);
    expect(row!.last_error).not.toContain(token);
  });
});
