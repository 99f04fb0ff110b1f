import jsonpatch from 'fast-json-patch';
import { patchOperationTypes, type PatchOperationType } from '../../model/kics.js';
import { influenceByIndex, parsePatchedDocument, writableDeviceFields, type DeviceInput } from './device-input.js';
import { jsonEqual, readOnlyDeviceFields, writableDocument, type SimDevice } from './device.js';
import { validationError, type KicsErrorItem } from './http.js';

/**
 * PATCH devices/{id}: RFC 6902 over the device's writable members (those of `DeviceWritable`),
 * with KICS's op names `Add` / `Remove` / `Replace` / `Test` and the path pattern
 * `^(\/\w+)*(\/-)?$` (so `/labels/-` appends and no escapes exist).
 *
 * - Member names match case-insensitively, as the real server's JSON binding does.
 * - `Test` compares the value at the path deeply; a missing member equals null, and null equals
 *   an empty `labels` / `userAttributes` list (the server answers those as `[]`).
 * - An op on a read-only member (id, lastModified, risks, ...) or an unknown one fails with a reason.
 * - The ops run in order. When one fails and `dontBreakOnFailure` is false, the ops after it are
 *   `Skipped`; the ops before it stay applied. With `dontBreakOnFailure` true every op runs.
 * - The document the ops produce is then validated as a PUT would be (limits, enums, unique name,
 *   addresses, caps); if it is invalid the answer is 400 and nothing is applied.
 * - The answer is one `{result, op, path, value}` per op, in order (`errorMessage` on a failure).
 */

export interface PatchOp {
  op: PatchOperationType;
  path: string;
  value?: unknown;
}

export type PatchOutcome = 'Succeeded' | 'Failed' | 'Skipped';

export interface PatchOpResult {
  result: PatchOutcome;
  op: PatchOperationType;
  path: string;
  value: unknown;
  errorMessage?: string;
}

export const patchPathPattern = /^(\/\w+)*(\/-)?$/;

/** Validates the body (an array of ops); a schema violation answers 400 for the whole request. */
export function parsePatchBody(body: unknown): PatchOp[] {
  if (!Array.isArray(body)) throw validationError([{ field: null, path: '$', errorMessage: 'The body must be a JSON array of operations {op, path, value}.' }]);
  const errors: KicsErrorItem[] = [];
  const ops = body.map((item, i): PatchOp => {
    const at = `[${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      errors.push({ field: null, path: at, errorMessage: 'An operation must be an object {op, path, value}.' });
      return { op: 'Test', path: '' };
    }
    const record = item as Record<string, unknown>;
    const op = typeof record.op === 'string' ? patchOperationTypes.find((t) => t.toLowerCase() === (record.op as string).toLowerCase()) : undefined;
    if (!op) errors.push({ field: 'op', path: `${at}.op`, errorMessage: `Unknown op ${JSON.stringify(record.op)}: expected one of ${patchOperationTypes.join(', ')}.` });
    if (typeof record.path !== 'string') errors.push({ field: 'path', path: `${at}.path`, errorMessage: 'A path is required.' });
    else if (!patchPathPattern.test(record.path)) {
      errors.push({ field: 'path', path: `${at}.path`, errorMessage: `The path ${JSON.stringify(record.path)} does not match the pattern ^(\\/\\w+)*(\\/-)?$ (e.g. /name, /labels/-, /addressInformation/0/ipAddresses/-).` });
    }
    return { op: op ?? 'Test', path: typeof record.path === 'string' ? record.path : '', ...('value' in record ? { value: record.value } : {}) };
  });
  if (errors.length > 0) throw validationError(errors);
  return ops;
}

const knownMembers = new Map<string, string>(
  [...writableDeviceFields, ...readOnlyDeviceFields, 'networkInterfaceId', 'networkInterfaceName', 'macAddress', 'macAddressSpaceId', 'ipAddresses', 'ip', 'addressSpaceId', 'value'].map((m) => [m.toLowerCase(), m]),
);

/** The path with member names in their canonical spelling. */
function canonicalPath(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((segment) => knownMembers.get(segment.toLowerCase()) ?? segment);
}

const nullAsEmptyList = new Set(['labels', 'userAttributes']);

function valueAt(document: unknown, segments: readonly string[]): unknown {
  let current: unknown = document;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value === undefined ? null : value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** Runs the ops on a copy of the device's writable members. */
export function applyPatch(device: SimDevice, ops: readonly PatchOp[], dontBreakOnFailure: boolean): { results: PatchOpResult[]; document: Record<string, unknown>; changed: boolean } {
  const document = writableDocument(device);
  const results: PatchOpResult[] = [];
  let broken = false;
  for (const op of ops) {
    const base = { op: op.op, path: op.path, value: op.value ?? null };
    if (broken) {
      results.push({ result: 'Skipped', ...base });
      continue;
    }
    const failure = runOp(document, op);
    if (failure === null) results.push({ result: 'Succeeded', ...base });
    else {
      results.push({ result: 'Failed', ...base, errorMessage: failure });
      if (!dontBreakOnFailure) broken = true;
    }
  }
  return { results, document, changed: !jsonEqual(document, writableDocument(device)) };
}

/** Applies one op in place; returns why it failed, or null. */
function runOp(document: Record<string, unknown>, op: PatchOp): string | null {
  const segments = canonicalPath(op.path);
  if (segments.length === 0) return 'The whole device cannot be patched at once: name a member (use PUT to replace a device).';
  const member = segments[0]!;
  if (readOnlyDeviceFields.includes(member)) return `${member} is read-only and cannot be patched.`;
  if (!(writableDeviceFields as readonly string[]).includes(member)) return `Unknown member ${JSON.stringify(segments[0])}: writable members are ${writableDeviceFields.join(', ')}.`;
  const pointer = `/${segments.join('/')}`;

  if (op.op === 'Test') {
    if (!('value' in op)) return 'A Test op needs a value.';
    let expected = op.value;
    if (segments.length === 1 && member === 'influence' && typeof expected === 'number') expected = influenceByIndex[expected] ?? expected;
    let actual = valueAt(document, segments);
    if (actual === undefined) actual = null;
    if (segments.length === 1 && nullAsEmptyList.has(member)) {
      if (expected === null) expected = [];
      if (actual === null) actual = [];
    }
    return jsonEqual(actual, expected) ? null : `Test failed: the value at ${op.path} is ${describe(actual)}, expected ${describe(op.value)}.`;
  }

  if ((op.op === 'Add' || op.op === 'Replace') && !('value' in op)) return `An ${op.op} op needs a value.`;
  const operation =
    op.op === 'Remove'
      ? ({ op: 'remove', path: pointer } as const)
      : ({ op: op.op === 'Add' ? 'add' : 'replace', path: pointer, value: structuredClone(op.value) } as const);
  try {
    // A missing top-level member is added by Replace too: every writable member exists on a device (as null).
    if (op.op === 'Replace' && segments.length === 1 && !(member in document)) document[member] = null;
    jsonpatch.applyOperation(document, operation, true, true);
    return null;
  } catch (error) {
    if (error instanceof jsonpatch.JsonPatchError) return explainPatchError(error.name, op);
    return (error as Error).message;
  }
}

function explainPatchError(name: string, op: PatchOp): string {
  switch (name) {
    case 'OPERATION_PATH_UNRESOLVABLE':
      return `The path ${op.path} does not exist on the device.`;
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
      return `The path ${op.path} has an invalid array index.`;
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return `The array index in ${op.path} is out of bounds.`;
    case 'OPERATION_PATH_CANNOT_ADD':
      return `Nothing can be added at ${op.path}.`;
    case 'OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED':
    case 'OPERATION_VALUE_REQUIRED':
      return `The ${op.op} op needs a value.`;
    default:
      return `The op cannot be applied: ${name}.`;
  }
}

/** Validates the patched document like a PUT (400 when invalid). */
export function patchedInput(document: Record<string, unknown>): DeviceInput {
  const parsed = parsePatchedDocument(document);
  if (!parsed.ok) throw validationError(parsed.errors);
  return parsed.value;
}
