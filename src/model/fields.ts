import type { CsvField } from '../config/sources.js';
import type { CanonicalAsset } from './asset.js';
import { kicsLimits } from './kics.js';

/**
 * The asset's fields, declared once. Each entry says how a field is shaped (`kind`), the longest
 * text KICS accepts for it, which CSV field fills it, whether the reconciler compares it with the
 * KICS device and writes it (`compared`), who owns it when `reconcile.precedence` says nothing
 * (`owner`: the sources, or KICS first for what KICS discovers from traffic), and whether KICS
 * refuses null for it. The lists the rest of the code walks (`scalarFields`, the text limits, the
 * CSV row builder) are derived from this table, in its order.
 */
export interface FieldSpec {
  kind: 'text' | 'enum' | 'boolean' | 'list' | 'map' | 'interfaces';
  /** Longest value (characters) KICS accepts; for a list or map, the longest element. */
  kicsLimit?: number;
  /** The CSV field (src/config/sources.ts, aliases in src/adapters/csv/columns.ts) that fills it. */
  csv?: CsvField;
  /** A device field the plan compares and writes one value of. */
  compared: boolean;
  owner: 'sources' | 'kics';
  /** KICS refuses null: a source saying "empty" has no opinion on it. */
  nonNullable?: boolean;
}

export const assetFields = {
  name: { kind: 'text', kicsLimit: kicsLimits.nameLength, csv: 'name', compared: true, owner: 'sources', nonNullable: true },
  description: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'description', compared: true, owner: 'sources' },
  category: { kind: 'enum', csv: 'category', compared: true, owner: 'sources', nonNullable: true },
  os: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'os', compared: true, owner: 'kics' },
  hardwareVendor: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'vendor', compared: true, owner: 'sources' },
  hardwareModel: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'model', compared: true, owner: 'sources' },
  hardwareVersion: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'hardwareVersion', compared: true, owner: 'kics' },
  softwareVendor: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'softwareVendor', compared: true, owner: 'kics' },
  softwareModel: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'softwareModel', compared: true, owner: 'kics' },
  softwareVersion: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'firmware', compared: true, owner: 'kics' },
  networkName: { kind: 'text', kicsLimit: kicsLimits.textLength, csv: 'networkName', compared: true, owner: 'kics' },
  isRouter: { kind: 'boolean', csv: 'isRouter', compared: true, owner: 'kics', nonNullable: true },
  influence: { kind: 'enum', csv: 'criticality', compared: true, owner: 'sources', nonNullable: true },
  labels: { kind: 'list', kicsLimit: kicsLimits.textLength, csv: 'labels', compared: false, owner: 'sources' },
  owner: { kind: 'text', csv: 'owner', compared: false, owner: 'sources' },
  location: { kind: 'text', csv: 'location', compared: false, owner: 'sources' },
  userAttributes: { kind: 'map', kicsLimit: kicsLimits.textLength, compared: false, owner: 'sources' },
  interfaces: { kind: 'interfaces', compared: false, owner: 'sources' },
  retired: { kind: 'boolean', csv: 'status', compared: false, owner: 'sources' },
  industrialConfig: { kind: 'text', csv: 'industrialConfig', compared: false, owner: 'sources' },
} as const satisfies Record<keyof CanonicalAsset, FieldSpec>;

export type AssetField = keyof typeof assetFields;

export type ComparedField = { [F in AssetField]: (typeof assetFields)[F] extends { compared: true } ? F : never }[AssetField];

const names = Object.keys(assetFields) as AssetField[];
const spec = (field: AssetField): FieldSpec => assetFields[field];

/** Single-valued device fields the plan compares and writes, in the order reports and ops list them. */
export const comparedFields: readonly ComparedField[] = names.filter((f) => spec(f).compared) as ComparedField[];

/** Single-valued text fields with a KICS length limit, checked for every record. */
export const limitedTextFields: readonly (readonly [AssetField, number])[] = names
  .filter((f) => spec(f).kind === 'text' && spec(f).kicsLimit !== undefined)
  .map((f) => [f, spec(f).kicsLimit!] as const);

/** Fields KICS refuses null for. */
export const nonNullableAssetFields: ReadonlySet<string> = new Set(names.filter((f) => spec(f).nonNullable === true));

/** Fields KICS discovers from traffic and keeps unless configured otherwise. */
export const kicsOwnedFields: ReadonlySet<string> = new Set(names.filter((f) => spec(f).owner === 'kics'));

/** Single-valued fields a CSV column fills, with that CSV field (to name the column of a conflict). */
export const csvScalarFields: readonly (readonly [AssetField, CsvField])[] = names
  .filter((f) => spec(f).csv !== undefined && spec(f).kind !== 'list')
  .map((f) => [f, spec(f).csv!] as const);
