import cron, { type ScheduledTask } from 'node-cron';
import { ConfigError, LockedError, errorMessage } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';

/**
 * Cron mechanics of `kics-sync schedule`: node-cron tasks for the configured expressions in the
 * configured time zone, and the in-process half of "never two runs at once": a tick that comes while
 * a run is going is skipped and logged, never queued (a queue would run late syncs back to back).
 * The cross-process half is the run lock (src/sync/runs/lock.ts); a run refused by it (or by the
 * embedded database being in use) reports `LockedError` and counts as skipped too.
 */

export interface ScheduleSpec {
  expressions: readonly string[];
  timezone: string;
}

/** Checks the expressions and the time zone, saying which one is wrong and why. */
export function validateSchedule(spec: ScheduleSpec): void {
  spec.expressions.forEach((expression, i) => {
    const result = cron.validateDetailed(expression);
    if (!result.valid) {
      const why = result.errors.map((e) => `${e.field}${e.value === undefined ? '' : ` ${JSON.stringify(e.value)}`}: ${e.message}`).join('; ');
      throw new ConfigError(`schedule.cron${spec.expressions.length > 1 ? `[${i}]` : ''}: ${JSON.stringify(expression)} is not a cron expression (${why || 'unreadable'}); e.g. "0 2 * * *" is every night at 02:00`);
    }
  });
  try {
    new Intl.DateTimeFormat('en', { timeZone: spec.timezone });
  } catch {
    throw new ConfigError(`schedule.timezone: ${JSON.stringify(spec.timezone)} is not an IANA time zone (e.g. UTC, Europe/Berlin, America/Chicago)`);
  }
}

export interface SchedulerStats {
  /** Runs started and finished (whatever their outcome). */
  runs: number;
  /** Ticks skipped: a run was going here, or another process held the lock. */
  skipped: number;
  /** Runs that threw (the error is logged; the schedule goes on). */
  errors: number;
  /** Runs cut short by the stop (SIGTERM / SIGINT) before they reached their end. */
  interrupted: number;
}

export interface SchedulerOptions extends ScheduleSpec {
  /** One scheduled run. Throw `LockedError` when another process holds the run. */
  run: (tick: Date) => Promise<void>;
  logger?: Logger;
  /** The stop signal the runs see: a run that throws once it has aborted was cut short, not failed. */
  signal?: AbortSignal;
}

export class Scheduler {
  private readonly tasks: ScheduledTask[] = [];
  private running: Promise<void> | null = null;
  private readonly logger: Logger;
  readonly stats: SchedulerStats = { runs: 0, skipped: 0, errors: 0, interrupted: 0 };
  private stopping = false;

  constructor(private readonly options: SchedulerOptions) {
    validateSchedule(options);
    this.logger = options.logger ?? silentLogger();
  }

  start(): void {
    for (const expression of this.options.expressions) {
      const task = cron.schedule(expression, (context) => this.tick(context.triggeredAt), {
        timezone: this.options.timezone,
        name: `kics-sync ${expression}`,
        // Missed ticks (the machine slept) are not made up for: the next one syncs everything anyway.
        suppressMissedWarning: true,
      });
      this.tasks.push(task);
    }
    this.logger.info({ cron: this.options.expressions, timezone: this.options.timezone, next: this.nextRun()?.toISOString() ?? null }, 'schedule: waiting for the next run');
  }

  /** The next tick of any expression. */
  nextRun(): Date | null {
    const next = this.tasks.map((t) => t.getNextRun()).filter((d): d is Date => d !== null);
    return next.length === 0 ? null : new Date(Math.min(...next.map((d) => d.getTime())));
  }

  private tick(at: Date): void {
    if (this.running) {
      this.stats.skipped += 1;
      this.logger.warn({ tick: at.toISOString() }, 'schedule: the previous run is still going; this run is skipped');
      return;
    }
    this.running = this.options
      .run(at)
      .then(
        () => {
          this.stats.runs += 1;
        },
        (error: unknown) => {
          if (error instanceof LockedError) {
            this.stats.skipped += 1;
            this.logger.warn({ tick: at.toISOString(), reason: error.message }, 'schedule: another run holds the lock; this run is skipped');
            return;
          }
          if (this.stopping || this.options.signal?.aborted) {
            this.stats.interrupted += 1;
            this.logger.warn({ tick: at.toISOString(), err: errorMessage(error) }, 'schedule: the run was cut short by the stop');
            return;
          }
          this.stats.errors += 1;
          this.logger.error({ tick: at.toISOString(), err: errorMessage(error) }, 'schedule: the run failed; the schedule goes on');
        },
      )
      .finally(() => {
        this.running = null;
        const next = this.nextRun();
        if (next && this.tasks.length > 0) this.logger.info({ next: next.toISOString() }, 'schedule: waiting for the next run');
      });
  }

  /** Stops the ticks and waits for the run in progress (its apply finishes its in-flight items). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const task of this.tasks.splice(0)) await task.destroy();
    await this.running;
  }
}
