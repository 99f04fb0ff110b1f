import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, KscConfig } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import { ConfigError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { emitEvent } from '../events/index.js';
import { backendCommandHandlers, incrementalPlanStarter, kscEventSink, type BackendCommand, type BackendCommandHandlers, type EngineContext, type StartIncrementalPlan } from './commands.js';
import { runKscService } from './service.js';

export interface SupervisedKscOptions {
  ksc: KscConfig;
  logger: Logger;
  signal: AbortSignal;
  /** What runs the commands and the plans KSC events start: this process's engine, or the fleet's queue. */
  handlers: BackendCommandHandlers;
  startIncrementalPlan?: StartIncrementalPlan | undefined;
  /** Commands run at once (default 1). */
  concurrency?: number;
  /** Whether an unanswered command's work went on without the process that claimed it. */
  outlived?: (command: BackendCommand) => Promise<boolean>;
}

/** The engine of one site as the KSC service's handlers: commands and triggered plans run in this process. */
export function engineHandlers(options: { config: Config; dataDir: string; logger: Logger; signal: AbortSignal }, database: () => Promise<Database>): Pick<SupervisedKscOptions, 'handlers' | 'startIncrementalPlan'> {
  const engine: EngineContext = { logger: options.logger, signal: options.signal, config: async () => options.config, database, dataDir: async () => options.dataDir };
  return { handlers: backendCommandHandlers(engine), startIncrementalPlan: incrementalPlanStarter(engine) };
}

/**
 * The KSC service console and triggers, kept running beside `kics-sync schedule`: KSC refusing or not answering the login makes
 * the service end, so it is started again after a pause (doubling up to 10 minutes) while the cron
 * runs go on. A configuration error stops everything. `database` holds the commands received and
 * the engine events of the service.
 */
export async function superviseKsc(options: SupervisedKscOptions, database: () => Promise<Database>): Promise<void> {
  const { ksc, logger, signal } = options;
  let pause = 5_000;
  while (!signal.aborted) {
    const db = await database();
    try {
      await runKscService(
        { config: ksc, db, logger, handlers: options.handlers, startIncrementalPlan: options.startIncrementalPlan, concurrency: options.concurrency, outlived: options.outlived, report: kscEventSink(db) },
        signal,
        (ready) => logger.info({ ksc: ready.ksc, subscriptions: ready.subscriptions.map((s) => s.event) }, 'schedule: KSC service console running'),
      );
      return;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ConfigError) throw error;
      logger.error({ err: errorMessage(error), retryInMs: pause }, 'schedule: the KSC service stopped; starting it again later (cron runs go on)');
      await emitEvent(db, 'KSYNC_KSC_UNREACHABLE', { ksc: ksc.url, error: errorMessage(error) }, { message: `KSC at ${ksc.url}: ${errorMessage(error)}` }).catch(() => {});
      await sleep(pause, undefined, { signal }).catch(() => {});
      pause = Math.min(pause * 2, 600_000);
    }
  }
}
