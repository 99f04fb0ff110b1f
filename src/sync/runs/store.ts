import os from 'node:os';
import type { Sql } from '../../db/sql.js';
import { ExitCode, KicsSyncError } from '../../errors.js';

/**
 * The run history (`sync_run`): one row per `plan`, `apply` and `sync` run, whoever started it
 * (a person at the CLI, cron, a KSC command or KSC events), with its outcome, counts and timings.
 */

export type RunTrigger = 'cron' | 'cli' | 'ksc_command' | 'ksc_event' | 'console' | 'queue';
export type RunMode = 'pull' | 'plan' | 'apply' | 'sync';
export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'held' | 'interrupted' | 'skipped';
export const runStatuses: readonly RunStatus[] = ['running', 'succeeded', 'partial', 'failed', 'held', 'interrupted', 'skipped'];

export interface RunStart {
  trigger: RunTrigger;
  /** `cron`, the OS user of a CLI run, or `ksc:<command id>`. */
  actor: string;
  mode: RunMode;
  scope?: Record<string, unknown>;
  /** What caused it when it was not a person: the KSC command or events. */
  cause?: Record<string, unknown> | null;
}

export interface RunRecord {
  id: number;
  trigger: RunTrigger;
  actor: string;
  mode: RunMode;
  scope: Record<string, unknown>;
  status: RunStatus;
  counts: Record<string, unknown>;
  timings: Record<string, number>;
  error: string | null;
  cause: Record<string, unknown> | null;
  host: string | null;
  pid: number | null;
  startedAt: Date;
  finishedAt: Date | null;
  /** Plans this run computed. */
  planIds: number[];
}

export class RunNotFoundError extends KicsSyncError {
  constructor(runId: number) {
    super(`run ${runId} does not exist (kics-sync runs lists the run history)`, { code: 'RUN_NOT_FOUND', exitCode: ExitCode.usage, details: { runId } });
  }
}

/** Records a run as started (status `running`, this host and process); returns its id. */
export async function startRun(db: Sql, run: RunStart): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO sync_run (trigger, actor, mode, scope, cause, host, pid)
     VALUES ($1::run_trigger, $2, $3::run_mode, $4::jsonb, $5::jsonb, $6, $7)
     RETURNING id`,
    [run.trigger, run.actor, run.mode, JSON.stringify(run.scope ?? {}), run.cause ? JSON.stringify(run.cause) : null, os.hostname(), process.pid],
  );
  return row!.id;
}

export interface RunFinish {
  counts?: Record<string, unknown>;
  timings?: Record<string, number>;
  error?: string | null;
}

/** Records how a run ended. Counts and timings given replace the stored ones. */
export async function finishRun(db: Sql, runId: number, status: Exclude<RunStatus, 'running'>, facts: RunFinish = {}): Promise<void> {
  await db.execute(
    `UPDATE sync_run
        SET status = $2::run_status, finished_at = now(), error = $3,
            counts = COALESCE($4::jsonb, counts), timings = COALESCE($5::jsonb, timings)
      WHERE id = $1`,
    [runId, status, facts.error ?? null, facts.counts ? JSON.stringify(facts.counts) : null, facts.timings ? JSON.stringify(facts.timings) : null],
  );
}

/**
 * Apply and sync runs still marked `running` that cannot be: the caller holds the run lock, so no
 * other apply or sync is alive anywhere. They were killed (SIGKILL, power loss) before recording an
 * end; they become `interrupted`, and their claimed items are re-examined by the next apply.
 */
export async function closeAbandonedRuns(db: Sql, exceptRunId: number): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `UPDATE sync_run
        SET status = 'interrupted', finished_at = now(),
            error = COALESCE(error, 'the process ended without recording an outcome (killed?); its unfinished items are resumed by the next apply')
      WHERE status = 'running' AND mode IN ('apply', 'sync') AND id <> $1
      RETURNING id`,
    [exceptRunId],
  );
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

interface RunRow {
  id: number;
  trigger: RunTrigger;
  actor: string;
  mode: RunMode;
  scope: Record<string, unknown>;
  status: RunStatus;
  counts: Record<string, unknown>;
  timings: Record<string, number>;
  error: string | null;
  cause: Record<string, unknown> | null;
  host: string | null;
  pid: number | null;
  started_at: Date;
  finished_at: Date | null;
  plan_ids: number[] | null;
}

const runColumns = `r.id, r.trigger::text AS trigger, r.actor, r.mode::text AS mode, r.scope, r.status::text AS status, r.counts, r.timings, r.error, r.cause,
  r.host, r.pid, r.started_at, r.finished_at, (SELECT array_agg(p.id ORDER BY p.id) FROM plan p WHERE p.run_id = r.id) AS plan_ids`;

function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    trigger: row.trigger,
    actor: row.actor,
    mode: row.mode,
    scope: row.scope,
    status: row.status,
    counts: row.counts,
    timings: row.timings,
    error: row.error,
    cause: row.cause,
    host: row.host,
    pid: row.pid,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    planIds: row.plan_ids ?? [],
  };
}

export interface ListRunsOptions {
  limit?: number;
  status?: RunStatus;
  mode?: RunMode;
  /** Only this run (a list of one, or none). */
  runId?: number;
  /**
   * Only the runs these owner names may see (the review console's owners): those started as `actor`,
   * those scoped to one of the owners, and applies of a plan whose every item is theirs.
   */
  visibleTo?: { owners: readonly string[]; actor: string };
}

/** The newest runs first. */
export async function listRuns(db: Sql, options: ListRunsOptions = {}): Promise<RunRecord[]> {
  const rows = await db.query<RunRow>(
    `SELECT ${runColumns} FROM sync_run r
      WHERE ($1::run_status IS NULL OR r.status = $1::run_status) AND ($2::run_mode IS NULL OR r.mode = $2::run_mode) AND ($4::int IS NULL OR r.id = $4)
        AND ($5::text[] IS NULL OR r.actor = $6 OR r.scope->>'owner' = ANY($5::text[])
             OR (r.mode = 'apply' AND NOT EXISTS (SELECT 1 FROM plan_item i WHERE i.plan_id = (r.scope->>'planId')::int AND (i.owner IS NULL OR NOT (i.owner = ANY($5::text[]))))))
      ORDER BY r.id DESC LIMIT $3`,
    [options.status ?? null, options.mode ?? null, options.limit ?? 20, options.runId ?? null, options.visibleTo ? [...options.visibleTo.owners] : null, options.visibleTo?.actor ?? null],
  );
  return rows.map(toRun);
}

export async function loadRun(db: Sql, runId: number): Promise<RunRecord> {
  const [row] = await db.query<RunRow>(`SELECT ${runColumns} FROM sync_run r WHERE r.id = $1`, [runId]);
  if (!row) throw new RunNotFoundError(runId);
  return toRun(row);
}

/** The run currently marked running in apply or sync mode, if any (to say who holds the lock). */
export async function runningRun(db: Sql): Promise<RunRecord | null> {
  const [row] = await db.query<RunRow>(`SELECT ${runColumns} FROM sync_run r WHERE r.status = 'running' AND r.mode IN ('apply', 'sync') ORDER BY r.id DESC LIMIT 1`);
  return row ? toRun(row) : null;
}
