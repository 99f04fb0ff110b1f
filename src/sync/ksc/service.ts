import type { KscConfig } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import { ConfigError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { KscClient } from '../../adapters/ksc/client.js';
import { ServiceConsole, type BackendCommand, type BackendCommandHandlers, type ConsoleEvent } from './console.js';
import { KscEventPoller, type KscEvent, type KscSubscription } from '../../adapters/ksc/poller.js';
import { KscEventTriggers, resolveTriggerEvents, type StartIncrementalPlan, type TriggerCause } from './triggers.js';

/** Engine events the KSC service reports; the caller stores them (src/sync/ksc/commands.ts). */
export type KscServiceEvent = ConsoleEvent | { type: 'KSYNC_KSC_TRIGGER_FIRED'; payload: TriggerCause } | { type: 'KSYNC_KSC_UNREACHABLE'; payload: { ksc: string; error: string } };

export interface KscServiceOptions {
  config: KscConfig;
  db: Database;
  logger: Logger;
  /** Backend command handlers by command name (empty: every command is answered ERR_NOT_SUPPORTED). */
  handlers: BackendCommandHandlers;
  /** Starts an incremental plan; without it, triggers stay off even when configured. */
  startIncrementalPlan?: StartIncrementalPlan | undefined;
  report: (event: KscServiceEvent) => Promise<void> | void;
  /** Commands run at once (default 1: one after the other, in the order they arrive). */
  concurrency?: number | undefined;
  /** Whether an unanswered command's work went on without the process that claimed it (`ServiceConsoleOptions.outlived`). */
  outlived?: ((command: BackendCommand) => Promise<boolean>) | undefined;
  /** For tests: a client instead of one from the config. */
  client?: KscClient;
}

export interface KscServiceSummary {
  ksc: string;
  subscriptions: KscSubscription[];
  commands: boolean;
  triggers: boolean;
  /** Answers stored by an earlier process and posted now. */
  reposted: number;
  /** Commands an earlier process claimed but never answered, not run again. */
  abandoned: string[];
  /** Commands an earlier process left unanswered whose work went on without it: their answers are collected. */
  collected: string[];
}

/**
 * The KSC side of kics-sync as a long-running service: one KSC session, one event poller, the
 * service console for backend commands and the event triggers, until `signal` aborts. Used by
 * `kics-sync ksc serve` and by the scheduler when KSC is enabled in the config.
 */
export async function runKscService(options: KscServiceOptions, signal: AbortSignal, onReady?: (summary: KscServiceSummary) => void): Promise<KscServiceSummary> {
  const { config, db, logger } = options;
  const client = options.client ?? (await KscClient.fromConfig(config, logger));
  try {
    // Bad credentials or an untrusted certificate stop the service here, before anything subscribes.
    await client.login(signal);

    const serviceConsole = config.commands.enabled
      ? new ServiceConsole({
          client,
          db,
          logger,
          productName: config.commands.productName,
          productVersion: config.commands.productVersion,
          handlers: options.handlers,
          concurrency: options.concurrency,
          outlived: options.outlived,
          tokens: config.commands.tokens.map((t) => ({ value: t.token, expiresAt: t.expiresAt ? new Date(t.expiresAt) : undefined })),
          report: options.report,
        })
      : null;

    let triggers: KscEventTriggers | null = null;
    if (config.triggers.enabled) {
      if (options.startIncrementalPlan) {
        triggers = new KscEventTriggers({
          events: resolveTriggerEvents(config.triggers.events),
          debounceMs: config.triggers.debounceSeconds * 1000,
          startIncrementalPlan: options.startIncrementalPlan,
          report: (cause) => options.report({ type: 'KSYNC_KSC_TRIGGER_FIRED', payload: cause }),
          logger,
        });
      } else {
        logger.warn('ksc.triggers.enabled is set, but this installation has no incremental planning to start; KSC events are not subscribed to');
      }
    }

    const resumed = serviceConsole ? await serviceConsole.resume() : { reposted: 0, abandoned: [], collected: [] };
    const subscriptions = [...(serviceConsole ? [serviceConsole.subscription()] : []), ...(triggers ? triggers.subscriptions() : [])];
    const summary: KscServiceSummary = { ksc: client.host, subscriptions, commands: serviceConsole !== null, triggers: triggers !== null, ...resumed };
    if (subscriptions.length === 0) {
      throw new ConfigError(
        config.triggers.enabled
          ? 'nothing to serve: ksc.triggers is enabled, but this installation has no incremental planning to start, and ksc.commands is not enabled'
          : 'nothing to serve: set ksc.commands.enabled and / or ksc.triggers.enabled',
      );
    }

    const poller = new KscEventPoller(
      client,
      subscriptions,
      (events: KscEvent[]) => {
        serviceConsole?.accept(events);
        triggers?.accept(events);
      },
      {
        logger,
        minBackoffMs: config.polling.minBackoffMs,
        maxBackoffMs: config.polling.maxBackoffMs,
        onReachability: (reachable, error) => {
          if (!reachable) void Promise.resolve(options.report({ type: 'KSYNC_KSC_UNREACHABLE', payload: { ksc: client.host, error: errorMessage(error) } })).catch(() => {});
        },
      },
    );
    onReady?.(summary);
    await poller.run(signal);
    await triggers?.stop();
    await serviceConsole?.stop();
    return summary;
  } finally {
    if (!options.client) await client.close();
  }
}
