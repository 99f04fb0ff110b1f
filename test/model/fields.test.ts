import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultAliases } from '../../src/adapters/csv/columns.js';
import { CsvSource } from '../../src/adapters/csv/source.js';
import { csvFields, csvSourceSchema } from '../../src/config/sources.js';
import { silentLogger } from '../../src/log.js';
import { assetFields, comparedFields, csvScalarFields, limitedTextFields, rowColumns, type AssetField, type FieldSpec } from '../../src/model/fields.js';
import { kicsLimits } from '../../src/model/kics.js';
import { canonicalAsset, checkFieldLimits, createNormalizer, mappingKey } from '../../src/model/normalize.js';
import { planFields, scalarFields } from '../../src/reconcile/fields.js';
import { deviceCreateRequestSchema } from '../../src/reconcile/plan-schema.js';
import { deviceTextFields, parseCreateRequest, writableDeviceFields } from '../../src/simulator/kics/device-input.js';

const fields = Object.keys(assetFields) as AssetField[];
const specOf = (field: AssetField): FieldSpec => assetFields[field];

/** A value each kind of field reads from a CSV cell, and what the asset then holds. */
const cellFor: Record<FieldSpec['kind'], { cell: string; value: unknown } | null> = {
  text: { cell: 'Siemens', value: 'Siemens' },
  enum: null, // per field, below
  boolean: { cell: 'yes', value: true },
  flag: { cell: 'retired', value: true },
  list: { cell: 'b|a', value: ['a', 'b'] },
  map: null,
  interfaces: null,
};
const enumCell: Partial<Record<AssetField, { cell: string; value: unknown }>> = {
  category: { cell: 'PLC', value: 'Plc' },
  influence: { cell: 'Important', value: 'Important' },
};

// A new registry entry must reach every place that walks the asset's fields: each check below fails for
// an entry those places do not cover.
describe('the asset field registry', () => {
  it('every CSV column is configurable and has default aliases no other column shares', () => {
    const columns = [...Object.keys(rowColumns), ...fields.flatMap((f) => (specOf(f).csv ? [specOf(f).csv!.column] : []))];
    expect([...csvFields].sort()).toEqual([...columns].sort());
    const owner = new Map<string, string>();
    for (const column of csvFields) {
      expect(defaultAliases[column].length, column).toBeGreaterThan(0);
      for (const alias of defaultAliases[column]) {
        expect(owner.get(mappingKey(alias)), `alias ${alias} of ${column}`).toBeUndefined();
        owner.set(mappingKey(alias), column);
      }
    }
    expect(csvScalarFields.map(([f]) => f)).toEqual(fields.filter((f) => specOf(f).csv && specOf(f).kind !== 'list'));
  });

  it('a CSV file with one column per field, each under its first alias, fills every field the registry gives a column', async () => {
    const withColumn = fields.filter((f) => specOf(f).csv);
    const header = ['MAC', ...withColumn.map((f) => specOf(f).csv!.aliases[0]!)];
    const row = ['00:1b:1b:00:00:01', ...withColumn.map((f) => (enumCell[f] ?? cellFor[specOf(f).kind])!.cell)];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fields-'));
    const file = path.join(dir, 'all.csv');
    writeFileSync(file, `${header.join(',')}\n${row.join(',')}\n`);
    const source = new CsvSource(csvSourceSchema.parse({ name: 'all', type: 'csv', path: file }), { normalizer: createNormalizer({}), logger: silentLogger() });
    const records = [];
    for await (const batch of source.read({ mode: 'full' })) {
      expect(batch.rejects).toEqual([]);
      records.push(...batch.records);
    }
    expect(records).toHaveLength(1);
    const asset = records[0]!.asset as unknown as Record<string, unknown>;
    for (const field of withColumn) expect(asset[field], field).toEqual((enumCell[field] ?? cellFor[specOf(field).kind])!.value);
    // Built in canonical form: the stored asset is the one the source made.
    expect(canonicalAsset(records[0]!.asset)).toBe(records[0]!.asset);
  });

  it('every compared field is a plan field, in the device create schema and in what the reconciler walks', () => {
    expect([...scalarFields]).toEqual(comparedFields);
    for (const field of comparedFields) {
      expect(planFields, field).toContain(field);
      expect(Object.keys(deviceCreateRequestSchema.shape), field).toContain(field);
    }
    // An enum field takes only its values; a text field takes null.
    const create = { whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: false, name: 'plc', addressInformation: [{ macAddress: '00:1b:1b:00:00:01' }] };
    expect(deviceCreateRequestSchema.safeParse({ ...create, category: 'Plc', description: null }).success).toBe(true);
    expect(deviceCreateRequestSchema.safeParse({ ...create, category: 'Toaster' }).success).toBe(false);
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

  it('every text field with a KICS limit, and each label, is checked at that limit', () => {
    for (const [field, max] of limitedTextFields) {
      const base = { interfaces: [] };
      expect(checkFieldLimits({ ...base, [field]: 'x'.repeat(max) }), field).toEqual([]);
      expect(checkFieldLimits({ ...base, [field]: 'x'.repeat(max + 1) }).map((p) => p.field), field).toEqual([field]);
    }
    expect(checkFieldLimits({ interfaces: [], labels: ['x'.repeat(kicsLimits.labelLength)] })).toEqual([]);
    expect(checkFieldLimits({ interfaces: [], labels: ['x'.repeat(kicsLimits.labelLength + 1)] }).map((p) => p.field)).toEqual(['labels']);
  });
});

// The KICS simulator keeps its own list of device fields, standing for the product: the two must agree.
describe('the registry and the KICS simulator', () => {
  const create = (extra: Record<string, unknown>) =>
    parseCreateRequest({ whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: false, name: 'plc', addressInformation: [{ macAddress: '00:1b:1b:00:00:01' }], ...extra });

  it('name the same writable device fields', () => {
    for (const field of comparedFields) expect(writableDeviceFields, field).toContain(field);
    const simulatorOnly = writableDeviceFields.filter((f) => !(f in assetFields));
    expect(simulatorOnly.sort()).toEqual(['addressInformation', 'status']);
  });

  it('give the same length limits to the text fields and to labels', () => {
    const registryText = limitedTextFields.filter(([, max]) => max === kicsLimits.textLength).map(([f]) => f);
    expect(registryText.sort()).toEqual([...deviceTextFields].sort());
    expect(limitedTextFields).toContainEqual(['name', kicsLimits.nameLength]);
    // What the simulator accepts and refuses, at the registry's limits.
    for (const [field, max] of limitedTextFields) {
      expect(create({ [field]: 'x'.repeat(max) }).ok, field).toBe(true);
      expect(create({ [field]: 'x'.repeat(max + 1) }).ok, field).toBe(false);
    }
    const labelMax = assetFields.labels.kicsLimit;
    expect(create({ labels: ['x'.repeat(labelMax)] }).ok).toBe(true);
    expect(create({ labels: ['x'.repeat(labelMax + 1)] }).ok).toBe(false);
  });
});
