import type { ReconcileContext } from './context.js';
import type { AssetGroup } from './correlate.js';
import { recordId } from './decisions.js';
import type { KeyId } from './keys.js';
import type { PlanBuilder } from './plan-builder.js';
import type { PinDecision } from './types.js';

/** An asset matched to exactly one KICS device, by the keys both hold. */
export interface Match {
  group: AssetGroup;
  device: number;
  keys: readonly KeyId[];
  /** The owner's pin that made this match, when one did. */
  pin?: PinDecision | undefined;
}

/**
 * Step 3, matching: each asset to KICS devices by MAC, then IP, then (when on) name. An asset with
 * problems, or that matches several devices, becomes a conflict; one no device matches is new.
 * Step 4: a device several assets claim is left alone, since each of them could be right, unless an
 * owner pinned one of them to it. A record pinned to a device (a console decision) matches it
 * whatever its keys say.
 */
export function matchAssets(ctx: ReconcileContext, groups: readonly AssetGroup[], plan: PlanBuilder): { matched: Match[]; unmatched: AssetGroup[] } {
  // Per device, the asset that claims it (nearly always one), or the list when several do.
  const claims = new Array<Match | Match[] | undefined>(ctx.devices.list.length);
  const unmatched: AssetGroup[] = [];
  for (const group of groups) {
    const match = matchGroup(ctx, group, plan);
    if (match === 'conflict') continue;
    if (match === null) unmatched.push(group);
    else {
      const claim = claims[match.device];
      claims[match.device] = claim === undefined ? match : Array.isArray(claim) ? [...claim, match] : [claim, match];
    }
  }
  return { matched: settleClaims(ctx, claims, plan), unmatched };
}

/** The one device an asset matches, null for none, or 'conflict' once the conflict is in the plan. */
function matchGroup(ctx: ReconcileContext, group: AssetGroup, plan: PlanBuilder): Match | null | 'conflict' {
  const { devices, keys: table } = ctx;
  if (ctx.decisions.pins.size > 0 && group.problems.length === 0) {
    const pins = group.records.map((r) => ctx.decisions.pins.get(recordId(r.record.source, r.record.key))).filter((p) => p !== undefined);
    const indexes = [...new Set(pins.map((p) => p.device))];
    if (indexes.length > 1) {
      const reason = `the asset's records are pinned to ${indexes.length} KICS devices: ${pins.map((p) => `${p.decision.source} ${JSON.stringify(p.decision.key)} to ${devices.at(p.device).device.id} (decision ${p.decision.id})`).join('; ')}`;
      plan.conflict('several_devices', reason, group.records, indexes, group.keys);
      return 'conflict';
    }
    if (indexes.length === 1) {
      const index = indexes[0]!;
      const keys = keysHeld(ctx, group, index);
      return { group, device: index, keys: keys.length > 0 ? keys : [table.name(devices.at(index).device.name)], pin: pins[0]!.decision };
    }
  }
  let macHits: readonly number[] = noHits;
  let ipHits: readonly number[] = noHits;
  for (const key of group.keys) {
    if (table.isMac(key)) macHits = devices.addHolders(key, macHits);
    else ipHits = devices.addHolders(key, ipHits);
  }
  // An archived device is a retired record: it counts only when no active device has the key.
  const archived = archivedCount(ctx, macHits) + archivedCount(ctx, ipHits);
  if (archived > 0 && archived < macHits.length + ipHits.length) {
    macHits = macHits.filter((i) => !devices.at(i).archived);
    ipHits = ipHits.filter((i) => !devices.at(i).archived);
  }

  if (group.problems.length > 0) {
    const reason = group.problems.map((p) => p.reason).join('; ');
    plan.conflict(group.problems[0]!.kind, reason, group.records, [...macHits, ...ipHits], group.keys);
    return 'conflict';
  }
  if (macHits.length > 1 || (macHits.length === 0 && ipHits.length > 1)) {
    const hits = [...macHits, ...ipHits];
    const distinct = [...new Set(hits)];
    const reason = `the asset matches ${distinct.length} KICS devices: ${distinct.map((i) => `${devices.at(i).device.id} by ${describeKeys(ctx, keysHeld(ctx, group, i))}`).join('; ')}`;
    plan.conflict('several_devices', reason, group.records, hits, group.keys);
    return 'conflict';
  }
  if (macHits.length === 1) {
    const byMac = macHits[0]!;
    const others = ipHits.filter((i) => i !== byMac);
    if (others.length > 0) {
      const reason = `${describeKeys(ctx, keysHeld(ctx, group, byMac).filter((k) => table.isMac(k)))} is on device ${devices.at(byMac).device.id}, but ${others
        .map((i) => `${describeKeys(ctx, keysHeld(ctx, group, i))} is on device ${devices.at(i).device.id}`)
        .join(' and ')}`;
      plan.conflict('mac_ip_split', reason, group.records, [byMac, ...others], group.keys);
      return 'conflict';
    }
    return { group, device: byMac, keys: keysHeld(ctx, group, byMac) };
  }
  if (ipHits.length === 1) return { group, device: ipHits[0]!, keys: keysHeld(ctx, group, ipHits[0]!) };
  if (!ctx.config.matchByName) return null;

  const names = [...new Set(group.records.map((r) => r.record.asset.name?.trim()).filter((n): n is string => !!n))];
  let hits = names.flatMap((n) => devices.named(n));
  if (hits.some((i) => !devices.at(i).archived)) hits = hits.filter((i) => !devices.at(i).archived);
  hits = [...new Set(hits)];
  if (hits.length > 1) {
    plan.conflict('several_devices', `the asset's name matches ${hits.length} KICS devices: ${hits.map((i) => devices.at(i).device.id).join(', ')}`, group.records, hits, group.keys);
    return 'conflict';
  }
  if (hits.length === 1) return { group, device: hits[0]!, keys: [table.name(devices.at(hits[0]!).device.name)] };
  return null;
}

/** One claim on a device is a match; several are a conflict. Devices in index order. */
function settleClaims(ctx: ReconcileContext, claims: readonly (Match | Match[] | undefined)[], plan: PlanBuilder): Match[] {
  const matched: Match[] = [];
  for (let index = 0; index < claims.length; index += 1) {
    const list = claims[index];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      matched.push(list);
      continue;
    }
    const pinned = list.filter((c) => c.pin);
    if (pinned.length === 1) {
      // An owner pinned one of the claimants to the device: it matches; the others are the conflict.
      const pin = pinned[0]!;
      matched.push(pin);
      const others = list.filter((c) => c !== pin);
      const reason = `device ${ctx.devices.at(index).device.id} is pinned to ${pin.pin!.source} ${JSON.stringify(pin.pin!.key)} (decision ${pin.pin!.id} by ${pin.pin!.by}), but ${others
        .map((c) => `${c.group.records.map((r) => `${r.record.source} ${JSON.stringify(r.record.key)}`).join(' + ')} matches it by ${describeKeys(ctx, c.keys)}`)
        .join('; ')}`;
      plan.conflict('several_assets', reason, others.flatMap((c) => c.group.records), [index], others.flatMap((c) => c.keys));
      continue;
    }
    const reason = `${list.length} assets match device ${ctx.devices.at(index).device.id}: ${list
      .map((c) => `${c.group.records.map((r) => `${r.record.source} ${JSON.stringify(r.record.key)}`).join(' + ')} by ${describeKeys(ctx, c.keys)}`)
      .join('; ')}`;
    plan.conflict(
      'several_assets',
      reason,
      list.flatMap((c) => c.group.records),
      [index],
      list.flatMap((c) => c.keys),
    );
  }
  return matched;
}

const noHits: readonly number[] = [];

function archivedCount(ctx: ReconcileContext, hits: readonly number[]): number {
  let count = 0;
  for (const index of hits) if (ctx.devices.at(index).archived) count += 1;
  return count;
}

/** The asset's keys a device holds (usually all of them). */
function keysHeld(ctx: ReconcileContext, group: AssetGroup, index: number): readonly KeyId[] {
  let held = 0;
  for (const key of group.keys) if (ctx.devices.holds(key, index)) held += 1;
  return held === group.keys.length ? group.keys : group.keys.filter((key) => ctx.devices.holds(key, index));
}

const describeKeys = (ctx: ReconcileContext, keys: readonly KeyId[]): string => keys.map((k) => ctx.keys.describe(k, ctx.spaceName)).join(', ');
