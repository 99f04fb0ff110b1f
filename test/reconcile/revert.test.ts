import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assetTypes, influenceTypes } from '../../src/model/kics.js';
import { patchOperations } from '../../src/reconcile/patch.js';
import { revertItems } from '../../src/reconcile/revert.js';
import type { SimDevice } from '../../src/simulator/kics/device.js';
import { applyPatch } from '../../src/simulator/kics/patch.js';

/** Undoing a run: the items built from its audit put back every field it wrote, and only where KICS still holds what it wrote. */

const text = fc.option(fc.string({ maxLength: 12 }), { nil: null });
const fields = {
  name: fc.string({ minLength: 1, maxLength: 12 }),
  description: text,
  os: text,
  hardwareVendor: text,
  hardwareModel: text,
  hardwareVersion: text,
  softwareVendor: text,
  softwareModel: text,
  softwareVersion: text,
  networkName: text,
  category: fc.constantFrom(...assetTypes),
  influence: fc.constantFrom(...influenceTypes),
  isRouter: fc.boolean(),
  status: fc.constantFrom('Unauthorized', 'Recognized', 'Archived'),
  labels: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 4 }),
  userAttributes: fc.uniqueArray(fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), value: fc.string({ maxLength: 6 }) }), { selector: (a) => a.name, maxLength: 3 }),
  addressInformation: fc.constantFrom(
    [{ networkInterfaceId: 1, networkInterfaceName: 'eth0', macAddress: '00:1b:1b:00:00:01', macAddressSpaceId: 1, ipAddresses: [{ id: 1, ip: '10.1.0.5', addressSpaceId: 1 }] }],
    [{ networkInterfaceId: 1, networkInterfaceName: 'eth0', macAddress: '00:1b:1b:00:00:01', macAddressSpaceId: 1, ipAddresses: [{ id: 2, ip: '10.1.0.6', addressSpaceId: 1 }] }],
  ),
};
const deviceValues = fc.record(fields);
type Values = Record<string, unknown>;
const asDevice = (values: Values): SimDevice => values as unknown as SimDevice;

describe('revert', () => {
  it('revert(apply(plan)) gives back the before state of every field the engine wrote (property)', () => {
    fc.assert(
      fc.property(deviceValues, deviceValues, fc.subarray(Object.keys(fields), { minLength: 1 }), (original, target, written) => {
        // The run's PATCH: the chosen fields to the target's values, as the engine plans them.
        const before = Object.fromEntries(written.map((f) => [f, original[f as keyof typeof original]]));
        const after = Object.fromEntries(written.map((f) => [f, target[f as keyof typeof target]]));
        const forward = applyPatch(asDevice(original), patchOperations(before, after), false);
        expect(forward.results.every((r) => r.result === 'Succeeded')).toBe(true);
        const changed = Object.fromEntries(written.filter((f) => JSON.stringify(before[f]) !== JSON.stringify(after[f])).map((f) => [f, 0]));
        const audit = { operation: 'update', outcome: 'applied', deviceId: 7, before: pick(before, changed), after: pick(after, changed) };
        const { items } = revertItems(1, [audit]);
        if (Object.keys(changed).length === 0) {
          expect(items).toEqual([]);
          return;
        }
        const back = applyPatch(asDevice(forward.document), items[0]!.ops!, false);
        expect(back.results.every((r) => r.result === 'Succeeded')).toBe(true);
        for (const f of written) expect(back.document[f], f).toEqual(original[f as keyof typeof original]);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to overwrite a device changed since the run: its guard fails and nothing is written', () => {
    const original = { name: 'plc-1', description: 'old' };
    const audit = { operation: 'update', outcome: 'applied', deviceId: 7, before: { description: 'old' }, after: { description: 'new' } };
    const [item] = revertItems(3, [audit]).items;
    expect(item!.reason).toBe('reverts run 3: puts back description');
    const changedSince = applyPatch(asDevice({ ...original, description: 'edited by an operator' }), item!.ops!, false);
    expect(changedSince.results[0]).toMatchObject({ op: 'Test', result: 'Failed' });
    expect(changedSince.document.description).toBe('edited by an operator');
  });

  it('archives the devices a run created (deletes only when deletes are enabled); lists what cannot be put back', () => {
    const writes = [
      { operation: 'create', outcome: 'applied', deviceId: 9, before: null, after: { name: 'new-1', status: 'Recognized' } },
      { operation: 'upload_config', outcome: 'applied', deviceId: 7, before: null, after: null },
      { operation: 'update', outcome: 'failed', deviceId: 8, before: { name: 'a' }, after: { name: 'b' } },
    ];
    const { items, notReverted } = revertItems(4, writes);
    expect(items.map((i) => [i.action, i.kicsDeviceId, i.after])).toEqual([['archive', 9, { status: 'Archived' }]]);
    expect(notReverted).toEqual([{ operation: 'upload_config', deviceId: 7, reason: expect.stringContaining('cannot be taken back') as string }]);
    expect(revertItems(4, writes, { allowDelete: true }).items.map((i) => i.action)).toEqual(['delete']);
    expect(revertItems(4, writes, { devices: [7] }).items).toEqual([]);
  });
});

function pick(values: Values, keys: Record<string, unknown>): Values {
  return Object.fromEntries(Object.keys(keys).map((k) => [k, values[k]]));
}
