import { describe, expect, it } from 'vitest';
import { defaultAliases } from '../../src/adapters/csv/columns.js';
import { csvFields } from '../../src/config/sources.js';
import { assetFields, comparedFields, csvScalarFields, limitedTextFields, type AssetField } from '../../src/model/fields.js';
import { kicsLimits } from '../../src/model/kics.js';
import { canonicalAsset, checkFieldLimits } from '../../src/model/normalize.js';
import { deviceCreateRequestSchema } from '../../src/reconcile/plan-schema.js';
import { deviceTextFields, writableDeviceFields } from '../../src/simulator/kics/device-input.js';
import { planFields, scalarFields } from '../../src/reconcile/fields.js';

const fields = Object.keys(assetFields) as AssetField[];

// A new registry entry must reach every place that walks the asset's fields: each check below fails for
// an entry those places do not cover.
describe('the asset field registry', () => {
  it('every CSV field it names has aliases and is a configurable CSV column', () => {
    for (const field of fields) {
      const csv = (assetFields[field] as { csv?: string }).csv;
      if (csv === undefined) continue;
      expect(csvFields, field).toContain(csv);
      expect(defaultAliases[csv as keyof typeof defaultAliases].length, field).toBeGreaterThan(0);
    }
    const csvFilled = fields.filter((f) => 'csv' in assetFields[f] && assetFields[f].kind !== 'list');
    expect(csvScalarFields.map(([f]) => f)).toEqual(csvFilled);
  });

  it('every compared field is a plan field, in the device create schema and in what the reconciler walks', () => {
    expect([...scalarFields]).toEqual(comparedFields);
    for (const field of comparedFields) {
      expect(planFields, field).toContain(field);
      expect(Object.keys(deviceCreateRequestSchema.shape), field).toContain(field);
    }
  });

  it('canonicalAsset keeps every registry field a source sets', () => {
    const asset = canonicalAsset({
      name: 'plc-1', description: 'd', category: 'Plc', os: 'o', hardwareVendor: 'v', hardwareModel: 'm', hardwareVersion: 'hv',
      softwareVendor: 'sv', softwareModel: 'sm', softwareVersion: 'sw', networkName: 'n', isRouter: false, influence: 'Normal',
      labels: ['a'], owner: 'ops', location: 'hall', userAttributes: { k: 'v' }, interfaces: [{ mac: '00:11:22:33:44:55', ips: [] }],
      retired: false, industrialConfig: 'p.cfg',
    });
    expect(Object.keys(asset).sort()).toEqual([...fields].sort());
  });

  it('every text field with a KICS limit is checked at that limit', () => {
    for (const [field, max] of limitedTextFields) {
      const base = { interfaces: [] };
      expect(checkFieldLimits({ ...base, [field]: 'x'.repeat(max) }), field).toEqual([]);
      expect(checkFieldLimits({ ...base, [field]: 'x'.repeat(max + 1) }).map((p) => p.field), field).toEqual([field]);
    }
  });
});

// The KICS simulator keeps its own list of device fields, standing for the product: the two must agree.
describe('the registry and the KICS simulator', () => {
  it('name the same writable device fields', () => {
    for (const field of comparedFields) expect(writableDeviceFields, field).toContain(field);
    const simulatorOnly = writableDeviceFields.filter((f) => !(f in assetFields));
    expect(simulatorOnly.sort()).toEqual(['addressInformation', 'status']);
  });

  it('give the same length limits to the text fields', () => {
    const registryText = limitedTextFields.filter(([, max]) => max === kicsLimits.textLength).map(([f]) => f);
    expect(registryText.sort()).toEqual([...deviceTextFields].sort());
    expect(limitedTextFields).toContainEqual(['name', kicsLimits.nameLength]);
  });
});
