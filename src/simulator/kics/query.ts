import { parseIp } from '../../model/ip.js';
import { parseMac } from '../../model/mac.js';
import { kicsLimits } from '../../model/kics.js';
import { httpError, validationError, type KicsErrorItem } from './http.js';
import { parseKicsTime } from './time.js';

/**
 * The query grammar of the KICS connector API, for every `.../query` endpoint:
 *
 *   { "filter": [cond | [cond, ...], ...], "sort": [{column, direction, nullsBehaviour}], "offset": n, "limit": n }
 *
 * either top level or wrapped in `{"query": {...}}`. Top-level items are ANDed; a nested array is an
 * OR group (an item's `operator` may join it to the previous item with "and" / "or" instead; AND
 * binds tighter). Field names match case-insensitively. Values are checked against the field's
 * type (400 with the item's path when they do not fit). Results come in id order unless sorted;
 * `Id` conditions at the top level narrow a binary-searched id range, so paging with
 * `Id > lastId` costs the page, not the store.
 */

export type FieldType = 'number' | 'string' | 'boolean' | 'date' | 'enum' | 'mac' | 'ip';

export interface FieldDef<T> {
  /** The name as the reference spells it (PascalCase). */
  name: string;
  type: FieldType;
  /** The row's value; an array for `many` fields (a condition holds when it holds for any element). */
  get: (row: T) => unknown;
  many?: boolean;
  /** Allowed values of an enum (matched case-insensitively); numbers map to `enumIndex` when given. */
  values?: readonly string[];
  enumIndex?: readonly string[];
  /** A string compared without regard to case (e.g. event `Technology`: the reference filters "DPI" where events say "Dpi"). */
  caseInsensitive?: boolean;
  /** How the row stores a date (the filter value is normalised to it so strings compare). */
  formatDate?: (ms: number) => string;
}

export type FieldTable<T> = readonly FieldDef<T>[];

const conditions = ['=', '<>', '>', '>=', '<', '<=', 'isoneof'] as const;
type Condition = (typeof conditions)[number];

type Predicate<T> = (row: T) => boolean;
type Comparator<T> = (a: T, b: T) => number;

export interface CompiledQuery<T> {
  predicate: Predicate<T>;
  /** Null when the order is by id (the default), then `direction` says which way. */
  comparator: Comparator<T> | null;
  direction: 'asc' | 'desc';
  /** Inclusive bounds on the id from top-level `Id` conditions. */
  idRange: { lo: number; hi: number };
  offset: number;
  limit: number;
}

/** Rows of one kind in ascending id order, scanned from an id range. */
export interface QuerySource<T> {
  scan(range: { lo: number; hi: number }, direction: 'asc' | 'desc'): Iterable<T>;
}

export interface QueryAnswer<T> {
  offset: number;
  limit: number;
  values: T[];
}

/** Default page size when `limit` is absent (the reference's examples use 100). */
export const defaultQueryLimit = 100;

interface Ctx {
  errors: KicsErrorItem[];
}

function fail(ctx: Ctx, path: string, field: string | null, message: string): null {
  ctx.errors.push({ field, path, errorMessage: message });
  return null;
}

function findField<T>(table: FieldTable<T>, name: unknown): FieldDef<T> | undefined {
  if (typeof name !== 'string') return undefined;
  const lower = name.toLowerCase();
  return table.find((f) => f.name.toLowerCase() === lower);
}

function fieldList<T>(table: FieldTable<T>): string {
  return table.map((f) => f.name).join(', ');
}

/** The filter value in the form rows store, or an error. `undefined` means invalid. */
function coerce<T>(field: FieldDef<T>, value: unknown, ctx: Ctx, path: string): unknown {
  if (value === null) return null;
  const bad = (expected: string): undefined => {
    fail(ctx, path, 'value', `${JSON.stringify(value)} is not valid for ${field.name}: expected ${expected}.`);
    return undefined;
  };
  switch (field.type) {
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) ? n : bad('a number');
    }
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : bad('a string');
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      return bad('true or false');
    case 'date': {
      const ms = typeof value === 'string' ? parseKicsTime(value) : null;
      return ms === null ? bad('an ISO 8601 date-time such as "2026-01-31T10:00:00Z"') : field.formatDate!(ms);
    }
    case 'enum': {
      if (typeof value === 'number' && field.enumIndex && Number.isInteger(value) && field.enumIndex[value] !== undefined) return field.enumIndex[value];
      const found = typeof value === 'string' ? field.values!.find((v) => v.toLowerCase() === value.toLowerCase()) : undefined;
      return found ?? bad(`one of ${field.values!.join(', ')}`);
    }
    case 'mac': {
      const mac = typeof value === 'string' ? parseMac(value) : null;
      return mac?.ok ? mac.mac : bad('a MAC address');
    }
    case 'ip': {
      const ip = typeof value === 'string' ? parseIp(value) : null;
      return ip?.ok ? ip.ip : bad('an IP address');
    }
  }
}

/** `isOneOf` takes a JSON array; the reference also shows a list written as a string ("['User']"). */
function listOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[') && text.endsWith(']')) {
      try {
        const parsed = JSON.parse(text.replace(/'/g, '"')) as unknown;
        if (Array.isArray(parsed)) return parsed;
      } catch {
        // Not a list after all: a single value.
      }
    }
  }
  return [value];
}

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function compileCondition<T>(table: FieldTable<T>, item: Record<string, unknown>, ctx: Ctx, path: string): { predicate: Predicate<T>; field: FieldDef<T>; condition: Condition; value: unknown } | null {
  const field = findField(table, item.field);
  if (!field) {
    if (typeof item.field !== 'string' || item.field === '') return fail(ctx, `${path}.field`, 'field', 'A field name is required.');
    return fail(ctx, `${path}.field`, 'field', `Unknown field ${JSON.stringify(item.field)}. Fields that can be used for filtering: ${fieldList(table)}.`);
  }
  const rawCondition = item.condition ?? '=';
  const condition = typeof rawCondition === 'string' ? conditions.find((c) => c === rawCondition.toLowerCase()) : undefined;
  if (!condition) return fail(ctx, `${path}.condition`, 'condition', `Unknown condition ${JSON.stringify(rawCondition)}: expected one of =, <>, >, >=, <, <=, isOneOf.`);
  const ordered = condition === '>' || condition === '>=' || condition === '<' || condition === '<=';
  if (ordered && (field.type === 'boolean' || field.type === 'enum' || field.type === 'mac' || field.type === 'ip')) {
    return fail(ctx, `${path}.condition`, 'condition', `${field.name} cannot be compared with ${condition}: use =, <> or isOneOf.`);
  }
  const errorsBefore = ctx.errors.length;
  const fold = (v: unknown): unknown => (typeof v === 'string' ? v.toLowerCase() : v);
  const get = field.caseInsensitive ? (row: T) => fold(field.get(row)) : field.get;
  const many = field.many === true;
  const test = (fn: (v: unknown) => boolean): Predicate<T> =>
    many
      ? (row) => {
          const values = get(row) as unknown[] | null | undefined;
          return Array.isArray(values) && values.some(fn);
        }
      : (row) => fn(get(row));

  if (condition === 'isoneof') {
    const list = listOf(item.value).map((v, i) => coerce(field, v, ctx, `${path}.value[${i}]`)).map((v) => (field.caseInsensitive ? fold(v) : v));
    if (ctx.errors.length > errorsBefore) return null;
    const set = new Set(list);
    const matchesNull = set.has(null);
    const predicate: Predicate<T> = many
      ? (row) => {
          const values = get(row) as unknown[] | null | undefined;
          return Array.isArray(values) && values.length > 0 ? values.some((v) => set.has(v)) : matchesNull;
        }
      : (row) => {
          const v = get(row);
          return v === null || v === undefined ? matchesNull : set.has(v);
        };
    return { predicate, field, condition, value: list };
  }

  const coerced = coerce(field, item.value, ctx, `${path}.value`);
  if (coerced === undefined || ctx.errors.length > errorsBefore) return null;
  const value = field.caseInsensitive ? fold(coerced) : coerced;
  let predicate: Predicate<T>;
  if (value === null) {
    if (ordered) return fail(ctx, `${path}.value`, 'value', `null cannot be compared with ${condition}.`);
    const isNull = (row: T): boolean => {
      const v = get(row);
      return v === null || v === undefined || (many && Array.isArray(v) && v.length === 0);
    };
    predicate = condition === '=' ? isNull : (row) => !isNull(row);
  } else if (condition === '=') {
    predicate = test((v) => v === value);
  } else if (condition === '<>') {
    predicate = many ? (row) => !((get(row) as unknown[] | null) ?? []).includes(value) : (row) => get(row) !== value;
  } else {
    const sign = condition === '>' ? (c: number) => c > 0 : condition === '>=' ? (c: number) => c >= 0 : condition === '<' ? (c: number) => c < 0 : (c: number) => c <= 0;
    predicate = test((v) => v !== null && v !== undefined && sign(compareValues(v, value)));
  }
  return { predicate, field, condition, value };
}

/** A group: items joined by their `operator` (default: `and` at even depth, `or` in a nested array); AND binds tighter. */
function compileGroup<T>(table: FieldTable<T>, items: unknown[], depth: number, ctx: Ctx, path: string, range: { lo: number; hi: number } | null): Predicate<T> {
  const defaultOperator = depth % 2 === 0 ? 'and' : 'or';
  const disjuncts: Predicate<T>[][] = [[]];
  items.forEach((item, i) => {
    const at = `${path}[${i}]`;
    let predicate: Predicate<T> | null = null;
    let operator: unknown = defaultOperator;
    if (Array.isArray(item)) {
      predicate = compileGroup(table, item, depth + 1, ctx, at, null);
    } else if (item !== null && typeof item === 'object') {
      const record = item as Record<string, unknown>;
      operator = record.operator ?? defaultOperator;
      const compiled = compileCondition(table, record, ctx, at);
      if (compiled) {
        predicate = compiled.predicate;
        if (range && defaultOperator === 'and' && compiled.field.name === 'Id' && typeof compiled.value === 'number') narrow(range, compiled.condition, compiled.value);
      }
    } else {
      fail(ctx, at, null, 'A filter item must be a condition {field, condition, value} or an array of conditions.');
    }
    if (typeof operator !== 'string' || !/^(and|or)$/i.test(operator)) {
      fail(ctx, `${at}.operator`, 'operator', `Unknown operator ${JSON.stringify(operator)}: expected "and" or "or".`);
      return;
    }
    if (!predicate) return;
    if (i > 0 && operator.toLowerCase() === 'or') disjuncts.push([]);
    disjuncts[disjuncts.length - 1]!.push(predicate);
  });
  // Id narrowing is only sound when the top level is a pure AND.
  if (range && disjuncts.length > 1) {
    range.lo = 0;
    range.hi = Number.MAX_SAFE_INTEGER;
  }
  const groups = disjuncts.filter((d) => d.length > 0);
  if (groups.length === 0) return () => true;
  return (row) => groups.some((all) => all.every((p) => p(row)));
}

function narrow(range: { lo: number; hi: number }, condition: Condition, value: number): void {
  switch (condition) {
    case '>':
      range.lo = Math.max(range.lo, Math.floor(value) + 1);
      break;
    case '>=':
      range.lo = Math.max(range.lo, Math.ceil(value));
      break;
    case '<':
      range.hi = Math.min(range.hi, Math.ceil(value) - 1);
      break;
    case '<=':
      range.hi = Math.min(range.hi, Math.floor(value));
      break;
    case '=':
      range.lo = Math.max(range.lo, value);
      range.hi = Math.min(range.hi, value);
      break;
    default:
      break;
  }
}

function integerIn(value: unknown, name: string, min: number, max: number, fallback: number, ctx: Ctx): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(ctx, name, name, `${name} must be an integer from ${min} to ${max}; found ${JSON.stringify(value)}.`);
    return fallback;
  }
  if (value < min || value > max) {
    fail(ctx, name, name, `${name} must be from ${min} to ${max}; found ${value}.`);
    return fallback;
  }
  return value;
}

/** Compiles a query body for a field table; throws 400 with every problem found. */
export function compileQuery<T>(body: unknown, table: FieldTable<T>): CompiledQuery<T> {
  const ctx: Ctx = { errors: [] };
  let query: Record<string, unknown> = {};
  if (body !== undefined && body !== null) {
    if (typeof body !== 'object' || Array.isArray(body)) throw httpError(400, 'The query must be a JSON object with filter, sort, offset and limit.', null, '$');
    const record = body as Record<string, unknown>;
    const inner = record.query;
    query = inner !== undefined && inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : record;
  }

  const range = { lo: 0, hi: Number.MAX_SAFE_INTEGER };
  let predicate: Predicate<T> = () => true;
  const filter = query.filter;
  if (filter !== undefined && filter !== null) {
    const items = Array.isArray(filter) ? filter : typeof filter === 'object' ? [filter] : null;
    if (!items) fail(ctx, 'filter', 'filter', 'filter must be an array of conditions.');
    else predicate = compileGroup(table, items, 0, ctx, 'filter', range);
  }

  let comparator: Comparator<T> | null = null;
  let direction: 'asc' | 'desc' = 'asc';
  const sort = query.sort;
  if (sort !== undefined && sort !== null) {
    const columns = Array.isArray(sort) ? sort : typeof sort === 'object' ? [sort] : null;
    if (!columns) fail(ctx, 'sort', 'sort', 'sort must be an array of {column, direction, nullsBehaviour}.');
    else {
      const parts: Comparator<T>[] = [];
      let idOnly: 'asc' | 'desc' | null = null;
      columns.forEach((entry, i) => {
        const at = `sort[${i}]`;
        const record = (entry ?? {}) as Record<string, unknown>;
        const field = findField(table, record.column);
        if (!field) {
          fail(ctx, `${at}.column`, 'column', `Unknown sort column ${JSON.stringify(record.column)}. Columns: ${fieldList(table.filter((f) => !f.many))}.`);
          return;
        }
        if (field.many) {
          fail(ctx, `${at}.column`, 'column', `${field.name} holds several values and cannot be sorted on.`);
          return;
        }
        const dir = record.direction ?? 'Asc';
        if (typeof dir !== 'string' || !/^(asc|desc)$/i.test(dir)) {
          fail(ctx, `${at}.direction`, 'direction', `Unknown direction ${JSON.stringify(dir)}: expected Asc or Desc.`);
          return;
        }
        const desc = dir.toLowerCase() === 'desc';
        const nulls = record.nullsBehaviour;
        let nullsFirst = desc;
        if (nulls !== undefined && nulls !== null) {
          if (typeof nulls !== 'string' || !/^(nulls)?(first|last)$/i.test(nulls)) {
            fail(ctx, `${at}.nullsBehaviour`, 'nullsBehaviour', `Unknown nullsBehaviour ${JSON.stringify(nulls)}: expected NullsFirst, NullsLast or null.`);
            return;
          }
          nullsFirst = /first$/i.test(nulls);
        }
        if (i === 0 && columns.length === 1 && field.name === 'Id') idOnly = desc ? 'desc' : 'asc';
        const get = field.get;
        parts.push((a, b) => {
          const va = get(a);
          const vb = get(b);
          const na = va === null || va === undefined;
          const nb = vb === null || vb === undefined;
          if (na || nb) return na && nb ? 0 : na === nullsFirst ? -1 : 1;
          const c = compareValues(va, vb);
          return desc ? -c : c;
        });
      });
      if (idOnly) direction = idOnly;
      else if (parts.length > 0) {
        const idField = findField(table, 'Id');
        if (idField && !columns.some((c) => findField(table, (c as Record<string, unknown> | null)?.column)?.name === 'Id')) {
          parts.push((a, b) => (idField.get(a) as number) - (idField.get(b) as number));
        }
        comparator = (a, b) => {
          for (const part of parts) {
            const c = part(a, b);
            if (c !== 0) return c;
          }
          return 0;
        };
      }
    }
  }

  const offset = integerIn(query.offset, 'offset', 0, 2_147_483_647, 0, ctx);
  const limit = integerIn(query.limit, 'limit', 0, kicsLimits.maxQueryLimit, defaultQueryLimit, ctx);
  if (ctx.errors.length > 0) throw validationError(ctx.errors);
  return { predicate, comparator, direction, idRange: range, offset, limit };
}

/**
 * Runs a compiled query. In id order it stops as soon as the page is full (the cost is the
 * offset plus the page, inside the id range); another order collects the matches in the range
 * and sorts them.
 */
export function runQuery<T>(source: QuerySource<T>, query: CompiledQuery<T>): QueryAnswer<T> {
  const { predicate, comparator, idRange, offset, limit } = query;
  const values: T[] = [];
  if (idRange.lo > idRange.hi || limit === 0) return { offset, limit, values };
  if (!comparator) {
    let skipped = 0;
    for (const row of source.scan(idRange, query.direction)) {
      if (!predicate(row)) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      values.push(row);
      if (values.length >= limit) break;
    }
    return { offset, limit, values };
  }
  const matches: T[] = [];
  for (const row of source.scan(idRange, 'asc')) if (predicate(row)) matches.push(row);
  matches.sort(comparator);
  return { offset, limit, values: matches.slice(offset, offset + limit) };
}

/** A source over rows kept in an array sorted by id. */
export function arraySource<T>(rows: () => readonly T[], idOf: (row: T) => number): QuerySource<T> {
  return {
    *scan(range, direction) {
      const list = rows();
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (idOf(list[mid]!) < range.lo) lo = mid + 1;
        else hi = mid;
      }
      if (direction === 'asc') {
        for (let i = lo; i < list.length && idOf(list[i]!) <= range.hi; i++) yield list[i]!;
      } else {
        let end = list.length - 1;
        while (end >= lo && idOf(list[end]!) > range.hi) end--;
        for (let i = end; i >= lo; i--) yield list[i]!;
      }
    },
  };
}
