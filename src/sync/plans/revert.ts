import path from 'node:path';
import type { Config } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import { KicsSyncError } from '../../errors.js';
import { stableStringify } from '../../model/normalize.js';
import { resolvePrecedence } from '../../reconcile/fields.js';
import { patchOperations } from '../../reconcile/patch.js';
import { planActions, type PlanItem, type PlanValue } from '../../reconcile/plan-schema.js';
import { planOptionsOf } from '../../reconcile/reconcile.js';
import { revertItems, type RevertSource } from '../../reconcile/revert.js';
import { summarize } from '../../reconcile/summary.js';
import { readAudit } from '../audit/store.js';
import { currentBasis } from './basis.js';
import { writeReportFile } from './report-file.js';
import { planSources } from './run.js';
import { setPlanReportPath, storePlan } from './store.js';

/**
 * `kics-sync revert --run ID`: a plan that puts back what a run changed in KICS, built from the run's
 * audit records (src/reconcile/revert.ts), stored as a draft and reported like any plan: reviewed,
 * approved and applied the same way.
 */

export class RevertError extends KicsSyncError {}

export async function buildRevertPlan(db: Database, config: Config, runId: number, options: { devices?: readonly number[]; now?: Date } = {}): Promise<PlanValue> {
  const [run] = await db.query<{ id: number }>(`SELECT id FROM sync_run WHERE id = $1`, [runId]);
  if (!run) throw new RevertError(`run ${runId} does not exist (kics-sync runs lists them)`, { code: 'RUN_NOT_FOUND' });
  const writes: RevertSource[] = [];
  for await (const r of readAudit(db, { runId })) writes.push({ operation: r.operation, outcome: r.outcome, deviceId: r.deviceId, before: r.before, after: r.after, request: r.request });
  const deviceIds = [...new Set(writes.flatMap((w) => (w.deviceId === null ? [] : [w.deviceId])))];
  const names = new Map(
    (await db.query<{ id: string | number; name: string }>(`SELECT id, name FROM kics_device WHERE id = ANY($1::bigint[])`, [deviceIds])).map((r) => [Number(r.id), r.name]),
  );
  const { items, notReverted } = revertItems(runId, writes, { devices: options.devices, allowDelete: config.reconcile.allowDelete, names });
  await guardWithSnapshotAddresses(db, items);
  // Archives after the field changes, as any plan orders its actions.
  const rank = new Map(planActions.map((a, i) => [a, i]));
  const ordered: PlanItem[] = items
    .sort((a, b) => rank.get(a.action)! - rank.get(b.action)! || (a.kicsDeviceId ?? 0) - (b.kicsDeviceId ?? 0))
    .map((item, i) => ({ seq: i + 1, ...item }));
  const sources = planSources(config);
  const [{ n: devices } = { n: 0 }] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM kics_device WHERE missing_since IS NULL`);
  const summary = summarize(ordered, { unchanged: [], notCreated: 0, records: {}, devices, archivedUnmatched: 0, spaceName: (id) => `address space ${id}` });
  summary.revert = { runId, notReverted };
  const staleAfter = new Map(sources.filter((s) => s.staleAfterDays !== undefined).map((s) => [s.name, s.staleAfterDays!]));
  return {
    header: {
      id: null,
      status: 'draft',
      createdAt: (options.now ?? new Date()).toISOString(),
      scope: options.devices?.length === 1 ? { deviceId: options.devices[0]! } : {},
      options: planOptionsOf(config.reconcile, resolvePrecedence(config.reconcile.precedence, sources.map((s) => s.name)), staleAfter),
      basis: await currentBasis(db, sources.map((s) => s.name)),
      summary,
      reportPath: null,
    },
    items: ordered,
  };
}

/**
 * KICS gives the addresses a run added ids of its own, so the address list the run wrote is not the
 * list KICS shows: where the snapshot shows the same addresses (ids aside), the guard tests the
 * snapshot's list, so the revert applies; where it shows others, the device changed since (drift).
 */
async function guardWithSnapshotAddresses(db: Database, items: Omit<PlanItem, 'seq'>[]): Promise<void> {
  const withAddresses = items.filter((i) => i.action === 'update' && i.before && 'addressInformation' in i.before && i.kicsDeviceId !== null);
  if (withAddresses.length === 0) return;
  const rows = await db.query<{ id: string | number; addresses: unknown }>(`SELECT id, raw->'addressInformation' AS addresses FROM kics_device WHERE id = ANY($1::bigint[])`, [withAddresses.map((i) => i.kicsDeviceId)]);
  const current = new Map(rows.map((r) => [Number(r.id), r.addresses]));
  for (const item of withAddresses) {
    const shown = current.get(item.kicsDeviceId!);
    if (shown === undefined || stableStringify(withoutIds(shown)) !== stableStringify(withoutIds(item.before!.addressInformation))) continue;
    item.before = { ...item.before, addressInformation: shown };
    item.ops = patchOperations(item.before, item.after ?? {});
  }
}

/** An address list without the ids KICS assigns (interfaces and IPs). */
function withoutIds(addresses: unknown): unknown {
  if (!Array.isArray(addresses)) return addresses;
  return addresses.map((i: Record<string, unknown>) => {
    const { networkInterfaceId: _n, ipAddresses, ...rest } = i;
    return { ...rest, ipAddresses: Array.isArray(ipAddresses) ? ipAddresses.map((a: Record<string, unknown>) => ({ ip: a.ip, addressSpaceId: a.addressSpaceId ?? null })) : (ipAddresses ?? null) };
  });
}

/** Builds, stores and reports the revert plan of a run. */
export async function runRevert(db: Database, config: Config, dataDir: string, runId: number, options: { devices?: readonly number[]; reportFile?: string } = {}): Promise<PlanValue> {
  const value = await buildRevertPlan(db, config, runId, options);
  const id = await storePlan(db, value, { runId: null, inputsHash: null });
  value.header.id = id;
  const file = options.reportFile ?? path.join(config.sync.reportDir ?? path.join(dataDir, 'reports'), `plan-${id}.html`);
  const reportPath = await writeReportFile(file, file.endsWith('.json') ? 'json' : file.endsWith('.md') ? 'md' : file.endsWith('.csv') ? 'csv' : 'html', value.header, value.items);
  await setPlanReportPath(db, id, reportPath);
  value.header.reportPath = reportPath;
  return value;
}
