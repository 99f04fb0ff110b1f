import type { ReconcileContext } from './context.js';
import { assetSide, deviceSide } from './identity.js';
import { conflictLabel, type PlanBuilder } from './plan-builder.js';

/**
 * Step 7, name uniqueness: KICS names are unique, so a create or rename to a name a device already
 * has, or that several assets are given, would fail or overwrite; it becomes a conflict instead.
 */
export function checkNames(ctx: ReconcileContext, plan: PlanBuilder): void {
  const proposedNames = new Map<string, number>();
  for (const p of plan.proposals) proposedNames.set(p.name, (proposedNames.get(p.name) ?? 0) + 1);
  for (const p of plan.proposals) {
    const holders = ctx.devices.named(p.name).filter((i) => i !== p.device);
    const twice = (proposedNames.get(p.name) ?? 0) > 1;
    if (holders.length === 0 && !twice) continue;
    const reason = holders.length > 0 ? `name ${JSON.stringify(p.name)} is already used by device ${holders.map((i) => ctx.devices.at(i).device.id).join(', ')}` : `name ${JSON.stringify(p.name)} is planned for several assets`;
    plan.drop(p.work);
    for (const i of holders) plan.involve(i);
    const deviceList = [...(p.device !== null ? [ctx.devices.at(p.device)] : []), ...holders.map((i) => ctx.devices.at(i))];
    plan.add({
      item: { ...p.work.item, deviceName: conflictLabel(p.records) ?? p.work.item.deviceName, action: 'conflict', status: 'not_applicable', before: null, after: null, ops: null, request: null, reason, conflict: { kind: 'duplicate_name', reason, assets: p.records.map(assetSide), devices: deviceList.map(deviceSide) } },
      facts: p.work.facts,
    });
  }
}
