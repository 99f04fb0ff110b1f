import type { ReconcileContext } from './context.js';
import { deviceSummary, emptyItem, factsOf, type PlanBuilder } from './plan-builder.js';

/**
 * Step 8, devices no source knows: reported as unknown (archived ones only counted), unless an owner
 * said to ignore the device (in KICS on purpose). Returns how many archived devices went unmatched.
 */
export function planUnknownDevices(ctx: ReconcileContext, plan: PlanBuilder): number {
  let archivedUnmatched = 0;
  ctx.devices.list.forEach((device, index) => {
    if (plan.isInvolved(index) || ctx.decisions.ignored.has(index)) return;
    if (device.archived) {
      archivedUnmatched += 1;
      return;
    }
    const keys = device.addressKeys;
    plan.add({
      item: {
        ...emptyItem('unknown', 'not_applicable'),
        kicsDeviceId: device.device.id,
        deviceName: device.device.name,
        addressSpaceId: ctx.keys.primarySpace(keys),
        matchKeys: ctx.keys.matchKeys(keys),
        before: deviceSummary(device.device),
        reason: 'in KICS, in no source',
      },
      facts: factsOf([], [device], keys),
    });
  });
  return archivedUnmatched;
}
