/**
 * The KSC Open API "params" container in its JSON form, as the vendor's own Python client
 * (KlAkOAPI, Params.py) writes and reads it:
 *
 * - string, int (a JSON number), bool and arrays travel as plain JSON;
 * - every other type is wrapped: `{"type": "long" | "datetime" | "date" | "binary" | "float" |
 *   "double" | "params", "value": ...}`; datetimes are `YYYY-MM-DDTHH:MM:SSZ` in UTC;
 * - a params argument of a method (`pFilter`, `pParams`) and a params out-value (`pChunk`, `pParams`)
 *   are plain objects whose members are values as above; a params value *inside* a container (an
 *   element of `KLCSP_ITERATOR_ARRAY`, `CMD_PARAMS`, ...) is wrapped as `{"type": "params", ...}`.
 */

/** A decoded value: what the rest of the code works with. */
export type KscValue = string | number | boolean | null | Date | Uint8Array | KscValue[] | KscParams;
export interface KscParams {
  [name: string]: KscValue;
}

/** A value in its JSON wire form. */
export type KscWire = string | number | boolean | null | KscWire[] | KscTyped | { [name: string]: KscWire };
export interface KscTyped {
  type: KscTypeWord;
  value: unknown;
}

const typeWords = ['long', 'datetime', 'date', 'binary', 'float', 'double', 'params'] as const;
export type KscTypeWord = (typeof typeWords)[number];

/** Marks a number as paramLong (64-bit) rather than paramInt; KSC is strictly typed. */
export class KscLong {
  constructor(readonly value: number) {}
}

/** Marks a number as paramDouble. */
export class KscDouble {
  constructor(readonly value: number) {}
}

export const long = (value: number): KscLong => new KscLong(value);
export const double = (value: number): KscDouble => new KscDouble(value);

/** Anything `encodeValue` accepts. */
export type KscInput = KscValue | KscLong | KscDouble | undefined | KscInput[] | { [name: string]: KscInput };

function isTyped(value: unknown): value is KscTyped {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && 'type' in value && 'value' in value && (typeWords as readonly string[]).includes((value as { type: unknown }).type as string);
}

/**
 * A JavaScript value in the wire form. Integers outside the 32-bit range become paramLong. A value
 * already in wire form (a typed wrapper) passes unchanged, so encoding twice changes nothing.
 */
export function encodeValue(value: KscInput): KscWire {
  if (value === null || value === undefined) return null;
  if (isTyped(value)) return value;
  if (value instanceof KscLong) return { type: 'long', value: value.value };
  if (value instanceof KscDouble) return { type: 'double', value: value.value };
  if (value instanceof Date) return { type: 'datetime', value: formatKscDateTime(value) };
  if (value instanceof Uint8Array) return { type: 'binary', value: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`KSC params cannot carry ${value}`);
    if (!Number.isInteger(value)) return { type: 'double', value };
    return value >= -2147483648 && value <= 2147483647 ? value : { type: 'long', value };
  }
  if (typeof value === 'object') return { type: 'params', value: encodeParams(value) };
  return value;
}

/** The members of a params container (the plain object form used for method arguments). */
export function encodeParams(params: { [name: string]: KscInput }): { [name: string]: KscWire } {
  const out: { [name: string]: KscWire } = {};
  for (const [name, value] of Object.entries(params)) {
    // KSC params cannot hold a null member; an absent value is simply left out.
    if (value === undefined || value === null) continue;
    out[name] = encodeValue(value);
  }
  return out;
}

/** A wire value decoded: typed wrappers unwrapped, params to plain objects, datetimes to Date. */
export function decodeValue(value: unknown): KscValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  if (isTyped(value)) {
    const inner = value.value;
    switch (value.type) {
      case 'long':
      case 'float':
      case 'double':
        return typeof inner === 'string' ? Number(inner) : (inner as number);
      case 'datetime':
        return typeof inner === 'string' && inner !== '' ? parseKscDateTime(inner) : null;
      case 'date':
        return typeof inner === 'string' && inner !== '' ? new Date(`${inner}T00:00:00Z`) : null;
      case 'binary':
        return new Uint8Array(Buffer.from(String(inner), 'base64'));
      case 'params':
        return decodeParams(inner);
    }
  }
  if (typeof value === 'object') return decodeParams(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return null;
}

/** A params container (plain object form, or wrapped) decoded. */
export function decodeParams(value: unknown): KscParams {
  if (isTyped(value) && value.type === 'params') return decodeParams(value.value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  const out: KscParams = {};
  for (const [name, member] of Object.entries(value)) out[name] = decodeValue(member);
  return out;
}

/** `2024-05-01T10:00:00Z`: KSC datetimes have second precision and no fraction. */
export function formatKscDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function parseKscDateTime(text: string): Date | null {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Reads a member as a string, or undefined when it is absent or of another type. */
export function paramString(params: KscParams, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' ? value : undefined;
}

export function paramNumber(params: KscParams, name: string): number | undefined {
  const value = params[name];
  return typeof value === 'number' ? value : undefined;
}

export function paramDate(params: KscParams, name: string): Date | undefined {
  const value = params[name];
  return value instanceof Date ? value : undefined;
}

export function paramParams(params: KscParams, name: string): KscParams | undefined {
  const value = params[name];
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof Uint8Array) ? value : undefined;
}

/** Turns a decoded value into plain JSON (Date as ISO text, binary as base64) for storage and output. */
export function toJson(value: KscValue): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}
