import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/index.js';
import { resolveSite, siteNames } from '../config/sites.js';
import { openDatabase } from '../db/database.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { validateSchedule } from '../sync/schedule/scheduler.js';
import { runFleetKsc } from './ksc.js';
import { JobQueue, siteQueue, tickJobId } from './queue.js';
import { nextRun } from './status.js';
import { recordSkipped } from './worker.js';

/**
 * `kics-sync schedule` for a fleet: each site's cron expressions put a `sync` job for the site on the
 * queue; workers run it. Any number of schedulers may run (for availability): a tick's job has an id
 * made from the site and the tick, so two schedulers ticking together queue it once. A tick while the
 * site still has a job waiting is skipped and recorded in the site's run history; one that finds the
 * site's run still going is recorded as skipped by the worker that takes it (src/fleet/worker.ts).
 */

export interface FleetScheduleOptions {
  /** The whole configuration (every site). */
  config: Config;
  databaseUrl: string;
  logger: Logger;
  signal: AbortSignal;
  /** Called after each tick with what became of it (tests). */
  onTick?: (tick: TickOutcome) => void;
}

export interface TickOutcome {
  site: string;
  tick: string;
  /** `queued`, `duplicate` (another scheduler queued this tick), `skipped` (the site has a job waiting), `error`. */
  result: 'queued' | 'duplicate' | 'skipped' | 'error';
  jobId?: string;
  error?: string;
}

export interface FleetScheduleSummary {
  sites: { name: string; cron: string[]; timezone: string; next: string | null }[];
  queued: number;
  skipped: number;
  errors: number;
}

export async function runFleetSchedule(options: FleetScheduleOptions): Promise<FleetScheduleSummary> {
  const { config, logger, signal } = options;
  const sites = siteNames(config).map((name) => {
    const site = resolveSite(config, name);
    const expressions = Array.isArray(site.config.schedule.cron) ? site.config.schedule.cron : [site.config.schedule.cron];
    validateSchedule({ expressions, timezone: site.config.schedule.timezone });
    return { name, site, expressions, timezone: site.config.schedule.timezone };
  });
  const queue = await JobQueue.open({ url: options.databaseUrl, fleet: config.fleet, logger });
  const summary: FleetScheduleSummary = { sites: [], queued: 0, skipped: 0, errors: 0 };
  const tasks: ScheduledTask[] = [];
  const pending = new Set<Promise<void>>();

  const tick = async ({ name, site }: (typeof sites)[number], at: Date): Promise<void> => {
    const when = new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString();
    const outcome: TickOutcome = { site: name, tick: when, result: 'error' };
    try {
      const id = await queue.send({ site: name, kind: 'sync', actor: 'cron', trigger: 'cron', tick: when });
      if (id !== null) {
        outcome.result = 'queued';
        outcome.jobId = id;
        summary.queued += 1;
        logger.info({ site: name, tick: when, job: id }, 'schedule: site sync queued');
      } else if (await queue.exists(siteQueue, tickJobId(name, when))) {
        outcome.result = 'duplicate';
      } else {
        outcome.result = 'skipped';
        summary.skipped += 1;
        const db = await openDatabase({ url: options.databaseUrl, dataDir: site.location.dataDir, schema: site.location.schema, logger, poolSize: 1 });
        try {
          await recordSkipped({ db, trigger: 'cron', actor: 'cron', cause: null }, when, `the tick at ${when} came while a sync of this site was still waiting in the queue`);
        } finally {
          await db.close();
        }
        logger.warn({ site: name, tick: when }, 'schedule: the site still has a job waiting; this tick is skipped');
      }
    } catch (error) {
      outcome.error = errorMessage(error);
      summary.errors += 1;
      logger.error({ site: name, tick: when, err: outcome.error }, 'schedule: could not queue the site sync');
    }
    options.onTick?.(outcome);
  };

  try {
    for (const entry of sites) {
      const { name, expressions, timezone } = entry;
      for (const expression of expressions) {
        tasks.push(
          cron.schedule(
            expression,
            (context) => {
              const p = tick(entry, context.date).finally(() => pending.delete(p));
              pending.add(p);
            },
            { timezone, name: `kics-sync ${name} ${expression}`, suppressMissedWarning: true },
          ),
        );
      }
    }
    for (const { name, site, expressions, timezone } of sites) summary.sites.push({ name, cron: expressions, timezone, next: nextRun(site.config.schedule)?.toISOString() ?? null });
    logger.info({ sites: summary.sites }, 'schedule: queueing each site on its cron');
    // KSC commands and triggers of the sites, as jobs for the workers; a configuration error stops the scheduler.
    const ksc = runFleetKsc({ config, databaseUrl: options.databaseUrl, queue, logger, signal });
    await Promise.race([new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }))), ksc.then(() => new Promise<void>(() => {}))]);
    await ksc;
  } finally {
    for (const task of tasks.splice(0)) await task.destroy();
    await Promise.allSettled([...pending]);
    await queue.close({ graceful: false, timeoutMs: 5_000 });
  }
  return summary;
}
