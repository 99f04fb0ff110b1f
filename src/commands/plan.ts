import type { Command } from 'commander';
import { ExitCode, UsageError } from '../errors.js';
import { startSourcesProgress } from '../progress.js';
import { planStatuses, type PlanHeader, type PlanScope } from '../reconcile/plan-schema.js';
import { formatOfFile, reportFormats, type ReportFormat } from '../reconcile/report/index.js';
import { countsInOrder } from '../reconcile/summary.js';
import { actionLabels, basisText, inputsText, scopeText } from '../reconcile/report/display.js';
import { resolveAddressSpace } from '../sync/plans/address-space.js';
import { listPlans, loadPlanHeader, loadPlanItems } from '../sync/plans/load.js';
import { writeReportFile, writeReportStream } from '../sync/plans/report-file.js';
import type { RunPlanResult } from '../sync/plans/run.js';
import { runPlanRun } from '../sync/runs/plan-run.js';
import { parsePositiveInt, runCommand } from './context.js';
import { runContext } from './run-context.js';

/** `kics-sync plan` (dry run: refresh, reconcile, store, report), `kics-sync report` and `kics-sync plans`. */
export function registerPlanCommands(program: Command): void {
  program
    .command('plan')
    .description('re-read the sources (incrementally) and KICS, work out what would change, store it as a plan and write its report; changes nothing in KICS')
    .option('--source <name...>', 'only assets these sources describe (and re-read only them)')
    .option('--owner <owner>', 'only assets this owner owns (from the sources)')
    .option('--address-space <id|name>', 'only items in this KICS address space (its id, or its name in KICS)')
    .option('--device <id>', 'only items concerning this KICS device', parsePositiveInt('--device'))
    .option('--report <file>', 'write the report here (format from the extension: .html .json .md .csv); default <reportDir>/plan-<id>.html')
    .option('--full', 'full re-read of the sources and KICS instead of incremental')
    .option('--no-refresh', 'plan from what is already staged; read nothing')
    .option('--json', 'print one JSON object with the result')
    .addHelpText(
      'after',
      '\nExit codes: 0 plan stored; 1 plan stored, but a source or KICS could not be re-read (its earlier data was used);\n2 bad arguments or configuration; 3 database unavailable or no KICS snapshot yet; 5 embedded database in use; 130 interrupted.',
    )
    .action(
      runCommand(
        program,
        async (ctx, options: { source?: string[]; owner?: string; addressSpace?: string; device?: number; report?: string; full?: boolean; refresh: boolean }) => {
          const scope: PlanScope = {};
          if (options.source && options.source.length > 0) scope.sources = options.source;
          if (options.owner !== undefined) {
            if (options.owner.trim() === '') throw new UsageError('--owner must not be empty');
            scope.owner = options.owner;
          }
          if (options.addressSpace !== undefined) {
            const resolved = await resolveAddressSpace(await ctx.database(), options.addressSpace);
            if ('problem' in resolved) throw new UsageError(`--address-space ${options.addressSpace}: ${resolved.problem}`);
            scope.addressSpaceId = resolved.id;
          }
          if (options.device !== undefined) scope.deviceId = options.device;
          let reportFormat: ReportFormat = 'html';
          if (options.report !== undefined) {
            const format = formatOfFile(options.report);
            if (!format) throw new UsageError(`--report ${options.report}: the extension must say the format (.html, .json, .md or .csv)`);
            reportFormat = format;
          }
          const run = await runContext(ctx, 'cli', ctx.actor());
          const progress = startSourcesProgress({ logger: ctx.logger, interactive: !ctx.json && Boolean(process.stderr.isTTY) });
          const { plan: result } = await runPlanRun(run, {
            scope,
            refresh: options.refresh === false ? 'none' : options.full ? 'full' : 'incremental',
            ...(options.report !== undefined ? { reportFile: options.report } : {}),
            reportFormat,
            onSourceProgress: (p) => progress.report(p),
          }).finally(() => progress.stop());
          return { summary: planSummary(result), text: planText(result), exitCode: result.failures.length > 0 ? ExitCode.failed : ExitCode.ok };
        },
      ),
    );

  program
    .command('report')
    .description('write the report of a stored plan (to stdout, or to --out)')
    .requiredOption('--plan <id>', 'the plan', parsePositiveInt('--plan'))
    .option('--format <format>', `${reportFormats.join(', ')} (default: from --out's extension, else html)`)
    .option('--out <file>', 'write to this file instead of stdout')
    .action(
      runCommand(program, async (ctx, options: { plan: number; format?: string; out?: string }) => {
        let format: ReportFormat | undefined;
        if (options.format !== undefined) {
          if (!(reportFormats as readonly string[]).includes(options.format)) throw new UsageError(`--format must be one of ${reportFormats.join(', ')}; found ${JSON.stringify(options.format)}`);
          format = options.format as ReportFormat;
        }
        format ??= (options.out ? formatOfFile(options.out) : undefined) ?? 'html';
        const db = await ctx.database();
        const header = await loadPlanHeader(db, options.plan);
        const items = loadPlanItems(db, options.plan);
        if (options.out) {
          const file = await writeReportFile(options.out, format, header, items);
          return { summary: { plan: options.plan, format, file }, text: `plan ${options.plan}: ${format} report written to ${file}` };
        }
        await writeReportStream(process.stdout, format, header, items);
        return { summary: { plan: options.plan, format } };
      }),
    );

  program
    .command('plans')
    .description('list stored plans, newest first')
    .option('--limit <n>', 'how many (default 20)', parsePositiveInt('--limit'))
    .option('--status <status>', `only plans in this state: ${planStatuses.join(', ')}`)
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, options: { limit?: number; status?: string }) => {
        if (options.status !== undefined && !(planStatuses as readonly string[]).includes(options.status)) {
          throw new UsageError(`--status must be one of ${planStatuses.join(', ')}; found ${JSON.stringify(options.status)}`);
        }
        const db = await ctx.database();
        const plans = await listPlans(db, { limit: options.limit ?? 20, ...(options.status ? { status: options.status as PlanHeader['status'] } : {}) });
        const lines = plans.map((p) => {
          const c = p.summary.counts;
          return `${String(p.id).padStart(5)}  ${p.status.padEnd(17)} ${p.createdAt}  ${c.create} create, ${c.update} update, ${c.upload_config} upload, ${c.archive} archive, ${c.delete} delete, ${c.conflict} conflict  scope: ${scopeText(p)}`;
        });
        return { summary: { plans: plans.map((p) => ({ id: p.id, status: p.status, createdAt: p.createdAt, scope: p.scope, basis: p.basis, counts: p.summary.counts, reportPath: p.reportPath })) }, text: lines.join('\n') || 'no plans yet' };
      }),
    );
}

function planSummary(result: RunPlanResult): Record<string, unknown> {
  const { plan } = result;
  return {
    plan: { id: plan.id, status: plan.status, createdAt: plan.createdAt, scope: plan.scope, basis: plan.basis },
    counts: plan.summary.counts,
    changes: plan.summary.changes,
    conflictsByKind: plan.summary.conflictsByKind,
    byAddressSpace: plan.summary.byAddressSpace,
    notCreated: plan.summary.notCreated,
    report: plan.reportPath,
    inputs: plan.summary.inputs ?? null,
    refresh: result.refresh,
    expired: result.expired,
    failures: result.failures,
    notes: result.notes,
    timings: result.timings,
  };
}

function planText(result: RunPlanResult): string {
  const { plan } = result;
  const lines = [`plan ${plan.id} (${plan.status}), scope: ${scopeText(plan)}, basis: ${basisText(plan)}`];
  for (const { action, count } of countsInOrder(plan.summary.counts)) lines.push(`  ${actionLabels[action].padEnd(14)} ${String(count).padStart(7)}`);
  if (plan.summary.counts.delete > 0) lines.push(`WARNING: ${plan.summary.counts.delete} device(s) would be DELETED from KICS (reconcile.allowDelete is on)`);
  for (const failure of result.failures) lines.push(`warning: ${failure}`);
  for (const rejects of inputsText(plan).rejects) lines.push(rejects);
  if (result.expired.length > 0) lines.push(`expired plans (inputs moved on): ${result.expired.join(', ')}`);
  lines.push(`report: ${plan.reportPath}`);
  return lines.join('\n');
}
