import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../src/paths.js';
import type { SimDevice } from '../src/simulator/kics/index.js';
import { cmdbWriter, type CmdbShape } from './cmdb.js';

/** What the benchmark steps share: the KICS simulator as a process of its own, its admin endpoint, the CMDB export written from it. */

export const cliPath = path.join(packageRoot, 'bin', 'kics-sync.js');
/** The communication data package's password of every simulator the benchmark starts. */
export const packagePassword = 'bench';

/** The middle value (the lower middle of an even count). */
export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;

export interface Simulator {
  url: string;
  adminUrl: string;
  packageDir: string;
  child: ChildProcess;
}

/** `kics-sync simulator` with N devices of a seed, ready once it prints its ready line. */
export async function startSimulator(options: { devices: number; seed: string; stateDir: string; logLevel: 'warn' | 'error' }): Promise<Simulator> {
  const child = spawn(process.execPath, [cliPath, '--log-level', options.logLevel, 'simulator', '--devices', String(options.devices), '--seed', options.seed, '--state-dir', options.stateDir], {
    env: { ...process.env, KICS_SIMULATOR_PACKAGE_PASSWORD: packagePassword },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const line of createInterface({ input: child.stdout })) {
    const ready = JSON.parse(line) as { event: string; url: string; adminUrl: string; packageDir: string };
    if (ready.event === 'ready') return { ...ready, child };
  }
  throw new Error('the simulator exited before it was ready');
}

export async function admin<T>(sim: Simulator, method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${sim.adminUrl}${route}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  if (!response.ok) throw new Error(`simulator admin ${method} ${route}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** The CMDB export written from the simulator's devices (bench/cmdb.ts), read through its admin endpoint page by page. */
export async function writeCmdb(sim: Simulator, file: string, seed: string): Promise<CmdbShape> {
  const writer = cmdbWriter(file, seed);
  const page = 5_000;
  for (let offset = 0; ; offset += page) {
    const { values } = await admin<{ values: SimDevice[] }>(sim, 'GET', `/admin/devices?offset=${offset}&limit=${page}`);
    await writer.add(values);
    if (values.length < page) break;
  }
  return writer.close();
}
