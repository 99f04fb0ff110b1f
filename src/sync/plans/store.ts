import type { Database } from '../../db/database.js';
import type { Sql } from '../../db/sql.js';
import type { PlanInputs, PlanItem, PlanValue } from '../../reconcile/plan-schema.js';

/**
 * Storing a plan: one `plan` row and one `plan_item` row per item, in one transaction. The items go
 * in with COPY (Database.copyFrom), streamed in chunks: 100,000 items are one statement, not 100,000.
 */

const itemColumns = [
  'plan_id',
  'seq',
  'action',
  'status',
  'kics_device_id',
  'device_name',
  'address_space_id',
  'owner',
  'match_keys',
  'source_keys',
  'before',
  'after',
  'ops',
  'request',
  'reason',
  'conflict',
  'decision',
] as const;

function* itemRows(planId: number, items: Iterable<PlanItem>): Generator<unknown[]> {
  for (const item of items) {
    yield [
      planId,
      item.seq,
      item.action,
      item.status,
      item.kicsDeviceId,
      item.deviceName,
      item.addressSpaceId,
      item.owner,
      item.matchKeys,
      item.sourceKeys,
      item.before,
      item.after,
      item.ops,
      item.request,
      item.reason,
      item.conflict,
      item.decision ?? null,
    ];
  }
}

export interface StorePlanOptions {
  runId?: number | null;
  reportPath?: string | null;
  /** The hash of the inputs the plan was computed from (src/sync/plans/reuse.ts). */
  inputsHash?: string | null;
}

/** Stores the plan and its items; returns the new plan id. */
export async function storePlan(db: Database, plan: PlanValue, options: StorePlanOptions = {}): Promise<number> {
  return db.transaction((tx) => insertPlan(tx, plan, options));
}

/** The same inside the caller's transaction. */
export async function insertPlan(tx: Sql, plan: PlanValue, options: StorePlanOptions = {}): Promise<number> {
  const { header } = plan;
  const [row] = await tx.query<{ id: number }>(
    `INSERT INTO plan (run_id, status, scope, options, basis, summary, report_path, created_at, inputs_hash)
     VALUES ($1, $2::plan_status, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9)
     RETURNING id`,
    [
      options.runId ?? null,
      header.status,
      JSON.stringify(header.scope),
      JSON.stringify(header.options),
      JSON.stringify(header.basis),
      JSON.stringify(header.summary),
      options.reportPath ?? header.reportPath ?? null,
      header.createdAt,
      options.inputsHash ?? null,
    ],
  );
  const planId = row!.id;
  if (plan.items.length > 0) await tx.copyFrom('plan_item', itemColumns, itemRows(planId, plan.items));
  return planId;
}

/** Records where the plan's report was written. */
/** Records what the plan was computed from (`summary.inputs`), once it is stored or copied. */
export async function setPlanInputs(db: Sql, planId: number, inputs: PlanInputs): Promise<void> {
  await db.execute(`UPDATE plan SET summary = jsonb_set(summary, '{inputs}', $2::jsonb) WHERE id = $1`, [planId, JSON.stringify(inputs)]);
}

export async function setPlanReportPath(db: Sql, planId: number, reportPath: string): Promise<void> {
  await db.execute(`UPDATE plan SET report_path = $2 WHERE id = $1`, [planId, reportPath]);
}
