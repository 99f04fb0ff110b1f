import { createHash } from 'node:crypto';
import PgBoss from 'pg-boss';
import type { FleetConfig } from '../config/fleet.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseError, KicsSyncError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CommandErrorContainer } from '../sync/ksc/console.js';

/**
 * The fleet's job queue: pg-boss (https://github.com/timgit/pg-boss, 10.x: the line that supports
 * Node 20) in its own schema of the engine's PostgreSQL database.
 *
 * - One queue of site jobs, policy `stately` with the site as singleton key: per site at most one job
 *   waiting and one running, whatever the number of schedulers and workers.
 * - A job still active after `fleet.leaseSeconds` (its worker was killed) is failed by the queue's
 *   upkeep and retried by another worker; retries back off; a job out of retries is copied to the
 *   dead-letter queue, where `kics-sync sites` shows it.
 * - The site's run lock (src/sync/runs/lock.ts) stays the guarantee that two runs of one site never
 *   overlap, even when a lease runs out under a run that is still going.
 */

export const siteQueue = 'kics-sync-site';
export const deadQueue = 'kics-sync-dead';
/** KSC backend commands, each run once by a worker (src/fleet/ksc.ts); not retried: KSC gets an answer either way. */
export const kscQueue = 'kics-sync-ksc';

export type SiteJobKind = 'sync' | 'plan' | 'apply';
export const siteJobKinds: readonly SiteJobKind[] = ['sync', 'plan', 'apply'];

export interface SiteJob {
  site: string;
  kind: SiteJobKind;
  /** apply: the plan. */
  planId?: number;
  /** Who asked: `cron` for a schedule's tick, else the user. */
  actor: string;
  /** `ksc_event`: an incremental plan started by KSC events (src/fleet/ksc.ts). */
  trigger: 'cron' | 'cli' | 'ksc_event';
  /** A schedule's tick that produced the job. */
  tick?: string;
  /** What started the job, recorded as the run's cause (the KSC events of a trigger). */
  cause?: Record<string, unknown>;
}

/** A KSC backend command for a site, as the service console received it (src/sync/ksc/console.ts). */
export interface KscCommandJob {
  site: string;
  /** `CMD_ID`. */
  commandId: string;
  /** `CMD_NAME`. */
  name: string;
  productName: string;
  productVersion: string;
  /** `CMD_PARAMS` without the token, as JSON (datetimes as ISO strings). */
  params: Record<string, unknown>;
}

/** What a KSC command job returns: the handler's result, or its error as the console answers it. */
export type KscCommandOutput = { result: Record<string, unknown> } | { error: CommandErrorContainer };

export interface QueueOptions {
  /** The engine's database (the queue lives in `fleet.queueSchema` there). */
  url: string;
  fleet: FleetConfig;
  logger: Logger;
  /** Whether this process takes part in the queue's upkeep (expired leases, retries, archiving). Default true. */
  supervise?: boolean;
}

export class JobQueue {
  private constructor(
    readonly boss: PgBoss,
    private readonly fleet: FleetConfig,
  ) {}

  static async open(options: QueueOptions): Promise<JobQueue> {
    const { fleet, logger } = options;
    const boss = new PgBoss({
      connectionString: options.url,
      schema: fleet.queueSchema,
      application_name: 'kics-sync-queue',
      max: 4,
      supervise: options.supervise ?? true,
      // Schedules are node-cron in `kics-sync schedule` (src/fleet/schedule.ts): each tick is
      // checked against the site's state and a skipped one is recorded, which pg-boss's cron cannot do.
      schedule: false,
      maintenanceIntervalSeconds: fleet.maintenanceSeconds,
    });
    boss.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'job queue: error'));
    try {
      await boss.start();
      await boss.createQueue(deadQueue, { name: deadQueue, policy: 'standard', retentionDays: 30 });
      const queue = {
        name: siteQueue,
        policy: 'stately' as const,
        retryLimit: fleet.retries,
        retryDelay: fleet.retryDelaySeconds,
        retryBackoff: fleet.retryBackoff,
        expireInSeconds: fleet.leaseSeconds,
        retentionDays: 14,
        deadLetter: deadQueue,
      };
      await boss.createQueue(siteQueue, queue);
      // Settings changed since the queue was made apply to the jobs sent from now on.
      await boss.updateQueue(siteQueue, queue);
      const commands = { name: kscQueue, policy: 'standard' as const, retryLimit: 0, expireInSeconds: fleet.leaseSeconds, retentionDays: 14 };
      await boss.createQueue(kscQueue, commands);
      await boss.updateQueue(kscQueue, commands);
    } catch (error) {
      await boss.stop({ graceful: false, wait: false }).catch(() => {});
      throw new DatabaseError(`cannot open the job queue (schema ${fleet.queueSchema}): ${errorMessage(error)}`, { code: 'QUEUE_UNAVAILABLE', cause: error, retryable: true });
    }
    return new JobQueue(boss, fleet);
  }

  /**
   * Puts a job on the queue. Null when the site already has a job waiting (the queue's policy
   * refuses a second), or when this very tick was already sent (another scheduler).
   */
  async send(job: SiteJob): Promise<string | null> {
    const options: PgBoss.SendOptions = { singletonKey: job.site };
    if (job.tick !== undefined) options.id = tickJobId(job.site, job.tick);
    return this.boss.send(siteQueue, { ...job }, options);
  }

  /**
   * Puts a KSC command on the queue, under an id made from the command's: a command sent twice (two
   * schedulers, a restart) is one job. Returns the job id.
   */
  async sendCommand(job: KscCommandJob): Promise<string> {
    const id = commandJobId(job.commandId);
    await this.boss.send(kscQueue, { ...job }, { id });
    return id;
  }

  /**
   * Waits until the job has ended (`completed`, `failed` or `cancelled`) and returns it; a job whose
   * worker died fails when its lease expires. Throws the signal's reason when it aborts first.
   */
  async settled<T extends object>(queue: string, id: string, signal: AbortSignal): Promise<PgBoss.JobWithMetadata<T>> {
    for (;;) {
      signal.throwIfAborted();
      const job = await this.boss.getJobById<T>(queue, id, { includeArchive: true });
      if (job === null) throw new KicsSyncError(`job ${id} is no longer in queue ${queue}`, { code: 'JOB_LOST' });
      if (job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled') return job;
      await sleep(this.fleet.pollSeconds * 1000, undefined, { signal }).catch(() => {});
    }
  }

  /** Whether a job with this id exists in the queue (any state, the archive included). */
  async exists(queue: string, id: string): Promise<boolean> {
    return (await this.boss.getJobById(queue, id, { includeArchive: true })) !== null;
  }

  get pollSeconds(): number {
    return this.fleet.pollSeconds;
  }

  get schema(): string {
    return this.fleet.queueSchema;
  }

  async close(options: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    await this.boss.stop({ graceful: options.graceful ?? true, wait: true, timeout: options.timeoutMs ?? 30_000, close: true });
  }
}

/**
 * The job id of a schedule's tick for a site: the same for every scheduler, so that two of them
 * ticking at once put one job on the queue (the second insert finds the id taken). A UUID in the
 * name-based form (RFC 4122 version 5: SHA-1 of the name).
 */
export function tickJobId(site: string, tick: string): string {
  return nameBasedId('kics-sync tick', site, tick);
}

/** The job id of a KSC command: the same whoever sends it. */
export function commandJobId(commandId: string): string {
  return nameBasedId('kics-sync ksc command', commandId);
}

function nameBasedId(...parts: string[]): string {
  const hash = createHash('sha1').update(parts.join('\u0000')).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
