import { describe, expect, it } from 'vitest';
import type { ReconcileDecisions } from '../../src/reconcile/types.js';
import { asset, device, itemsOf, plan, record } from './support.js';

/** The owners' decisions as the reconciler takes them: plain input, each changing what the plan proposes. */

const macA = '00:1b:1b:00:00:0a';
const macB = '00:1b:1b:00:00:0b';
const ref = { by: 'console:bob', at: '2026-02-27T10:00:00.000Z', reason: 'checked on site' };
const decisions = (d: Partial<ReconcileDecisions>): ReconcileDecisions => ({ holds: [], pins: [], sameAssets: [], ignoredDevices: [], ...d });

describe('decisions in the reconciler', () => {
  const renamed = record('cmdb', 'a', asset('plc-renamed', [{ mac: macA, ips: ['10.1.0.5'] }]));
  const devices = [device(1, 'plc-1', [{ mac: macA, ips: ['10.1.0.5'], space: 1 }])];

  it('a held update stays in the plan as held, with who, when and why, and is not counted as a change', () => {
    const hold = { id: 7, ...ref, action: 'update' as const, deviceId: 1, sourceKeys: [{ source: 'cmdb', key: 'a' }] };
    const p = plan({ records: [renamed], devices, decisions: decisions({ holds: [hold] }) });
    const [update] = itemsOf(p, 'update');
    expect(update).toMatchObject({ status: 'held', kicsDeviceId: 1, after: { name: 'plc-renamed' }, decision: { id: 7, kind: 'hold', by: 'console:bob', reason: 'checked on site' } });
    expect(p.header.summary).toMatchObject({ held: 1, changes: 0 });
    // Without the decision the same input proposes the change.
    expect(itemsOf(plan({ records: [renamed], devices }), 'update')[0]).toMatchObject({ status: 'pending' });
  });

  it('a hold of other records (a record joined the asset) or of another device holds nothing', () => {
    const joined = record('csv', 'x', asset(null, [{ mac: macA }]));
    const hold = { id: 7, ...ref, action: 'update' as const, deviceId: 1, sourceKeys: [{ source: 'cmdb', key: 'a' }] };
    expect(itemsOf(plan({ records: [renamed, joined], devices, decisions: decisions({ holds: [hold] }) }), 'update')[0]!.status).toBe('pending');
    expect(itemsOf(plan({ records: [renamed], devices, decisions: decisions({ holds: [{ ...hold, deviceId: 2 }] }) }), 'update')[0]!.status).toBe('pending');
  });

  it('a held create holds the upload that depends on it', () => {
    const rec = record('cmdb', 'n', asset('plc-new', [{ mac: macB, ips: ['10.1.0.9'] }], { industrialConfig: 'plc.xml' }));
    const configFiles = new Map([['plc.xml', { ok: true as const, path: 'plc.xml', resolvedPath: '/cfg/plc.xml', contentHash: 'h', size: 10 }]]);
    const hold = { id: 3, ...ref, action: 'create' as const, deviceId: null, sourceKeys: [{ source: 'cmdb', key: 'n' }] };
    const p = plan({ records: [rec], devices: [], configFiles, decisions: decisions({ holds: [hold] }) });
    expect(itemsOf(p, 'create')[0]).toMatchObject({ status: 'held', decision: { id: 3 } });
    expect(itemsOf(p, 'upload_config')[0]).toMatchObject({ status: 'held', decision: { id: 3 } });
  });

  it('a pinned record matches its device whatever its keys say, and the device is not unknown', () => {
    // The record's MAC is on device 2, its IP on device 1: a MAC / IP split, until the owner pins it to 1.
    const split = record('cmdb', 'a', asset('plc-1-line-2', [{ mac: macB, ips: ['10.1.0.5'] }]));
    const two = [...devices, device(2, 'plc-2', [{ mac: macB, ips: ['10.1.0.6'], space: 1 }])];
    expect(itemsOf(plan({ records: [split], devices: two }), 'conflict')[0]!.conflict!.kind).toBe('mac_ip_split');
    const pin = { id: 9, ...ref, source: 'cmdb', key: 'a', deviceId: 1 };
    const p = plan({ records: [split], devices: two, decisions: decisions({ pins: [pin] }) });
    expect(itemsOf(p, 'conflict')).toEqual([]);
    const update = itemsOf(p, 'update').find((i) => i.kicsDeviceId === 1);
    expect(update).toMatchObject({ after: { name: 'plc-1-line-2' }, decision: { id: 9, kind: 'pin' } });
    expect(itemsOf(p, 'unknown').map((i) => i.kicsDeviceId)).toEqual([2]);
  });

  it('of several assets claiming one device, the pinned one matches and the others stay a conflict naming the pin', () => {
    const a = record('cmdb', 'a', asset('plc-1', [{ mac: macA }]));
    const b = record('csv', 'b', asset('plc-1b', [{ ips: ['10.1.0.5'] }]));
    expect(itemsOf(plan({ records: [a, b], devices }), 'conflict')[0]!.conflict!.kind).toBe('several_assets');
    const p = plan({ records: [a, b], devices, decisions: decisions({ pins: [{ id: 4, ...ref, source: 'cmdb', key: 'a', deviceId: 1 }] }) });
    const [conflict] = itemsOf(p, 'conflict');
    expect(conflict!.conflict!.assets.map((s) => s.key)).toEqual(['b']);
    expect(conflict!.reason).toContain('pinned to cmdb "a" (decision 4');
  });

  it('records declared one asset correlate as one: no conflict, one device', () => {
    const a = record('cmdb', 'a', asset('plc-1', [{ mac: macA }]));
    const b = record('csv', 'b', asset('plc-1', [{ ips: ['10.1.0.5'] }]));
    const same = { id: 5, ...ref, records: [{ source: 'cmdb', key: 'a' }, { source: 'csv', key: 'b' }] };
    const p = plan({ records: [a, b], devices, decisions: decisions({ sameAssets: [same] }) });
    expect(itemsOf(p, 'conflict')).toEqual([]);
    expect(p.header.summary.counts.unknown).toBe(0);
  });

  it('records of one source declared one asset speak for it together: each field from the first of them that has it', () => {
    const a = record('cmdb', 'a', asset('plc-1', [{ mac: macA }], { description: 'from the MAC row' }));
    const b = record('cmdb', 'b', asset('plc-1', [{ ips: ['10.1.0.5'] }], { hardwareModel: 'S7-1500' }));
    const same = { id: 5, ...ref, records: [{ source: 'cmdb', key: 'a' }, { source: 'cmdb', key: 'b' }] };
    const [update] = itemsOf(plan({ records: [a, b], devices, decisions: decisions({ sameAssets: [same] }) }), 'update');
    expect(update!.after).toMatchObject({ description: 'from the MAC row', hardwareModel: 'S7-1500' });
    expect(update!.sourceKeys).toEqual([{ source: 'cmdb', key: 'a' }, { source: 'cmdb', key: 'b' }]);
  });

  it('two records of one source declared one asset are no duplicate', () => {
    const a = record('cmdb', 'a', asset('plc-1', [{ mac: macA, ips: ['10.1.0.5'] }]));
    const a2 = record('cmdb', 'a2', asset('plc-1', [{ mac: macA }]));
    expect(itemsOf(plan({ records: [a, a2], devices }), 'conflict')[0]!.conflict!.kind).toBe('duplicate_identity');
    const same = { id: 6, ...ref, records: [{ source: 'cmdb', key: 'a' }, { source: 'cmdb', key: 'a2' }] };
    expect(itemsOf(plan({ records: [a, a2], devices, decisions: decisions({ sameAssets: [same] }) }), 'conflict')).toEqual([]);
  });

  it('an ignored device is not reported as unknown; a decision about a device KICS no longer has changes nothing', () => {
    const kept = [device(5, 'laptop', [{ mac: macB, ips: ['10.1.0.99'], space: 1 }])];
    expect(itemsOf(plan({ records: [], devices: kept }), 'unknown')).toHaveLength(1);
    expect(itemsOf(plan({ records: [], devices: kept, decisions: decisions({ ignoredDevices: [{ id: 8, ...ref, deviceId: 5 }] }) }), 'unknown')).toEqual([]);
    expect(itemsOf(plan({ records: [], devices: kept, decisions: decisions({ ignoredDevices: [{ id: 8, ...ref, deviceId: 77 }] }) }), 'unknown')).toHaveLength(1);
  });
});
