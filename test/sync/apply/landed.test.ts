import { describe, expect, it } from 'vitest';
import type { KicsDevice } from '../../../src/model/kics.js';
import { guardsHold, plannedValuesHeld } from '../../../src/sync/apply/landed.js';

const device = (fields: Partial<KicsDevice>): KicsDevice => ({ id: 7, name: 'PLC-7', status: 'Recognized', addressInformation: [], ...fields });

describe('plannedValuesHeld: does KICS hold what the item was to write?', () => {
  it('compares scalars exactly, absent as null, enum names without case', () => {
    expect(plannedValuesHeld(device({ name: 'Boiler PLC', description: null }), { name: 'Boiler PLC', description: null }).held).toBe(true);
    expect(plannedValuesHeld(device({ name: 'Boiler PLC' }), { description: null }).held).toBe(true);
    expect(plannedValuesHeld(device({ influence: 'BusinessCritical' }), { influence: 'businesscritical' }).held).toBe(true);
    const different = plannedValuesHeld(device({ name: 'PLC-7', description: 'edited' }), { name: 'Boiler PLC', description: 'edited' });
    expect(different).toEqual({ held: false, differing: ['name'], kicsValues: { name: 'PLC-7', description: 'edited' } });
  });

  it('compares labels and user attributes as sets, null as empty', () => {
    expect(plannedValuesHeld(device({ labels: ['b', 'a'] }), { labels: ['a', 'b'] }).held).toBe(true);
    expect(plannedValuesHeld(device({ labels: [] }), { labels: null }).held).toBe(true);
    expect(plannedValuesHeld(device({ labels: ['a', 'b', 'c'] }), { labels: ['a', 'b'] }).held).toBe(false);
    expect(plannedValuesHeld(device({ userAttributes: [{ name: 'owner', value: 'x' }, { name: 'Location', value: 'B1' }] }), { userAttributes: [{ name: 'Location', value: 'B1' }, { name: 'Owner', value: 'x' }] }).held).toBe(true);
    expect(plannedValuesHeld(device({ userAttributes: [{ name: 'Owner', value: 'y' }] }), { userAttributes: [{ name: 'Owner', value: 'x' }] }).held).toBe(false);
  });

  it('compares interfaces by the MACs and IPs they hold, not by the ids KICS assigns', () => {
    const kics = device({
      addressInformation: [
        { networkInterfaceId: 501, macAddress: '00:1b:1b:00:00:01', macAddressSpaceId: 1, ipAddresses: [{ id: 9001, ip: '10.1.0.1', addressSpaceId: 1 }] },
        { networkInterfaceId: 502, macAddress: '00:1b:1b:00:00:02', ipAddresses: [{ id: 9002, ip: '10.1.0.2', addressSpaceId: 1 }] },
      ],
    });
    const planned = [
      { networkInterfaceId: 501, macAddress: '00-1B-1B-00-00-01', ipAddresses: [{ ip: '10.1.0.1', addressSpaceId: 1 }] },
      { macAddress: '00:1b:1b:00:00:02', ipAddresses: [{ ip: '10.1.0.2', addressSpaceId: null }] },
    ];
    expect(plannedValuesHeld(kics, { addressInformation: planned }).held).toBe(true);
    expect(plannedValuesHeld(kics, { addressInformation: [...planned, { macAddress: '00:1b:1b:00:00:03', ipAddresses: [] }] }).held).toBe(false);
  });
});

describe('guardsHold: does KICS still hold what the Test guards test?', () => {
  it('checks every Test op by its top-level field, the way plannedValuesHeld compares, and ignores the other ops', () => {
    const kics = device({ description: 'pump', labels: ['b', 'a'] });
    const ops = [
      { op: 'Test' as const, path: '/description', value: 'pump' },
      { op: 'Test' as const, path: '/labels', value: ['a', 'b'] },
      { op: 'Replace' as const, path: '/description', value: 'feed pump' },
    ];
    expect(guardsHold(kics, ops)).toBe(true);
    expect(guardsHold(device({ description: 'edited', labels: ['a', 'b'] }), ops)).toBe(false);
    expect(guardsHold(device({ description: 'pump' }), [{ op: 'Test', path: '/hardwareModel', value: null }])).toBe(true);
    // A guard on a nested path cannot be judged here: not held.
    expect(guardsHold(kics, [{ op: 'Test', path: '/labels/0', value: 'b' }])).toBe(false);
  });
});
