/**
 * Fleet benchmark: S sites of N devices each, synced from the job queue by one worker, then by two.
 *
 *   npx tsx bench/fleet.ts [--sites 10] [--devices 10000] [--workers 1,2] [--json FILE]
 *
 * Per arrangement: a fresh database on a throwaway PostgreSQL, S KICS simulators as processes (seeds
 * `fleet-<i>`, started again per arrangement so that each starts from the same devices), a CMDB
 * export per site written from its simulator (bench/cmdb.ts: changes, creates, conflicts, bad rows),
 * each site's schema migrated first. Then `kics-sync enqueue sync --all` and W worker processes
 * (`--concurrency 1`), timed until every site's sync has ended. Reported: the wall time, each site's
 * run time, the share of the workers' time spent without a job, and per site its costs: the
 * worker's CPU seconds for the job, the rows the site holds in its schema, the calls its KICS served.
 * The simulators run on the same machine and take their share of its cores.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { findPostgresBin, startThrowawayPostgres } from '../test/support/postgres.js';
import { admin, cliPath, median, packagePassword, startSimulator, writeCmdb, type Simulator } from './simulator.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const siteCount = Number(option('sites', '10'));
const devices = Number(option('devices', '10000'));
const workerCounts = option('workers', '1,2').split(',').map(Number);
const jsonFile = option('json', '');
/**
 * CPU seconds the PostgreSQL server used so far: the postmaster's own and its ended children's
 * (the kernel adds a reaped child's time to its parent), plus the live backends'. From /proc.
 */
function postgresCpuSeconds(postmaster: number): number {
  const fields = (pid: number | string): string[] => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  const own = fields(postmaster);
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const f = fields(entry);
      if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // Gone meanwhile.
    }
  }
  return ticks / clockTicks;
}
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const kicsCalls = async (sim: Simulator): Promise<number> => (await admin<{ lastSeq: number }>(sim, 'GET', '/admin/requests?limit=0')).lastSeq;

interface SiteResult {
  site: string;
  status: string;
  runSeconds: number;
  cpuSeconds: number | null;
  rows: number;
  kicsCalls: number;
}

interface Arrangement {
  workers: number;
  wallSeconds: number;
  idleShare: number;
  sites: SiteResult[];
  /** The PostgreSQL server's CPU seconds for the whole round (all sites). */
  postgresCpuSeconds: number;
  /** All sites synced again, nothing changed anywhere. */
  unchanged: { wallSeconds: number; perSiteMedianSeconds: number; postgresCpuSeconds: number };
}

/** A CLI process; `ready` once a worker says it takes jobs. */
function runCli(cliArgs: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void>; ended: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [cliPath, ...cliArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let signalReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    if (stderr.includes('worker: taking site jobs"')) signalReady();
  });
  child.stdout.resume();
  const ended = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  void ended.then(() => signalReady());
  return { child, ready, ended };
}

const bin = findPostgresBin();
if (!bin) throw new Error('no PostgreSQL server binaries (set PG_BIN)');
const server = await startThrowawayPostgres(bin);
const root = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-bench-fleet-'));
const results: Arrangement[] = [];
try {
  for (const workers of workerCounts) {
    const dir = path.join(root, `w${workers}`);
    mkdirSync(dir, { recursive: true });
    const url = await server.createDatabase(`bench_fleet_w${workers}`);
    const names = Array.from({ length: siteCount }, (_, i) => `site${String(i + 1).padStart(2, '0')}`);
    const sims = await Promise.all(names.map((name, i) => startSimulator({ devices, seed: `fleet-${i}`, stateDir: path.join(dir, `sim-${name}`), logLevel: 'error' })));
    try {
      for (const [i, name] of names.entries()) await writeCmdb(sims[i]!, path.join(dir, `${name}.csv`), `fleet-${i}`);
      const config = {
        sync: { maxChangeShare: 1, maxCreates: 1_000_000 },
        sites: names.map((name, i) => ({
          name,
          kics: { url: sims[i]!.url, package: { dir: sims[i]!.packageDir, password: packagePassword } },
          sources: [{ name: 'cmdb', type: 'csv', path: `./${name}.csv` }],
        })),
      };
      const configFile = path.join(dir, 'kics-sync.yaml');
      writeFileSync(configFile, JSON.stringify(config));
      // Each site's schema made and migrated beforehand: the timing is of the syncs.
      for (const name of names) await (await openDatabase({ url, dataDir: path.join(dir, '.kics-sync', 'sites', name), schema: `site_${name}`, logger: silentLogger() })).close();
      const env = { ...process.env, DATABASE_URL: url, KICS_SYNC_LOG_LEVEL: 'info' };
      const callsBefore = await Promise.all(sims.map(kicsCalls));
      // The workers are up and polling before the jobs are queued: the timing is of the jobs, not of starting processes.
      const procs = Array.from({ length: workers }, () => runCli(['--config', configFile, 'worker', '--concurrency', '1'], env));
      await Promise.all(procs.map((p) => p.ready));
      const probe = new pg.Client({ connectionString: url });
      await probe.connect();
      const backend = (await probe.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const postmaster = Number(readFileSync(`/proc/${backend}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      await probe.end();
      const pgBefore = postgresCpuSeconds(postmaster);
      const started = performance.now();
      const queued = runCli(['--config', configFile, 'enqueue', 'sync', '--all'], env);
      if ((await queued.ended).code !== 0) throw new Error('enqueue failed');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      /** Waits until every site has ended `rounds` syncs. */
      const untilSynced = async (rounds: number): Promise<void> => {
        for (;;) {
          let done = 0;
          for (const name of names) {
            const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM site_${name}.sync_run WHERE mode = 'sync' AND finished_at IS NOT NULL`);
            if (Number(rows[0]!.n) >= rounds) done += 1;
          }
          if (done === names.length) return;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      await untilSynced(1);
      const wallSeconds = (performance.now() - started) / 1000;
      const pgFull = postgresCpuSeconds(postmaster) - pgBefore;
      // The nightly case: every site synced again with nothing changed on either side.
      const againStarted = performance.now();
      const again = runCli(['--config', configFile, 'enqueue', 'sync', '--all'], env);
      if ((await again.ended).code !== 0) throw new Error('enqueue failed');
      await untilSynced(2);
      const againSeconds = (performance.now() - againStarted) / 1000;
      const pgAgain = postgresCpuSeconds(postmaster) - pgBefore - pgFull;
      for (const p of procs) p.child.kill('SIGTERM');
      const outputs = await Promise.all(procs.map((p) => p.ended));
      // Each site's first job (the full sync; the second is the unchanged one), from the workers' logs
      // in time order: its CPU seconds, and how long a worker held it (opening the site's database,
      // the run, completing the job) for the workers' idle share.
      const jobs = outputs
        .flatMap((out) => out.stderr.split('\n').filter((line) => line.startsWith('{')))
        .map((line) => JSON.parse(line) as { msg?: string; time?: string; site?: string; cpuSeconds?: number; ms?: number })
        .filter((entry) => entry.msg === 'worker: job done' && entry.site !== undefined)
        .sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''));
      const cpuBySite = new Map<string, number>();
      let busy = 0;
      for (const job of jobs) {
        if (cpuBySite.has(job.site!)) continue;
        cpuBySite.set(job.site!, job.cpuSeconds ?? 0);
        busy += (job.ms ?? 0) / 1000;
      }
      const callsAfter = await Promise.all(sims.map(kicsCalls));
      const sites: SiteResult[] = [];
      const againRuns: number[] = [];
      for (const [i, name] of names.entries()) {
        const { rows: runs } = await client.query<{ status: string; seconds: number }>(
          `SELECT status::text AS status, EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS seconds FROM site_${name}.sync_run WHERE mode = 'sync' ORDER BY id LIMIT 2`,
        );
        againRuns.push(runs[1]!.seconds);
        const { rows: counted } = await client.query<{ n: string }>(`SELECT coalesce(sum(n_live_tup), 0) AS n FROM pg_stat_user_tables WHERE schemaname = $1`, [`site_${name}`]);
        sites.push({ site: name, status: runs[0]!.status, runSeconds: runs[0]!.seconds, cpuSeconds: cpuBySite.get(name) ?? null, rows: Number(counted[0]!.n), kicsCalls: callsAfter[i]! - callsBefore[i]! });
      }
      await client.end();
      const arrangement = { workers, wallSeconds, idleShare: Math.max(0, 1 - busy / (workers * wallSeconds)), sites, postgresCpuSeconds: pgFull, unchanged: { wallSeconds: againSeconds, perSiteMedianSeconds: median(againRuns), postgresCpuSeconds: pgAgain } };
      results.push(arrangement);
      process.stdout.write(
        `${workers} worker(s): ${siteCount} sites x ${devices} devices in ${wallSeconds.toFixed(1)} s; per site median ${median(sites.map((s) => s.runSeconds)).toFixed(1)} s` +
          ` (min ${Math.min(...sites.map((s) => s.runSeconds)).toFixed(1)}, max ${Math.max(...sites.map((s) => s.runSeconds)).toFixed(1)}); workers idle ${(arrangement.idleShare * 100).toFixed(0)}%;` +
          ` per site: CPU ${median(sites.map((s) => s.cpuSeconds ?? 0)).toFixed(1)} s, ${median(sites.map((s) => s.rows))} rows, ${median(sites.map((s) => s.kicsCalls))} KICS calls, PostgreSQL CPU ${(pgFull / siteCount).toFixed(1)} s; outcomes ${[...new Set(sites.map((s) => s.status))].join(', ')};` +
          ` again with nothing changed: ${againSeconds.toFixed(1)} s, per site median ${median(againRuns).toFixed(1)} s, PostgreSQL CPU ${(pgAgain / siteCount).toFixed(1)} s per site\n`,
      );
    } finally {
      for (const sim of sims) sim.child.kill('SIGTERM');
    }
  }
} finally {
  server.stop();
  rmSync(root, { recursive: true, force: true });
}
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ sites: siteCount, devices, cpus: os.cpus().length, results }, null, 2)}\n`);
