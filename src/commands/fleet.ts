import type { Command } from 'commander';
import { siteNames } from '../config/sites.js';
import { ExitCode, UsageError } from '../errors.js';
import { JobQueue, siteJobKinds, type SiteJobKind } from '../fleet/queue.js';
import { fleetStatus, siteStatusJson, type SiteStatus } from '../fleet/status.js';
import { runWorker } from '../fleet/worker.js';
import { parsePositiveInt, runCommand, type CommandContext } from './context.js';
import { humanDuration, printable } from '../terminal.js';

/** `kics-sync sites`: the fleet at a glance. */
export function registerSitesCommand(program: Command): void {
  program
    .command('sites')
    .description('each site: its last run and outcome, its next run, devices, open conflicts, time since the last good sync, and its jobs waiting / running / dead')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx) => {
        const config = await ctx.fullConfig();
        const sites = await fleetStatus({ config, databaseUrl: await ctx.databaseUrl() });
        const late = sites.filter((s) => s.jobs !== null && s.jobs.dead > 0);
        return {
          summary: { sites: sites.map(siteStatusJson) },
          text: sitesText(sites),
          ...(late.length > 0 ? { exitCode: ExitCode.failed } : {}),
        };
      }),
    );
}

/** `kics-sync worker` and `kics-sync enqueue`: the fleet's workers and manual jobs (PostgreSQL only). */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('take site jobs (sync, plan, apply, KSC commands) from the queue and run them, until SIGTERM / SIGINT; run it on any number of hosts against the same PostgreSQL')
    .option('--concurrency <n>', 'jobs (sites) run at once by this worker (default 1)', parsePositiveInt('--concurrency'))
    .option('--json', 'print one JSON object when it stops')
    .addHelpText('after', '\nNeeds PostgreSQL (DATABASE_URL or database.url). A job whose worker dies is taken by another worker once its lease\n(fleet.leaseSeconds) runs out, and the site\'s run resumes. Failed jobs are retried with backoff (fleet.retries), then dead.')
    .action(
      runCommand(program, async (ctx, options: { concurrency?: number }) => {
        const url = await queueDatabase(ctx, 'worker');
        const concurrency = options.concurrency ?? 1;
        if (!ctx.json) process.stderr.write(`worker: taking site jobs, ${concurrency} at a time (${siteNames(await ctx.fullConfig()).join(', ')})\n`);
        const summary = await runWorker({ config: await ctx.fullConfig(), databaseUrl: url, concurrency, logger: ctx.logger, signal: ctx.signal });
        return {
          summary: { ...summary },
          text: `worker stopped: ${summary.jobs} job(s), ${summary.succeeded} done, ${summary.skipped} skipped, ${summary.failed} failed (retried by the queue)`,
        };
      }),
    );

  program
    .command('enqueue')
    .description(`put a site job on the queue for the workers: ${siteJobKinds.join(', ')}`)
    .argument('<kind>', siteJobKinds.join(' | '))
    .option('--plan <id>', 'apply: the plan (approved)', parsePositiveInt('--plan'))
    .option('--all', 'every site (sync, plan)')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, kind: string, options: { plan?: number; all?: boolean }) => {
        if (!(siteJobKinds as readonly string[]).includes(kind)) throw new UsageError(`kind must be one of ${siteJobKinds.join(', ')}; found ${JSON.stringify(kind)}`);
        if (kind === 'apply' && options.plan === undefined) throw new UsageError('enqueue apply needs --plan <id>');
        if (kind === 'apply' && options.all) throw new UsageError('a plan belongs to one site: enqueue apply takes --site, not --all');
        const url = await queueDatabase(ctx, 'enqueue');
        const sites = options.all ? siteNames(await ctx.fullConfig()) : [(await ctx.config()).site!.name];
        const queue = await JobQueue.open({ url, fleet: (await ctx.fullConfig()).fleet, logger: ctx.logger, supervise: false });
        try {
          const jobs: { site: string; job: string | null }[] = [];
          for (const site of sites) {
            const job = await queue.send({ site, kind: kind as SiteJobKind, actor: ctx.actor(), trigger: 'cli', ...(options.plan !== undefined ? { planId: options.plan } : {}) });
            jobs.push({ site, job });
          }
          const refused = jobs.filter((j) => j.job === null);
          return {
            summary: { kind, jobs },
            text: jobs.map((j) => (j.job ? `${j.site}: ${kind} queued (job ${j.job})` : `${j.site}: not queued, the site already has a job waiting`)).join('\n'),
            ...(refused.length > 0 ? { exitCode: ExitCode.held } : {}),
          };
        } finally {
          await queue.close({ graceful: false, timeoutMs: 5_000 });
        }
      }),
    );
}

/** The PostgreSQL URL the queue lives in; the embedded database has no queue. */
async function queueDatabase(ctx: CommandContext, command: string): Promise<string> {
  const url = await ctx.databaseUrl();
  if (url === undefined) {
    throw new UsageError(
      `${command} needs PostgreSQL (DATABASE_URL or database.url): the job queue lives there. With the embedded database, kics-sync runs one site in one process (kics-sync sync / schedule --site NAME)`,
    );
  }
  return url;
}

function sitesText(sites: SiteStatus[]): string {
  const header = ['site', 'last run', 'outcome', 'took', 'next run', 'devices', 'conflicts', 'since good sync', 'jobs w/r/dead'];
  const rows = sites.map((s) => [
    s.name,
    s.lastRun ? `${s.lastRun.id} ${s.lastRun.mode} ${shortTime(s.lastRun.startedAt)}` : 'none',
    s.lastRun?.status ?? '-',
    s.lastRun?.seconds != null ? `${s.lastRun.seconds.toFixed(1)} s` : s.lastRun ? 'going' : '-',
    s.nextRun ? shortTime(s.nextRun) : '-',
    s.devices === null ? '-' : String(s.devices),
    s.openConflicts === null ? '-' : String(s.openConflicts),
    s.secondsSinceGoodSync === null ? 'never' : humanDuration(s.secondsSinceGoodSync),
    s.jobs ? `${s.jobs.waiting}/${s.jobs.running}/${s.jobs.dead}` : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const failures = sites.filter((s) => s.lastRun && ['failed', 'interrupted'].includes(s.lastRun.status)).map((s) => `${s.name}: run ${s.lastRun!.id} ${s.lastRun!.status}: ${printable(s.lastRun!.error ?? 'no reason recorded').slice(0, 200)}`);
  const dead = sites.filter((s) => s.jobs && s.jobs.dead > 0).map((s) => `${s.name}: ${s.jobs!.dead} dead job(s): retries ran out; see kics-sync runs --site ${s.name}`);
  return [line(header), ...rows.map(line), ...(failures.length + dead.length > 0 ? ['', ...failures, ...dead] : [])].join('\n');
}

function shortTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace(/:\d{2}\.\d{3}Z$/, 'Z');
}


