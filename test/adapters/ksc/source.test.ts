import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KscHostSource, hostToRecord, ipFromLong } from '../../../src/adapters/ksc/source.js';
import { parseConfig, type KscSourceConfig } from '../../../src/config/index.js';
import type { SourceBatch, SourceRecord } from '../../../src/model/asset.js';
import { silentLogger } from '../../../src/log.js';
import { stageSource } from '../../../src/sync/staging/source/stage.js';
import { describeEachEngine } from '../../support/db.js';
import { startSimulator, type SimulatorHandle } from './simulator-handle.js';

function sourceConfig(extra: Record<string, unknown> = {}): KscSourceConfig {
  const config = parseConfig({ sources: [{ name: 'ksc-hosts', type: 'ksc', ...extra }] }, { env: {} });
  return config.sources[0] as KscSourceConfig;
}

async function readAll(source: KscHostSource): Promise<SourceBatch[]> {
  const batches: SourceBatch[] = [];
  for await (const batch of source.read({ mode: 'full' })) batches.push(batch);
  return batches;
}

describe('KSC managed hosts as a source', () => {
  let h: SimulatorHandle;
  beforeAll(async () => {
    h = await startSimulator();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    h.sim.core.hosts.clear();
    h.sim.core.calls.length = 0;
  });

  const source = (extra: Record<string, unknown> = {}): KscHostSource => new KscHostSource(sourceConfig(extra), async () => h.client());

  it('reads FindHosts through the ChunkAccessor in chunks and releases every result-set', async () => {
    h.sim.core.addHosts(Array.from({ length: 25 }, (_, i) => ({ id: `host-${String(i).padStart(2, '0')}`, displayName: `PLC-${i}`, ip: `10.0.0.${i + 1}`, macs: [`00:1b:1b:00:00:${(i + 16).toString(16)}`] })));
    const batches = await readAll(source({ chunkSize: 10 }));
    expect(batches.map((b) => b.records.length)).toEqual([10, 10, 5]);
    expect(batches.flatMap((b) => b.records.map((r) => r.externalKey))).toEqual(Array.from({ length: 25 }, (_, i) => `host-${String(i).padStart(2, '0')}`));
    const methods = h.sim.core.calls.map((c) => c.method);
    expect(methods.filter((m) => m === 'ChunkAccessor.GetItemsChunk')).toHaveLength(3);
    expect(methods.filter((m) => m === 'ChunkAccessor.Release')).toHaveLength(1);
    expect(methods.filter((m) => m === 'SrvView.ReleaseIterator')).toHaveLength(3);
    expect(h.sim.core.openResultSets()).toBe(0);
  });

  it('releases the accessor also when the reader stops after the first chunk', async () => {
    h.sim.core.addHosts(Array.from({ length: 30 }, (_, i) => ({ ip: `10.0.1.${i + 1}` })));
    for await (const batch of source({ chunkSize: 10 }).read({ mode: 'full' })) {
      expect(batch.records).toHaveLength(10);
      break;
    }
    expect(h.sim.core.openResultSets()).toBe(0);
    expect(h.sim.core.calls.filter((c) => c.method === 'ChunkAccessor.Release' && c.status === 200)).toHaveLength(1);
  });

  it('maps display name, IP (from KLHST_WKS_IP_LONG), FQDN, group, last visible, and MACs from hardware inventory', async () => {
    h.sim.core.addHosts([
      { id: 'h-one-mac', displayName: 'HMI-01', ip: '192.168.10.21', fqdn: 'hmi-01.plant.local', groupId: 7, groupName: 'Line 1', lastVisible: '2026-04-30T08:15:00Z', macs: ['00-1B-1B-AA-BB-01'] },
      { id: 'h-two-macs', displayName: 'SCADA-01', ip: '192.168.10.5', groupId: 8, groupName: 'Servers', macs: ['00:1b:1b:aa:bb:02', '00:1b:1b:aa:bb:03'] },
      { id: 'h-no-mac', displayName: 'EWS-01', ip: '10.255.0.1', groupId: 7, groupName: 'Line 1' },
      { id: 'h-multicast', displayName: 'ODD-01', ip: '172.16.0.9', macs: ['01:00:5e:00:00:01'] },
    ]);
    const records = (await readAll(source({ addressSpaces: { '7': 'Line 1 space' } }))).flatMap((b) => b.records);
    const byKey = new Map(records.map((r) => [r.externalKey, r] as [string, SourceRecord]));

    const one = byKey.get('h-one-mac')!;
    expect(one.asset).toEqual({ name: 'HMI-01', networkName: 'hmi-01.plant.local', interfaces: [{ mac: '00:1b:1b:aa:bb:01', ips: ['192.168.10.21'], addressSpace: 'Line 1 space' }] });
    expect(one.raw).toMatchObject({ KLHST_WKS_GROUPID: 7, groupName: 'Line 1', KLHST_WKS_LAST_VISIBLE: '2026-04-30T08:15:00.000Z', ip: '192.168.10.21', KLHST_WKS_IP_LONG: 3232238101 });

    const two = byKey.get('h-two-macs')!;
    expect(two.asset.interfaces).toEqual([
      { mac: '00:1b:1b:aa:bb:02', ips: [] },
      { mac: '00:1b:1b:aa:bb:03', ips: [] },
      { mac: null, ips: ['192.168.10.5'] },
    ]);
    expect(two.notes?.[0]).toMatch(/which of the 2 network adapters holds 192\.168\.10\.5/);

    expect(byKey.get('h-no-mac')!.asset.interfaces).toEqual([{ mac: null, ips: ['10.255.0.1'], addressSpace: 'Line 1 space' }]);
    const odd = byKey.get('h-multicast')!;
    expect(odd.asset.interfaces).toEqual([{ mac: null, ips: ['172.16.0.9'] }]);
    expect(odd.notes).toEqual(['hardware inventory MAC 01:00:5e:00:00:01 not used as identity: multicast MAC address']);
  });

  it('reads the hosts KSC just discovered ("Unassigned devices") by default, managed hosts only when told, and the configured KSC filter when there is one', async () => {
    h.sim.core.addHosts([
      { id: 'a', displayName: 'IN-GROUP', ip: '10.1.0.1', groupId: 3 },
      { id: 'b', displayName: 'UNASSIGNED', ip: '10.1.0.2', unassigned: true },
      { id: 'c', displayName: 'OTHER-GROUP', ip: '10.1.0.3', groupId: 4 },
    ]);
    // A host that fired KLSRV_EVENT_HOSTS_NEW_DETECTED sits in Unassigned devices: the plan that event starts must see it.
    expect((await readAll(source())).flatMap((b) => b.records.map((r) => r.externalKey))).toEqual(['a', 'b', 'c']);
    expect((await readAll(source({ includeUnassigned: false }))).flatMap((b) => b.records.map((r) => r.externalKey))).toEqual(['a', 'c']);
    expect((await readAll(source({ filter: '(&(KLHST_WKS_GROUPID = 4)(KLHST_WKS_DN = "OTHER*"))' }))).flatMap((b) => b.records.map((r) => r.externalKey))).toEqual(['c']);
  });

  it('fails with KSC\'s own message when the configured filter is not valid KSC syntax', async () => {
    await expect(readAll(source({ filter: '(KLHST_WKS_DN = "x"' }))).rejects.toThrow(/HostGroup\.FindHosts.*bad filter/);
  });

  it('check() logs in and asks KSC something small', async () => {
    await expect(source().check()).resolves.toBeUndefined();
  });
});

describe('KSC host records', () => {
  it('converts KLHST_WKS_IP_LONG, first octet highest', () => {
    expect(ipFromLong(167772210)).toBe('10.0.0.50');
    expect(ipFromLong(0xffffffff)).toBe('255.255.255.255');
    expect(ipFromLong('3232238101')).toBe('192.168.10.21');
    expect(ipFromLong(-1)).toBeNull();
    expect(ipFromLong(2 ** 32)).toBeNull();
    expect(ipFromLong(1.5)).toBeNull();
  });

  it('rejects a host whose address is not a 32-bit integer, saying where and why', () => {
    const outcome = hostToRecord({ KLHST_WKS_HOSTNAME: 'h1', KLHST_WKS_DN: 'PLC-9', KLHST_WKS_IP_LONG: 'ten' }, new Map(), { name: 'ksc', addressSpaces: {} }, 0);
    expect(outcome).toMatchObject({ location: 'ksc host h1 (PLC-9)', column: 'KLHST_WKS_IP_LONG', reason: 'expected an IPv4 address as an unsigned 32-bit integer; found "ten"' });
  });

  it('rejects a host without its KSC id', () => {
    const outcome = hostToRecord({ KLHST_WKS_DN: 'NO-ID' }, new Map(), { name: 'ksc', addressSpaces: {} }, 4);
    expect(outcome).toMatchObject({ location: 'ksc host #5', column: 'KLHST_WKS_HOSTNAME' });
  });
});

describeEachEngine('KSC hosts staged', (t) => {
  let h: SimulatorHandle;
  beforeAll(async () => {
    h = await startSimulator();
  });
  afterAll(async () => {
    await h.close();
  });

  it('one NUL in one host costs that host only: the others are staged, the reject names the host and the field', async () => {
    h.sim.core.hosts.clear();
    h.sim.core.addHosts([
      { id: 'h-good', displayName: 'HMI-01', ip: '192.168.10.21', macs: ['00:1b:1b:aa:bb:01'] },
      { id: 'h-nul', displayName: 'EWS\u0000-02', ip: '192.168.10.22', macs: ['00:1b:1b:aa:bb:02'] },
    ]);
    const source = new KscHostSource(sourceConfig(), async () => h.client());
    const summary = await stageSource(t().db, source, { mode: 'full', logger: silentLogger() });
    expect(summary).toMatchObject({ read: 2, rejected: 1 });
    expect(await t().db.query(`SELECT external_key FROM source_record ORDER BY external_key`)).toEqual([{ external_key: 'h-good' }]);
    const rejects = await t().db.query<{ location: string; reason: string }>(`SELECT location, reason FROM source_reject`);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]!.location).toContain('h-nul');
    expect(rejects[0]!.reason).toMatch(/^name: NUL character \(U\+0000\)/);
  });
});
