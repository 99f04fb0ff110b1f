import type { Sql } from '../../db/sql.js';
import { ExitCode, KicsSyncError } from '../../errors.js';
import type { PlanBasis, PlanHeader, PlanItem, PlanOptions, PlanScope, PlanSummary } from '../../reconcile/plan-schema.js';

/** Reading stored plans: the header, the items page by page (keyset on seq), the list. */

export class PlanNotFoundError extends KicsSyncError {
  constructor(planId: number) {
    super(`plan ${planId} does not exist (kics-sync plans lists the stored plans)`, { code: 'PLAN_NOT_FOUND', exitCode: ExitCode.usage, details: { planId } });
  }
}

interface PlanRow {
  id: number;
  status: PlanHeader['status'];
  scope: PlanScope;
  options: PlanOptions;
  basis: PlanBasis;
  summary: PlanSummary;
  report_path: string | null;
  created_at: Date;
  approved_at: Date | null;
  approved_by: string | null;
  expired_at: Date | null;
}

const headerColumns = 'id, status, scope, options, basis, summary, report_path, created_at, approved_at, approved_by, expired_at';

function toHeader(row: PlanRow): PlanHeader {
  return {
    id: row.id,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    scope: row.scope,
    options: row.options,
    basis: row.basis,
    summary: row.summary,
    reportPath: row.report_path,
    approvedAt: row.approved_at?.toISOString() ?? null,
    approvedBy: row.approved_by,
    expiredAt: row.expired_at?.toISOString() ?? null,
  };
}

export async function loadPlanHeader(db: Sql, planId: number): Promise<PlanHeader> {
  const [row] = await db.query<PlanRow>(`SELECT ${headerColumns} FROM plan WHERE id = $1`, [planId]);
  if (!row) throw new PlanNotFoundError(planId);
  return toHeader(row);
}

export interface ListPlansOptions {
  limit?: number;
  status?: PlanHeader['status'];
}

/** The newest plans first. */
export async function listPlans(db: Sql, options: ListPlansOptions = {}): Promise<PlanHeader[]> {
  const rows = await db.query<PlanRow>(
    `SELECT ${headerColumns} FROM plan WHERE ($1::plan_status IS NULL OR status = $1::plan_status) ORDER BY id DESC LIMIT $2`,
    [options.status ?? null, options.limit ?? 20],
  );
  return rows.map(toHeader);
}

interface ItemRow {
  seq: number;
  action: PlanItem['action'];
  status: PlanItem['status'];
  kics_device_id: number | null;
  device_name: string | null;
  address_space_id: number | null;
  owner: string | null;
  match_keys: PlanItem['matchKeys'];
  source_keys: PlanItem['sourceKeys'];
  before: PlanItem['before'];
  after: PlanItem['after'];
  ops: PlanItem['ops'];
  request: PlanItem['request'];
  reason: string | null;
  conflict: PlanItem['conflict'];
  decision: PlanItem['decision'];
  last_error: string | null;
}

function toItem(row: ItemRow): PlanItem {
  return {
    seq: row.seq,
    action: row.action,
    status: row.status,
    kicsDeviceId: row.kics_device_id,
    deviceName: row.device_name,
    addressSpaceId: row.address_space_id,
    owner: row.owner,
    matchKeys: row.match_keys,
    sourceKeys: row.source_keys,
    before: row.before,
    after: row.after,
    ops: row.ops,
    request: row.request,
    reason: row.reason,
    conflict: row.conflict,
    ...(row.decision ? { decision: row.decision } : {}),
    ...(row.last_error === null ? {} : { lastError: row.last_error }),
  };
}

export interface LoadItemsOptions {
  /** Items per query (default 2000): memory stays bounded whatever the plan's size. */
  pageSize?: number;
  actions?: readonly PlanItem['action'][];
}

/** The plan's items in seq order, a page at a time. */
export async function* loadPlanItems(db: Sql, planId: number, options: LoadItemsOptions = {}): AsyncGenerator<PlanItem> {
  const pageSize = options.pageSize ?? 2000;
  const actions = options.actions && options.actions.length > 0 ? [...options.actions] : null;
  let after = 0;
  for (;;) {
    const rows = await db.query<ItemRow>(
      `SELECT seq, action, status, kics_device_id, device_name, address_space_id, owner, match_keys, source_keys,
              before, after, ops, request, reason, conflict, decision, last_error
         FROM plan_item
        WHERE plan_id = $1 AND seq > $2 AND ($4::text[] IS NULL OR action::text = ANY($4::text[]))
        ORDER BY seq
        LIMIT $3`,
      [planId, after, pageSize, actions],
    );
    for (const row of rows) yield toItem(row);
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.seq;
  }
}
