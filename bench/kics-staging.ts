/**
 * KICS read and staging benchmark: the KICS simulator in a process of its own (as a real KICS would be:
 * its serialisation does not share this process's thread), read through the client, staged on each engine.
 *
 *   npx tsx bench/kics-staging.ts [--devices 100000] [--db pglite|postgres|both] [--json FILE]
 *
 * Steps: the client alone (every device paged through, validated, no database), then per engine on a
 * fresh migrated database: the first full read (every device new), a full read with nothing changed (no
 * device row written), 1% of the devices changed in KICS then an incremental read. Peak RSS is this
 * process's (the simulator's memory is its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { createKicsClient, type KicsClient } from '../src/adapters/kics/index.js';
import { kicsConfigSchema } from '../src/config/kics.js';
import { openDatabase } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { packageRoot } from '../src/paths.js';
import { stageKics } from '../src/sync/staging/kics/stage.js';
import { findPostgresBin, startThrowawayPostgres } from '../test/support/postgres.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const devices = Number(option('devices', '100000'));
const dbChoice = option('db', 'both');
const jsonFile = option('json', '');
const logger = silentLogger();
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024);
const peakRssMiB = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

interface Simulator {
  url: string;
  adminUrl: string;
  packageDir: string;
  child: ChildProcess;
}

async function startSimulator(dir: string): Promise<Simulator> {
  const cli = pathToFileURL(path.join(packageRoot, 'src', 'cli.ts')).href;
  const argv = ['node', 'kics-sync', 'simulator', '--devices', String(devices), '--seed', 'bench', '--state-dir', dir];
  const script = `const { main } = await import(${JSON.stringify(cli)}); await main(${JSON.stringify(argv)});`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: packageRoot,
    env: { ...process.env, KICS_SIMULATOR_PACKAGE_PASSWORD: 'bench', KICS_SYNC_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const ready = JSON.parse(line) as { event: string; url: string; adminUrl: string; packageDir: string };
    if (ready.event === 'ready') return { ...ready, child };
  }
  throw new Error('the simulator exited before it was ready');
}

/** 1% of the devices changed in KICS, as an operator would (admin endpoint). */
async function changeDevices(sim: Simulator, ids: number[]): Promise<void> {
  for (const id of ids) {
    const response = await fetch(`${sim.adminUrl}/admin/devices/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ description: `bench change ${Date.now()}` }) });
    if (!response.ok) throw new Error(`admin PATCH ${id}: ${response.status} ${await response.text()}`);
  }
}

async function clientOnly(client: KicsClient): Promise<Record<string, string | number>> {
  const started = performance.now();
  let read = 0;
  const ids: number[] = [];
  for await (const page of client.iterateDevices()) {
    read += page.values.length;
    for (const d of page.values) ids.push(d.id);
  }
  const ms = Math.round(performance.now() - started);
  allIds = ids;
  return { engine: '-', step: 'client read (no database)', ms, devices: read, perSecond: Math.round((read / ms) * 1000), rssMiB: mib(process.memoryUsage().rss) };
}

let allIds: number[] = [];

async function run(engine: 'pglite' | 'postgres', url: string | undefined, dataDir: string, sim: Simulator, client: KicsClient): Promise<Record<string, string | number>[]> {
  const db = await openDatabase({ url, dataDir, logger });
  const out: Record<string, string | number>[] = [];
  const stage = async (step: string, mode: 'full' | 'incremental'): Promise<void> => {
    global.gc?.();
    const s = await stageKics(db, client, { mode, logger });
    out.push({
      engine,
      step,
      ms: s.durationMs,
      devices: s.devices.read,
      perSecond: Math.round((s.devices.read / Math.max(1, s.durationMs)) * 1000),
      new: s.devices.new,
      changed: s.devices.changed,
      unchanged: s.devices.unchanged,
      addressRows: s.addressRows,
      rssMiB: mib(process.memoryUsage().rss),
    });
  };
  try {
    await stage('first full read', 'full');
    await stage('full read, no change', 'full');
    await changeDevices(sim, allIds.filter((_, i) => i % 100 === 7));
    await stage('incremental, 1% changed', 'incremental');
  } finally {
    await db.close();
  }
  return out;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-bench-kics-'));
const results: Record<string, string | number>[] = [];
const sim = await startSimulator(path.join(dir, 'sim')).catch((error: unknown) => {
  rmSync(dir, { recursive: true, force: true });
  throw error;
});
process.stdout.write(`KICS simulator: ${devices} devices at ${sim.url}\n\n`);
const client = await createKicsClient(kicsConfigSchema.parse({ url: sim.url, package: { dir: sim.packageDir, password: 'bench' } }), { logger });
try {
  results.push(await clientOnly(client));
  if (dbChoice === 'pglite' || dbChoice === 'both') results.push(...(await run('pglite', undefined, path.join(dir, 'pglite'), sim, client)));
  if (dbChoice === 'postgres' || dbChoice === 'both') {
    const bin = findPostgresBin();
    if (!bin) process.stdout.write('PostgreSQL server binaries not found: skipping the postgres engine\n');
    else {
      const server = await startThrowawayPostgres(bin);
      try {
        const url = await server.createDatabase('bench_kics');
        results.push(...(await run('postgres', url, path.join(dir, 'pg'), sim, client)));
      } finally {
        server.stop();
      }
    }
  }
} finally {
  await client.close();
  sim.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
const keys = [...new Set(results.flatMap((r) => Object.keys(r)))];
const width = keys.map((k) => Math.max(k.length, ...results.map((r) => String(r[k] ?? '').length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padStart(width[i]!)).join('  ');
process.stdout.write(`${line(keys)}\n${results.map((r) => line(keys.map((k) => String(r[k] ?? '')))).join('\n')}\npeak RSS of this process: ${peakRssMiB()} MiB\n`);
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ devices, results, peakRssMiB: peakRssMiB() }, null, 2));
