import { ExitCode, errorMessage } from '../../errors.js';
import { applyPlan, checkApplicable, type ApplyPlanResult } from '../apply/index.js';
import { emitEvent } from '../events/index.js';
import { registerDiscrepancyEvents, type DiscrepancyEventsResult } from '../discrepancies.js';
import { endRun, failureEvents, openKics, registerRunEvent, type RunContext, type RunEnd } from './lifecycle.js';
import { acquireRunLock } from './lock.js';
import { closeAbandonedRuns, startRun } from './store.js';

/**
 * An apply run (`kics-sync apply`, a KSC `apply` command): the run lock, a `sync_run` row (mode
 * apply), runs a process killed earlier left `running` closed as interrupted, the plan applied, the
 * outcome recorded with its events.
 */

export interface ApplyRunOptions {
  planId: number;
  concurrency?: number | undefined;
  /** Apply a draft without prior approval (`--yes`). */
  allowDraft: boolean;
  /** Called with the run's id once it is recorded. */
  onStart?: (runId: number) => void;
}

export interface ApplyRunResult {
  runId: number;
  apply: ApplyPlanResult;
  /** 0 all done; 1 an item failed; 3 KICS unusable; 130 interrupted. */
  exitCode: ExitCode;
}

export async function runApply(ctx: RunContext, options: ApplyRunOptions): Promise<ApplyRunResult> {
  const lock = await acquireRunLock(ctx.db, ctx.logger);
  try {
    // A plan that cannot be applied as asked is refused before a run is recorded.
    await checkApplicable(ctx.db, options.planId, options.allowDraft);
    return await applyUnderLock(ctx, options);
  } finally {
    await lock.release();
  }
}

async function applyUnderLock(ctx: RunContext, options: ApplyRunOptions): Promise<ApplyRunResult> {
  const { db, logger } = ctx;
  const runId = await startRun(db, { trigger: ctx.trigger, actor: ctx.actor, mode: 'apply', scope: { planId: options.planId }, cause: ctx.cause ?? null });
  options.onStart?.(runId);
  const abandoned = await closeAbandonedRuns(db, runId);
  if (abandoned.length > 0) logger.warn({ runs: abandoned }, 'runs that ended without recording an outcome are marked interrupted; their unfinished items are re-examined');
  await emitEvent(db, 'KSYNC_RUN_STARTED', { runId, trigger: ctx.trigger, actor: ctx.actor, mode: 'apply', planId: options.planId }, { runId, message: `run ${runId} started: apply plan ${options.planId} (${ctx.actor})` });
  const startedAt = new Date();
  try {
    const { result, exitCode } = await applyAndRecord(ctx, runId, options, startedAt);
    return { runId, apply: result, exitCode };
  } catch (error) {
    await endRun(db, runId, { status: ctx.signal.aborted ? 'interrupted' : 'failed', error: errorMessage(error), events: failureEvents(runId, 'apply', error, ctx.signal.aborted) }).catch((e: unknown) =>
      logger.error({ err: errorMessage(e) }, 'could not record the end of the run'),
    );
    throw error;
  }
}

/** Applies the plan within run `runId` and records the run's end; shared by apply and sync runs. */
export async function applyAndRecord(ctx: RunContext, runId: number, options: ApplyRunOptions, startedAt: Date, extraCounts: Record<string, unknown> = {}): Promise<{ result: ApplyPlanResult; exitCode: ExitCode; status: ApplyRunStatus }> {
  const { db, logger, config } = ctx;
  const kics = await openKics(ctx);
  let result: ApplyPlanResult;
  let discrepancies: DiscrepancyEventsResult | undefined;
  let bar: { increment(): void; stop(): void } | undefined;
  try {
    result = await applyPlan({
      db,
      client: kics.client,
      planId: options.planId,
      runId,
      actor: ctx.actor,
      concurrency: options.concurrency ?? config.sync.concurrency,
      allowDraft: options.allowDraft,
      industrialConfigRoot: config.reconcile.industrialConfig.root,
      sourceId: config.kics?.sourceId,
      logger,
      signal: ctx.signal,
      onStart: (total) => {
        if (total > 0) bar = ctx.progress?.(`applying plan ${options.planId}`, total);
      },
      onItem: () => bar?.increment(),
    }).finally(() => bar?.stop());
    const changed = result.outcome.applied + result.outcome.drifted + result.outcome.failed + result.outcome.skipped;
    if (config.sync.registerKicsEvent && changed > 0) await registerRunEvent(ctx, kics.client, runId, options.planId, result.outcome, startedAt);
    if (config.sync.discrepancyEvents.enabled && !result.stopped) {
      const scoped = Object.keys(result.header.scope).length > 0;
      discrepancies = result.discrepancyEvents = await registerDiscrepancyEvents({ db, client: kics.client, logger, actor: ctx.actor, config: config.sync.discrepancyEvents }, { runId, planId: options.planId, scoped });
    }
  } finally {
    await kics.close();
  }

  const counts = { ...extraCounts, planId: options.planId, planStatus: result.status, ...result.outcome, resumed: result.resumed, items: result.items, ...(discrepancies ? { discrepancyEvents: discrepancies } : {}) };
  const timings = { apply: result.durationMs };
  const o = result.outcome;
  const summary = `${o.applied} applied, ${o.applied_with_errors > 0 ? `${o.applied_with_errors} applied with errors, ` : ''}${o.skipped} skipped, ${o.drifted} drifted, ${o.failed} failed`;
  const planEvent: RunEnd['events'] =
    result.status === 'applied' || result.status === 'partially_applied'
      ? [{ type: 'KSYNC_PLAN_APPLIED', payload: { planId: options.planId, status: result.status, outcome: o, items: result.items }, message: `plan ${options.planId} ${result.status.replace('_', ' ')}: ${summary}` }]
      : [];
  let end: RunEnd & { status: ApplyRunStatus };
  let exitCode: ExitCode;
  if (result.stopped?.reason === 'interrupted') {
    end = { status: 'interrupted', counts, timings, error: 'stopped by a signal; the items not started stay pending', events: [...failureEvents(runId, 'apply', null, true)] };
    exitCode = ExitCode.interrupted;
  } else if (result.stopped?.reason === 'kics_unavailable') {
    const error = result.stopped.error;
    end = { status: 'failed', counts, timings, error: errorMessage(error), events: failureEvents(runId, 'apply', error, false) };
    exitCode = ExitCode.unavailable;
  } else if (o.failed > 0 || o.applied_with_errors > 0) {
    // An industrial configuration KICS applied with tag errors is not a plain success either.
    end = { status: 'partial', counts, timings, events: [...planEvent, { type: 'KSYNC_RUN_PARTIAL', payload: { outcome: o, planId: options.planId }, message: `run ${runId} finished with failures or errors: ${summary}` }] };
    exitCode = ExitCode.failed;
  } else {
    end = { status: 'succeeded', counts, timings, events: [...planEvent, { type: 'KSYNC_RUN_FINISHED', payload: { outcome: o, planId: options.planId, durationMs: result.durationMs }, message: `run ${runId} finished: ${summary}` }] };
    exitCode = ExitCode.ok;
  }
  await endRun(db, runId, end);
  return { result, exitCode, status: end.status };
}

/** How an apply ends the run it belongs to. */
export type ApplyRunStatus = 'succeeded' | 'partial' | 'failed' | 'interrupted';
