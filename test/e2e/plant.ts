import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createKicsClient, type KicsClient } from '../../src/adapters/kics/index.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/database.js';
import type { Logger } from '../../src/log.js';
import type { SimDevice } from '../../src/simulator/kics/index.js';
import type { RunContext } from '../../src/sync/runs/lifecycle.js';
import { runCli, type CliOptions, type CliResult } from '../support/cli.js';
import type { TestDatabase } from '../support/db.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../support/kics-simulator.js';

/**
 * A small plant for the sync engine's tests: the KICS simulator with generated devices, a CMDB CSV
 * written next to the test database, and the configuration that ties them together, for runs in
 * this process (`runContext()`) and for the built CLI (`cli()`).
 */

export interface CmdbRow {
  id: string;
  name: string;
  mac?: string;
  ip?: string;
  space?: number;
  description?: string;
  owner?: string;
  labels?: string[];
  status?: string;
  /** Industrial configuration file, relative to reconcile.industrialConfig.root. */
  config?: string;
}

export interface Plant {
  sim: TestKicsSimulator;
  /** Where the CSV and config live (the test database's folder). */
  dir: string;
  /** Active devices with a MAC and an IP in the plant network (address space 1): easy to match. */
  devices: SimDevice[];
  /** A CMDB row describing the device as KICS has it. */
  rowOf(device: SimDevice, patch?: Partial<CmdbRow>): CmdbRow;
  /** A new asset KICS does not know (MAC 00:1b:1b:7e:00:<n>, IP 10.250.0.<n>). */
  newAsset(n: number, patch?: Partial<CmdbRow>): CmdbRow;
  writeCmdb(rows: readonly CmdbRow[]): void;
  /** The configuration as the CLI reads it (also written to <dir>/kics-sync.yaml). */
  config(extra?: Record<string, unknown>): Config;
  writeConfig(extra?: Record<string, unknown>): string;
  close(): Promise<void>;
}

export const testRetry = { retries: 6, minTimeoutMs: 5, maxTimeoutMs: 50 };

export async function startPlant(dir: string, options: { devices?: number; seed?: string; engineDefaults?: boolean; strict?: boolean } = {}): Promise<Plant> {
  const sim = await startTestKicsSimulator({ devices: options.devices ?? 40, seed: options.seed ?? 'sync-engine', strict: options.strict ?? false });
  const devices = [...sim.sim.store.all()].filter((d) => {
    const nic = d.addressInformation[0];
    return d.status !== 'Archived' && nic?.macAddress && nic.ipAddresses[0]?.addressSpaceId === 1;
  });
  // The plant's tests are about how plans are made and applied: the user attributes and statuses the
  // defaults add to every device are pinned off here and tested on their own (test/e2e/baseline.e2e.test.ts).
  const pinned = options.engineDefaults ? {} : { managedAttributes: [], status: { recognizeConfirmed: false, restoreArchived: false } };
  const raw = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    kics: { url: sim.url, package: { dir: sim.packageDir, password: sim.packagePassword }, retry: testRetry },
    sources: [{ name: 'cmdb', type: 'csv', path: './cmdb.csv' }],
    ...extra,
    reconcile: { ...pinned, ...((extra.reconcile) ?? {}) },
  });
  return {
    sim,
    dir,
    devices,
    rowOf(device, patch = {}) {
      const nic = device.addressInformation[0]!;
      return { id: `C-${device.id}`, name: device.name, mac: nic.macAddress ?? undefined, ip: nic.ipAddresses[0]?.ip, description: device.description ?? '', owner: 'bob', labels: device.labels ?? [], ...patch };
    },
    newAsset(n, patch = {}) {
      const octet = n.toString(16).padStart(2, '0');
      return { id: `N-${n}`, name: `NEW-ASSET-${String(n).padStart(3, '0')}`, mac: `00:1b:1b:7e:00:${octet}`, ip: `10.250.0.${n}`, description: `new asset ${n}`, owner: 'bob', ...patch };
    },
    writeCmdb(rows) {
      const header = ['asset id', 'name', 'mac', 'ip', 'address space', 'description', 'owner', 'labels', 'status', 'industrial config'];
      const lines = rows.map((r) => [r.id, r.name, r.mac ?? '', r.ip ?? '', r.space ?? '', r.description ?? '', r.owner ?? '', (r.labels ?? []).join('|'), r.status ?? '', r.config ?? '']);
      writeFileSync(path.join(dir, 'cmdb.csv'), stringify([header, ...lines], { delimiter: ';' }));
    },
    config(extra = {}) {
      return parseConfig(raw(extra), { baseDir: dir, file: 'test configuration' });
    },
    writeConfig(extra = {}) {
      const file = path.join(dir, 'kics-sync.yaml');
      writeFileSync(file, JSON.stringify(raw(extra), null, 2));
      return file;
    },
    close: () => sim.close(),
  };
}

/** Log lines captured in memory, parsed. */
export function captureLog(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** A run context in this process: the plant's config, a KICS client per run (closed after it). */
export function runContextFor(plant: Plant, db: Database, options: { config?: Config; signal?: AbortSignal; actor?: string; trigger?: RunContext['trigger']; logger?: Logger; client?: () => Promise<KicsClient> } = {}): RunContext {
  const config = options.config ?? plant.config();
  return {
    db,
    config,
    dataDir: plant.dir,
    logger: options.logger ?? captureLog().logger,
    signal: options.signal ?? new AbortController().signal,
    trigger: options.trigger ?? 'cli',
    actor: options.actor ?? 'tester',
    ...(options.client ? { kicsClient: options.client } : {}),
  };
}

/** A KICS client for the plant (the caller closes it). */
export function clientOf(plant: Plant, config: Config = plant.config(), logger: Logger = captureLog().logger): Promise<KicsClient> {
  return createKicsClient(config.kics!, { logger });
}

export interface CliOnOptions {
  onSpawn?: CliOptions['onSpawn'];
  env?: Record<string, string>;
}

/** Runs the built CLI on the test database (PGlite is closed meanwhile: one process at a time). */
export async function cliOn(h: TestDatabase, args: string[], options: CliOnOptions = {}): Promise<CliResult> {
  if (h.engine === 'pglite') await h.close();
  try {
    return await cliRaw(h, args, options);
  } finally {
    if (h.engine === 'pglite') await reopen(h);
  }
}

/**
 * Opens the test's PGlite again. After a CLI process was killed, its lock on the data directory
 * stays until it goes stale (proper-lockfile's 15 s): wait for that, as a person would.
 */
export async function reopen(h: TestDatabase): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      await h.reopen();
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'ELOCKED' && !/in use by another kics-sync process/.test(String(error)) || Date.now() > end) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Runs the built CLI on the test database as it is (the caller closes PGlite first). */
export function cliRaw(h: Pick<TestDatabase, 'dataDir' | 'url'>, args: string[], options: CliOnOptions = {}): Promise<CliResult> {
  return runCli(['--config', path.join(h.dataDir, 'kics-sync.yaml'), '--data-dir', h.dataDir, ...args], {
    env: { ...(h.url ? { DATABASE_URL: h.url } : {}), ...options.env },
    cwd: h.dataDir,
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
  });
}
