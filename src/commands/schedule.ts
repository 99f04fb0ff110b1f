import type { Command } from 'commander';
import { runScheduleService } from '../sync/schedule/service.js';
import { validateSchedule } from '../sync/schedule/scheduler.js';
import { runFleetSchedule } from '../fleet/schedule.js';
import { runCommand } from './context.js';

/** `kics-sync schedule`: `sync` on the configured cron expressions until SIGTERM / SIGINT. */
export function registerScheduleCommand(program: Command): void {
  program
    .command('schedule')
    .description('run `sync` on the cron expressions of schedule.cron (time zone schedule.timezone) until SIGTERM / SIGINT; with ksc.commands / ksc.triggers enabled, also the KSC service console; with console.withSchedule, also the review console')
    .option('--json', 'print one JSON object when it stops')
    .addHelpText(
      'after',
      '\nWith sites: on PostgreSQL (and no --site), each site\'s ticks are put on the job queue for `kics-sync worker`; any number of\nschedulers may run. Otherwise the site (--site, or the only one) runs in this process.\nNever two runs at once: a tick during a run is skipped, and so is one while another process or host holds the run lock\n(PostgreSQL advisory lock) or the embedded database. SIGTERM / SIGINT: the run in progress finishes the items in flight,\nthe rest stays pending for the next apply; then it exits 0.',
    )
    .action(
      runCommand(program, async (ctx) => {
        const full = await ctx.fullConfig();
        const url = await ctx.databaseUrl();
        if (full.sites !== undefined && url !== undefined && ctx.globals.site === undefined) {
          // A fleet on PostgreSQL: each site's ticks become jobs for the workers.
          const fleet = await runFleetSchedule({ config: full, databaseUrl: url, logger: ctx.logger, signal: ctx.signal });
          return {
            summary: { fleet: true, ...fleet },
            text: `schedule stopped: ${fleet.queued} site sync(s) queued, ${fleet.skipped} tick(s) skipped (a job of the site was still waiting), ${fleet.errors} failed to queue`,
          };
        }
        const config = await ctx.config();
        validateSchedule({ expressions: Array.isArray(config.schedule.cron) ? config.schedule.cron : [config.schedule.cron], timezone: config.schedule.timezone });
        const summary = await runScheduleService({
          config,
          dataDir: await ctx.dataDir(),
          databaseUrl: await ctx.databaseUrl(),
          logger: ctx.logger,
          signal: ctx.signal,
          onConsole: (address) => {
            if (address) process.stderr.write(`review console at ${address} (console.withSchedule)\n`);
          },
        });
        return {
          summary: { ...summary },
          text: `schedule stopped: ${summary.runs} run(s), ${summary.skipped} skipped, ${summary.errors} failed, ${summary.interrupted} cut short by the stop`,
        };
      }),
    );
}
