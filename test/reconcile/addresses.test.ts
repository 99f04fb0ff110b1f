import { describe, expect, it } from 'vitest';
import { KeyTable, ipKey, macKey, nameKey } from '../../src/reconcile/keys.js';
import { asset, config, device, itemsOf, plan, record } from './support.js';

/** Addresses both ways: what a source asserted earlier and none asserts now is removed; what KICS found itself stays. */

const mac = '00:1b:1b:00:00:01';
const managedOff = config({ managedAttributes: [] });
// The device as KICS holds it: the IP the CMDB gave last time (10.1.0.5) and one KICS discovered on its own (10.1.0.99).
const kicsPlc = () => device(7, 'plc-1', [{ mac, ips: ['10.1.0.5', '10.1.0.99'], space: 1 }]);
const corrected = () => record('cmdb', 'a', asset('plc-1', [{ mac, ips: ['10.1.0.6'] }], { category: 'Plc', influence: 'Normal' }));

describe('addresses, both ways', () => {
  it("a run's key numbers stand for the keys as assertions store them and as the plan shows them", () => {
    const table = new KeyTable();
    const texts = [macKey(12, mac), macKey(null, mac), ipKey(3, '10.1.0.5'), ipKey(null, 'fe80::1'), ipKey(12, '10.1.0.5'), nameKey('plc|1')];
    const keys = [table.mac(12, mac), table.mac(null, mac), table.ip(3, '10.1.0.5'), table.ip(null, 'fe80::1'), table.ip(12, '10.1.0.5'), table.name('plc|1')];
    expect(new Set(keys).size).toBe(6);
    expect(table.mac(12, mac)).toBe(keys[0]);
    expect(keys.map((k) => table.text(k))).toEqual(texts);
    expect(texts.map((t) => table.find(t))).toEqual(keys);
    expect(table.find(ipKey(4, '10.1.0.5'))).toBeUndefined();
    expect(table.matchKeys(keys)).toEqual([
      { kind: 'mac', space: 12, value: mac },
      { kind: 'mac', space: null, value: mac },
      { kind: 'ip', space: 3, value: '10.1.0.5' },
      { kind: 'ip', space: null, value: 'fe80::1' },
      { kind: 'ip', space: 12, value: '10.1.0.5' },
      { kind: 'name', space: null, value: 'plc|1' },
    ]);
    expect(table.primarySpace([keys[5]!, keys[2]!])).toBe(3);
    expect(table.size).toBe(6);
  });

  it('a corrected IP replaces the one a source asserted earlier; the address KICS discovered stays; the PATCH is guarded by a Test of the whole list', () => {
    const asserted = new Map([[7, [macKey(1, mac), ipKey(1, '10.1.0.5')]]]);
    const p = plan({ records: [corrected()], devices: [kicsPlc()], config: managedOff, assertedAddresses: asserted });
    const [update] = itemsOf(p, 'update');
    const after = update!.after!.addressInformation as { macAddress: string; ipAddresses: { ip: string }[] }[];
    expect(after.map((i) => [i.macAddress, i.ipAddresses.map((a) => a.ip)])).toEqual([[mac, ['10.1.0.99', '10.1.0.6']]]);
    expect(update!.ops![0]).toEqual({ op: 'Test', path: '/addressInformation', value: kicsPlc().addressInformation });
    expect(update!.reason).toMatch(/IP 10\.1\.0\.5 \(address space "Plant A"\) removed: a source asserted it earlier, none does now/);
  });

  it('without an earlier assertion nothing is removed: the new IP is added beside the old one', () => {
    const p = plan({ records: [corrected()], devices: [kicsPlc()], config: managedOff });
    const after = itemsOf(p, 'update')[0]!.after!.addressInformation as { ipAddresses: { ip: string }[] }[];
    expect(after[0]!.ipAddresses.map((a) => a.ip)).toEqual(['10.1.0.5', '10.1.0.99', '10.1.0.6']);
  });

  it('remembers what the sources assert now, and only what it did not know', () => {
    const p = plan({ records: [corrected()], devices: [kicsPlc()], config: managedOff, assertedAddresses: new Map([[7, [macKey(1, mac)]]]) });
    expect(p.newAssertions?.columns(0, p.newAssertions.length)).toEqual({ deviceIds: [7], addresses: [ipKey(1, '10.1.0.6')] });
  });

  it('a MAC a source asserted earlier and none asserts now leaves its interface; the interface stays when it still has an IP', () => {
    const other = '00:1b:1b:00:00:02';
    const devices = [device(7, 'plc-1', [{ mac, ips: ['10.1.0.5'], space: 1 }, { mac: other, ips: ['10.1.0.77'], space: 1 }])];
    const records = [record('cmdb', 'a', asset('plc-1', [{ mac, ips: ['10.1.0.5'] }], { category: 'Plc', influence: 'Normal' }))];
    const asserted = new Map([[7, [macKey(1, mac), ipKey(1, '10.1.0.5'), macKey(1, other)]]]);
    const after = itemsOf(plan({ records, devices, config: managedOff, assertedAddresses: asserted }), 'update')[0]!.after!.addressInformation as { macAddress: string | null; ipAddresses: { ip: string }[] }[];
    expect(after.map((i) => [i.macAddress, i.ipAddresses.map((a) => a.ip)])).toEqual([
      [mac, ['10.1.0.5']],
      [null, ['10.1.0.77']],
    ]);
  });
});
