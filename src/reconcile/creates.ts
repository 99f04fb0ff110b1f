import { kicsLimits, type DeviceCreateRequest } from '../model/kics.js';
import { configUpload, freshRecords, staleWork } from './asset-items.js';
import type { ReconcileContext } from './context.js';
import type { AssetGroup } from './correlate.js';
import { scalarFields } from './fields.js';
import { assetSide, type BoundInterface } from './identity.js';
import { emptyItem, factsOf, sourceKeysOf, type PlanBuilder, type Work } from './plan-builder.js';
import type { ConflictKind } from './plan-schema.js';
import { RecordsBySource, computeTarget, sourceInterfaces, targetAttributes, toAddressInformation, type Target } from './target.js';

/**
 * Step 6, assets no device matches: a create when reconcile.createDevices is on and the asset is
 * not retired, or a conflict when KICS could not create it (no name, no address, too many
 * interfaces); then the upload of its industrial configuration, which waits for the create.
 */
export function planCreates(ctx: ReconcileContext, unmatched: readonly AssetGroup[], plan: PlanBuilder): void {
  for (const group of unmatched) planCreate(ctx, group, plan);
}

function planCreate(ctx: ReconcileContext, group: AssetGroup, plan: PlanBuilder): void {
  const { config } = ctx;
  const keys = group.keys;
  const fresh = freshRecords(ctx, group.records);
  if (fresh.length === 0) {
    plan.add(staleWork(ctx, group, null, keys));
    return;
  }
  const interfaces = sourceInterfaces(fresh, ctx.keys);
  const target = computeTarget(new RecordsBySource(fresh), null, () => interfaces.find((i) => i.mac !== null)?.mac ?? null, ctx.target);
  if (target.retired || !config.createDevices) {
    plan.notCreated += 1;
    return;
  }
  const name = typeof target.fields.name === 'string' ? target.fields.name.trim() : '';
  const facts = factsOf(group.records, [], keys, target.owner);
  const base = {
    deviceName: name || null,
    addressSpaceId: ctx.keys.primarySpace(keys),
    owner: target.owner,
    matchKeys: ctx.keys.matchKeys(keys),
    sourceKeys: sourceKeysOf(group.records),
  };
  const problem = createProblem(name, interfaces);
  if (problem) {
    plan.add({ item: { ...emptyItem('conflict', 'not_applicable'), ...base, reason: problem.reason, conflict: { ...problem, assets: group.records.map(assetSide), devices: [] } }, facts });
    return;
  }
  const request = createRequest(ctx, name, interfaces, target);
  const { whatIfDuplicate: _w, allowProcessControlSettingsLoss: _a, ...after } = request;
  const work: Work = {
    item: {
      ...emptyItem('create', 'pending'),
      ...base,
      after,
      request,
      reason: `new in ${[...new Set(fresh.map((r) => r.record.source))].join(', ')}; not in KICS`,
    },
    facts,
  };
  plan.add(work);
  plan.proposeName({ work, name, device: null, records: group.records });
  const upload = configUpload(ctx, target, group.records, null, keys, base);
  if (upload) {
    if (upload.item.action === 'upload_config') upload.create = work;
    plan.add(upload);
  }
}

/** Why KICS could not create the device, or null. */
function createProblem(name: string, interfaces: readonly BoundInterface[]): { kind: ConflictKind; reason: string } | null {
  if (name === '') return { kind: 'incomplete_asset', reason: 'no source gives the asset a name, and KICS needs one to create a device' };
  if (interfaces.length === 0) return { kind: 'incomplete_asset', reason: 'the asset has no usable MAC or IP address, and KICS needs one to create a device' };
  if (interfaces.length > kicsLimits.maxInterfacesPerDevice) {
    return { kind: 'too_many_interfaces', reason: `the asset has ${interfaces.length} interfaces; KICS allows at most ${kicsLimits.maxInterfacesPerDevice} per device` };
  }
  return null;
}

function createRequest(ctx: ReconcileContext, name: string, interfaces: readonly BoundInterface[], target: Target): DeviceCreateRequest {
  const request: DeviceCreateRequest = {
    whatIfDuplicate: ctx.config.whatIfDuplicate,
    allowProcessControlSettingsLoss: ctx.config.allowProcessControlSettingsLoss,
    name,
    addressInformation: interfaces.map(toAddressInformation),
    // The asset register confirms it: created into the authorized baseline (reconcile.status.createAs).
    status: ctx.config.status.createAs,
  };
  for (const field of scalarFields) {
    const value = target.fields[field];
    if (field !== 'name' && value !== undefined && value !== null) (request as unknown as Record<string, unknown>)[field] = value;
  }
  if (target.labels && target.labels.length > 0) request.labels = target.labels;
  const attributes = targetAttributes([], target, ctx.config.managedAttributes);
  if (attributes && attributes.length > 0) request.userAttributes = attributes;
  return request;
}
