import type { BoundDevice } from './identity.js';
import type { ItemDecision, PlanAction, SourceKey } from './plan-schema.js';
import type { DecisionRef, HoldDecision, PinDecision, ReconcileDecisions, SameAssetDecision } from './types.js';

/**
 * Owners' decisions from the review console, bound to this run's devices: a record pinned to a device
 * matches it, records declared one asset correlate as one, an ignored device is never reported as
 * unknown, and a change an owner rejected is held (shown, not applied). The I/O side
 * (src/sync/decisions) passes only decisions in force: not revoked, not expired, and for a hold, its
 * records unchanged since.
 */

export interface BoundDecisions {
  /** The device (index) each pinned record matches: by `recordId(source, key)`. */
  pins: ReadonlyMap<string, { device: number; decision: PinDecision }>;
  sameAssets: readonly SameAssetDecision[];
  /** Ignored devices by index. */
  ignored: ReadonlyMap<number, DecisionRef>;
  holds: ReadonlyMap<string, HoldDecision>;
}

export const noDecisions: BoundDecisions = { pins: new Map(), sameAssets: [], ignored: new Map(), holds: new Map() };

export const recordId = (source: string, key: string): string => `${source}\u0000${key}`;

/** The same change of another plan: the action, on the device (for a create: none) from exactly these records. */
export function holdKey(action: PlanAction, deviceId: number | null, sourceKeys: readonly SourceKey[]): string {
  const records = sourceKeys.map((k) => recordId(k.source, k.key)).sort();
  return `${action}\u0001${deviceId ?? ''}\u0001${records.join('\u0001')}`;
}

/** Binds the decisions to device indexes; a pin or ignore of a device KICS no longer has is left out. */
export function bindDecisions(decisions: ReconcileDecisions | undefined, devices: readonly BoundDevice[]): BoundDecisions {
  if (!decisions) return noDecisions;
  const indexById = new Map<number, number>();
  const wanted = new Set([...decisions.pins.map((p) => p.deviceId), ...decisions.ignoredDevices.map((d) => d.deviceId)]);
  if (wanted.size > 0) devices.forEach((d, i) => wanted.has(d.device.id) && indexById.set(d.device.id, i));
  const pins = new Map<string, { device: number; decision: PinDecision }>();
  for (const pin of decisions.pins) {
    const device = indexById.get(pin.deviceId);
    if (device !== undefined) pins.set(recordId(pin.source, pin.key), { device, decision: pin });
  }
  const ignored = new Map<number, DecisionRef>();
  for (const d of decisions.ignoredDevices) {
    const device = indexById.get(d.deviceId);
    if (device !== undefined) ignored.set(device, d);
  }
  const holds = new Map(decisions.holds.map((h) => [holdKey(h.action, h.deviceId, h.sourceKeys), h]));
  return { pins, sameAssets: decisions.sameAssets, ignored, holds };
}

/** How an item shows the decision it follows. */
export function itemDecision(kind: ItemDecision['kind'], d: DecisionRef): ItemDecision {
  return { id: d.id, kind, by: d.by, at: d.at, reason: d.reason };
}
