import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { KscClient, type KscClientOptions } from '../../../src/adapters/ksc/client.js';
import type { Logger } from '../../../src/log.js';
import { defaultKscUser, startKscSimulator, type KscSimulator, type KscSimulatorOptions } from '../../../src/simulator/ksc/index.js';

export interface SimulatorHandle {
  sim: KscSimulator;
  dir: string;
  /** A client that trusts the simulator's CA, logged in as the default user. */
  client(options?: Partial<KscClientOptions>): KscClient;
  admin<T = Record<string, unknown>>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export async function startSimulator(options: Partial<KscSimulatorOptions> = {}): Promise<SimulatorHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-ksc-'));
  const sim = await startKscSimulator({ stateDir: dir, ...options });
  const clients: KscClient[] = [];
  return {
    sim,
    dir,
    client(overrides = {}) {
      const client = new KscClient({
        url: sim.url,
        ca: sim.caPem,
        credentials: { kind: 'basic', user: defaultKscUser.user, password: defaultKscUser.password, internal: true },
        retry: { retries: 3, minTimeoutMs: 10, maxTimeoutMs: 50 },
        timeoutMs: 5_000,
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    async admin<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
      const response = await request(`${sim.adminUrl}${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
      const text = await response.body.text();
      if (response.statusCode >= 400) throw new Error(`admin ${method} ${route}: HTTP ${response.statusCode} ${text}`);
      return JSON.parse(text) as T;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A logger whose lines a test can read. */
export function captureLogger(): { logger: Logger; lines: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines: () => lines };
}

/** Waits until `check` returns a truthy value (or fails after `timeoutMs`). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
