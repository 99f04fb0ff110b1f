import { errorMessage } from '../../errors.js';
import type { PlanScope } from '../../reconcile/plan-schema.js';
import type { StageMode } from '../staging/source/stage.js';
import { stageKics } from '../staging/kics/stage.js';
import { runPlan, type RunPlanOptions, type RunPlanResult } from '../plans/run.js';
import { endRun, failureEvents, openKics, planEvents, planInputEvents, type RunContext } from './lifecycle.js';
import { startRun } from './store.js';

export interface PlanRunOptions extends Pick<RunPlanOptions, 'reportFile' | 'reportFormat' | 'onSourceProgress'> {
  scope?: PlanScope;
  /** What is re-read first: `incremental`, `full`, or `none` (plan from what is staged). */
  refresh: StageMode | 'none';
  /** Called with the run's id once it is recorded (the console shows the run while it goes). */
  onStart?: (runId: number) => void;
}

/**
 * A plan run, whoever starts it (`kics-sync plan`, a KSC `plan` command, KSC event triggers, the
 * demo): a `sync_run` row (mode plan) with its trigger, actor and cause, the plan pipeline with KICS
 * re-read, the outcome and the plan's events recorded. Plans change nothing in KICS, so no run lock
 * is taken.
 */
export async function runPlanRun(ctx: RunContext, options: PlanRunOptions): Promise<{ runId: number; plan: RunPlanResult }> {
  const { db, logger } = ctx;
  const scope = options.scope ?? {};
  const runId = await startRun(db, { trigger: ctx.trigger, actor: ctx.actor, mode: 'plan', scope: { ...scope }, cause: ctx.cause ?? null });
  options.onStart?.(runId);
  try {
    const kics = options.refresh !== 'none' && (ctx.config.kics || ctx.kicsClient) ? await openKics(ctx) : null;
    let plan: RunPlanResult;
    try {
      plan = await runPlan(db, {
        config: ctx.config,
        dataDir: ctx.dataDir,
        scope,
        refresh: options.refresh,
        ...(options.reportFile !== undefined ? { reportFile: options.reportFile } : {}),
        ...(options.reportFormat !== undefined ? { reportFormat: options.reportFormat } : {}),
        ...(options.onSourceProgress ? { onSourceProgress: options.onSourceProgress } : {}),
        logger,
        signal: ctx.signal,
        runId,
        ...(kics ? { refreshKics: (database, refresh) => stageKics(database, kics.client, refresh) } : {}),
      });
    } finally {
      await kics?.close();
    }
    await endRun(db, runId, {
      status: plan.failures.length > 0 ? 'partial' : 'succeeded',
      counts: { ...plan.plan.summary.counts },
      timings: plan.timings,
      error: plan.failures.join('\n') || null,
      events: [...(await planInputEvents(db, ctx.config, plan.refresh, new Date())), ...(await planEvents(db, runId, plan.plan, plan.expired))],
    });
    return { runId, plan };
  } catch (error) {
    await endRun(db, runId, { status: ctx.signal.aborted ? 'interrupted' : 'failed', error: errorMessage(error), events: failureEvents(runId, 'plan', error, ctx.signal.aborted) }).catch(() => {});
    throw error;
  }
}
