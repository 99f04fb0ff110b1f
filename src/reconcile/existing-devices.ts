import { kicsLimits } from '../model/kics.js';
import { configUpload, freshRecords, staleWork } from './asset-items.js';
import type { ReconcileContext } from './context.js';
import { ownField, scalarFields } from './fields.js';
import { itemDecision } from './decisions.js';
import { assetSide, deviceSide, type BoundDevice, type BoundRecord } from './identity.js';
import type { KeyId } from './keys.js';
import type { Match } from './match.js';
import { patchOperations } from './patch.js';
import { deviceSummary, emptyItem, factsOf, sourceKeysOf, type ItemBase, type PlanBuilder, type ScopeFacts, type Work } from './plan-builder.js';
import { RecordsBySource, computeTarget, mergeAddresses, sourceKeys, targetAttributes, targetLabels, type Target } from './target.js';

/**
 * Step 5, matched assets: precedence and staleness give each asset's target; a retired asset is
 * deleted or archived, otherwise the difference between the target and its device is an update (or
 * a conflict when interfaces do not fit), then the industrial configuration upload.
 */
export function planExistingDevices(ctx: ReconcileContext, matched: readonly Match[], plan: PlanBuilder): void {
  for (const match of matched) planExistingDevice(ctx, match, plan);
}

/** One matched asset while its items are planned. */
interface MatchedAsset {
  match: Match;
  device: BoundDevice;
  /** Its records that are fresh (all of them unless a source has a staleness window). */
  fresh: readonly BoundRecord[];
  target: Target;
  facts: ScopeFacts;
}

function planExistingDevice(ctx: ReconcileContext, match: Match, plan: PlanBuilder): void {
  const { group, device: index, keys } = match;
  const device = ctx.devices.at(index);
  plan.involve(index);
  const fresh = freshRecords(ctx, group.records);
  if (fresh.length === 0) {
    plan.add(staleWork(ctx, group, device, keys));
    return;
  }
  const freshBySource = new RecordsBySource(fresh);
  const target = computeTarget(freshBySource, device.device, () => firstMac(device, fresh), ctx.target);
  const facts = factsOf(group.records, [device], keys, target.owner);
  const asset: MatchedAsset = { match, device, fresh, target, facts };

  if (target.retired) {
    planRetired(ctx, asset, plan);
    return;
  }

  const recognized = planRecognized(ctx, asset);
  if (recognized) plan.add(recognized);

  const { before, after, notes, leftOut } = differences(ctx, device, target, fresh, plan);
  const changedFields = Object.keys(after);
  if (changedFields.length > 0) {
    const work = {
      item: {
        ...emptyItem('update', 'pending'),
        ...itemBase(ctx, asset),
        before,
        after,
        ops: patchOperations(before, after, { appendLabels: ctx.config.labels === 'add' }),
        reason: [`${changedFields.map((f) => `${f} from ${target.from[f] ?? freshBySource.names()}`).join(', ')}`, ...notes].join('; '),
      },
      facts,
    };
    plan.add(work);
    if ('name' in after) plan.proposeName({ work, name: after.name as string, device: index, records: group.records });
  } else if (leftOut !== null) {
    const reason = leftOut;
    plan.add({
      item: { ...emptyItem('conflict', 'not_applicable'), ...itemBase(ctx, asset), reason, conflict: { kind: 'too_many_interfaces', reason, assets: group.records.map(assetSide), devices: [deviceSide(device)] } },
      facts,
    });
  } else if (!recognized) plan.unchanged(facts, keys);

  const upload = target.industrialConfig ? configUpload(ctx, target, group.records, device, keys, itemBase(ctx, asset)) : null;
  if (upload) plan.add(upload);
}

/**
 * The authorized baseline: a device whose asset a source confirms (a fresh record of a source with
 * precedence for `status`) is made Recognized when it is Unauthorized (`reconcile.status.recognizeConfirmed`)
 * or Archived (`restoreArchived`: the asset is back). A status change is an item of its own, so the
 * report shows at a glance which devices become authorized.
 */
function planRecognized(ctx: ReconcileContext, asset: MatchedAsset): Work | null {
  const { device, fresh, facts } = asset;
  const status = device.device.status ?? null;
  const policy = ctx.config.status;
  const wanted = (status === 'Unauthorized' && policy.recognizeConfirmed) || (status === 'Archived' && policy.restoreArchived);
  if (!wanted) return null;
  const owners = ctx.precedence.status ?? [];
  const confirmedBy = fresh.find((r) => owners.includes(r.record.source));
  if (!confirmedBy) return null;
  const by = `${confirmedBy.record.source} ${JSON.stringify(confirmedBy.record.key)}`;
  return {
    item: {
      ...emptyItem('recognize', 'pending'),
      ...itemBase(ctx, asset),
      before: { status },
      after: { status: 'Recognized' },
      ops: patchOperations({ status }, { status: 'Recognized' }),
      reason: status === 'Archived' ? `${by} lists the asset again: restored from Archived` : `${by} confirms the asset: authorized`,
    },
    facts,
  };
}

/** A retired asset: its device deleted (allowDelete), archived (archiveRetired), or left as it is. */
function planRetired(ctx: ReconcileContext, asset: MatchedAsset, plan: PlanBuilder): void {
  const { device, fresh, facts } = asset;
  const retiredBy = fresh.find((r) => r.record.asset.retired)?.record.source ?? 'a source';
  if (ctx.config.allowDelete) {
    plan.add({
      item: { ...emptyItem('delete', 'pending'), ...itemBase(ctx, asset), before: deviceSummary(device.device), reason: `${retiredBy} marks the asset as retired and reconcile.allowDelete is on: the device will be DELETED from KICS` },
      facts,
    });
  } else if (ctx.config.archiveRetired && device.device.status !== 'Archived') {
    plan.add({
      item: {
        ...emptyItem('archive', 'pending'),
        ...itemBase(ctx, asset),
        before: { status: device.device.status ?? null },
        after: { status: 'Archived' },
        ops: patchOperations({ status: device.device.status ?? null }, { status: 'Archived' }),
        reason: `${retiredBy} marks the asset as retired`,
      },
      facts,
    });
  } else plan.unchanged(facts, asset.match.keys);
}

/** The fields every item of a matched asset shares (built only for an asset that has an item: most of a large plan are unchanged). */
function itemBase(ctx: ReconcileContext, { match, device, target }: MatchedAsset): ItemBase {
  return {
    kicsDeviceId: device.device.id,
    deviceName: device.device.name,
    addressSpaceId: ctx.keys.primarySpace(match.keys),
    owner: target.owner,
    matchKeys: ctx.keys.matchKeys(match.keys),
    sourceKeys: sourceKeysOf(match.group.records),
    ...(match.pin ? { decision: itemDecision('pin', match.pin) } : {}),
  };
}

/** The fields where the target differs from the device, before and after, and notes on what could not be done. */
function differences(ctx: ReconcileContext, device: BoundDevice, target: Target, fresh: readonly BoundRecord[], plan: PlanBuilder): { before: Record<string, unknown>; after: Record<string, unknown>; notes: string[]; leftOut: string | null } {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const field of scalarFields) {
    const value = ownField(target.fields, field);
    if (value === undefined) continue;
    const now = ownField(device.device, field) ?? null;
    if (value !== now) {
      before[field] = now;
      after[field] = value;
    }
  }
  const labels = targetLabels(device.device.labels, target, ctx.config.labels);
  if (labels) {
    before.labels = device.device.labels ?? null;
    after.labels = labels;
  }
  const attributes = targetAttributes(device.device.userAttributes, target, ctx.config.managedAttributes);
  if (attributes) {
    before.userAttributes = device.device.userAttributes ?? null;
    after.userAttributes = attributes;
  }
  const wantedKeys = sourceKeys(fresh, ctx.keys);
  const asserted = assertedKeys(ctx, device.device.id);
  const addresses = mergeAddresses(device, fresh, wantedKeys, asserted, ctx.keys);
  for (const key of wantedKeys) if (!asserted.includes(key)) plan.newAssertions.add(device.device.id, key);
  if (addresses.after) {
    before.addressInformation = device.device.addressInformation ?? null;
    after.addressInformation = addresses.after;
  }
  const notes: string[] = [];
  if (addresses.removed.length > 0) {
    notes.push(`${addresses.removed.map((k) => ctx.keys.describe(k, ctx.spaceName)).join(', ')} removed: a source asserted ${addresses.removed.length === 1 ? 'it' : 'them'} earlier, none does now`);
  }
  if (addresses.keptLast) notes.push('addresses no source asserts any more are kept: removing them would leave the device without an address');
  const leftOut =
    addresses.interfacesLeftOut > 0
      ? `${addresses.interfacesLeftOut} interface(s) not added: the device has ${device.device.addressInformation?.length ?? 0} and KICS allows at most ${kicsLimits.maxInterfacesPerDevice}`
      : null;
  if (leftOut !== null) notes.push(leftOut);
  return { before, after, notes, leftOut };
}

/**
 * The keys sources asserted for a device on earlier plans. One this run has no key for is on no
 * device and in no record: there is nothing to remove and nothing to assert again.
 */
function assertedKeys(ctx: ReconcileContext, deviceId: number): KeyId[] {
  const keys: KeyId[] = [];
  for (const text of ctx.input.assertedAddresses?.get(deviceId) ?? []) {
    const key = ctx.keys.find(text);
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

/** The first identity MAC of an asset, for the vendor of its OUI. */
function firstMac(device: BoundDevice, records: readonly BoundRecord[]): string | null {
  for (const r of records) for (const i of r.interfaces) if (i.mac !== null) return i.mac;
  return device.interfaces.find((i) => i.mac !== null)?.mac ?? null;
}
