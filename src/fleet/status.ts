import { access } from 'node:fs/promises';
import path from 'node:path';
import cron from 'node-cron';
import pg from 'pg';
import type { Config } from '../config/index.js';
import { resolveSite, siteNames } from '../config/sites.js';
import { openDatabase } from '../db/database.js';
import type { Sql } from '../db/sql.js';
import { deadQueue, siteQueue } from './queue.js';

/**
 * The fleet at a glance (`kics-sync sites`, the console's fleet page, `/metrics`): per site its last
 * run, its next, its devices and open conflicts, how long since its last good sync, and its jobs.
 * On PostgreSQL every site's tables are read over one connection, schema-qualified; the queue's
 * counts come from pg-boss's job table (read only).
 */

export interface SiteStatus {
  name: string;
  /** Where its data lives: the PostgreSQL schema, or the embedded database's folder. */
  location: string;
  lastRun: { id: number; mode: string; status: string; trigger: string; startedAt: Date; finishedAt: Date | null; seconds: number | null; error: string | null } | null;
  nextRun: Date | null;
  /** Devices in the site's KICS snapshot (not missing). */
  devices: number | null;
  /** Conflicts in the site's newest plan. */
  openConflicts: number | null;
  lastGoodSyncAt: Date | null;
  secondsSinceGoodSync: number | null;
  /** Ticks skipped in the last 7 days. */
  skippedTicks: number;
  /** Null when there is no queue (embedded database). */
  jobs: { waiting: number; running: number; dead: number } | null;
}

export interface FleetStatusOptions {
  config: Config;
  /** PostgreSQL; absent = the embedded databases of the sites. */
  databaseUrl: string | undefined;
  /** Embedded database: a site's database this process already holds open (it cannot be opened twice). */
  held?: { name: string; db: Pick<Sql, 'query'> };
  now?: Date;
}

/**
 * `fleetStatus()` at most every `ttlMs` (pages and scrapes of the console share one read); callers
 * arriving while a read is under way wait for it.
 */
export function cachedFleetStatus(options: FleetStatusOptions, ttlMs = 10_000): () => Promise<SiteStatus[]> {
  let last: { at: number; value: Promise<SiteStatus[]> } | null = null;
  return () => {
    const now = Date.now();
    if (last === null || now - last.at > ttlMs) {
      const value = fleetStatus({ ...options, now: new Date(now) });
      last = { at: now, value };
      value.catch(() => {
        if (last?.value === value) last = null;
      });
    }
    return last.value;
  };
}

export async function fleetStatus(options: FleetStatusOptions): Promise<SiteStatus[]> {
  const { config } = options;
  const now = options.now ?? new Date();
  const names = siteNames(config);
  if (options.databaseUrl === undefined) {
    const out: SiteStatus[] = [];
    for (const name of names) {
      const site = resolveSite(config, name);
      const dir = path.join(site.location.dataDir, 'db');
      if (options.held?.name === name) {
        out.push(await readSite(options.held.db, '', name, dir, nextRun(site.config.schedule), null, now));
        continue;
      }
      const exists = await access(dir).then(
        () => true,
        () => false,
      );
      if (!exists) {
        out.push(emptyStatus(name, dir, nextRun(site.config.schedule), null));
        continue;
      }
      const db = await openDatabase({ url: undefined, dataDir: site.location.dataDir, migrate: true });
      try {
        out.push(await readSite(db, '', name, dir, nextRun(site.config.schedule), null, now));
      } finally {
        await db.close();
      }
    }
    return out;
  }
  const client = new pg.Client({ connectionString: options.databaseUrl, application_name: 'kics-sync' });
  await client.connect();
  try {
    const sql: Pick<Sql, 'query'> = {
      query: async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[],
    };
    const jobs = await queueCounts(client, config.fleet.queueSchema);
    const out: SiteStatus[] = [];
    for (const name of names) {
      const site = resolveSite(config, name);
      const schema = site.location.schema;
      const siteJobs = jobs ? (jobs.get(name) ?? { waiting: 0, running: 0, dead: 0 }) : null;
      const [{ ready }] = (await client.query<{ ready: boolean }>(`SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS ready`, [`${schema}.sync_run`, `${schema}.kics_device`])).rows as [{ ready: boolean }];
      if (!ready) out.push(emptyStatus(name, `schema ${schema}`, nextRun(site.config.schedule), siteJobs));
      else out.push(await readSite(sql, `${pg.escapeIdentifier(schema)}.`, name, `schema ${schema}`, nextRun(site.config.schedule), siteJobs, now));
    }
    return out;
  } finally {
    await client.end();
  }
}

/** A site's state as JSON (`kics-sync sites --json`, `/api/v1/sites`). */
export function siteStatusJson(site: SiteStatus): Record<string, unknown> {
  return {
    name: site.name,
    location: site.location,
    lastRun: site.lastRun && {
      id: site.lastRun.id,
      mode: site.lastRun.mode,
      status: site.lastRun.status,
      trigger: site.lastRun.trigger,
      startedAt: site.lastRun.startedAt.toISOString(),
      finishedAt: site.lastRun.finishedAt?.toISOString() ?? null,
      seconds: site.lastRun.seconds,
      error: site.lastRun.error,
    },
    nextRun: site.nextRun?.toISOString() ?? null,
    devices: site.devices,
    openConflicts: site.openConflicts,
    lastGoodSyncAt: site.lastGoodSyncAt?.toISOString() ?? null,
    secondsSinceGoodSync: site.secondsSinceGoodSync,
    skippedTicks: site.skippedTicks,
    jobs: site.jobs,
  };
}

function emptyStatus(name: string, location: string, next: Date | null, jobs: SiteStatus['jobs']): SiteStatus {
  return { name, location, lastRun: null, nextRun: next, devices: null, openConflicts: null, lastGoodSyncAt: null, secondsSinceGoodSync: null, skippedTicks: 0, jobs };
}

async function readSite(sql: Pick<Sql, 'query'>, prefix: string, name: string, location: string, next: Date | null, jobs: SiteStatus['jobs'], now: Date): Promise<SiteStatus> {
  const [last] = await sql.query<{ id: number; mode: string; status: string; trigger: string; started_at: Date; finished_at: Date | null; error: string | null }>(
    `SELECT id, mode::text AS mode, status::text AS status, trigger::text AS trigger, started_at, finished_at, error FROM ${prefix}sync_run WHERE status <> 'skipped' ORDER BY id DESC LIMIT 1`,
  );
  const [facts] = await sql.query<{ devices: string; good: Date | null; skipped: string; conflicts: string | null }>(
    `SELECT (SELECT count(*) FROM ${prefix}kics_device WHERE missing_since IS NULL) AS devices,
            (SELECT max(finished_at) FROM ${prefix}sync_run WHERE mode IN ('sync', 'apply') AND status = 'succeeded') AS good,
            (SELECT count(*) FROM ${prefix}sync_run WHERE status = 'skipped' AND started_at > $1::timestamptz - interval '7 days') AS skipped,
            (SELECT summary->'counts'->>'conflict' FROM ${prefix}plan WHERE scope = '{}'::jsonb ORDER BY id DESC LIMIT 1) AS conflicts`,
    [now],
  );
  return {
    name,
    location,
    lastRun: last
      ? {
          id: last.id,
          mode: last.mode,
          status: last.status,
          trigger: last.trigger,
          startedAt: last.started_at,
          finishedAt: last.finished_at,
          seconds: last.finished_at ? (last.finished_at.getTime() - last.started_at.getTime()) / 1000 : null,
          error: last.error,
        }
      : null,
    nextRun: next,
    devices: Number(facts!.devices),
    openConflicts: facts!.conflicts === null ? null : Number(facts!.conflicts),
    lastGoodSyncAt: facts!.good,
    secondsSinceGoodSync: facts!.good ? Math.max(0, Math.round((now.getTime() - facts!.good.getTime()) / 1000)) : null,
    skippedTicks: Number(facts!.skipped),
    jobs,
  };
}

/** Per site: jobs waiting (created, retry), running (active), dead (copied to the dead-letter queue, not yet cleared). */
async function queueCounts(client: pg.Client, schema: string): Promise<Map<string, { waiting: number; running: number; dead: number }> | null> {
  const [{ ready }] = (await client.query<{ ready: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ready`, [`${schema}.job`])).rows as [{ ready: boolean }];
  if (!ready) return null;
  const rows = (
    await client.query<{ site: string; waiting: string; running: string; dead: string }>(
      `SELECT data->>'site' AS site,
              count(*) FILTER (WHERE name = $1 AND state IN ('created', 'retry')) AS waiting,
              count(*) FILTER (WHERE name = $1 AND state = 'active') AS running,
              count(*) FILTER (WHERE name = $2 AND state IN ('created', 'retry', 'active')) AS dead
         FROM ${pg.escapeIdentifier(schema)}.job
        WHERE name IN ($1, $2)
        GROUP BY 1`,
      [siteQueue, deadQueue],
    )
  ).rows;
  return new Map(rows.map((r) => [r.site, { waiting: Number(r.waiting), running: Number(r.running), dead: Number(r.dead) }]));
}

/** The next tick of a site's schedule. */
export function nextRun(schedule: Config['schedule']): Date | null {
  const expressions = Array.isArray(schedule.cron) ? schedule.cron : [schedule.cron];
  let next: Date | null = null;
  for (const expression of expressions) {
    if (!cron.validate(expression)) continue;
    const task = cron.createTask(expression, () => {}, { timezone: schedule.timezone });
    const date = nextOf(task);
    if (date && (next === null || date < next)) next = date;
  }
  return next;
}

function nextOf(task: ReturnType<typeof cron.createTask>): Date | null {
  // node-cron computes the next run of a task that is scheduled; it is stopped again at once.
  void task.start();
  try {
    return task.getNextRun();
  } finally {
    void task.destroy();
  }
}
