import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { listRuns, runStatuses, type RunRecord, type RunStatus } from '../sync/runs/store.js';
import { parsePositiveInt, runCommand } from './context.js';
import { printable } from '../terminal.js';

/** `kics-sync runs`: the run history, newest first. */
export function registerRunsCommand(program: Command): void {
  program
    .command('runs')
    .description('the run history, newest first: plan, apply and sync runs with who started them, their outcome and counts')
    .option('--limit <n>', 'how many (default 20)', parsePositiveInt('--limit'))
    .option('--status <status>', `only runs that ended so: ${runStatuses.join(', ')}`)
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, options: { limit?: number; status?: string }) => {
        if (options.status !== undefined && !(runStatuses as readonly string[]).includes(options.status)) {
          throw new UsageError(`--status must be one of ${runStatuses.join(', ')}; found ${JSON.stringify(options.status)}`);
        }
        const db = await ctx.database();
        const runs = await listRuns(db, { limit: options.limit ?? 20, ...(options.status ? { status: options.status as RunStatus } : {}) });
        return {
          summary: { site: (await ctx.config()).site?.name ?? 'default', runs: runs.map(runJson) },
          text: runs.length === 0 ? 'no runs yet' : runs.map(runLine).join('\n'),
        };
      }),
    );
}

function runJson(run: RunRecord): Record<string, unknown> {
  return {
    id: run.id,
    trigger: run.trigger,
    actor: run.actor,
    mode: run.mode,
    status: run.status,
    scope: run.scope,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    durationMs: run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
    plans: run.planIds,
    counts: run.counts,
    timings: run.timings,
    error: run.error,
    cause: run.cause,
    host: run.host,
    pid: run.pid,
  };
}

function runLine(run: RunRecord): string {
  const at = run.startedAt.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  const seconds = run.finishedAt ? `${((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(1)} s` : 'running';
  const c = run.counts;
  const n = (key: string): number => (typeof c[key] === 'number' ? c[key] : 0);
  const plan = typeof c.planId === 'number' ? `plan ${c.planId}` : run.planIds.length ? `plan ${run.planIds.join(', ')}` : '';
  const outcome = ['applied', 'skipped', 'drifted', 'failed'].some((k) => typeof c[k] === 'number')
    ? `${n('applied')} applied, ${n('applied_with_errors') > 0 ? `${n('applied_with_errors')} applied with errors, ` : ''}${n('skipped')} skipped, ${n('drifted')} drifted, ${n('failed')} failed`
    : countsText(c);
  const error = run.error ? `  ${printable(run.error).slice(0, 160)}` : '';
  return `${String(run.id).padStart(5)}  ${at}  ${run.mode.padEnd(5)}  ${run.status.padEnd(11)}  ${run.trigger.padEnd(11)}  ${printable(run.actor).padEnd(12)}  ${seconds.padStart(8)}  ${plan}${plan && outcome ? ': ' : ''}${outcome}${error}`;
}

/** A plan run's counts: create / update / ... as stored by `plan`. */
function countsText(counts: Record<string, unknown>): string {
  const planned = (counts.planned ?? counts) as Record<string, unknown>;
  const parts = ['create', 'update', 'upload_config', 'recognize', 'archive', 'delete', 'conflict'].filter((k) => typeof planned[k] === 'number').map((k) => `${planned[k] as number} ${k.replace('_', ' ')}`);
  return parts.join(', ');
}

