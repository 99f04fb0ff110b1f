import type { KicsDevice, KicsPatchOperation } from '../../model/kics.js';
import { parseIp } from '../../model/ip.js';
import { parseMac } from '../../model/mac.js';

/**
 * Whether a KICS device already holds the values a plan item was to write (`after`). Asked when an
 * item's Test guards fail: either KICS changed since planning (drift), or an earlier attempt of this
 * very write landed and its answer was lost (a connection reset the client retried, a process killed
 * after KICS applied its request). Equal means landed; different means drift.
 *
 * Values compare the way KICS compares them, not byte for byte: absent equals null, labels and user
 * attributes compare as sets (and null as an empty list), enum names ignore case, interfaces compare
 * by the MACs and IPs they hold (KICS adds interface and IP ids of its own).
 */

export interface HeldValues {
  /** Every planned field has its planned value in KICS. */
  held: boolean;
  /** The fields whose KICS value differs from the planned one. */
  differing: string[];
  /** KICS's current value of every planned field. */
  kicsValues: Record<string, unknown>;
}

const enumFields = new Set(['status', 'category', 'influence']);

export function plannedValuesHeld(device: KicsDevice, after: Readonly<Record<string, unknown>>): HeldValues {
  const differing: string[] = [];
  const kicsValues: Record<string, unknown> = {};
  const current = device as Record<string, unknown>;
  for (const [field, planned] of Object.entries(after)) {
    const actual = current[field] ?? null;
    kicsValues[field] = actual;
    if (!sameValue(field, actual, planned ?? null)) differing.push(field);
  }
  return { held: differing.length === 0, differing, kicsValues };
}

/**
 * Whether the device still holds what the item's Test guards test (whole top-level fields), compared
 * as `plannedValuesHeld` compares. Asked when KICS refuses a guarded PATCH without saying which op
 * failed (an HTTP error, fewer results than ops): guards that hold mean KICS refused the write itself.
 */
export function guardsHold(device: KicsDevice, ops: readonly KicsPatchOperation[]): boolean {
  const current = device as Record<string, unknown>;
  return ops
    .filter((op) => op.op === 'Test')
    .every((op) => {
      const field = op.path.slice(1);
      return !field.includes('/') && sameValue(field, current[field] ?? null, op.value ?? null);
    });
}

function sameValue(field: string, actual: unknown, planned: unknown): boolean {
  switch (field) {
    case 'labels':
      return sameSet(asList(actual).map(String), asList(planned).map(String));
    case 'userAttributes':
      return sameSet(attributeKeys(actual), attributeKeys(planned));
    case 'addressInformation':
      return sameSet(addressKeys(actual), addressKeys(planned));
  }
  if (enumFields.has(field) && typeof actual === 'string' && typeof planned === 'string') return actual.toLowerCase() === planned.toLowerCase();
  if (actual === null || planned === null || typeof actual !== 'object' || typeof planned !== 'object') return actual === planned;
  return JSON.stringify(actual) === JSON.stringify(planned);
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const left = [...a].sort();
  const right = [...b].sort();
  return left.every((v, i) => v === right[i]);
}

function attributeKeys(value: unknown): string[] {
  return asList(value).map((a) => {
    const { name, value: v } = (a ?? {}) as { name?: unknown; value?: unknown };
    return `${String(name).toLowerCase()}=${String(v)}`;
  });
}

/** `mac:<canonical>` and `ip:<canonical>` of every interface: what KICS knows the device by. */
function addressKeys(value: unknown): string[] {
  const keys = new Set<string>();
  for (const nic of asList(value) as { macAddress?: string | null; ipAddresses?: { ip?: string }[] | null }[]) {
    if (nic?.macAddress) {
      const mac = parseMac(nic.macAddress);
      keys.add(`mac:${mac.ok ? mac.mac : nic.macAddress.toLowerCase()}`);
    }
    for (const ip of nic?.ipAddresses ?? []) {
      if (!ip?.ip) continue;
      const parsed = parseIp(ip.ip);
      keys.add(`ip:${parsed.ok ? parsed.ip : ip.ip}`);
    }
  }
  return [...keys];
}
