import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createKicsClient, type KicsClient } from '../../../src/adapters/kics/index.js';
import { kicsConfigSchema, type KicsConfig } from '../../../src/config/kics.js';
import type { Logger } from '../../../src/log.js';
import type { TestKicsSimulator } from '../../support/kics-simulator.js';

/** Log lines captured in memory, parsed. */
export interface CapturedLog {
  logger: Logger;
  lines: Record<string, unknown>[];
  text(): string;
}

export function captureLog(level: 'debug' | 'info' | 'warn' = 'debug'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines, text: () => raw.join('\n') };
}

/** The `kics` config section for a simulator's package, with quick retries for tests. */
export function kicsConfigFor(t: Pick<TestKicsSimulator, 'url' | 'packageDir' | 'packagePassword'>, overrides: Partial<Record<keyof KicsConfig, unknown>> = {}): KicsConfig {
  return kicsConfigSchema.parse({
    url: t.url,
    package: { dir: t.packageDir, password: t.packagePassword },
    retry: { retries: 6, minTimeoutMs: 5, maxTimeoutMs: 40 },
    ...overrides,
  });
}

export async function clientFor(t: Pick<TestKicsSimulator, 'url' | 'packageDir' | 'packagePassword'>, overrides: Partial<Record<keyof KicsConfig, unknown>> = {}, logger: Logger = captureLog().logger): Promise<KicsClient> {
  return createKicsClient(kicsConfigFor(t, overrides), { logger });
}

export interface LoopbackServer {
  url: string;
  /** Requests seen: method and path (with query). */
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

export type LoopbackHandler = (req: { method: string; path: string; body: string }) => { status: number; headers?: Record<string, string>; body: string };

/**
 * A small HTTPS server on loopback that answers the way a broken KICS or a proxy in front of it would
 * (HTML, cut-off or wrongly shaped JSON), with the TLS identity given: by default the simulator's own
 * server certificate, so the connector package pins it.
 */
export async function startLoopbackKics(identity: { key: string; cert: string }, handler: LoopbackHandler): Promise<LoopbackServer> {
  const requests: { method: string; path: string }[] = [];
  const server = https.createServer({ key: identity.key, cert: identity.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      requests.push({ method, path: url });
      const answer = handler({ method, path: url, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The simulator's server certificate and key (its state directory keeps them next to the package). */
export function simulatorServerIdentity(t: Pick<TestKicsSimulator, 'packageDir'>): { key: string; cert: string } {
  const dir = path.join(t.packageDir, 'server');
  return { key: readFileSync(path.join(dir, 'server.key'), 'utf8'), cert: readFileSync(path.join(dir, 'server.crt'), 'utf8') };
}

/** The simulator's CA (certificate and key), to issue other certificates in tests. */
export function simulatorCa(t: Pick<TestKicsSimulator, 'packageDir'>): { key: string; cert: string } {
  const dir = path.join(t.packageDir, 'server');
  return { key: readFileSync(path.join(dir, 'ca.key'), 'utf8'), cert: readFileSync(path.join(dir, 'ca.crt'), 'utf8') };
}

/** A token answer a loopback server can give. */
export function tokenAnswer(ttl = 3600): string {
  return JSON.stringify({ access_token: `t-${createHash('sha1').update(String(Math.random())).digest('hex')}`, token_type: 'bearer', expires_in: ttl, refresh_token: 'r' });
}
