import { assetTypes, influenceTypes, kicsLimits } from './kics.js';

/**
 * The asset's fields, declared once. Each entry says how a field is shaped (`kind`), the longest
 * text KICS accepts for it, the CSV column that fills it and that column's default header aliases,
 * whether the reconciler compares it with the KICS device and writes it (`compared`), who owns it
 * when `reconcile.precedence` says nothing (`owner`: the sources, or KICS first for what KICS
 * discovers from traffic), and whether KICS refuses null for it.
 *
 * Everything else is derived from this table, in its order: the canonical asset's type
 * (src/model/asset.ts), the CSV columns and their aliases, the CSV and ServiceNow row builders, the
 * limits checked on every record, the fields the reconciler compares, and the device fields of the
 * plan's create request. Adding a field is one entry here (plus its tests).
 */
export interface FieldSpec {
  /**
   * text: a string or null; enum: one of `values` or null; boolean: true, false or null; flag: true or
   * false; list: strings; map: name -> string; interfaces: the asset's network interfaces.
   */
  kind: 'text' | 'enum' | 'boolean' | 'flag' | 'list' | 'map' | 'interfaces';
  values?: readonly string[];
  /** Longest value (characters) KICS accepts; for a list or map, the longest element. */
  kicsLimit?: number;
  /** The CSV column (a `columns` key in a CSV source's config) that fills it, and its default header aliases. */
  csv?: { column: string; aliases: readonly string[] };
  /** How a source's text becomes the value: a vendor name through the vendor table, an enum through its mapping table. */
  normalize?: 'vendor' | 'category' | 'influence';
  /** A device field the plan compares and writes one value of. */
  compared: boolean;
  owner: 'sources' | 'kics';
  /** KICS refuses null: a source saying "empty" has no opinion on it. */
  nonNullable?: boolean;
}

const text = kicsLimits.textLength;

export const assetFields = {
  name: { kind: 'text', kicsLimit: kicsLimits.nameLength, csv: { column: 'name', aliases: ['name', 'hostname', 'host name', 'device name', 'asset name', 'device', 'host'] }, compared: true, owner: 'sources', nonNullable: true },
  description: { kind: 'text', kicsLimit: text, csv: { column: 'description', aliases: ['description', 'comment', 'comments', 'notes'] }, compared: true, owner: 'sources' },
  category: {
    kind: 'enum',
    values: assetTypes,
    csv: { column: 'category', aliases: ['category', 'type', 'device type', 'asset type', 'device category', 'role', 'class'] },
    normalize: 'category',
    compared: true,
    owner: 'sources',
    nonNullable: true,
  },
  os: { kind: 'text', kicsLimit: text, csv: { column: 'os', aliases: ['os', 'operating system', 'os version'] }, compared: true, owner: 'kics' },
  hardwareVendor: { kind: 'text', kicsLimit: text, csv: { column: 'vendor', aliases: ['vendor', 'manufacturer', 'make', 'hardware vendor'] }, normalize: 'vendor', compared: true, owner: 'sources' },
  hardwareModel: { kind: 'text', kicsLimit: text, csv: { column: 'model', aliases: ['model', 'hardware model', 'product', 'model number'] }, compared: true, owner: 'sources' },
  hardwareVersion: { kind: 'text', kicsLimit: text, csv: { column: 'hardwareVersion', aliases: ['hardware version', 'hw version', 'hardware revision', 'hw revision'] }, compared: true, owner: 'kics' },
  softwareVendor: { kind: 'text', kicsLimit: text, csv: { column: 'softwareVendor', aliases: ['software vendor'] }, normalize: 'vendor', compared: true, owner: 'kics' },
  softwareModel: { kind: 'text', kicsLimit: text, csv: { column: 'softwareModel', aliases: ['software model', 'software', 'software name'] }, compared: true, owner: 'kics' },
  softwareVersion: {
    kind: 'text',
    kicsLimit: text,
    csv: { column: 'firmware', aliases: ['firmware', 'firmware version', 'software version', 'sw version', 'fw version', 'version'] },
    compared: true,
    owner: 'kics',
  },
  networkName: { kind: 'text', kicsLimit: text, csv: { column: 'networkName', aliases: ['network name', 'fqdn', 'dns name', 'dns'] }, compared: true, owner: 'kics' },
  isRouter: { kind: 'boolean', csv: { column: 'isRouter', aliases: ['is router', 'router'] }, compared: true, owner: 'kics', nonNullable: true },
  influence: {
    kind: 'enum',
    values: influenceTypes,
    csv: { column: 'criticality', aliases: ['criticality', 'influence', 'importance', 'business criticality', 'priority'] },
    normalize: 'influence',
    compared: true,
    owner: 'sources',
    nonNullable: true,
  },
  labels: { kind: 'list', kicsLimit: kicsLimits.labelLength, csv: { column: 'labels', aliases: ['labels', 'label', 'tags'] }, compared: false, owner: 'sources' },
  /** Who owns the asset in the plant (the scope of `plan --owner`); also a user attribute when managed. */
  owner: { kind: 'text', csv: { column: 'owner', aliases: ['owner', 'owned by', 'responsible', 'asset owner', 'department'] }, compared: false, owner: 'sources' },
  location: { kind: 'text', csv: { column: 'location', aliases: ['location', 'site', 'area', 'building', 'room'] }, compared: false, owner: 'sources' },
  /** KICS user attributes by name (only the configured, managed names are ever written). */
  userAttributes: { kind: 'map', kicsLimit: text, compared: false, owner: 'sources' },
  /** Network interfaces; identity comes from their MACs and IPs. */
  interfaces: { kind: 'interfaces', compared: false, owner: 'sources' },
  /** The source marks the asset as retired / decommissioned. */
  retired: { kind: 'flag', csv: { column: 'status', aliases: ['status', 'lifecycle', 'lifecycle status', 'install status', 'retired', 'state'] }, compared: false, owner: 'sources' },
  /** Path of an industrial configuration file, relative to reconcile.industrialConfig.root. */
  industrialConfig: {
    kind: 'text',
    csv: { column: 'industrialConfig', aliases: ['industrial config', 'industrial configuration', 'config file', 'configuration file', 'project file'] },
    compared: false,
    owner: 'sources',
  },
} as const satisfies Record<string, FieldSpec>;

type Fields = typeof assetFields;
export type AssetField = keyof Fields;

/** The value type of a field, from its kind. */
type ValueOf<S> = S extends { kind: 'text' }
  ? string | null
  : S extends { kind: 'enum'; values: readonly (infer V)[] }
    ? V | null
    : S extends { kind: 'boolean' }
      ? boolean | null
      : S extends { kind: 'flag' }
        ? boolean
        : S extends { kind: 'list' }
          ? string[]
          : S extends { kind: 'map' }
            ? Record<string, string>
            : never;

/** The canonical asset's fields other than its interfaces (src/model/asset.ts adds those). */
export type AssetFieldValues = { [F in Exclude<AssetField, 'interfaces'>]?: ValueOf<Fields[F]> };

export type ComparedField = { [F in AssetField]: Fields[F] extends { compared: true } ? F : never }[AssetField];

/**
 * CSV columns that identify a row or fill its interfaces rather than an asset field, with their
 * default header aliases.
 */
export const rowColumns = {
  id: ['id', 'asset id', 'asset tag', 'asset number', 'inventory number', 'inventory id', 'tag number', 'sys id'],
  mac: ['mac', 'mac address', 'macaddress', 'mac addresses', 'hardware address', 'physical address'],
  ip: ['ip', 'ip address', 'ipaddress', 'ip addresses', 'ipv4', 'ipv4 address', 'ipv6', 'ipv6 address'],
  interface: ['interface', 'interface name', 'nic', 'port', 'network interface'],
  addressSpace: ['address space', 'addressspace', 'kics address space'],
  vlan: ['vlan', 'vlan id', 'vid'],
} as const;

/** A CSV column: one that fills an asset field, or one of `rowColumns`. */
export type CsvField = keyof typeof rowColumns | { [F in AssetField]: Fields[F] extends { csv: { column: infer C } } ? C : never }[AssetField];

const names = Object.keys(assetFields) as AssetField[];
const spec = (field: AssetField): FieldSpec => assetFields[field];

/** Every CSV column: the row's own, then the asset's in registry order. */
export const csvFields = [...(Object.keys(rowColumns) as (keyof typeof rowColumns)[]), ...names.flatMap((f) => (spec(f).csv ? [spec(f).csv!.column as CsvField] : []))] as [CsvField, ...CsvField[]];

/** Each CSV column's default header aliases, in the order they are tried. */
export const csvAliases: Readonly<Record<CsvField, readonly string[]>> = Object.fromEntries([
  ...Object.entries(rowColumns),
  ...names.flatMap((f) => (spec(f).csv ? [[spec(f).csv!.column, spec(f).csv!.aliases] as const] : [])),
]) as Record<CsvField, readonly string[]>;

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

/** Single-valued fields a CSV column fills, with that column (to name the column of a conflict). */
export const csvScalarFields: readonly (readonly [AssetField, CsvField])[] = names
  .filter((f) => spec(f).csv !== undefined && spec(f).kind !== 'list')
  .map((f) => [f, spec(f).csv!.column as CsvField] as const);

/** Text fields a source copies as it reads them (no vendor or enum table), with their CSV column. */
export const plainTextFields: readonly (readonly [AssetField, CsvField])[] = names
  .filter((f) => spec(f).kind === 'text' && spec(f).csv !== undefined && spec(f).normalize === undefined)
  .map((f) => [f, spec(f).csv!.column as CsvField] as const);

/** Every field with its spec, in sorted key order: the order canonical assets are built in. */
export const fieldsInKeyOrder: readonly (readonly [AssetField, FieldSpec])[] = [...names].sort().map((f) => [f, spec(f)] as const);
