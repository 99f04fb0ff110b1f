import type { Sql } from '../../db/sql.js';
import type { SyncConfig } from '../../config/index.js';
import type { PlanSummary } from '../../reconcile/plan-schema.js';

/**
 * The safety threshold of unattended runs: a plan that would change more than `sync.maxChangeShare`
 * of the KICS devices, or create more than `sync.maxCreates`, is held for a person to review. A
 * source that suddenly delivers garbage (a truncated export, a wrong column mapping) then costs a
 * report, not a plant's inventory.
 *
 * The share counts distinct existing devices that an update, upload, archive or delete would touch,
 * over the devices of the KICS snapshot the plan was computed from; creates add devices rather than
 * change them and have their own limit. An empty KICS changes no existing device.
 */

export interface ThresholdCheck {
  exceeded: boolean;
  /** Distinct existing devices the plan changes. */
  changedDevices: number;
  /** Devices in the KICS snapshot. */
  devices: number;
  share: number;
  creates: number;
  maxChangeShare: number;
  maxCreates: number;
  /** Why it is exceeded, in words. */
  reasons: string[];
}

export async function checkThreshold(db: Sql, planId: number, summary: PlanSummary, limits: Pick<SyncConfig, 'maxChangeShare' | 'maxCreates'>): Promise<ThresholdCheck> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(DISTINCT kics_device_id)::int AS n FROM plan_item
      WHERE plan_id = $1 AND action IN ('update', 'upload_config', 'recognize', 'archive', 'delete') AND kics_device_id IS NOT NULL`,
    [planId],
  );
  const changedDevices = row?.n ?? 0;
  const devices = summary.devices;
  const share = devices === 0 ? 0 : changedDevices / devices;
  const creates = summary.counts.create;
  const reasons: string[] = [];
  if (share > limits.maxChangeShare) {
    reasons.push(`it would change ${changedDevices} of ${devices} KICS devices (${percent(share)}), more than sync.maxChangeShare ${percent(limits.maxChangeShare)}`);
  }
  if (creates > limits.maxCreates) reasons.push(`it would create ${creates} devices, more than sync.maxCreates ${limits.maxCreates}`);
  return { exceeded: reasons.length > 0, changedDevices, devices, share, creates, maxChangeShare: limits.maxChangeShare, maxCreates: limits.maxCreates, reasons };
}

function percent(share: number): string {
  return `${Number((share * 100).toFixed(1))}%`;
}
