import pLimit from 'p-limit';
import type PgBoss from 'pg-boss';
import type { Config, KscConfig } from '../config/index.js';
import { siteConfig, siteNames, resolveSite, type SiteLocation } from '../config/sites.js';
import { openDatabase, type Database } from '../db/database.js';
import { KicsSyncError } from '../errors.js';
import type { Logger } from '../log.js';
import type { KscInput, KscParams } from '../adapters/ksc/params.js';
import { toJson } from '../adapters/ksc/params.js';
import { AnsweredCommandError, errorContainer, handlerErrorContainer } from '../sync/ksc/console.js';
import {
  CommandParamsError,
  backendCommandHandlers,
  type BackendCommand,
  type BackendCommandHandlers,
  type EngineContext,
  type StartIncrementalPlan,
  type TriggerCause,
} from '../sync/ksc/commands.js';
import { linkCommandRun } from '../sync/ksc/store.js';
import { superviseKsc } from '../sync/ksc/supervise.js';
import { commandJobId, kscQueue, type JobQueue, type KscCommandJob, type KscCommandOutput } from './queue.js';

/**
 * KSC backend commands and KSC event triggers in a fleet (src/sync/ksc/ has them for one site).
 *
 * - `kics-sync schedule` keeps one KSC service console per KSC server the sites use (sites that name
 *   the same `ksc.url` share one: a company's KSC usually serves every plant). The console receives and
 *   answers commands as for one site; its `ksc_command` rows and its engine events live in the schema
 *   of the first site using that KSC.
 * - A command names its site in `CMD_PARAMS.site` (optional when one site takes that KSC's commands).
 *   Commands of different sites run side by side; a site's commands one after the other, in the order
 *   they came (as on one site).
 *   It becomes a job of the KSC queue; a worker runs it with the site's configuration in the site's
 *   schema (the same handlers as for one site: runs with trigger `ksc_command`, actor `ksc:<CMD_ID>`),
 *   and the job's output is the answer. The job is not retried: KSC gets one answer, and an apply cut
 *   short is resumed by sending `apply` again.
 * - KSC events put an incremental plan of every site with `ksc.triggers` enabled on the site queue
 *   (trigger `ksc_event`, the events as the run's cause); a site that already has a job waiting gets
 *   no second one, and the waiting job reads the changes anyway.
 */

/** The sites served by one KSC server. */
export interface KscGroup {
  url: string;
  /** The KSC settings of the group's first site; commands and triggers on when any site of the group has them. */
  ksc: KscConfig;
  /** Where the group's commands are recorded: the first site's schema. */
  home: SiteLocation;
  commandSites: string[];
  triggerSites: string[];
}

/** The KSC servers the sites use, with the sites each serves; sites without KSC commands or triggers are in none. */
export function kscGroups(config: Config): KscGroup[] {
  const groups = new Map<string, KscGroup>();
  for (const name of siteNames(config)) {
    const site = resolveSite(config, name);
    const ksc = site.config.ksc;
    if (!ksc || !(ksc.commands.enabled || ksc.triggers.enabled)) continue;
    let group = groups.get(ksc.url);
    if (!group) {
      group = { url: ksc.url, ksc, home: site.location, commandSites: [], triggerSites: [] };
      groups.set(ksc.url, group);
    }
    if (ksc.commands.enabled) group.commandSites.push(name);
    if (ksc.triggers.enabled) group.triggerSites.push(name);
  }
  return [...groups.values()].map((g) => ({
    ...g,
    ksc: { ...g.ksc, commands: { ...g.ksc.commands, enabled: g.commandSites.length > 0 }, triggers: { ...g.ksc.triggers, enabled: g.triggerSites.length > 0 } },
  }));
}

/** The site a command is for: `CMD_PARAMS.site`, or the one site taking this KSC's commands. */
export function commandSite(group: Pick<KscGroup, 'commandSites'>, params: KscParams): string {
  const named = params.site;
  if (named === undefined || named === null) {
    if (group.commandSites.length === 1) return group.commandSites[0]!;
    throw new CommandParamsError(`this KSC serves the sites ${group.commandSites.join(', ')}: name one in the parameter "site"`);
  }
  if (typeof named !== 'string' || !group.commandSites.includes(named)) {
    throw new CommandParamsError(`site ${JSON.stringify(toJson(named))} does not take commands from this KSC (its sites: ${group.commandSites.join(', ')})`);
  }
  return named;
}

/** The handlers of a group's console: each command a job for a worker, its output the answer. */
export function queuedCommandHandlers(group: KscGroup, queue: JobQueue, home: () => Promise<Database>, logger: Logger): BackendCommandHandlers {
  // Sites' commands run side by side, each site's one after the other in the order they came.
  const inTurn = new Map(group.commandSites.map((site) => [site, pLimit(1)]));
  const handler = async (command: BackendCommand): Promise<Record<string, KscInput>> => {
    const site = commandSite(group, command.params);
    return inTurn.get(site)!(() => runQueued(site, command));
  };
  const runQueued = async (site: string, command: BackendCommand): Promise<Record<string, KscInput>> => {
    const { site: _named, ...params } = command.params;
    const jobId = await queue.sendCommand({
      site,
      commandId: command.id,
      name: command.name,
      productName: command.productName,
      productVersion: command.productVersion,
      params: toJson(params) as Record<string, unknown>,
    });
    logger.info({ commandId: command.id, command: command.name, site, job: jobId }, 'KSC command queued for a worker');
    let job: PgBoss.JobWithMetadata<KscCommandJob>;
    try {
      job = await queue.settled<KscCommandJob>(kscQueue, jobId, command.signal);
    } catch (error) {
      if (!command.signal.aborted) throw error;
      throw new KicsSyncError(`kics-sync schedule stopped before a worker finished the command (job ${jobId}); what it does goes on, see kics-sync --site ${site} runs`, { code: 'INTERRUPTED' });
    }
    if (job.state !== 'completed') {
      throw new KicsSyncError(`the worker running the command stopped before it finished (job ${jobId} ${job.state}); an apply cut short is resumed by sending apply again`, { code: 'INTERRUPTED' });
    }
    const output = job.output as KscCommandOutput;
    if ('error' in output) throw new AnsweredCommandError(output.error);
    const result = fromJob(output.result) as Record<string, KscInput>;
    if (typeof result.runId === 'number') await linkCommandRun(await home(), command.id, result.runId);
    return { site, ...result };
  };
  return { plan: handler, apply: handler, status: handler, report: handler };
}

/** Incremental plans of the group's trigger sites, put on the site queue. */
export function queuedPlanStarter(group: KscGroup, queue: JobQueue, logger: Logger): StartIncrementalPlan {
  return async (cause: TriggerCause) => {
    const jobs: Record<string, string | null> = {};
    for (const site of group.triggerSites) {
      jobs[site] = await queue.send({ site, kind: 'plan', actor: 'ksc:events', trigger: 'ksc_event', cause: { ...cause } });
    }
    logger.info({ events: cause.eventCount, jobs }, 'KSC events: incremental plans queued (null: the site already had a job waiting)');
    return { jobs };
  };
}

export interface FleetKscOptions {
  config: Config;
  databaseUrl: string;
  queue: JobQueue;
  logger: Logger;
  signal: AbortSignal;
}

/** Runs the KSC service console of every KSC the sites use, until `signal` aborts. */
export async function runFleetKsc(options: FleetKscOptions): Promise<KscGroup[]> {
  const { queue, signal } = options;
  const groups = kscGroups(options.config);
  const opened: Promise<Database>[] = [];
  try {
    await Promise.all(
      groups.map((group) => {
        const logger = options.logger.child({ ksc: group.url });
        let db: Promise<Database> | undefined;
        const home = (): Promise<Database> => {
          if (!db) {
            db = openDatabase({ url: options.databaseUrl, dataDir: group.home.dataDir, schema: group.home.schema, logger, poolSize: 2 });
            opened.push(db);
          }
          return db;
        };
        logger.info({ commands: group.commandSites, triggers: group.triggerSites }, 'schedule: serving KSC for the sites');
        return superviseKsc(
          {
            ksc: group.ksc,
            logger,
            signal,
            handlers: queuedCommandHandlers(group, queue, home, logger),
            startIncrementalPlan: queuedPlanStarter(group, queue, logger),
            // One command per site at a time (queuedCommandHandlers), the sites side by side.
            concurrency: Math.max(1, group.commandSites.length),
            // A command whose scheduler died after queueing it: its job went on, and sending it again
            // finds the same job, so the handler collects the answer without running it twice.
            outlived: (command) => queue.exists(kscQueue, commandJobId(command.id)),
          },
          home,
        );
      }),
    );
  } finally {
    for (const db of await Promise.allSettled(opened)) if (db.status === 'fulfilled') await db.value.close();
  }
  return groups;
}

export interface CommandJobOptions {
  config: Config;
  databaseUrl: string;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * A worker's side: runs a KSC command job with the site's configuration in the site's schema.
 * Never throws for what the command itself met: the error is the job's output, answered to KSC as the
 * console of one site would answer it.
 */
export async function runCommandJob(options: CommandJobOptions, job: PgBoss.Job<KscCommandJob>): Promise<KscCommandOutput> {
  const data = job.data;
  const { location, config } = siteConfig(options.config, data.site);
  const logger = options.logger.child({ site: data.site, job: job.id, commandId: data.commandId });
  const db = await openDatabase({ url: options.databaseUrl, dataDir: location.dataDir, schema: location.schema, logger, poolSize: 4 });
  try {
    const engine: EngineContext = { logger, signal: options.signal, config: async () => config, database: async () => db, dataDir: async () => location.dataDir };
    const handlers = backendCommandHandlers(engine);
    const handler = Object.hasOwn(handlers, data.name) ? handlers[data.name] : undefined;
    if (!handler) return { error: errorContainer('ERR_NOT_SUPPORTED', `command ${JSON.stringify(data.name)} is not supported by kics-sync`) };
    const result = await handler({
      id: data.commandId,
      name: data.name,
      productName: data.productName,
      productVersion: data.productVersion,
      params: data.params as KscParams,
      actor: `ksc:${data.commandId}`,
      signal: options.signal,
    });
    return { result: toJob(result) as Record<string, unknown> };
  } catch (error) {
    // Made here, where the error was raised, so that it also says where (CMD_ERR_FNAME), as on one site.
    return { error: handlerErrorContainer(error) };
  } finally {
    await db.close();
  }
}

/** A result as JSON for the job's output: datetimes tagged, so that KSC gets datetimes back (fromJob). */
function toJob(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(toJob);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJob(v)]));
  return value;
}

function fromJob(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJob);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === '$date' && typeof entries[0]![1] === 'string') return new Date(entries[0]![1]);
    return Object.fromEntries(entries.map(([k, v]) => [k, fromJob(v)]));
  }
  return value;
}
