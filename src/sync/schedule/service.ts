import type { Config } from '../../config/index.js';
import { openDatabase, type Database } from '../../db/database.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { emitEvent, purgeEvents, resolveRetention } from '../events/index.js';
import { serveConsole } from '../../console/start.js';
import { engineHandlers, superviseKsc } from '../ksc/supervise.js';
import { runSync, type SyncRunResult } from '../runs/sync-run.js';
import type { RunContext } from '../runs/lifecycle.js';
import { Scheduler, type SchedulerStats } from './scheduler.js';

/**
 * `kics-sync schedule` as a service: `sync` on the cron expressions of `schedule.cron`, and, when
 * configured, the KSC service console and event triggers in the same process, until the signal.
 *
 * Databases: PostgreSQL is opened once (a pool). The embedded PGlite is opened per run and closed
 * after it, so that another process (a person's `kics-sync plan`, a second scheduler) can use the
 * data directory between runs; a run that finds it in use is skipped and logged. With KSC enabled,
 * the service console needs the database all the time, so PGlite is then held for the whole service;
 * so does the review console when `console.withSchedule` serves it from this process.
 *
 * After each run, engine events past their storage term are purged.
 */

export interface ScheduleServiceOptions {
  config: Config;
  dataDir: string;
  databaseUrl: string | undefined;
  logger: Logger;
  signal: AbortSignal;
  /** Called after each run that reached its end (for tests and the summary). */
  onRun?: (result: SyncRunResult) => void;
  /** Called with the review console's address once it listens (console.withSchedule), or null. */
  onConsole?: (address: string | null) => void;
}

export interface ScheduleServiceSummary extends SchedulerStats {
  cron: string[];
  timezone: string;
  ksc: boolean;
  /** The review console's address when served from this process. */
  console: string | null;
}

/** Runs until `signal` aborts; the run in progress finishes its in-flight items first. */
export async function runScheduleService(options: ScheduleServiceOptions): Promise<ScheduleServiceSummary> {
  const { config, logger, signal } = options;
  const expressions = Array.isArray(config.schedule.cron) ? config.schedule.cron : [config.schedule.cron];
  const kscEnabled = config.ksc !== undefined && (config.ksc.commands.enabled || config.ksc.triggers.enabled);
  const consoleEnabled = config.console.withSchedule;
  const holdDatabase = options.databaseUrl !== undefined || kscEnabled || consoleEnabled;

  const held: { db: Promise<Database> | null } = { db: null };
  const sharedDatabase = (): Promise<Database> => (held.db ??= openDatabase({ url: options.databaseUrl, dataDir: options.dataDir, logger, ...(config.site ? { schema: config.site.schema } : {}) }));
  const withDatabase = async <T>(fn: (db: Database) => Promise<T>): Promise<T> => {
    if (holdDatabase) return fn(await sharedDatabase());
    const db = await openDatabase({ url: undefined, dataDir: options.dataDir, logger });
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  };

  const scheduler = new Scheduler({
    expressions,
    timezone: config.schedule.timezone,
    logger,
    signal,
    run: (tick) =>
      withDatabase(async (db) => {
        const run: RunContext = { db, config, dataDir: options.dataDir, logger, signal, trigger: 'cron', actor: 'cron', cause: { tick: tick.toISOString() } };
        try {
          const result = await runSync(run, {});
          logger.info({ run: result.runId, status: result.status, plan: result.plan.plan.id, ...(result.apply?.outcome ?? {}), held: result.heldBecause }, 'schedule: run finished');
          options.onRun?.(result);
        } finally {
          await purge(db, config, logger);
        }
      }),
  });

  let served: { address: string; close: () => Promise<void> } | null = null;
  try {
    if (holdDatabase) await sharedDatabase();
    if (consoleEnabled) served = await serveConsole({ db: await sharedDatabase(), config, dataDir: options.dataDir, logger });
    options.onConsole?.(served?.address ?? null);
    scheduler.start();
    const ksc = kscEnabled ? superviseKsc({ ksc: config.ksc!, logger, signal, ...engineHandlers(options, sharedDatabase) }, sharedDatabase) : Promise.resolve();
    await Promise.race([new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })), ksc.then(() => new Promise<void>(() => {}))]);
    logger.info('schedule: stopping; the run in progress (if any) finishes its in-flight items');
    await scheduler.stop();
    await ksc;
  } finally {
    await scheduler.stop();
    await served?.close();
    if (held.db) await (await held.db).close();
  }
  return { ...scheduler.stats, cron: expressions, timezone: config.schedule.timezone, ksc: kscEnabled, console: served?.address ?? null };
}

async function purge(db: Database, config: Config, logger: Logger): Promise<void> {
  try {
    const result = await purgeEvents(db, resolveRetention(config.events.retention));
    if (result.deleted > 0) {
      await emitEvent(db, 'KSYNC_EVENTS_PURGED', { deleted: result.deleted, byType: result.byType }, { message: `${result.deleted} event(s) past their storage term deleted` });
      logger.info({ deleted: result.deleted }, 'schedule: events past their storage term purged');
    }
  } catch (error) {
    logger.warn({ err: errorMessage(error) }, 'schedule: could not purge old events');
  }
}
