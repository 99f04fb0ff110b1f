import type PgBoss from 'pg-boss';
import type { Config } from '../config/index.js';
import { siteConfig } from '../config/sites.js';
import { openDatabase, type Database } from '../db/database.js';
import { ExitCode, KicsSyncError, LockedError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { runApply } from '../sync/runs/apply-run.js';
import { acquireRunLock } from '../sync/runs/lock.js';
import type { RunContext } from '../sync/runs/lifecycle.js';
import { runPlanRun } from '../sync/runs/plan-run.js';
import { finishRun, startRun } from '../sync/runs/store.js';
import { runSync } from '../sync/runs/sync-run.js';
import { runCommandJob } from './ksc.js';
import { JobQueue, kscQueue, siteQueue, type KscCommandJob, type SiteJob } from './queue.js';

/**
 * `kics-sync worker`: takes site jobs from the queue, `concurrency` at a time, and runs each in the
 * site's own database schema with the site's configuration. Any number of workers on any number of
 * hosts share one queue. A job whose run fails (KICS down, a source failing) fails and is retried by
 * the queue with backoff; one site's failure is that site's job alone.
 */

export interface WorkerOptions {
  /** The whole configuration (every site). */
  config: Config;
  databaseUrl: string;
  concurrency: number;
  logger: Logger;
  signal: AbortSignal;
  /** Called after each job, whatever its outcome (tests, the summary). */
  onJob?: (outcome: JobOutcome) => void;
}

export interface JobOutcome {
  jobId: string;
  site: string;
  kind: SiteJob['kind'];
  /** The run's status, `skipped`, or `error` when the job failed before a run was recorded. */
  status: string;
  runId: number | null;
  ms: number;
  /** CPU time of this process while the job ran (the job's own with --concurrency 1). */
  cpuSeconds?: number;
  error?: string;
}

export interface WorkerSummary {
  jobs: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Seconds the worker's slots sat without a job, summed over the slots. */
  idleSeconds: number;
  wallSeconds: number;
}

/** Runs until `signal` aborts; the jobs in hand wind down (items in flight finish, the rest is resumed by the retry). */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const { logger, signal } = options;
  const queue = await JobQueue.open({ url: options.databaseUrl, fleet: options.config.fleet, logger });
  const summary: WorkerSummary = { jobs: 0, succeeded: 0, failed: 0, skipped: 0, idleSeconds: 0, wallSeconds: 0 };
  const started = performance.now();
  let busyMs = 0;
  try {
    const handle = async ([job]: PgBoss.JobWithMetadata<SiteJob>[]): Promise<unknown> => {
      if (!job) return null;
      const began = performance.now();
      const cpu = process.cpuUsage();
      const outcome: JobOutcome = await runJob(options, job).catch((error: unknown) => ({
        jobId: job.id,
        site: job.data.site,
        kind: job.data.kind,
        status: 'error',
        runId: null,
        ms: performance.now() - began,
        error: errorMessage(error),
      }));
      busyMs += performance.now() - began;
      const used = process.cpuUsage(cpu);
      outcome.cpuSeconds = (used.user + used.system) / 1e6;
      summary.jobs += 1;
      if (outcome.status === 'skipped') summary.skipped += 1;
      else if (failedStatuses.has(outcome.status)) summary.failed += 1;
      else summary.succeeded += 1;
      options.onJob?.(outcome);
      logger.info({ job: job.id, site: outcome.site, kind: outcome.kind, status: outcome.status, run: outcome.runId, ms: Math.round(outcome.ms), cpuSeconds: Number(outcome.cpuSeconds.toFixed(2)), ...(outcome.error ? { err: outcome.error } : {}) }, 'worker: job done');
      // A failed run fails the job: the queue retries it with backoff, then it is dead.
      if (failedStatuses.has(outcome.status)) throw new Error(`site ${outcome.site}: ${outcome.kind} ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}`);
      return { status: outcome.status, runId: outcome.runId };
    };
    // KSC commands: answered once, never retried (src/fleet/ksc.ts).
    const handleCommand = async ([job]: PgBoss.Job<KscCommandJob>[]): Promise<unknown> => {
      if (!job) return null;
      const began = performance.now();
      const output = await runCommandJob(options, job);
      busyMs += performance.now() - began;
      summary.jobs += 1;
      if ('error' in output) summary.failed += 1;
      else summary.succeeded += 1;
      logger.info({ job: job.id, site: job.data.site, command: job.data.name, commandId: job.data.commandId, ms: Math.round(performance.now() - began), ...('error' in output ? { err: output.error.CMD_ERR_DESCR } : {}) }, 'worker: KSC command done');
      return output;
    };
    for (let i = 0; i < options.concurrency; i++) {
      await queue.boss.work<SiteJob>(siteQueue, { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: queue.pollSeconds }, handle);
      await queue.boss.work<KscCommandJob>(kscQueue, { batchSize: 1, pollingIntervalSeconds: queue.pollSeconds }, handleCommand);
    }
    logger.info({ concurrency: options.concurrency, queue: queue.schema }, 'worker: taking site jobs');
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    logger.info('worker: stopping; the jobs in hand finish their in-flight items');
  } finally {
    await queue.close({ graceful: true, timeoutMs: 60_000 }).catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'worker: the queue did not stop cleanly'));
  }
  summary.wallSeconds = (performance.now() - started) / 1000;
  summary.idleSeconds = Math.max(0, summary.wallSeconds * options.concurrency - busyMs / 1000);
  return summary;
}

const failedStatuses = new Set(['failed', 'interrupted', 'error']);

/** One job: the site's database and configuration, then its run. */
async function runJob(options: WorkerOptions, job: PgBoss.JobWithMetadata<SiteJob>): Promise<JobOutcome> {
  const began = performance.now();
  const data = job.data;
  const { location, config } = siteConfig(options.config, data.site);
  const logger = options.logger.child({ site: data.site, job: job.id });
  const db = await openDatabase({ url: options.databaseUrl, dataDir: location.dataDir, schema: location.schema, logger, poolSize: 4 });
  try {
    const ctx: RunContext = {
      db,
      config,
      dataDir: location.dataDir,
      logger,
      signal: options.signal,
      trigger: data.trigger === 'cron' || data.trigger === 'ksc_event' ? data.trigger : 'queue',
      actor: data.actor,
      cause: { ...(data.cause ?? {}), job: job.id, attempt: job.retryCount + 1, ...(data.tick ? { tick: data.tick } : {}) },
    };
    const outcome = (status: string, runId: number | null): JobOutcome => ({ jobId: job.id, site: data.site, kind: data.kind, status, runId, ms: performance.now() - began });
    if (data.tick !== undefined) {
      const busy = await runGoingAt(db, new Date(data.tick));
      if (busy !== null) return outcome('skipped', await recordSkipped(ctx, data.tick, `the tick at ${data.tick} came while run ${busy} of this site was going`));
    }
    // A job taken again after its worker died (or was stopped) mid-apply resumes that apply: the
    // plan's items say what is left, and the ones in flight are re-examined (src/sync/apply/).
    const unfinished = job.retryCount > 0 ? await unfinishedPlanOf(db, job.id) : null;
    if (unfinished !== null) {
      logger.warn({ plan: unfinished }, 'worker: resuming the apply an earlier attempt of this job left unfinished');
      const result = await runApply({ ...ctx, cause: { ...ctx.cause, resumes: unfinished } }, { planId: unfinished, allowDraft: true });
      return outcome(applyStatus(result.exitCode), result.runId);
    }
    switch (data.kind) {
      case 'sync': {
        const result = await runSync(ctx, {});
        return outcome(result.status, result.runId);
      }
      case 'plan': {
        const result = await runPlanRun(ctx, { refresh: 'incremental' });
        return outcome(result.plan.failures.length > 0 ? 'partial' : 'succeeded', result.runId);
      }
      case 'apply': {
        if (data.planId === undefined) throw new KicsSyncError('an apply job names no plan', { code: 'JOB_INVALID', exitCode: ExitCode.usage });
        const result = await runApply(ctx, { planId: data.planId, allowDraft: false });
        return outcome(applyStatus(result.exitCode), result.runId);
      }
    }
  } finally {
    await db.close();
  }
}

function applyStatus(exitCode: ExitCode): string {
  return exitCode === ExitCode.interrupted ? 'interrupted' : exitCode === ExitCode.ok ? 'succeeded' : exitCode === ExitCode.unavailable ? 'failed' : 'partial';
}

/** The plan an earlier attempt of this job started applying and did not finish, if any. */
async function unfinishedPlanOf(db: Database, jobId: string): Promise<number | null> {
  const [row] = await db.query<{ id: number }>(
    `SELECT p.id FROM plan p
      WHERE p.status = 'applying'
        AND EXISTS (SELECT 1 FROM sync_run r WHERE r.cause->>'job' = $1 AND (r.id = p.run_id OR (r.mode = 'apply' AND (r.scope->>'planId')::int = p.id)))
      ORDER BY p.id DESC LIMIT 1`,
    [jobId],
  );
  return row?.id ?? null;
}

/**
 * The apply or sync run of the site that was going at `when` (started before, not finished before),
 * if any. A run still marked running whose lock nobody holds was abandoned (its worker was killed):
 * it does not keep the site busy.
 */
async function runGoingAt(db: Database, when: Date): Promise<number | null> {
  const [row] = await db.query<{ id: number; open: boolean }>(
    `SELECT id, finished_at IS NULL AS open FROM sync_run
      WHERE mode IN ('apply', 'sync') AND status <> 'skipped' AND started_at <= $1 AND (finished_at IS NULL OR finished_at > $1)
      ORDER BY id DESC LIMIT 1`,
    [when],
  );
  if (!row) return null;
  if (row.open) {
    try {
      await (await acquireRunLock(db)).release();
      return null;
    } catch (error) {
      if (!(error instanceof LockedError)) throw error;
    }
  }
  return row.id;
}

/**
 * A tick not run, in the site's run history (`kics-sync runs` shows it with its reason). Recorded once
 * per tick, however many schedulers saw it.
 */
export async function recordSkipped(ctx: Pick<RunContext, 'db' | 'trigger' | 'actor' | 'cause'>, tick: string, why: string): Promise<number | null> {
  return ctx.db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`kics-sync:skipped:${tick}`]);
    const [seen] = await tx.query<{ id: number }>(`SELECT id FROM sync_run WHERE status = 'skipped' AND cause->>'tick' = $1 LIMIT 1`, [tick]);
    if (seen) return null;
    const runId = await startRun(tx, { trigger: ctx.trigger, actor: ctx.actor, mode: 'sync', cause: { ...(ctx.cause ?? {}), tick } });
    await finishRun(tx, runId, 'skipped', { error: why });
    return runId;
  });
}
