import { csvFields, type CsvField } from '../../config/sources.js';
import { csvAliases, fieldsInKeyOrder, type AssetField, type FieldSpec } from '../../model/fields.js';
import { mappingKey } from '../../model/normalize.js';

/**
 * Which header fills which canonical field. Headers compare case- and punctuation-insensitively
 * (`MAC_Address`, `mac-address`, `Mac Address` are one header). For each field the first alias found
 * in the header wins, in the order listed; `columns` in the source's config overrides an alias.
 */
export const defaultAliases: Readonly<Record<CsvField, readonly string[]>> = csvAliases;

/** Fields a row is identified by: a file needs at least one of these columns. */
export const identityFields: readonly CsvField[] = ['name', 'mac', 'ip'];

export interface ColumnMap {
  /** Field -> index of its column. */
  fields: Partial<Record<CsvField, number>>;
  /** User attribute name -> index of its column. */
  attributes: [string, number][];
  /** The header as written (for messages and raw rows). */
  header: string[];
  /**
   * What a row's asset is built from, in canonical key order (src/model/fields.ts): each asset field
   * a column fills, with that column, and the interfaces and user attributes every row has.
   */
  build: AssetPart[];
}

export type AssetPart = { field: 'interfaces' | 'userAttributes' } | { field: AssetField; spec: FieldSpec; column: CsvField; index: number };

export type ColumnProblem = { kind: 'missing'; what: string; header: string } | { kind: 'noIdentity' };

/** Resolves the header against the aliases and the configured columns; problems are refusals of the whole file. */
export function mapColumns(header: readonly string[], columns: Partial<Record<CsvField, string>>, attributes: Record<string, string>): { map: ColumnMap; problems: ColumnProblem[] } {
  const index = new Map<string, number>();
  header.forEach((h, i) => {
    const key = mappingKey(h);
    if (key !== '' && !index.has(key)) index.set(key, i);
  });
  const problems: ColumnProblem[] = [];
  const fields: Partial<Record<CsvField, number>> = {};
  const used = new Set<number>();
  // Configured columns first, so an alias never takes a column the config gave to another field.
  for (const field of csvFields) {
    const configured = columns[field];
    if (configured === undefined) continue;
    const at = index.get(mappingKey(configured));
    if (at === undefined) problems.push({ kind: 'missing', what: `columns.${field}`, header: configured });
    else {
      fields[field] = at;
      used.add(at);
    }
  }
  const attributeColumns: [string, number][] = [];
  for (const [column, attribute] of Object.entries(attributes)) {
    const at = index.get(mappingKey(column));
    if (at === undefined) problems.push({ kind: 'missing', what: `attributes.${column}`, header: column });
    else {
      attributeColumns.push([attribute, at]);
      used.add(at);
    }
  }
  for (const field of csvFields) {
    if (fields[field] !== undefined || columns[field] !== undefined) continue;
    for (const alias of defaultAliases[field]) {
      const at = index.get(alias);
      if (at !== undefined && !used.has(at)) {
        fields[field] = at;
        used.add(at);
        break;
      }
    }
  }
  if (!identityFields.some((f) => fields[f] !== undefined)) problems.push({ kind: 'noIdentity' });
  const build: AssetPart[] = [];
  for (const [field, spec] of fieldsInKeyOrder) {
    if (field === 'interfaces' || field === 'userAttributes') build.push({ field });
    else if (spec.csv && fields[spec.csv.column as CsvField] !== undefined) build.push({ field, spec, column: spec.csv.column as CsvField, index: fields[spec.csv.column as CsvField]! });
  }
  return { map: { fields, attributes: attributeColumns, header: [...header], build }, problems };
}

/** The column mapping as the user reads it: each field with the column that fills it. */
export function columnMapDetails(map: ColumnMap): string[] {
  const lines = Object.entries(map.fields).map(([field, index]) => `${field} <- column ${JSON.stringify(map.header[index])}`);
  for (const [attribute, index] of map.attributes) lines.push(`user attribute ${JSON.stringify(attribute)} <- column ${JSON.stringify(map.header[index])}`);
  const used = new Set([...Object.values(map.fields), ...map.attributes.map(([, i]) => i)]);
  const unused = map.header.filter((h, i) => !used.has(i) && h !== '');
  if (unused.length > 0) lines.push(`columns not read: ${unused.map((h) => JSON.stringify(h)).join(', ')}`);
  return lines;
}

/** What a header lacks that a user should know before a read: no MAC and no IP column. */
export function columnMapWarnings(file: string, map: ColumnMap): string[] {
  if (map.fields.mac !== undefined || map.fields.ip !== undefined) return [];
  return [
    `${file} has neither a MAC nor an IP column: its rows can only be matched to KICS devices by name (reconcile.matchByName), and devices created from them have no address. Map the columns that hold them with columns.mac / columns.ip in the source's config`,
  ];
}
