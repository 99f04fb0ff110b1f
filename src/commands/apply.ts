import type { Command } from 'commander';
import { errorMessage, UsageError } from '../errors.js';
import { stageKics } from '../sync/staging/kics/stage.js';
import { openKics } from '../sync/runs/lifecycle.js';
import { actionLabels, scopeText } from '../reconcile/report/display.js';
import { countsInOrder } from '../reconcile/summary.js';
import { runRevert } from '../sync/plans/revert.js';
import { approvePlan, claimantOf, type ApplyPlanResult } from '../sync/apply/index.js';
import { itemProblems, type ItemProblem } from '../sync/apply/claim.js';
import { runApply } from '../sync/runs/apply-run.js';
import { parsePositiveInt, runCommand } from './context.js';
import { runContext } from './run-context.js';

/** `kics-sync apply` (execute a stored plan) and `kics-sync approve` (record who approved it). */
export function registerApplyCommands(program: Command): void {
  program
    .command('apply')
    .description('apply a stored plan to KICS: exactly its items, each once, resumable; an audit record per write')
    .requiredOption('--plan <id>', 'the plan to apply', parsePositiveInt('--plan'))
    .option('--yes', 'apply a draft plan without a prior `kics-sync approve` (you approve it by applying it)')
    .option('--concurrency <n>', 'items applied at once (default: sync.concurrency)', parsePositiveInt('--concurrency'))
    .option('--json', 'print one JSON object with the result')
    .addHelpText(
      'after',
      '\nAn apply that was interrupted (even killed) is finished by running the same command again; failed items are retried, applied ones never repeated.\nExit codes: 0 every item applied, skipped or drifted; 1 an item failed; 2 the plan cannot be applied (draft without --yes, expired, unknown);\n3 KICS or the database unavailable; 5 another run is applying; 130 interrupted (the rest stays pending).',
    )
    .action(
      runCommand(program, async (ctx, options: { plan: number; yes?: boolean; concurrency?: number }) => {
        const run = await runContext(ctx, 'cli', ctx.actor());
        const { runId, apply, exitCode } = await runApply(run, { planId: options.plan, concurrency: options.concurrency, allowDraft: options.yes === true });
        const problems = await itemProblems(run.db, options.plan, claimantOf(runId));
        return { summary: applySummary(runId, apply, problems), text: applyText(runId, apply, problems), exitCode };
      }),
    );

  program
    .command('approve')
    .description('approve a draft plan after reviewing its report, recording who approved it; `apply` then needs no --yes')
    .requiredOption('--plan <id>', 'the plan to approve', parsePositiveInt('--plan'))
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, options: { plan: number }) => {
        const db = await ctx.database();
        const { header, changed } = await approvePlan(db, options.plan, ctx.actor());
        const text = changed
          ? `plan ${options.plan} approved by ${header.approvedBy} at ${header.approvedAt}; apply it with kics-sync apply --plan ${options.plan}`
          : `plan ${options.plan} was already approved by ${header.approvedBy} at ${header.approvedAt}`;
        return { summary: { plan: { id: options.plan, status: header.status, approvedBy: header.approvedBy, approvedAt: header.approvedAt }, changed }, text };
      }),
    );
}

/** `kics-sync revert --run ID`: a plan undoing what a run changed, to review, approve and apply like any plan. */
export function registerRevertCommand(program: Command): void {
  program
    .command('revert')
    .description("make a plan that puts back what a run changed in KICS (from the run's audit): fields back to their earlier values, guarded so that a device changed since is drift, not overwritten; devices the run created archived. Review, approve and apply it like any plan")
    .requiredOption('--run <id>', 'the run to revert (kics-sync runs lists them)', parsePositiveInt('--run'))
    .option('--device <id...>', 'only these KICS devices')
    .option('--report <file>', 'write the report here (format from the extension); default <reportDir>/plan-<id>.html')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, options: { run: number; device?: string[]; report?: string }) => {
        const devices = (options.device ?? []).map((d) => {
          if (!/^\d+$/.test(d) || Number(d) < 1) throw new UsageError(`--device must be a device id (a positive integer); found ${JSON.stringify(d)}`);
          return Number(d);
        });
        const run = await runContext(ctx, 'cli', ctx.actor());
        // KICS is re-read first (incrementally): the guards of the revert are the values KICS holds now.
        const warnings: string[] = [];
        try {
          const kics = await openKics(run);
          try {
            await stageKics(run.db, kics.client, { mode: 'incremental', logger: run.logger, signal: run.signal });
          } finally {
            await kics.close();
          }
        } catch (error) {
          warnings.push(`warning: KICS could not be re-read (${errorMessage(error)}); the revert is built from the stored snapshot`);
        }
        const value = await runRevert(run.db, run.config, run.dataDir, options.run, { devices, ...(options.report ? { reportFile: options.report } : {}) });
        const { header } = value;
        const revert = header.summary.revert!;
        const lines = [`plan ${header.id} (draft) reverts run ${options.run}: ${header.summary.changes} change(s)`];
        for (const { action, count } of countsInOrder(header.summary.counts)) if (count > 0) lines.push(`  ${actionLabels[action].padEnd(14)} ${String(count).padStart(7)}`);
        for (const n of revert.notReverted) lines.push(`not reverted: ${n.operation}${n.deviceId === null ? '' : ` of device ${n.deviceId}`}: ${n.reason}`);
        lines.push(...warnings, `report: ${header.reportPath}`, `review it, then: kics-sync approve --plan ${header.id} && kics-sync apply --plan ${header.id}`);
        return {
          summary: { plan: { id: header.id, status: header.status, revertsRun: options.run }, counts: header.summary.counts, changes: header.summary.changes, notReverted: revert.notReverted, report: header.reportPath },
          text: lines.join('\n'),
        };
      }),
    );
}

export function applySummary(runId: number, apply: ApplyPlanResult, problems: readonly ItemProblem[]): Record<string, unknown> {
  return {
    run: runId,
    plan: { id: apply.planId, status: apply.status, scope: apply.header.scope },
    outcome: apply.outcome,
    items: apply.items,
    resumed: apply.resumed,
    ...(apply.discrepancyEvents ? { discrepancyEvents: apply.discrepancyEvents } : {}),
    stopped: apply.stopped ? { reason: apply.stopped.reason, ...(apply.stopped.error ? { error: apply.stopped.error.toJSON() } : {}) } : null,
    problems,
    durationMs: apply.durationMs,
  };
}

export function applyText(runId: number, apply: ApplyPlanResult, problems: readonly ItemProblem[]): string {
  const o = apply.outcome;
  const lines = [`plan ${apply.planId} (scope: ${scopeText(apply.header)}): ${apply.status.replace('_', ' ')} (run ${runId})`];
  for (const [label, n] of [
    ['applied', o.applied],
    ['applied with errors', o.applied_with_errors],
    ['skipped', o.skipped],
    ['drifted', o.drifted],
    ['failed', o.failed],
  ] as const)
    lines.push(`  ${label.padEnd(19)} ${String(n).padStart(7)}`);
  const d = apply.discrepancyEvents;
  if (d) {
    lines.push(
      `discrepancies in KICS's events: ${d.registered} registered, ${d.alreadyRegistered} already registered, ${d.resolved} resolved${d.failed > 0 ? `, ${d.failed} could not be registered` : ''}${d.deferred > 0 ? `, ${d.deferred} left for the next run` : ''}`,
    );
  }
  if (apply.resumed > 0) lines.push(`  (${apply.resumed} item(s) an interrupted apply had started were re-examined)`);
  const left = (apply.items.pending ?? 0) + (apply.items.in_progress ?? 0);
  if (apply.stopped?.reason === 'interrupted') lines.push(`interrupted: ${left} item(s) left pending; run the same apply again to finish`);
  if (apply.stopped?.reason === 'kics_unavailable') lines.push(`stopped: ${apply.stopped.error?.message ?? 'KICS cannot be used'}; ${left} item(s) left pending`);
  for (const p of problems) {
    const device = p.deviceId === null ? `new device ${JSON.stringify(p.deviceName)}` : `device ${p.deviceId}${p.deviceName ? ` (${p.deviceName})` : ''}`;
    lines.push(`${p.status}: item ${p.seq} ${p.action} ${device}: ${p.message ?? ''}`);
  }
  lines.push(`details: kics-sync report --plan ${apply.planId}; audit: kics-sync audit --run ${runId}`);
  return lines.join('\n');
}

