import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parseConfig } from '../config/index.js';
import { openDatabase } from '../db/database.js';
import { UsageError } from '../errors.js';
import { examplesDir } from '../paths.js';
import { startProgress } from '../progress.js';
import { terminal } from '../terminal.js';
import { countsInOrder } from '../reconcile/summary.js';
import { actionLabels } from '../reconcile/report/display.js';
import type { PlanCounts } from '../reconcile/plan-schema.js';
import { startKicsSimulator } from '../simulator/kics/index.js';
import type { RunContext } from '../sync/runs/context.js';
import { runApply } from '../sync/runs/apply-run.js';
import { runPlanRun } from '../sync/runs/plan-run.js';
import { parsePositiveInt, runCommand } from './context.js';

/** The simulated plant the demo CMDB was written against (scripts/demo-data.ts). */
export const demoSimulator = { seed: 'kics-sync-demo', devices: 400 } as const;
/** The example CMDB export the demo reconciles with the simulator. */
export const demoCsvFile = path.join(examplesDir, 'demo', 'cmdb.csv');

/**
 * `kics-sync demo`: the whole product in one command, with nothing to set up. A KICS simulator runs
 * in this process with a generated plant; examples/demo/cmdb.csv is the plant's CMDB; PGlite lives in
 * a fresh folder. Then, as a person would: plan (report written), apply, plan again (nothing left).
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('a complete run against a built-in KICS simulator: plan with an HTML report, apply, plan again; nothing to set up')
    .option('--dir <dir>', 'where the demo keeps its database and reports (new or empty; default: a new folder under the system temp folder)')
    .option('--concurrency <n>', 'items applied at once', parsePositiveInt('--concurrency'))
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, options: { dir?: string; concurrency?: number }) => {
        const dir = await demoDirectory(options.dir);
        const started = performance.now();
        const logger = ctx.logger;
        const sim = await startKicsSimulator({ ...demoSimulator, stateDir: path.join(dir, 'kics-simulator'), packagePassword: randomBytes(12).toString('base64url'), logger });
        ctx.onClose(() => sim.close());
        const devicesAtStart = sim.store.size;
        logger.info({ url: sim.url, devices: sim.store.size }, 'demo: KICS simulator running');

        const config = parseConfig(
          {
            dataDir: dir,
            kics: { url: sim.url, package: { dir: sim.packageDir, password: sim.packagePassword }, retry: { minTimeoutMs: 50, maxTimeoutMs: 1000 } },
            sources: [{ name: 'cmdb', type: 'csv', path: demoCsvFile }],
            reconcile: { managedAttributes: ['Location'], archiveRetired: true },
          },
          { baseDir: dir, file: 'the demo configuration' },
        );
        const db = await terminal.while(`opening a new embedded database in ${dir} ...`, openDatabase({ dataDir: dir, logger }), ctx.showsStatus());
        ctx.onClose(() => db.close());
        const interactive = !ctx.json && Boolean(process.stderr.isTTY);
        const run: RunContext = {
          db,
          config,
          dataDir: dir,
          logger,
          signal: ctx.signal,
          trigger: 'cli',
          actor: ctx.actor(),
          progress: (label, total) => startProgress(label, { logger, interactive, total }),
        };

        const first = await runPlanRun(run, { refresh: 'full' });
        const planId = first.plan.plan.id;
        const applied = await runApply(run, { planId, allowDraft: true, concurrency: options.concurrency });
        const second = await runPlanRun(run, { refresh: 'incremental' });
        const seconds = (performance.now() - started) / 1000;

        const report = first.plan.plan.reportPath ?? '';
        const o = applied.apply.outcome;
        const summary = {
          dir,
          simulator: { devices: demoSimulator.devices, seed: demoSimulator.seed },
          cmdb: demoCsvFile,
          plan: { id: planId, counts: first.plan.plan.summary.counts, report },
          rejects: path.join(dir, 'rejects', 'cmdb.csv'),
          apply: { run: applied.runId, status: applied.apply.status, outcome: o },
          replan: { id: second.plan.plan.id, counts: second.plan.plan.summary.counts, changes: second.plan.plan.summary.changes, report: second.plan.plan.reportPath },
          seconds: Math.round(seconds * 10) / 10,
        };
        const lines = [
          `kics-sync demo: a simulated KICS with ${devicesAtStart} devices, the CMDB ${path.relative(process.cwd(), demoCsvFile) || demoCsvFile}, an embedded database in ${dir}`,
          '',
          `1. plan ${planId}: ${countsLine(first.plan.plan.summary.counts)}`,
          `   rejected CMDB rows (and why): ${summary.rejects}`,
          `2. apply: ${o.applied} applied, ${o.skipped} skipped, ${o.drifted} drifted, ${o.failed} failed (plan ${applied.apply.status.replace('_', ' ')})`,
          `3. plan ${second.plan.plan.id} again: ${second.plan.plan.summary.changes === 0 ? 'nothing left to change' : `${second.plan.plan.summary.changes} change(s) left`} (${countsLine(second.plan.plan.summary.counts)})`,
          '',
          `report of plan ${planId} (open it in a browser): ${report}`,
          `done in ${summary.seconds.toFixed(1)} s. Look around:`,
          `  kics-sync --data-dir ${dir} runs`,
          `  kics-sync --data-dir ${dir} audit --format csv --out audit.csv`,
          `  kics-sync --data-dir ${dir} report --plan ${planId} --format md`,
          `  kics-sync --data-dir ${dir} events`,
        ];
        return { summary, text: lines.join('\n'), exitCode: applied.exitCode };
      }),
    );
}

function countsLine(counts: PlanCounts): string {
  return countsInOrder(counts)
    .filter(({ count }) => count > 0)
    .map(({ action, count }) => `${count} ${actionLabels[action].toLowerCase()}`)
    .join(', ');
}

async function demoDirectory(dir: string | undefined): Promise<string> {
  if (dir === undefined) return mkdtemp(path.join(os.tmpdir(), 'kics-sync-demo-'));
  const target = path.resolve(dir);
  if (existsSync(target) && (await readdir(target)).length > 0) throw new UsageError(`--dir ${dir}: the demo needs a new or empty folder (it creates a fresh database there); ${target} is not empty`);
  await mkdir(target, { recursive: true });
  return target;
}
