/**
 * Plan benchmark: reconcile + store + report at KICS scale, from synthetic inputs (bench/plan-data.ts).
 *
 *   npx tsx bench/plan.ts [--devices 10000,50000,100000] [--db pglite|postgres|both|none] [--json FILE]
 *
 * Part 1, in memory: reconcile() alone and each report renderer, at each size (growth must be linear),
 * on the inputs as the store hands them (parsed from JSON).
 * Part 2, per database: the inputs staged with COPY, then runPlan() without refresh (load the staged
 * input, reconcile, store the plan with COPY, write the HTML report), twice.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config/schema.js';
import { openDatabase, type Database } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { ouiVendor } from '../src/model/oui.js';
import { reconcile } from '../src/reconcile/reconcile.js';
import { renderReport, type ReportFormat } from '../src/reconcile/report/index.js';
import { runPlan } from '../src/sync/plans/run.js';
import { stageKics, stageSource } from '../test/sync/plans/fixtures.js';
import { findPostgresBin, startThrowawayPostgres } from '../test/support/postgres.js';
import { syntheticInputs, type SyntheticInputs } from './plan-data.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const sizes = option('devices', '10000,50000,100000').split(',').map(Number);
const dbChoice = option('db', 'both');
const jsonFile = option('json', '');

const childAt = args.indexOf('--child');
const config = configSchema.parse({ sources: [{ name: 'cmdb', type: 'csv', path: '/dev/null' }], reconcile: { managedAttributes: ['Owner'] } });
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024);
const ms = (start: number): number => Math.round(performance.now() - start);
type Row = Record<string, string | number>;
const results: Record<string, unknown>[] = [];

function table(rows: Row[]): void {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const width = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(width[i]!)).join('  ');
  process.stdout.write(`${line(keys)}\n${rows.map((r) => line(keys.map((k) => String(r[k] ?? '')))).join('\n')}\n\n`);
}

async function drain(format: ReportFormat, value: ReturnType<typeof reconcile>): Promise<number> {
  let bytes = 0;
  for await (const chunk of renderReport(format, value.header, value.items)) bytes += chunk.length;
  return bytes;
}

if (childAt >= 0) {
  await runChild(args[childAt + 1]!, args[childAt + 2]);
  process.exit(0);
}

/**
 * The inputs as the store hands them to the reconciler (`loadStagedInput`): parsed from JSON. The
 * synthetic strings are built by concatenation, which V8 keeps as ropes until they are first read;
 * parsed, they are flat, so part 1 times the reconciler, not the flattening of ropes that no staged
 * input has (at 100,000 devices that flattening added about 0.3 s to the first call).
 */
const asStaged = (inputs: SyntheticInputs): SyntheticInputs => JSON.parse(JSON.stringify(inputs)) as SyntheticInputs;

// Part 1: in memory.
ouiVendor('00:1b:1b:00:00:00'); // load the OUI registry outside the timings
const memoryRows: Row[] = [];
for (const size of sizes) {
  const inputs = asStaged(syntheticInputs(size));
  const records = inputs.records.map((r) => ({ source: 'cmdb', key: r.key, owner: r.asset.owner ?? null, asset: r.asset, confirmedAt: new Date() }));
  global.gc?.();
  let start = performance.now();
  const value = reconcile({ now: new Date(), config: config.reconcile, sources: [{ name: 'cmdb' }], records, devices: inputs.devices, addressSpaces: inputs.addressSpaces, vendorFromMac: ouiVendor });
  const reconcileMs = ms(start);
  const row: Row = { devices: size, records: records.length, items: value.items.length, reconcile_ms: reconcileMs, per_s: Math.round((size / reconcileMs) * 1000) };
  for (const format of ['html', 'json', 'csv', 'md'] as const) {
    start = performance.now();
    const bytes = await drain(format, value);
    row[`${format}_ms`] = ms(start);
    row[`${format}_MiB`] = (bytes / 1024 / 1024).toFixed(1);
  }
  row.counts = Object.entries(value.header.summary.counts)
    .filter(([, n]) => n > 0)
    .map(([a, n]) => `${a}=${n}`)
    .join(' ');
  memoryRows.push(row);
  results.push({ part: 'memory', ...row });
}
process.stdout.write('In memory: reconcile() and the report renderers\n');
table(memoryRows);

// Part 2: the pipeline on each database. The inputs are staged here; the plan runs in a child
// process of its own, so that its peak RSS is the engine's and nothing else's.
async function measureChild(url: string | undefined, dataDir: string): Promise<Row> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', dataDir, ...(url ? [url] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`plan child exited with ${code}`);
  return JSON.parse(out) as Row;
}

async function runChild(dataDir: string, url: string | undefined): Promise<void> {
  const db = await openDatabase({ url, dataDir });
  try {
    const cpu = process.cpuUsage();
    let start = performance.now();
    const first = await runPlan(db, { config, dataDir, refresh: 'none', logger: silentLogger() });
    const firstMs = ms(start);
    const firstCpu = process.cpuUsage(cpu);
    start = performance.now();
    const second = await runPlan(db, { config, dataDir, refresh: 'none', logger: silentLogger() });
    const row: Row = {
      items: first.value.items.length,
      load_ms: first.timings.load ?? '',
      reconcile_ms: first.timings.reconcile ?? '',
      store_ms: first.timings.store ?? '',
      html_ms: first.timings.report ?? '',
      html_MiB: (statSync(first.plan.reportPath!).size / 1024 / 1024).toFixed(1),
      plan_ms: firstMs,
      plan_cpu_ms: Math.round((firstCpu.user + firstCpu.system) / 1000),
      replan_ms: ms(start),
      replan_items: second.value.items.length,
      rss_peak_MiB: mib(process.resourceUsage().maxRSS * 1024),
    };
    process.stdout.write(JSON.stringify(row));
  } finally {
    await db.close();
  }
}

async function pipeline(engine: 'pglite' | 'postgres', url: string | undefined, size: number): Promise<Row> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-bench-plan-'));
  try {
    const db: Database = await openDatabase({ url, dataDir });
    const start = performance.now();
    try {
      const inputs = syntheticInputs(size);
      await db.transaction(async (tx) => {
        await stageKics(tx, { generation: 1, devices: inputs.devices, addressSpaces: inputs.addressSpaces });
        await stageSource(tx, { name: 'cmdb', generation: 1, records: inputs.records });
      });
      await db.exec('ANALYZE');
    } finally {
      await db.close();
    }
    return { engine, devices: size, stage_inputs_ms: ms(start), ...(await measureChild(url, dataDir)) };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (dbChoice !== 'none') {
  const dbRows: Row[] = [];
  const size = Number(option('db-devices', String(Math.max(...sizes))));
  if (dbChoice === 'pglite' || dbChoice === 'both') dbRows.push(await pipeline('pglite', undefined, size));
  if (dbChoice === 'postgres' || dbChoice === 'both') {
    const bin = findPostgresBin();
    if (!bin) throw new Error('no PostgreSQL server binaries (set PG_BIN)');
    const server = await startThrowawayPostgres(bin);
    try {
      const url = await server.createDatabase('bench_plan');
      dbRows.push(await pipeline('postgres', url, size));
    } finally {
      server.stop();
    }
  }
  process.stdout.write('Pipeline from the database: load + reconcile + store (COPY) + HTML report\n');
  table(dbRows);
  for (const row of dbRows) results.push({ part: 'database', ...row });
}

if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ node: process.version, cpus: os.cpus().length, results }, null, 2)}\n`);
