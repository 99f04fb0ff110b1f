import { Gauge, Registry } from 'prom-client';
import type { Sql } from '../db/sql.js';

/**
 * `/metrics` in Prometheus format (prom-client). The values are read from the database at each
 * scrape, so every process serving the console reports the same state, whoever ran the work:
 * - `kics_sync_runs{mode,status}`: runs recorded, by mode and how they ended;
 * - `kics_sync_last_run_duration_seconds{mode}`: the newest finished run of each mode;
 * - `kics_sync_latest_plan_items{action,status}`: the items of the newest plan;
 * - `kics_sync_source_rows{source}`: records staged per source (KICS: devices in the snapshot);
 * - `kics_sync_source_last_success_age_seconds{source}`: seconds since each source's, and KICS's,
 *   last successful read.
 * Each query reads an index or a small table: a scrape stays cheap beside a 100,000-item plan.
 */
export function consoleMetrics(db: Sql): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'kics_sync_runs',
    help: 'Runs recorded in the database, by mode and status.',
    labelNames: ['mode', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ mode: string; status: string; n: number }>(`SELECT mode::text AS mode, status::text AS status, count(*)::int AS n FROM sync_run GROUP BY 1, 2`);
      for (const r of rows) this.set({ mode: r.mode, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'kics_sync_last_run_duration_seconds',
    help: 'Duration of the newest finished run of each mode.',
    labelNames: ['mode'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ mode: string; seconds: number }>(
        `SELECT DISTINCT ON (mode) mode::text AS mode, EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS seconds
           FROM sync_run WHERE finished_at IS NOT NULL ORDER BY mode, finished_at DESC`,
      );
      for (const r of rows) this.set({ mode: r.mode }, r.seconds);
    },
  });
  new Gauge({
    name: 'kics_sync_latest_plan_items',
    help: 'Items of the newest plan, by action and status.',
    labelNames: ['action', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ action: string; status: string; n: number }>(
        `SELECT action::text AS action, status::text AS status, count(*)::int AS n FROM plan_item
          WHERE plan_id = (SELECT max(id) FROM plan) GROUP BY 1, 2`,
      );
      for (const r of rows) this.set({ action: r.action, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'kics_sync_source_rows',
    help: 'Records staged per source; for kics, devices in the snapshot.',
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ source: string; n: number }>(
        `SELECT s.name AS source, CASE WHEN s.kind = 'kics' THEN (SELECT count(*) FROM kics_device WHERE missing_since IS NULL)
                                       ELSE (SELECT count(*) FROM source_record r WHERE r.source_id = s.id AND r.missing_since IS NULL) END::int AS n
           FROM source s`,
      );
      for (const r of rows) this.set({ source: r.source }, r.n);
    },
  });
  new Gauge({
    name: 'kics_sync_source_last_success_age_seconds',
    help: "Seconds since each source's (and KICS's) last successful read.",
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ source: string; age: number }>(
        `SELECT name AS source, EXTRACT(EPOCH FROM now() - last_success_at)::float8 AS age FROM source WHERE last_success_at IS NOT NULL`,
      );
      for (const r of rows) this.set({ source: r.source }, Math.max(0, r.age));
    },
  });
  return registry;
}
