import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import { ConfigError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { emitEvent } from '../events/index.js';
import { backendCommandHandlers, incrementalPlanStarter, kscEventSink, type EngineContext } from './commands.js';
import { runKscService } from './service.js';

export interface SupervisedKscOptions {
  config: Config;
  dataDir: string;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * The KSC service console and triggers, kept running beside `kics-sync schedule`: KSC refusing or not answering the login makes
 * the service end, so it is started again after a pause (doubling up to 10 minutes) while the cron
 * runs go on. A configuration error stops everything.
 */
export async function superviseKsc(options: SupervisedKscOptions, database: () => Promise<Database>): Promise<void> {
  const { config, logger, signal } = options;
  const kscConfig = config.ksc!;
  const engine: EngineContext = { logger, signal, config: async () => config, database, dataDir: async () => options.dataDir };
  let pause = 5_000;
  while (!signal.aborted) {
    const db = await database();
    try {
      await runKscService(
        { config: kscConfig, db, logger, handlers: backendCommandHandlers(engine), startIncrementalPlan: incrementalPlanStarter(engine), report: kscEventSink(db) },
        signal,
        (ready) => logger.info({ ksc: ready.ksc, subscriptions: ready.subscriptions.map((s) => s.event) }, 'schedule: KSC service console running'),
      );
      return;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ConfigError) throw error;
      logger.error({ err: errorMessage(error), retryInMs: pause }, 'schedule: the KSC service stopped; starting it again later (cron runs go on)');
      await emitEvent(db, 'KSYNC_KSC_UNREACHABLE', { ksc: kscConfig.url, error: errorMessage(error) }, { message: `KSC at ${kscConfig.url}: ${errorMessage(error)}` }).catch(() => {});
      await sleep(pause, undefined, { signal }).catch(() => {});
      pause = Math.min(pause * 2, 600_000);
    }
  }
}
