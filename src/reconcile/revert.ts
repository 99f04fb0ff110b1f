import { patchOperations } from './patch.js';
import { emptyItem } from './plan-builder.js';
import type { PlanItem } from './plan-schema.js';

/**
 * Undoing a run: from the audit records of the writes it made, the items that put back what it
 * changed. Pure, like the reconciler. Each PATCH the run made is reverted field by field: the item's
 * `before` is what the run wrote (its `Test` guards check KICS still holds it, so a device changed
 * since is drift, never overwritten), its `after` what the device held before the run. A device the
 * run created is archived (deleted only when deletes are enabled). An industrial configuration
 * upload, a delete or a registered event cannot be put back: they are listed as not reverted.
 */

/** The part of an audit record a revert reads. */
export interface RevertSource {
  operation: string;
  outcome: string;
  deviceId: number | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  request?: Record<string, unknown> | null;
}

export interface NotReverted {
  operation: string;
  deviceId: number | null;
  reason: string;
}

export interface RevertItems {
  items: Omit<PlanItem, 'seq'>[];
  notReverted: NotReverted[];
}

const patched = new Set(['update', 'recognize', 'archive']);

/** The items undoing `writes` (in the order the run made them), for the devices in `devices` when given. */
export function revertItems(runId: number, writes: readonly RevertSource[], options: { devices?: readonly number[]; allowDelete?: boolean; names?: ReadonlyMap<number, string> } = {}): RevertItems {
  const wanted = options.devices && options.devices.length > 0 ? new Set(options.devices) : null;
  const byDevice = new Map<number, { written: Record<string, unknown>; previous: Record<string, unknown> }>();
  const created: { deviceId: number; status: unknown; name: string | null }[] = [];
  const notReverted: NotReverted[] = [];
  for (const write of writes) {
    if (write.outcome !== 'applied' || write.deviceId === null) continue;
    if (wanted && !wanted.has(write.deviceId)) continue;
    if (patched.has(write.operation)) {
      let entry = byDevice.get(write.deviceId);
      if (!entry) byDevice.set(write.deviceId, (entry = { written: {}, previous: {} }));
      for (const [field, value] of Object.entries(write.after ?? {})) {
        // The earliest value before the run, the latest value it wrote.
        if (!(field in entry.previous)) entry.previous[field] = write.before?.[field] ?? null;
        entry.written[field] = value;
      }
    } else if (write.operation === 'create') {
      const body = (write.request?.body ?? write.after ?? {}) as Record<string, unknown>;
      created.push({ deviceId: write.deviceId, status: write.after?.status ?? body.status ?? null, name: typeof body.name === 'string' ? body.name : null });
    } else {
      const reason =
        write.operation === 'upload_config'
          ? 'an industrial configuration upload cannot be taken back through the API; upload the earlier file again'
          : write.operation === 'delete'
            ? 'a deleted device cannot be brought back'
            : 'an event registered in KICS stays there';
      notReverted.push({ operation: write.operation, deviceId: write.deviceId, reason });
    }
  }

  const items: Omit<PlanItem, 'seq'>[] = [];
  for (const [deviceId, { written, previous }] of byDevice) {
    const fields = Object.keys(written).filter((f) => JSON.stringify(written[f]) !== JSON.stringify(previous[f]));
    if (fields.length === 0) continue;
    const before = Object.fromEntries(fields.map((f) => [f, written[f]]));
    const after = Object.fromEntries(fields.map((f) => [f, previous[f]]));
    items.push({
      ...emptyItem('update', 'pending'),
      kicsDeviceId: deviceId,
      deviceName: (typeof written.name === 'string' ? written.name : null) ?? options.names?.get(deviceId) ?? null,
      before,
      after,
      ops: patchOperations(before, after),
      reason: `reverts run ${runId}: puts back ${fields.join(', ')}`,
    });
  }
  for (const c of created) {
    const name = c.name ?? options.names?.get(c.deviceId) ?? null;
    if (options.allowDelete) {
      items.push({ ...emptyItem('delete', 'pending'), kicsDeviceId: c.deviceId, deviceName: name, before: { status: c.status }, reason: `reverts run ${runId}, which created the device: it will be DELETED from KICS (reconcile.allowDelete is on)` });
    } else {
      const before = { status: c.status };
      items.push({
        ...emptyItem('archive', 'pending'),
        kicsDeviceId: c.deviceId,
        deviceName: name,
        before,
        after: { status: 'Archived' },
        ops: patchOperations(before, { status: 'Archived' }),
        reason: `reverts run ${runId}, which created the device: archived (devices are deleted only with reconcile.allowDelete)`,
      });
    }
  }
  return { items, notReverted };
}
