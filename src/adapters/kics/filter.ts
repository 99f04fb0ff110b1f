import { assetStatuses, assetTypes, influenceTypes, type QueryFilter, type QueryFilterItem } from '../../model/kics.js';

/**
 * A typed builder for the query grammar of every `.../query` endpoint:
 *
 *   { "filter": [item | [item, ...], ...], "sort": [...], "offset": n, "limit": n }
 *
 * where an item is `{field, condition, value}`, top-level items are ANDed and a nested array is an OR
 * group. Field names are the reference's (PascalCase), typed per endpoint with the values they take:
 * dates as `Date` (sent as ISO 8601 UTC with `Z`), enums as their names, and the ordering conditions
 * only on numbers, strings and dates.
 *
 *   const f = deviceFilter;
 *   [f.gt('LastModified', since), f.ne('Status', 'Archived'), f.or(f.eq('Name', 'PLC-1'), f.isOneOf('MacAddress', macs))]
 */

type FieldKind = 'number' | 'string' | 'date' | 'boolean' | 'mac' | 'ip' | readonly string[];
export type FieldTable = Readonly<Record<string, FieldKind>>;

type ValueOf<K extends FieldKind> = K extends 'number'
  ? number
  : K extends 'date'
    ? Date | string
    : K extends 'boolean'
      ? boolean
      : K extends readonly (infer E)[]
        ? E
        : string;

type OrderedField<F extends FieldTable> = { [K in keyof F]: F[K] extends 'number' | 'string' | 'date' ? K : never }[keyof F] & string;
type AnyField<F extends FieldTable> = keyof F & string;

/** Fields of `devices/query` (the reference's device members; `Labels`, `MacAddress`, `IpAddress` and the address space ids match when any element does). */
export const deviceQueryFields = {
  Id: 'number',
  Name: 'string',
  Description: 'string',
  Status: assetStatuses,
  Category: assetTypes,
  CategoryConfidence: 'number',
  Group: 'string',
  SecurityState: 'string',
  Influence: influenceTypes,
  LastSeen: 'date',
  LastModified: 'date',
  Created: 'date',
  Os: 'string',
  NetworkName: 'string',
  HardwareVendor: 'string',
  HardwareModel: 'string',
  HardwareVersion: 'string',
  SoftwareVendor: 'string',
  SoftwareModel: 'string',
  SoftwareVersion: 'string',
  IsRouter: 'boolean',
  Labels: 'string',
  MacAddress: 'mac',
  IpAddress: 'ip',
  IpAddressSpaceId: 'number',
  MacAddressSpaceId: 'number',
} as const satisfies FieldTable;

export const addressSpaceQueryFields = { Id: 'number', Name: 'string', Description: 'string', ReadOnly: 'boolean' } as const satisfies FieldTable;

export const eventQueryFields = {
  Id: 'number',
  EventType: 'number',
  Title: 'string',
  Score: 'number',
  StartTime: 'date',
  LastSeenTime: 'date',
  EndTime: 'date',
  Protocol: 'string',
  Technology: 'string',
  TotalAppearances: 'number',
  Status: ['Proposed', 'Active', 'Resolved'],
  Mark: 'number',
  Origin: ['Unknown', 'System', 'User'],
  MonitoringPointId: 'number',
  TriggeredRule: 'string',
  AssetId: 'number',
} as const satisfies FieldTable;

export interface FilterBuilder<F extends FieldTable> {
  eq<K extends AnyField<F>>(field: K, value: ValueOf<F[K]> | null): QueryFilterItem;
  ne<K extends AnyField<F>>(field: K, value: ValueOf<F[K]> | null): QueryFilterItem;
  gt<K extends OrderedField<F>>(field: K, value: ValueOf<F[K]>): QueryFilterItem;
  ge<K extends OrderedField<F>>(field: K, value: ValueOf<F[K]>): QueryFilterItem;
  lt<K extends OrderedField<F>>(field: K, value: ValueOf<F[K]>): QueryFilterItem;
  le<K extends OrderedField<F>>(field: K, value: ValueOf<F[K]>): QueryFilterItem;
  isOneOf<K extends AnyField<F>>(field: K, values: readonly ValueOf<F[K]>[]): QueryFilterItem;
  /** An OR group. */
  or(...items: QueryFilterItem[]): QueryFilterItem[];
  /** The top level (AND of its items), without empty parts. */
  and(...items: (QueryFilterItem | QueryFilterItem[] | null | undefined | false)[]): QueryFilter;
}

function wire(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

export function filterBuilder<F extends FieldTable>(): FilterBuilder<F> {
  const item = (field: string, condition: QueryFilterItem['condition'], value: unknown): QueryFilterItem => ({ field, condition, value: wire(value) });
  return {
    eq: (field, value) => item(field, '=', value),
    ne: (field, value) => item(field, '<>', value),
    gt: (field, value) => item(field, '>', value),
    ge: (field, value) => item(field, '>=', value),
    lt: (field, value) => item(field, '<', value),
    le: (field, value) => item(field, '<=', value),
    isOneOf: (field, values) => item(field, 'isOneOf', values.map(wire)),
    or: (...items) => items,
    and: (...items) => items.filter((i): i is QueryFilterItem | QueryFilterItem[] => Boolean(i) && (!Array.isArray(i) || i.length > 0)),
  };
}

export const deviceFilter = filterBuilder<typeof deviceQueryFields>();
export const addressSpaceFilter = filterBuilder<typeof addressSpaceQueryFields>();
export const eventFilter = filterBuilder<typeof eventQueryFields>();
