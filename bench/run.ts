/**
 * The benchmark at KICS scale (`npm run bench`): the engine as a user runs it, against the KICS
 * simulator with N devices and a CMDB export of N rows, with the floors it cannot beat measured in
 * the same run.
 *
 *   npm run bench -- [--devices 10000,50000,100000] [--db pglite|postgres|both] [--repeats 3] [--json FILE] [--cpu-prof DIR]
 *
 * Per N: the simulator starts in a process of its own (`kics-sync simulator`) and the CMDB CSV is
 * written from its devices (bench/cmdb.ts). Per N and database, on a fresh migrated database, the
 * built CLI runs as a separate process, each measured as wall time, devices (or items) per second and
 * the process's peak RSS (`ru_maxrss`, reported by the process itself as it exits):
 *   plan     the first `kics-sync plan`: KICS read in full, CSV read, staged, reconciled, plan stored, HTML report;
 *   replan   `kics-sync plan` again with nothing changed;
 *   apply    `kics-sync apply --plan ID --yes --concurrency 8` with the simulator answering each call after 2 ms.
 *   stage    each staging again on its own, everything new: the CSV (`sources pull --full` after the
 *            source is forgotten) and KICS (`kics pull --full` after the snapshot is emptied), then the
 *            COPY floors below; `--repeats` rounds (3), each figure the median of its rounds.
 *            Staging/COPY is staging's rate over its floor's within each round (the floor right
 *            after its staging), the median of the rounds.
 * Floors, in the same run: a raw COPY of the rows each staging wrote (CSV: the `source_record` rows;
 * KICS: the `kics_device` rows and their `kics_address` rows) into copies of their tables (indexes and
 * storage parameters included) in the same database, and paging every device out of the simulator
 * through the client's HTTP layer with no processing.
 * Console (with PostgreSQL): bench/console.ts, the review console over a stored 100,000-item plan:
 * pages and API calls timed from the client, medians against their targets (300 ms, /metrics 100 ms).
 * `--cpu-prof DIR` writes a V8 CPU profile of every engine process into DIR.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import { createKicsAgent } from '../src/adapters/kics/tls.js';
import { KicsHttp } from '../src/adapters/kics/http.js';
import { loadConnectorTls, resolveRoutes } from '../src/adapters/kics/index.js';
import { pagesById } from '../src/adapters/kics/paging.js';
import { kicsConfigSchema } from '../src/config/kics.js';
import { openDatabase } from '../src/db/database.js';
import type { Sql } from '../src/db/sql.js';
import { silentLogger } from '../src/log.js';
import { packageRoot } from '../src/paths.js';
import { findPostgresBin, startThrowawayPostgres, type ThrowawayPostgres } from '../test/support/postgres.js';
import type { CmdbShape } from './cmdb.js';
import { admin, cliPath, median, packagePassword, startSimulator, writeCmdb, type Simulator } from './simulator.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const sizes = option('devices', '10000,50000,100000').split(',').map(Number);
const dbChoice = option('db', 'both');
const jsonFile = option('json', '');
const profileDir = option('cpu-prof', '');
const repeats = Number(option('repeats', '3'));
const engines = (['pglite', 'postgres'] as const).filter((e) => dbChoice === 'both' || dbChoice === e);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || engines.length === 0 || !Number.isInteger(repeats) || repeats < 1) {
  process.stderr.write('usage: npm run bench -- [--devices 10000,50000,100000] [--db pglite|postgres|both] [--repeats 3] [--json FILE] [--cpu-prof DIR]\n');
  process.exit(2);
}
const seed = 'bench';
const applyLatencyMs = 2;
const applyConcurrency = 8;
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024);
const perSecond = (count: number, ms: number): number => Math.round((count / Math.max(1, ms)) * 1000);

// ------------------------------------------------------------------------------------ the simulator

const startBenchSimulator = (devices: number, stateDir: string): Promise<Simulator> => startSimulator({ devices, seed, stateDir, logLevel: 'warn' });

/** Floor: every device paged out of the simulator as the stager pages it (4 id ranges side by side), through the client's HTTP layer, with no validation or processing. */
async function pageFloor(sim: Simulator): Promise<{ ms: number; devices: number }> {
  const config = kicsConfigSchema.parse({ url: sim.url, package: { dir: sim.packageDir, password: packagePassword } });
  const tls = await loadConnectorTls(config, new Date());
  const agent = createKicsAgent({ tls, insecure: false, connections: config.maxInFlight, timeoutMs: config.timeoutMs });
  const http = new KicsHttp({ url: config.url, routes: resolveRoutes(config.apiVersion, config.routes), agent, tls, timeoutMs: config.timeoutMs, maxInFlight: config.maxInFlight, retry: config.retry, tokenRefreshMargin: config.tokenRefreshMargin, logger: silentLogger() });
  try {
    await http.tokens.token();
    const started = performance.now();
    let devices = 0;
    for await (const p of pagesById(http, 'devicesQuery', z.custom<{ id: number }>(), { streams: 4 })) devices += p.values.length;
    return { ms: Math.round(performance.now() - started), devices };
  } finally {
    await agent.close();
  }
}

// ------------------------------------------------------------------------------------ the engine

interface EngineRun {
  ms: number;
  peakRssMiB: number;
  exitCode: number | null;
  summary: Record<string, unknown>;
  logs: Record<string, unknown>[];
}

/** Reports the process's peak RSS as it exits (exact: the kernel's high-water mark). */
const rssProbe = `data:text/javascript,${encodeURIComponent(
  "import { writeFileSync } from 'node:fs'; const f = process.env.KICS_SYNC_BENCH_RSS_FILE; if (f) process.on('exit', () => writeFileSync(f, String(process.resourceUsage().maxRSS * 1024)));",
)}`;

async function runEngine(workDir: string, url: string | undefined, step: string, cliArgs: string[]): Promise<EngineRun> {
  const rssFile = path.join(workDir, `${step}.rss`);
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${path.basename(workDir)}-${step}.cpuprofile`] : [];
  const argv = [...profile, '--import', rssProbe, cliPath, '--config', path.join(workDir, 'kics-sync.yaml'), '--data-dir', path.join(workDir, 'data'), '--log-level', 'info', ...cliArgs, '--json'];
  const env: NodeJS.ProcessEnv = { ...process.env, KICS_SYNC_BENCH_RSS_FILE: rssFile };
  delete env.DATABASE_URL;
  if (url) env.DATABASE_URL = url;
  const started = performance.now();
  const child = spawn(process.execPath, argv, { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const ms = Math.round(performance.now() - started);
  const logs = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  let summary: Record<string, unknown>;
  try {
    summary = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`kics-sync ${cliArgs.join(' ')} exited ${exitCode} without a JSON result:\n${stdout}\n${stderr.slice(-4000)}`);
  }
  // Exit 1 is an outcome to report (a source or an item failed), not a broken run.
  if (summary.ok !== true && exitCode !== 1) throw new Error(`kics-sync ${cliArgs.join(' ')} failed (exit ${exitCode}): ${JSON.stringify(summary.error ?? summary)}`);
  return { ms, peakRssMiB: mib(Number(readFileSync(rssFile, 'utf8'))), exitCode, summary, logs };
}

const logOf = (run: EngineRun, msg: string): Record<string, unknown> | undefined => run.logs.find((l) => l.msg === msg);

// ------------------------------------------------------------------------------------ COPY floor

/** Drops what a source staged (its records and rejects go with its row), so that its next read stages everything anew. */
async function forgetSource(url: string | undefined, dataDir: string, name: string): Promise<void> {
  const db = await openDatabase({ url, dataDir, logger: silentLogger() });
  try {
    await db.execute('DELETE FROM source WHERE name = $1', [name]);
    await db.exec('VACUUM ANALYZE source_record');
  } finally {
    await db.close();
  }
}

/** Empties the KICS snapshot (devices, addresses, address spaces, its source row), so that the next read stages everything anew. */
async function forgetKics(url: string | undefined, dataDir: string): Promise<void> {
  const db = await openDatabase({ url, dataDir, logger: silentLogger() });
  try {
    for (const table of ['kics_address', 'kics_device', 'kics_address_space']) await db.execute(`DELETE FROM ${table}`);
    await db.execute(`DELETE FROM source WHERE name = 'kics'`);
    for (const table of ['kics_address', 'kics_device']) await db.exec(`VACUUM ANALYZE ${table}`);
  } finally {
    await db.close();
  }
}

interface Copied {
  ms: number;
  rows: number;
}

/**
 * Floor: the rows staging wrote, copied again, raw, into tables shaped as theirs (defaults, indexes,
 * storage parameters) of the same database: the CSV's `source_record` rows, and KICS's `kics_device`
 * rows then their `kics_address` rows (one transaction, as staging writes them).
 */
async function copyFloor(url: string | undefined, dataDir: string): Promise<{ records: Copied; devices: Copied; addresses: Copied }> {
  const db = await openDatabase({ url, dataDir, logger: silentLogger() });
  const copies: string[] = [];
  try {
    const prepare = async (table: string): Promise<{ copy: string; columns: string[]; rows: unknown[][] }> => {
      const columns = await suppliedColumns(db, table);
      const rows = (await db.query<Record<string, unknown>>(`SELECT ${columns.join(', ')} FROM ${table}`)).map((r) => columns.map((c) => r[c]));
      const [options] = await db.query<{ reloptions: string[] | null }>(`SELECT reloptions FROM pg_class WHERE oid = $1::regclass`, [table]);
      const copy = `bench_floor_${table}`;
      copies.push(copy);
      await db.exec(`DROP TABLE IF EXISTS ${copy}`);
      await db.exec(`CREATE TABLE ${copy} (LIKE ${table} INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMPRESSION)${options?.reloptions ? ` WITH (${options.reloptions.join(', ')})` : ''}`);
      return { copy, columns, rows };
    };
    const timed = async (load: (tx: Sql) => Promise<number[]>): Promise<{ ms: number; counts: number[] }> => {
      const started = performance.now();
      const counts = await db.transaction(load);
      return { ms: Math.round(performance.now() - started), counts };
    };
    const records = await prepare('source_record');
    const recordsCopied = await timed(async (tx) => [await tx.copyFrom(records.copy, records.columns, records.rows)]);
    const devices = await prepare('kics_device');
    const addresses = await prepare('kics_address');
    let devicesMs = 0;
    const kicsCopied = await timed(async (tx) => {
      const started = performance.now();
      const n = await tx.copyFrom(devices.copy, devices.columns, devices.rows);
      devicesMs = Math.round(performance.now() - started);
      return [n, await tx.copyFrom(addresses.copy, addresses.columns, addresses.rows)];
    });
    return {
      records: { ms: recordsCopied.ms, rows: recordsCopied.counts[0]! },
      devices: { ms: devicesMs, rows: kicsCopied.counts[0]! },
      addresses: { ms: kicsCopied.ms - devicesMs, rows: kicsCopied.counts[1]! },
    };
  } finally {
    for (const copy of copies) await db.exec(`DROP TABLE IF EXISTS ${copy}`).catch(() => {});
    await db.close();
  }
}

/** The columns a writer supplies: those without a default (ids, first_seen and the like are filled in). */
async function suppliedColumns(db: { query<R>(text: string, params?: readonly unknown[]): Promise<R[]> }, table: string): Promise<string[]> {
  const rows = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema() AND column_default IS NULL ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.column_name);
}

// ------------------------------------------------------------------------------------ one N, one engine

type Row = Record<string, string | number>;

async function benchEngine(engine: 'pglite' | 'postgres', size: number, sim: Simulator, csv: string, root: string, server: ThrowawayPostgres | null): Promise<Row[]> {
  const workDir = path.join(root, `${engine}-${size}`);
  mkdirSync(workDir, { recursive: true });
  writeFileSync(
    path.join(workDir, 'kics-sync.yaml'),
    JSON.stringify({ kics: { url: sim.url, package: { dir: sim.packageDir, password: packagePassword } }, sources: [{ name: 'cmdb', type: 'csv', path: csv }] }, null, 2),
  );
  let url: string | undefined;
  if (server) {
    const database = `bench_${size}`;
    const adminClient = new pg.Client({ connectionString: server.adminUrl });
    await adminClient.connect();
    await adminClient.query(`DROP DATABASE IF EXISTS ${database}`);
    await adminClient.query(`CREATE DATABASE ${database}`);
    await adminClient.end();
    url = server.urlFor(database);
  }
  await runEngine(workDir, url, 'migrate', ['db', 'migrate']);

  const plan = await runEngine(workDir, url, 'plan', ['plan']);
  const replan = await runEngine(workDir, url, 'replan', ['plan']);
  const planId = (replan.summary.plan as { id: number }).id;
  await admin(sim, 'PUT', '/admin/latency', { latencyMs: applyLatencyMs });
  let apply: EngineRun;
  try {
    apply = await runEngine(workDir, url, 'apply', ['apply', '--plan', String(planId), '--yes', '--concurrency', String(applyConcurrency)]);
  } finally {
    await admin(sim, 'PUT', '/admin/latency', { latencyMs: 0 });
  }
  // Each staging alone, everything new again, then the COPY floors of what it wrote; `repeats` rounds,
  // each figure the median of its rounds (the machine's speed drifts by a fifth or more between runs).
  const csvRuns: { ms: number; process: number; rss: number; records: number; rejected: number }[] = [];
  const kicsRuns: { ms: number; process: number; rss: number; devices: number }[] = [];
  const floors: Awaited<ReturnType<typeof copyFloor>>[] = [];
  for (let round = 0; round < repeats; round += 1) {
    await forgetSource(url, path.join(workDir, 'data'), 'cmdb');
    const stage = await runEngine(workDir, url, `stage-${round}`, ['sources', 'pull', '--full']);
    const staged = logOf(stage, 'source staged') ?? {};
    csvRuns.push({ ms: Number(staged.durationMs ?? 0), process: stage.ms, rss: stage.peakRssMiB, records: Number(staged.valid ?? 0), rejected: Number(staged.rejected ?? 0) });
    await forgetKics(url, path.join(workDir, 'data'));
    const stageKics = await runEngine(workDir, url, `stage-kics-${round}`, ['kics', 'pull', '--full']);
    const kicsStaged = logOf(stageKics, 'KICS staged') ?? {};
    kicsRuns.push({ ms: Number(kicsStaged.ms ?? 0), process: stageKics.ms, rss: stageKics.peakRssMiB, devices: Number(kicsStaged.read ?? 0) });
    floors.push(await copyFloor(url, path.join(workDir, 'data')));
  }
  const runs = (values: number[]): string => (values.length > 1 ? ` runs=${values.join('/')}` : '');
  const kicsInPlan = logOf(plan, 'KICS staged') ?? {};
  const { records, rejected } = csvRuns[0]!;
  const kicsDevices = kicsRuns[0]!.devices;
  const stageMs = median(csvRuns.map((r) => r.ms));
  const kicsMs = median(kicsRuns.map((r) => r.ms));
  const floor = {
    records: { ms: median(floors.map((f) => f.records.ms)), rows: floors[0]!.records.rows },
    devices: { ms: median(floors.map((f) => f.devices.ms)), rows: floors[0]!.devices.rows },
    addresses: { ms: median(floors.map((f) => f.addresses.ms)), rows: floors[0]!.addresses.rows },
  };
  const kicsFloorRuns = floors.map((f) => f.devices.ms + f.addresses.ms);
  const kicsFloorMs = median(kicsFloorRuns);
  // Staging's rate against its floor's, round by round (each floor is measured right after its staging,
  // so the machine's drift between rounds cancels out); the figure is the median of the rounds.
  const csvRatios = csvRuns.map((r, i) => perSecond(records, r.ms) / perSecond(floors[i]!.records.rows, floors[i]!.records.ms));
  const kicsRatios = kicsRuns.map((r, i) => perSecond(kicsDevices, r.ms) / perSecond(floors[i]!.devices.rows, floors[i]!.devices.ms + floors[i]!.addresses.ms));
  const kicsDeviceRatios = kicsRuns.map((r, i) => perSecond(kicsDevices, r.ms) / perSecond(floors[i]!.devices.rows, floors[i]!.devices.ms));
  const percent = (ratio: number): string => `${(ratio * 100).toFixed(0)}%`;
  const ratios = (values: number[]): string => (values.length > 1 ? ` rounds=${values.map((v) => (v * 100).toFixed(0)).join('/')}%` : '');
  const counts = (plan.summary.counts ?? {}) as Record<string, number>;
  const items = Object.entries(counts)
    .filter(([action]) => ['create', 'update', 'upload', 'archive', 'delete'].includes(action))
    .reduce((sum, [, n]) => sum + n, 0);
  const applied = apply.summary;
  const timings = (run: EngineRun): string =>
    Object.entries((run.summary.timings ?? {}) as Record<string, number>)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  const reportMiB = typeof plan.summary.report === 'string' ? (statSync(plan.summary.report).size / 1024 / 1024).toFixed(1) : '';
  const base = { engine, devices: size };
  const rows: Row[] = [
    { ...base, step: 'plan (full)', ms: plan.ms, per_s: perSecond(size, plan.ms), rss_MiB: plan.peakRssMiB, detail: `${timings(plan)} report=${reportMiB}MiB` },
    { ...base, step: 'plan (no change)', ms: replan.ms, per_s: perSecond(size, replan.ms), rss_MiB: replan.peakRssMiB, detail: timings(replan) },
    {
      ...base,
      step: `apply (${applyLatencyMs} ms/call, x${applyConcurrency})`,
      ms: apply.ms,
      per_s: perSecond(items, apply.ms),
      rss_MiB: apply.peakRssMiB,
      detail: `items=${items} ${Object.entries((applied.outcome ?? {}) as Record<string, unknown>)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ')}`,
    },
    {
      ...base,
      step: 'stage CSV (sources pull)',
      ms: stageMs,
      per_s: perSecond(records, stageMs),
      rss_MiB: Math.max(...csvRuns.map((r) => r.rss)),
      detail: `records=${records} rejected=${rejected} process=${median(csvRuns.map((r) => r.process))}ms${runs(csvRuns.map((r) => r.ms))}`,
    },
    {
      ...base,
      step: 'floor: COPY records',
      ms: floor.records.ms,
      per_s: perSecond(floor.records.rows, floor.records.ms),
      rss_MiB: '',
      detail: `staging/COPY=${percent(median(csvRatios))}${ratios(csvRatios)}${runs(floors.map((f) => f.records.ms))}`,
    },
    {
      ...base,
      step: 'stage KICS (kics pull)',
      ms: kicsMs,
      per_s: perSecond(kicsDevices, kicsMs),
      rss_MiB: Math.max(...kicsRuns.map((r) => r.rss)),
      detail: `devices=${kicsDevices} process=${median(kicsRuns.map((r) => r.process))}ms in-plan=${Number(kicsInPlan.ms ?? 0)}ms${runs(kicsRuns.map((r) => r.ms))}`,
    },
    {
      ...base,
      step: 'floor: COPY devices+addresses',
      ms: kicsFloorMs,
      per_s: perSecond(floor.devices.rows, kicsFloorMs),
      rss_MiB: '',
      detail: `staging/COPY=${percent(median(kicsRatios))}${ratios(kicsRatios)} devices=${floor.devices.ms}ms (staging/COPY=${percent(median(kicsDeviceRatios))}) addresses=${floor.addresses.rows}/${floor.addresses.ms}ms${runs(kicsFloorRuns)}`,
    },
  ];
  return rows;
}

function table(rows: Row[]): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const width = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (keys[i] === 'step' || keys[i] === 'detail' ? c.padEnd(width[i]!) : c.padStart(width[i]!)))
      .join('  ')
      .trimEnd();
  return `${line(keys)}\n${rows.map((r) => line(keys.map((k) => String(r[k] ?? '')))).join('\n')}\n`;
}

// ------------------------------------------------------------------------------------ main

/**
 * The console step: bench/console.ts in a process of its own (a 100,000-item plan stored on a
 * PostgreSQL of its own, the console on loopback), each request's median as a row, over its target.
 */
async function benchConsole(dir: string): Promise<Row[]> {
  const file = path.join(dir, 'console.json');
  const child = spawn(process.execPath, [...process.execArgv, path.join(packageRoot, 'bench', 'console.ts'), '--json', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`bench/console.ts ended with ${code}`);
  const report = JSON.parse(readFileSync(file, 'utf8')) as { items: number; results: { request: string; target_ms: number; median_ms: number }[] };
  return report.results.map((r) => ({
    engine: 'postgres',
    devices: report.items,
    step: `console: ${r.request}`,
    ms: r.median_ms,
    per_s: '',
    rss_MiB: '',
    detail: `target ${r.target_ms} ms${r.median_ms > r.target_ms ? ' OVER' : ''}`,
  }));
}

/**
 * The fleet step: bench/fleet.ts in a process of its own (10 sites of 10,000 devices, each site's KICS a
 * simulator process, one PostgreSQL), one worker against two: the wall time of the sites' syncs, per site
 * its run time, CPU seconds, rows and KICS calls, and the share of time the workers had no job.
 */
async function benchFleet(dir: string): Promise<Row[]> {
  const file = path.join(dir, 'fleet.json');
  const child = spawn(process.execPath, [...process.execArgv, path.join(packageRoot, 'bench', 'fleet.ts'), '--json', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`bench/fleet.ts ended with ${code}`);
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    sites: number;
    devices: number;
    results: { workers: number; wallSeconds: number; idleShare: number; sites: { runSeconds: number; cpuSeconds: number | null; rows: number; kicsCalls: number }[]; unchanged: { wallSeconds: number; perSiteMedianSeconds: number } }[];
  };
  return report.results.flatMap((r) => [{
    engine: 'postgres',
    devices: report.devices,
    step: `fleet: ${report.sites} sites, ${r.workers} worker(s)`,
    ms: Math.round(r.wallSeconds * 1000),
    per_s: '',
    rss_MiB: '',
    detail: `per site median ${median(r.sites.map((s) => s.runSeconds)).toFixed(1)} s, CPU ${median(r.sites.map((s) => s.cpuSeconds ?? 0)).toFixed(1)} s, ${median(r.sites.map((s) => s.rows))} rows, ${median(r.sites.map((s) => s.kicsCalls))} KICS calls; workers idle ${Math.round(r.idleShare * 100)}%`,
  }, {
    engine: 'postgres',
    devices: report.devices,
    step: `fleet: ${report.sites} sites, ${r.workers} worker(s), nothing changed`,
    ms: Math.round(r.unchanged.wallSeconds * 1000),
    per_s: '',
    rss_MiB: '',
    detail: `per site median ${r.unchanged.perSiteMedianSeconds.toFixed(1)} s`,
  }]);
}

const root = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-bench-'));
if (profileDir) mkdirSync(profileDir, { recursive: true });
const results: Row[] = [];
const shapes: Record<number, CmdbShape> = {};
let server: ThrowawayPostgres | null = null;
try {
  if (engines.includes('postgres')) {
    const bin = findPostgresBin();
    if (!bin) throw new Error('no PostgreSQL server binaries (install PostgreSQL or set PG_BIN), or run with --db pglite');
    server = await startThrowawayPostgres(bin);
  }
  for (const size of sizes) {
    const sim = await startBenchSimulator(size, path.join(root, `sim-${size}`));
    try {
      const csv = path.join(root, `cmdb-${size}.csv`);
      shapes[size] = await writeCmdb(sim, csv, seed);
      const paging = await pageFloor(sim);
      const rows: Row[] = [{ engine: '-', devices: size, step: 'floor: page KICS', ms: paging.ms, per_s: perSecond(paging.devices, paging.ms), rss_MiB: '', detail: `devices=${paging.devices}` }];
      process.stdout.write(`N=${size}: CMDB ${JSON.stringify(shapes[size])}, ${mib(statSync(csv).size)} MiB\n`);
      for (const engine of engines) {
        // The simulator is started again per engine: the first engine's apply changed its devices.
        const own = engine === engines[0] ? sim : await startBenchSimulator(size, path.join(root, `sim-${size}-${engine}`));
        try {
          rows.push(...(await benchEngine(engine, size, own, csv, root, engine === 'postgres' ? server : null)));
        } finally {
          if (own !== sim) own.child.kill('SIGTERM');
        }
      }
      process.stdout.write(`${table(rows)}\n`);
      results.push(...rows);
    } finally {
      sim.child.kill('SIGTERM');
    }
  }
  if (engines.includes('postgres')) results.push(...(await benchConsole(root)), ...(await benchFleet(root)));
} finally {
  server?.stop();
  rmSync(root, { recursive: true, force: true });
}
process.stdout.write(`All sizes\n${table(results)}`);
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, seed, cmdb: shapes, results }, null, 2)}\n`);
