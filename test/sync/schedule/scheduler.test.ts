import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, LockedError } from '../../../src/errors.js';
import { Scheduler, validateSchedule } from '../../../src/sync/schedule/scheduler.js';

async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

describe('the scheduler', () => {
  it('refuses a bad cron expression or time zone, saying which and why', () => {
    expect(() => validateSchedule({ expressions: ['0 2 * * *', '0 25 * * *'], timezone: 'UTC' })).toThrow(ConfigError);
    expect(() => validateSchedule({ expressions: ['0 2 * * *', '0 25 * * *'], timezone: 'UTC' })).toThrow(/^schedule\.cron\[1\]: "0 25 \* \* \*" is not a cron expression \(.*hour/);
    expect(() => validateSchedule({ expressions: ['nightly'], timezone: 'UTC' })).toThrow(/^schedule\.cron: "nightly" is not a cron expression/);
    expect(() => validateSchedule({ expressions: ['0 2 * * *'], timezone: 'Mars/Olympus' })).toThrow(/^schedule\.timezone: "Mars\/Olympus" is not an IANA time zone/);
    expect(() => validateSchedule({ expressions: ['0 2 * * *', '30 14 * * 1-5'], timezone: 'Europe/Berlin' })).not.toThrow();
  });

  it('reads the expressions in the configured time zone', async () => {
    const scheduler = new Scheduler({ expressions: ['0 2 * * *'], timezone: 'America/Chicago', run: async () => {} });
    scheduler.start();
    const next = scheduler.nextRun()!;
    await scheduler.stop();
    // 02:00 in Chicago is 07:00 or 08:00 UTC, depending on daylight saving time.
    expect([7, 8]).toContain(next.getUTCHours());
    expect(next.getUTCMinutes()).toBe(0);
  });

  it('never runs twice at once: ticks during a run are skipped, not queued; a run refused by the lock counts as skipped', async () => {
    let release!: () => void;
    let started = 0;
    let calls = 0;
    const scheduler = new Scheduler({
      expressions: ['* * * * * *'],
      timezone: 'UTC',
      run: async () => {
        calls += 1;
        if (calls === 1) {
          started += 1;
          await new Promise<void>((resolve) => (release = resolve));
          return;
        }
        throw new LockedError('another process holds the run lock');
      },
    });
    scheduler.start();
    try {
      await until(() => started === 1 && scheduler.stats.skipped >= 2, 'a run and two skipped ticks');
      expect(calls).toBe(1);
      release();
      await until(() => scheduler.stats.runs === 1 && calls >= 2, 'the run to end and the next tick');
      await until(() => scheduler.stats.skipped >= 3, 'a tick refused by the lock');
    } finally {
      await scheduler.stop();
    }
    expect(scheduler.stats.errors).toBe(0);
  });

  it('a run that throws because the schedule is stopping counts as cut short, not as failed', async () => {
    const stop = new AbortController();
    let started = false;
    const scheduler = new Scheduler({
      expressions: ['* * * * * *'],
      timezone: 'UTC',
      signal: stop.signal,
      run: async () => {
        started = true;
        await new Promise<void>((_, reject) => stop.signal.addEventListener('abort', () => reject(new Error('aborted while planning')), { once: true }));
      },
    });
    scheduler.start();
    await until(() => started, 'a run to start');
    stop.abort();
    await scheduler.stop();
    expect(scheduler.stats).toMatchObject({ runs: 0, errors: 0, interrupted: 1 });
  });

  it('a run that throws on its own counts as failed and the schedule goes on', async () => {
    let calls = 0;
    const scheduler = new Scheduler({
      expressions: ['* * * * * *'],
      timezone: 'UTC',
      run: async () => {
        calls += 1;
        throw new Error('KICS unreachable');
      },
    });
    scheduler.start();
    try {
      await until(() => calls >= 2, 'a second tick after the failed one');
    } finally {
      await scheduler.stop();
    }
    expect(scheduler.stats.errors).toBeGreaterThanOrEqual(1);
    expect(scheduler.stats.interrupted).toBe(0);
  });
});
