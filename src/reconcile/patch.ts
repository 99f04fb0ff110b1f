import jsonpatch from 'fast-json-patch';
import type { KicsPatchOperation } from '../model/kics.js';
import { planFields } from './fields.js';

/**
 * KICS PATCH operations for one device: a fast-json-patch comparison of the fields before and after,
 * mapped to KICS's op names (Add / Remove / Replace / Test) and its path rule `^(\/\w+)*(\/-)?$`.
 *
 * Every changed field gets a `Test` of its planned-against value first, so a device edited in KICS
 * after planning fails the Test (drift) instead of being overwritten. Changes are whole-field: an
 * array (labels, user attributes, interfaces) is replaced as a whole, computed from the value the
 * Test guards, because element indexes (`/userAttributes/3/value`) would mean something else after a
 * concurrent edit. The one exception: labels added in `add` mode are appended with `Add /labels/-`.
 */

export const kicsPathPattern = /^(\/\w+)*(\/-)?$/;

const fieldOrder = new Map<string, number>(planFields.map((f, i) => [f, i]));

export interface PatchOptions {
  /** Append new labels with `Add /labels/-` when the planned labels extend the current ones. */
  appendLabels?: boolean;
}

/**
 * The ops turning `before` into `after`. Both hold the same top-level fields (absent = null); the
 * caller puts only the fields it means to change in them.
 */
export function patchOperations(before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>, options: PatchOptions = {}): KicsPatchOperation[] {
  const normalizedBefore: Record<string, unknown> = {};
  const normalizedAfter: Record<string, unknown> = {};
  for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
    normalizedBefore[field] = before[field] ?? null;
    normalizedAfter[field] = after[field] ?? null;
  }
  const changed = new Set<string>();
  for (const op of jsonpatch.compare(normalizedBefore, normalizedAfter)) {
    const field = jsonpatch.unescapePathComponent(op.path.split('/')[1] ?? '');
    changed.add(field);
  }
  const fields = [...changed].sort((a, b) => (fieldOrder.get(a) ?? Number.MAX_SAFE_INTEGER) - (fieldOrder.get(b) ?? Number.MAX_SAFE_INTEGER) || (a < b ? -1 : 1));

  const tests: KicsPatchOperation[] = [];
  const changes: KicsPatchOperation[] = [];
  for (const field of fields) {
    const path = `/${field}`;
    if (!kicsPathPattern.test(path)) throw new Error(`cannot express a change of ${JSON.stringify(field)} as a KICS PATCH path`);
    const was = normalizedBefore[field];
    const will = normalizedAfter[field];
    tests.push({ op: 'Test', path, value: was });
    if (field === 'labels' && options.appendLabels && isAppend(was, will)) {
      for (const label of (will as unknown[]).slice((was as unknown[]).length)) changes.push({ op: 'Add', path: '/labels/-', value: label });
    } else if (was === null) {
      // Add sets an object member whether or not it exists (RFC 6902 4.1), so it also fits a field KICS omits.
      changes.push({ op: 'Add', path, value: will });
    } else {
      changes.push({ op: 'Replace', path, value: will });
    }
  }
  return [...tests, ...changes];
}

function isAppend(was: unknown, will: unknown): boolean {
  return Array.isArray(was) && Array.isArray(will) && will.length > was.length && was.every((v, i) => v === will[i]);
}
