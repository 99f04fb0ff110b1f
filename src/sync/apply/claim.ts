import type { Sql } from '../../db/sql.js';
import type { KicsPatchOperation } from '../../model/kics.js';
import type { PlanAction, PlanItem } from '../../reconcile/plan-schema.js';

/**
 * Claiming plan items: the one statement that makes "each item applied at most once" hold. Items are
 * picked with `SELECT ... FOR UPDATE SKIP LOCKED` and moved to `in_progress` in the same statement
 * (claimed_by = `run <id> <host>:<pid>`, attempts + 1), so two claimants can never take the same row.
 *
 * Claimable: `pending` items, and the `in_progress` / `failed` items of a run that is over (its
 * `sync_run` row is no longer `running`). A `failed` item is retried by the next apply; an
 * `in_progress` one belongs to a process that died between sending a write and recording its
 * outcome, and is re-examined before anything is sent again (execute.ts). A run killed without
 * recording its end still says `running`: the next run, holding the run lock, marks it interrupted
 * first (`closeAbandonedRuns()` in src/sync/runs/store.ts), which releases its items.
 */

export interface ClaimedItem {
  id: number;
  seq: number;
  action: PlanAction;
  kicsDeviceId: number | null;
  deviceName: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ops: KicsPatchOperation[] | null;
  request: PlanItem['request'];
  /** Attempts so far, this one included. */
  attempts: number;
  /** The status before this claim. */
  previousStatus: 'pending' | 'in_progress' | 'failed';
  /** Claimed by a process that died: its write may have reached KICS. */
  orphaned: boolean;
  /**
   * An earlier attempt may have written to KICS: its process died (`orphaned`), or it failed with an
   * unknown outcome (an answer lost, even if later attempts got plain errors). The apply finds out
   * from KICS before it sends anything again.
   */
  mayHaveLanded: boolean;
  previousClaimant: string | null;
  /** What the item's row held before this claim (an upload keeps KICS's configuration hash from before it sent). */
  previousResult: Record<string, unknown> | null;
}

interface ClaimRow {
  id: number;
  seq: number;
  action: PlanAction;
  kics_device_id: number | null;
  device_name: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ops: KicsPatchOperation[] | null;
  request: PlanItem['request'];
  attempts: number;
  previous_status: ClaimedItem['previousStatus'];
  previous_claimant: string | null;
  outcome_unknown: boolean;
  result: Record<string, unknown> | null;
}

export interface ClaimOptions {
  planId: number;
  actions: readonly PlanAction[];
  /** This run's claimant id: `run <id> <host>:<pid>`. */
  claimant: string;
  limit: number;
}

/** SQL: the run that claimed the row is no longer running (claimed_by starts with `run <id> `). */
function claimantGone(table: string): string {
  return `NOT EXISTS (SELECT 1 FROM sync_run r WHERE r.status = 'running' AND ${table}.claimed_by LIKE 'run ' || r.id || ' %')`;
}

/** Claims up to `limit` items of these actions, lowest seq first. */
export async function claimItems(db: Sql, options: ClaimOptions): Promise<ClaimedItem[]> {
  const rows = await db.query<ClaimRow>(
    `UPDATE plan_item p
        SET status = 'in_progress', claimed_by = $3, claimed_at = now(), attempts = p.attempts + 1
       FROM (SELECT id, status::text AS previous_status, claimed_by AS previous_claimant,
                    COALESCE(status = 'failed' AND result->'error'->>'outcomeUnknown' = 'true', false) AS outcome_unknown
               FROM plan_item
              WHERE plan_id = $1
                AND action::text = ANY($2::text[])
                AND (status = 'pending' OR (status IN ('in_progress', 'failed') AND claimed_by IS DISTINCT FROM $3 AND ${claimantGone('plan_item')}))
              ORDER BY seq
              LIMIT $4
                FOR UPDATE SKIP LOCKED) c
      WHERE p.id = c.id
  RETURNING p.id, p.seq, p.action::text AS action, p.kics_device_id, p.device_name, p.before, p.after, p.ops, p.request, p.attempts, p.result,
            c.previous_status, c.previous_claimant, c.outcome_unknown`,
    [options.planId, [...options.actions], options.claimant, options.limit],
  );
  return rows
    .map((r) => ({
      id: r.id,
      seq: r.seq,
      action: r.action,
      kicsDeviceId: r.kics_device_id,
      deviceName: r.device_name,
      before: r.before,
      after: r.after,
      ops: r.ops,
      request: r.request,
      attempts: r.attempts,
      previousStatus: r.previous_status,
      orphaned: r.previous_status === 'in_progress',
      mayHaveLanded: r.previous_status === 'in_progress' || r.outcome_unknown,
      previousClaimant: r.previous_claimant,
      previousResult: r.result,
    }))
    .sort((a, b) => a.seq - b.seq);
}

/** Items an apply by this claimant would still take: the total of a progress bar. */
export async function countClaimable(db: Sql, planId: number, claimant: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM plan_item
      WHERE plan_id = $1 AND (status = 'pending' OR (status IN ('in_progress', 'failed') AND claimed_by IS DISTINCT FROM $2 AND ${claimantGone('plan_item')}))`,
    [planId, claimant],
  );
  return row?.n ?? 0;
}

/** Items of the plan per status. */
export async function itemStatusCounts(db: Sql, planId: number): Promise<Record<string, number>> {
  const rows = await db.query<{ status: string; n: number }>(`SELECT status::text AS status, count(*)::int AS n FROM plan_item WHERE plan_id = $1 GROUP BY status`, [planId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** The outcome of another item of the plan (an upload waits for its device's create). */
export async function itemBySeq(db: Sql, planId: number, seq: number): Promise<{ status: string; result: Record<string, unknown> | null; kicsDeviceId: number | null } | null> {
  const [row] = await db.query<{ status: string; result: Record<string, unknown> | null; kics_device_id: number | null }>(
    `SELECT status::text AS status, result, kics_device_id FROM plan_item WHERE plan_id = $1 AND seq = $2`,
    [planId, seq],
  );
  return row ? { status: row.status, result: row.result, kicsDeviceId: row.kics_device_id } : null;
}

export interface ItemProblem {
  seq: number;
  action: PlanAction;
  status: 'applied_with_errors' | 'drifted' | 'failed';
  deviceId: number | null;
  deviceName: string | null;
  message: string | null;
}

/** Drifted and failed items the given claimant recorded (what an apply's summary lists). */
export async function itemProblems(db: Sql, planId: number, claimant: string, limit = 20): Promise<ItemProblem[]> {
  const rows = await db.query<{ seq: number; action: PlanAction; status: 'drifted' | 'failed'; kics_device_id: number | null; device_name: string | null; last_error: string | null }>(
    `SELECT seq, action::text AS action, status::text AS status, kics_device_id, device_name, last_error FROM plan_item
      WHERE plan_id = $1 AND claimed_by = $2 AND status IN ('applied_with_errors', 'drifted', 'failed') ORDER BY seq LIMIT $3`,
    [planId, claimant, limit],
  );
  return rows.map((r) => ({ seq: r.seq, action: r.action, status: r.status, deviceId: r.kics_device_id, deviceName: r.device_name, message: r.last_error }));
}

/**
 * Gives back items claimed but never started (an apply stopping): each returns to the status and
 * claimant it had, so a pending item is pending again and a dead claimant's item is still re-examined.
 */
export async function releaseItems(db: Sql, claimant: string, items: readonly ClaimedItem[]): Promise<number> {
  if (items.length === 0) return 0;
  return db.execute(
    `UPDATE plan_item p
        SET status = v.status::plan_item_status, claimed_by = v.claimant, claimed_at = NULL, attempts = p.attempts - 1
       FROM unnest($2::bigint[], $3::text[], $4::text[]) AS v(id, status, claimant)
      WHERE p.id = v.id AND p.status = 'in_progress' AND p.claimed_by = $1`,
    [claimant, items.map((i) => i.id), items.map((i) => i.previousStatus), items.map((i) => (i.previousStatus === 'pending' ? null : i.previousClaimant))],
  );
}
