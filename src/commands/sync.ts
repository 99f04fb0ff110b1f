import type { Command } from 'commander';
import { countsInOrder } from '../reconcile/summary.js';
import { actionLabels, inputsText } from '../reconcile/report/display.js';
import { claimantOf } from '../sync/apply/index.js';
import { itemProblems } from '../sync/apply/claim.js';
import { runSync, type SyncRunResult } from '../sync/runs/sync-run.js';
import { applySummary, applyText } from './apply.js';
import { runContext } from './run-context.js';
import { parsePositiveInt, runCommand } from './context.js';

/** `kics-sync sync`: plan + apply in one run, for cron, with the safety threshold. */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description('plan and apply in one run (what cron runs): re-read sources and KICS, plan, and apply unless the plan exceeds the safety threshold')
    .option('--force', 'apply even when the plan exceeds sync.maxChangeShare / sync.maxCreates')
    .option('--concurrency <n>', 'items applied at once (default: sync.concurrency)', parsePositiveInt('--concurrency'))
    .option('--json', 'print one JSON object with the result')
    .addHelpText(
      'after',
      '\nExit codes: 0 done; 1 an item failed or a source could not be re-read; 3 KICS or the database unavailable;\n4 held: the plan exceeds the safety threshold and waits for review; 5 another run holds the lock; 130 interrupted.',
    )
    .action(
      runCommand(program, async (ctx, options: { force?: boolean; concurrency?: number }) => {
        const run = await runContext(ctx, 'cli', ctx.actor());
        const result = await runSync(run, { force: options.force === true, concurrency: options.concurrency });
        const problems = result.apply ? await itemProblems(run.db, result.plan.plan.id, claimantOf(result.runId)) : [];
        return { summary: syncSummary(result, problems), text: syncText(result, problems), exitCode: result.exitCode };
      }),
    );
}

function syncSummary(result: SyncRunResult, problems: Parameters<typeof applySummary>[2]): Record<string, unknown> {
  const { plan } = result.plan;
  return {
    run: result.runId,
    status: result.status,
    plan: { id: plan.id, status: result.apply?.status ?? 'draft', counts: plan.summary.counts, changes: plan.summary.changes, report: plan.reportPath },
    threshold: result.threshold,
    heldBecause: result.heldBecause,
    failures: result.plan.failures,
    apply: result.apply ? applySummary(result.runId, result.apply, problems) : null,
  };
}

function syncText(result: SyncRunResult, problems: Parameters<typeof applyText>[2]): string {
  const { plan } = result.plan;
  const counts = countsInOrder(plan.summary.counts)
    .filter(({ count }) => count > 0)
    .map(({ action, count }) => `${count} ${actionLabels[action].toLowerCase()}`)
    .join(', ');
  const lines = [`sync run ${result.runId}: ${result.status}`, `plan ${plan.id}: ${counts || 'nothing'}; report: ${plan.reportPath}`];
  for (const failure of result.plan.failures) lines.push(`warning: ${failure}`);
  for (const line of inputsText(plan).rejects) lines.push(`warning: ${line}`);
  if (result.apply) lines.push(applyText(result.runId, result.apply, problems));
  else {
    lines.push(`stopped after planning: ${result.heldBecause.join('; ')}`);
    if (result.status === 'held') lines.push(`review the report, then: kics-sync approve --plan ${plan.id} && kics-sync apply --plan ${plan.id} (or kics-sync sync --force)`);
  }
  return lines.join('\n');
}
