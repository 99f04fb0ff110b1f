import { Gauge, Registry } from 'prom-client';
import { kicsCallRegistry } from '../adapters/kics/metrics.js';
import type { Sql } from '../db/sql.js';
import type { SiteStatus } from '../fleet/status.js';

/**
 * `/metrics` in Prometheus format (prom-client). The values are read from the database at each
 * scrape, so every process serving the console reports the same state, whoever ran the work:
 * - `kics_sync_runs{mode,status}`: runs recorded, by mode and how they ended;
 * - `kics_sync_last_run_duration_seconds{mode}`: the newest finished run of each mode;
 * - `kics_sync_latest_plan_items{action,status}`: the items of the newest plan;
 * - `kics_sync_source_rows{source}`: records staged per source (KICS: devices in the snapshot), counted
 *   again only when the source's generation moved;
 * - `kics_sync_source_last_success_age_seconds{source}`: seconds since each source's, and KICS's,
 *   last successful read.
 * Each query reads an index or a small table: a scrape stays cheap beside a 100,000-item plan.
 * Beside them, `kics_sync_kics_request_duration_seconds{route,status}`: the KICS calls this process
 * made (src/adapters/kics/metrics.ts).
 */
export function consoleMetrics(db: Sql, fleet?: () => Promise<SiteStatus[]>): Registry {
  return Registry.merge([databaseMetrics(db), ...(fleet ? [fleetMetrics(fleet)] : []), kicsCallRegistry]);
}

/**
 * The fleet, one series per site (src/fleet/status.ts, read at most every 10 s):
 * - `kics_sync_site_up{site}`: 1 when the site's newest run succeeded (or was held for review), else 0;
 * - `kics_sync_site_seconds_since_good_sync{site}`: absent for a site never synced;
 * - `kics_sync_site_last_run_duration_seconds{site}`, `kics_sync_site_devices{site}`, `kics_sync_site_open_conflicts{site}`;
 * - `kics_sync_site_jobs{site,state}`: jobs waiting, running and dead in the queue (PostgreSQL).
 */
function fleetMetrics(fleet: () => Promise<SiteStatus[]>): Registry {
  const registry = new Registry();
  const perSite = (name: string, help: string, value: (site: SiteStatus) => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: ['site'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const site of await fleet()) {
          const v = value(site);
          if (v !== null) this.set({ site: site.name }, v);
        }
      },
    });
  };
  perSite('kics_sync_site_up', "1 when the site's newest run succeeded or was held for review, else 0.", (s) => (s.lastRun === null ? null : ['succeeded', 'held'].includes(s.lastRun.status) ? 1 : 0));
  perSite('kics_sync_site_seconds_since_good_sync', "Seconds since the site's last successful sync or apply.", (s) => s.secondsSinceGoodSync);
  perSite('kics_sync_site_last_run_duration_seconds', "Duration of the site's newest finished run.", (s) => s.lastRun?.seconds ?? null);
  perSite('kics_sync_site_devices', "Devices in the site's KICS snapshot.", (s) => s.devices);
  perSite('kics_sync_site_open_conflicts', "Conflicts in the site's newest plan.", (s) => s.openConflicts);
  new Gauge({
    name: 'kics_sync_site_jobs',
    help: "The site's jobs in the queue: waiting, running, dead.",
    labelNames: ['site', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const site of await fleet()) {
        if (!site.jobs) continue;
        for (const state of ['waiting', 'running', 'dead'] as const) this.set({ site: site.name, state }, site.jobs[state]);
      }
    },
  });
  return registry;
}

function databaseMetrics(db: Sql): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: readonly string[], sql: string): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      // Each row: one column per label, and `value`.
      async collect() {
        this.reset();
        for (const row of await db.query<Record<string, string> & { value: number }>(sql)) {
          this.set(Object.fromEntries(labelNames.map((l) => [l, row[l]!])), row.value);
        }
      },
    });
  };
  gauge('kics_sync_runs', 'Runs recorded in the database, by mode and status.', ['mode', 'status'], `SELECT mode::text AS mode, status::text AS status, count(*)::int AS value FROM sync_run GROUP BY 1, 2`);
  gauge(
    'kics_sync_last_run_duration_seconds',
    'Duration of the newest finished run of each mode.',
    ['mode'],
    `SELECT DISTINCT ON (mode) mode::text AS mode, EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS value
       FROM sync_run WHERE finished_at IS NOT NULL ORDER BY mode, finished_at DESC`,
  );
  gauge(
    'kics_sync_latest_plan_items',
    'Items of the newest plan, by action and status.',
    ['action', 'status'],
    `SELECT action::text AS action, status::text AS status, count(*)::int AS value FROM plan_item WHERE plan_id = (SELECT max(id) FROM plan) GROUP BY 1, 2`,
  );
  // Staged rows change only with a source's generation (staging bumps it when data changed): a
  // source is counted again only then, not at every scrape.
  const counted = new Map<string, { generation: number; rows: number }>();
  new Gauge({
    name: 'kics_sync_source_rows',
    help: 'Records staged per source; for kics, devices in the snapshot.',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await db.query<{ id: number; name: string; kind: string; generation: number }>(`SELECT id, name, kind::text AS kind, generation FROM source`)) {
        let known = counted.get(s.name);
        if (known?.generation !== s.generation) {
          const [row] = await db.query<{ n: number }>(
            s.kind === 'kics' ? `SELECT count(*)::int AS n FROM kics_device WHERE missing_since IS NULL` : `SELECT count(*)::int AS n FROM source_record WHERE source_id = $1 AND missing_since IS NULL`,
            s.kind === 'kics' ? [] : [s.id],
          );
          known = { generation: s.generation, rows: row?.n ?? 0 };
          counted.set(s.name, known);
        }
        this.set({ source: s.name }, known.rows);
      }
    },
  });
  gauge(
    'kics_sync_source_last_success_age_seconds',
    "Seconds since each source's (and KICS's) last successful read.",
    ['source'],
    `SELECT name AS source, greatest(0, EXTRACT(EPOCH FROM now() - last_success_at))::float8 AS value FROM source WHERE last_success_at IS NOT NULL`,
  );
  return registry;
}
