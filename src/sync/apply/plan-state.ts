import type { Database } from '../../db/database.js';
import type { Sql } from '../../db/sql.js';
import { ExitCode, KicsSyncError } from '../../errors.js';
import type { PlanHeader } from '../../reconcile/plan-schema.js';
import { emitEvent } from '../events/index.js';
import { basisChanges } from '../plans/basis.js';
import { loadPlanHeader } from '../plans/load.js';
import { itemStatusCounts } from './claim.js';

/**
 * A plan's life once computed: draft -> approved (by someone) -> applying -> applied |
 * partially_applied; draft / approved -> expired when the data it was computed from moved on. Every
 * transition is one conditional UPDATE, so two callers cannot both move a plan.
 */

export class PlanNotApplicableError extends KicsSyncError {
  constructor(message: string, code: 'PLAN_EXPIRED' | 'PLAN_NOT_APPROVED' | 'PLAN_STATE', planId: number) {
    super(message, { code, exitCode: ExitCode.usage, details: { planId } });
  }
}

/** Refuses a plan whose basis moved on: marks it expired (with its event) and says what moved. */
async function refuseIfStale(db: Database, header: PlanHeader, planId: number): Promise<void> {
  const changes = await basisChanges(db, header.basis);
  if (changes.length === 0) return;
  const moved = changes.map((c) => `${c.name === 'kics' ? 'the KICS snapshot' : `source ${c.name}`} (generation ${c.planned} -> ${c.current})`).join(', ');
  await db.transaction(async (tx) => {
    const expired = await tx.execute(`UPDATE plan SET status = 'expired', expired_at = now() WHERE id = $1 AND status IN ('draft', 'approved')`, [planId]);
    if (expired > 0) await emitEvent(tx, 'KSYNC_PLAN_EXPIRED', { planId, moved: changes }, { message: `plan ${planId} expired: ${moved} moved on since it was computed` });
  });
  throw new PlanNotApplicableError(`plan ${planId} has expired: ${moved} moved on since it was computed, so its changes may no longer be right. Run kics-sync plan again`, 'PLAN_EXPIRED', planId);
}

function expiredError(header: PlanHeader, planId: number): PlanNotApplicableError {
  return new PlanNotApplicableError(
    `plan ${planId} has expired${header.expiredAt ? ` (at ${header.expiredAt})` : ''}: the data it was computed from moved on. Run kics-sync plan again`,
    'PLAN_EXPIRED',
    planId,
  );
}

export interface ApprovalResult {
  header: PlanHeader;
  /** False when it was approved already. */
  changed: boolean;
}

/** Approves a draft plan, recording who did it and when. */
export async function approvePlan(db: Database, planId: number, actor: string): Promise<ApprovalResult> {
  const header = await loadPlanHeader(db, planId);
  if (header.status === 'approved') return { header, changed: false };
  if (header.status === 'expired') throw expiredError(header, planId);
  if (header.status !== 'draft') throw new PlanNotApplicableError(`plan ${planId} is ${header.status}; only a draft can be approved`, 'PLAN_STATE', planId);
  await refuseIfStale(db, header, planId);
  const updated = await db.execute(`UPDATE plan SET status = 'approved', approved_at = now(), approved_by = $2 WHERE id = $1 AND status = 'draft'`, [planId, actor]);
  if (updated !== 1) throw new PlanNotApplicableError(`plan ${planId} changed state while it was being approved; look at it again (kics-sync plans)`, 'PLAN_STATE', planId);
  return { header: await loadPlanHeader(db, planId), changed: true };
}

export interface StartApplyOptions {
  /** Apply a draft as it is (`apply --yes`, `sync`): the actor approves it by doing so. */
  allowDraft: boolean;
  actor: string;
}

/**
 * Refuses, before anything else happens, a plan that cannot be applied as asked: unknown, expired,
 * a draft without `allowDraft`, or computed from data that moved on (it is then marked expired).
 */
export async function checkApplicable(db: Database, planId: number, allowDraft: boolean): Promise<PlanHeader> {
  const header = await loadPlanHeader(db, planId);
  if (header.status === 'expired') throw expiredError(header, planId);
  if (header.status === 'draft' && !allowDraft) throw notApproved(header, planId);
  if (header.status === 'draft' || header.status === 'approved') await refuseIfStale(db, header, planId);
  return header;
}

function notApproved(header: PlanHeader, planId: number): PlanNotApplicableError {
  return new PlanNotApplicableError(
    `plan ${planId} is a draft: review its report${header.reportPath ? ` (${header.reportPath})` : ''}, then approve it (kics-sync approve --plan ${planId}) or apply it with --yes`,
    'PLAN_NOT_APPROVED',
    planId,
  );
}

/**
 * Moves the plan to `applying` once `checkApplicable()` agrees (the same rules: approved, or a draft
 * with `allowDraft`, its basis unchanged; expired refused); a plan already applying, applied or
 * partially applied is resumed (its items say what is left).
 */
export async function startApplying(db: Database, planId: number, options: StartApplyOptions): Promise<PlanHeader> {
  const header = await checkApplicable(db, planId, options.allowDraft);
  const updated = await db.execute(
    `UPDATE plan
        SET status = 'applying', apply_started_at = COALESCE(apply_started_at, now()),
            approved_at = COALESCE(approved_at, now()), approved_by = COALESCE(approved_by, $3)
      WHERE id = $1 AND status = $2::plan_status`,
    [planId, header.status, options.actor],
  );
  if (updated !== 1) throw new PlanNotApplicableError(`plan ${planId} changed state while the apply started; look at it again (kics-sync plans)`, 'PLAN_STATE', planId);
  return loadPlanHeader(db, planId);
}

/**
 * The plan's status from its items: items still pending or in progress (an interrupted apply) keep
 * it `applying`; otherwise `partially_applied` when any failed, drifted or was applied with errors, else `applied`.
 */
export async function finishApplying(db: Sql, planId: number): Promise<{ status: PlanHeader['status']; items: Record<string, number> }> {
  const items = await itemStatusCounts(db, planId);
  const left = (items.pending ?? 0) + (items.in_progress ?? 0);
  const status: PlanHeader['status'] = left > 0 ? 'applying' : (items.failed ?? 0) + (items.drifted ?? 0) + (items.applied_with_errors ?? 0) > 0 ? 'partially_applied' : 'applied';
  await db.execute(`UPDATE plan SET status = $2::plan_status, applied_at = CASE WHEN $2 = 'applying' THEN applied_at ELSE now() END WHERE id = $1`, [planId, status]);
  return { status, items };
}
