import { ExitCode, errorMessage } from '../../errors.js';
import type { PlanScope } from '../../reconcile/plan-schema.js';
import { emitEvent } from '../events/index.js';
import { runPlan, type RunPlanResult } from '../plans/run.js';
import { stageKics } from '../staging/kics/stage.js';
import type { ApplyPlanResult } from '../apply/index.js';
import { applyAndRecord } from './apply-run.js';
import { endRun, failureEvents, openKics, planEvents, planInputEvents, type RunContext } from './lifecycle.js';
import { acquireRunLock } from './lock.js';
import { closeAbandonedRuns, startRun } from './store.js';
import { checkThreshold, type ThresholdCheck } from './threshold.js';

/**
 * `kics-sync sync`, the nightly run: plan + apply in one run, under the run lock.
 *
 *   lock -> sync_run (mode sync) -> plan (sources re-read incrementally, KICS re-read) -> safety
 *   threshold -> apply -> outcome and events.
 *
 * A plan over the threshold is held: the run stops after planning (status `held`, exit 4), the plan
 * stays a draft for review, `KSYNC_SAFETY_THRESHOLD_HIT` is recorded; `--force` applies it anyway.
 * When KICS could not be re-read the run stops after planning too: a plan computed from an old
 * snapshot is for a person to look at, not for cron to apply.
 */

export interface SyncRunOptions {
  force?: boolean;
  concurrency?: number | undefined;
  scope?: PlanScope;
}

export interface SyncRunResult {
  runId: number;
  plan: RunPlanResult;
  threshold: ThresholdCheck;
  /** Null when the run stopped after planning. */
  apply: ApplyPlanResult | null;
  status: 'succeeded' | 'partial' | 'held' | 'failed' | 'interrupted';
  exitCode: ExitCode;
  /** Why the run stopped after planning, in words. */
  heldBecause: string[];
}

export async function runSync(ctx: RunContext, options: SyncRunOptions = {}): Promise<SyncRunResult> {
  const { db, config, logger } = ctx;
  const lock = await acquireRunLock(db, logger);
  try {
    const scope = options.scope ?? {};
    const runId = await startRun(db, { trigger: ctx.trigger, actor: ctx.actor, mode: 'sync', scope: { ...scope }, cause: ctx.cause ?? null });
    const abandoned = await closeAbandonedRuns(db, runId);
    if (abandoned.length > 0) logger.warn({ runs: abandoned }, 'runs that ended without recording an outcome are marked interrupted; their unfinished items are re-examined');
    await emitEvent(db, 'KSYNC_RUN_STARTED', { runId, trigger: ctx.trigger, actor: ctx.actor, mode: 'sync', scope }, { runId, message: `run ${runId} started: sync (${ctx.actor}, ${ctx.trigger})` });
    const startedAt = new Date();
    let step = 'plan';
    try {
      const kics = await openKics(ctx);
      let plan: RunPlanResult;
      try {
        plan = await runPlan(db, {
          config,
          dataDir: ctx.dataDir,
          scope,
          refresh: 'incremental',
          logger,
          signal: ctx.signal,
          runId,
          refreshKics: (database, refresh) => stageKics(database, kics.client, refresh),
        });
      } finally {
        await kics.close();
      }
      const planId = plan.plan.id;
      for (const event of [...(await planInputEvents(db, config, plan.refresh, new Date())), ...(await planEvents(db, runId, plan.plan, plan.expired))]) await emitEvent(db, event.type, { runId, ...event.payload }, { runId, message: event.message });
      step = 'threshold';
      const threshold = await checkThreshold(db, planId, plan.plan.summary, config.sync);
      const plannedCounts = { planId, planned: plan.plan.summary.counts, changes: plan.plan.summary.changes, failures: plan.failures };
      const heldBecause = [...(plan.refresh?.kics.error ? [`KICS could not be re-read (${plan.refresh.kics.error.message}); the plan was computed from the stored snapshot`] : [])];
      if (threshold.exceeded && !options.force) heldBecause.push(...threshold.reasons);
      if (heldBecause.length > 0) {
        const kicsFailed = plan.refresh?.kics.error !== undefined;
        await endRun(db, runId, {
          status: kicsFailed ? 'failed' : 'held',
          counts: { ...plannedCounts, threshold },
          timings: plan.timings,
          error: heldBecause.join('; '),
          events: kicsFailed
            ? failureEvents(runId, 'plan', new Error(heldBecause[0]), false)
            : [{ type: 'KSYNC_SAFETY_THRESHOLD_HIT', payload: { planId, threshold }, message: `plan ${planId} held for review: ${threshold.reasons.join('; ')}. Apply it with kics-sync apply --plan ${planId} (after approval) or kics-sync sync --force` }],
        });
        logger.warn({ plan: planId, reasons: heldBecause }, 'sync stopped after planning; the plan waits for review');
        return { runId, plan, threshold, apply: null, status: kicsFailed ? 'failed' : 'held', exitCode: kicsFailed ? ExitCode.unavailable : ExitCode.held, heldBecause };
      }
      step = 'apply';
      const { result, exitCode, status } = await applyAndRecord(ctx, runId, { planId, concurrency: options.concurrency, allowDraft: true }, startedAt, { ...plannedCounts, ...(threshold.exceeded ? { forced: threshold } : {}) });
      // A source that could not be re-read is worth an exit code of its own, even when everything applied.
      const finalCode = exitCode === ExitCode.ok && plan.failures.length > 0 ? ExitCode.failed : exitCode;
      return { runId, plan, threshold, apply: result, status, exitCode: finalCode, heldBecause: [] };
    } catch (error) {
      await endRun(db, runId, { status: ctx.signal.aborted ? 'interrupted' : 'failed', error: errorMessage(error), events: failureEvents(runId, step, error, ctx.signal.aborted) }).catch((e: unknown) =>
        logger.error({ err: errorMessage(e) }, 'could not record the end of the run'),
      );
      throw error;
    }
  } finally {
    await lock.release();
  }
}
