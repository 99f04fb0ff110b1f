import type { Sql } from '../../db/sql.js';

/**
 * The audit (`audit_record`): one row per outcome of a write to KICS, written in the transaction that
 * records the plan item's outcome (src/sync/apply/outcome.ts), so there is never one without the
 * other. The table is append-only: triggers of the init migration refuse UPDATE, DELETE and TRUNCATE,
 * and nothing in kics-sync purges it.
 */

/** The operations the engine writes to KICS, and the decisions people make in the review console. */
export type AuditOperation =
  | 'create'
  | 'update'
  | 'recognize'
  | 'archive'
  | 'delete'
  | 'upload_config'
  | 'register_event'
  | 'approve_plan'
  | 'approve_item'
  | 'decide_hold'
  | 'decide_pin'
  | 'decide_same_asset'
  | 'decide_ignore_device'
  | 'revoke_decision';

export interface AuditEntry {
  /** `cron`, the OS user of a CLI run, or `ksc:<command id>`. */
  actor: string;
  runId: number | null;
  planId: number | null;
  planItemId: number | null;
  deviceId: number | null;
  operation: AuditOperation;
  /** What was sent, summarised: method, path, ops or fields; never a token, never file contents. */
  request: Record<string, unknown> | null;
  /** HTTP status of KICS's answer; null when no answer was seen (the write was recognised later, or never reached KICS). */
  httpStatus: number | null;
  /** The item's outcome: applied, skipped, drifted, failed. */
  outcome: string;
  /** What KICS answered (op results, create status, upload counts) or what was found. */
  kicsResult: unknown;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: Date;
}

/**
 * The one writer of `audit_record`: appends the rows in the order given, with one INSERT over arrays
 * however many there are (the apply commits the outcomes that finish together as one group). Use the
 * transaction that records the outcomes. Returns the new ids in the same order.
 */
export async function insertAuditRecords(tx: Sql, entries: readonly AuditEntry[]): Promise<number[]> {
  if (entries.length === 0) return [];
  const rows = await tx.query<{ id: number }>(
    `INSERT INTO audit_record (actor, run_id, plan_id, plan_item_id, device_id, operation, request, http_status, outcome, kics_result, before, after)
     SELECT v.actor, v.run_id, v.plan_id, v.plan_item_id, v.device_id, v.operation, v.request::jsonb, v.http_status, v.outcome, v.kics_result::jsonb, v.before::jsonb, v.after::jsonb
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[], $11::text[], $12::text[])
            WITH ORDINALITY AS v(actor, run_id, plan_id, plan_item_id, device_id, operation, request, http_status, outcome, kics_result, before, after, n)
      ORDER BY v.n
  RETURNING id`,
    [
      entries.map((e) => e.actor),
      entries.map((e) => e.runId),
      entries.map((e) => e.planId),
      entries.map((e) => e.planItemId),
      entries.map((e) => e.deviceId),
      entries.map((e) => e.operation),
      entries.map((e) => jsonOrNull(e.request)),
      entries.map((e) => e.httpStatus),
      entries.map((e) => e.outcome),
      entries.map((e) => jsonOrNull(e.kicsResult)),
      entries.map((e) => jsonOrNull(e.before)),
      entries.map((e) => jsonOrNull(e.after)),
    ],
  );
  // ids come from a sequence in insertion order; sorted so the answer does not rest on RETURNING's order.
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** Appends one audit row (`insertAuditRecords()` with one entry). */
export async function insertAuditRecord(tx: Sql, entry: AuditEntry): Promise<number> {
  const [id] = await insertAuditRecords(tx, [entry]);
  return id!;
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

export interface AuditFilter {
  deviceId?: number | undefined;
  /** Records at or after this instant. */
  since?: Date | undefined;
  runId?: number | undefined;
  planId?: number | undefined;
}

interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  run_id: number | null;
  plan_id: number | null;
  plan_item_id: number | null;
  device_id: number | null;
  operation: AuditOperation;
  request: Record<string, unknown> | null;
  http_status: number | null;
  outcome: string;
  kics_result: unknown;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

function toRecord(r: AuditRow): AuditRecord {
  return {
    id: r.id,
    at: r.at,
    actor: r.actor,
    runId: r.run_id,
    planId: r.plan_id,
    planItemId: r.plan_item_id,
    deviceId: r.device_id,
    operation: r.operation,
    request: r.request,
    httpStatus: r.http_status,
    outcome: r.outcome,
    kicsResult: r.kics_result,
    before: r.before,
    after: r.after,
  };
}

/**
 * The matching records, oldest first, a page at a time (keyset on id): any size of audit streams
 * in bounded memory.
 */
export async function* readAudit(db: Sql, filter: AuditFilter = {}, options: { pageSize?: number; limit?: number } = {}): AsyncGenerator<AuditRecord> {
  const pageSize = options.pageSize ?? 2000;
  let afterId = 0;
  let left = options.limit ?? Number.POSITIVE_INFINITY;
  while (left > 0) {
    const take = Math.min(pageSize, left);
    const rows = await db.query<AuditRow>(
      `SELECT id, at, actor, run_id, plan_id, plan_item_id, device_id, operation, request, http_status, outcome, kics_result, before, after
         FROM audit_record
        WHERE id > $1
          AND ($2::bigint IS NULL OR device_id = $2)
          AND ($3::timestamptz IS NULL OR at >= $3)
          AND ($4::int IS NULL OR run_id = $4)
          AND ($5::int IS NULL OR plan_id = $5)
        ORDER BY id
        LIMIT $6`,
      [afterId, filter.deviceId ?? null, filter.since ?? null, filter.runId ?? null, filter.planId ?? null, take],
    );
    for (const row of rows) yield toRecord(row);
    if (rows.length < take) return;
    afterId = rows[rows.length - 1]!.id;
    left -= rows.length;
  }
}

/** Records per outcome for a run (or a plan). */
export async function countAudit(db: Sql, filter: AuditFilter = {}): Promise<Record<string, number>> {
  const rows = await db.query<{ outcome: string; n: number }>(
    `SELECT outcome, count(*)::int AS n FROM audit_record
      WHERE ($1::bigint IS NULL OR device_id = $1) AND ($2::timestamptz IS NULL OR at >= $2)
        AND ($3::int IS NULL OR run_id = $3) AND ($4::int IS NULL OR plan_id = $4)
      GROUP BY outcome`,
    [filter.deviceId ?? null, filter.since ?? null, filter.runId ?? null, filter.planId ?? null],
  );
  return Object.fromEntries(rows.map((r) => [r.outcome, r.n]));
}
