import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { adminHandler } from './admin.js';
import { generateCertificates } from './certs.js';
import { KscSimulatorCore, type KscSimulatorSettings, type KscUser } from './server.js';
import type { SimHostInput } from './state.js';

export { KscSimulatorCore, defaultSettings, type FailureInjection, type KscSimulatorSettings, type KscUser } from './server.js';
export { generateHosts, type SimCall, type SimCommand, type SimHost, type SimHostInput } from './state.js';

export interface KscSimulatorOptions {
  /** Where the CA certificate (`ksc-ca.pem`) and `ksc-simulator.json` (URLs) are written. */
  stateDir: string;
  /** Interface of the Open API; loopback by default. */
  host?: string;
  /** Open API port; 0 picks a free one. */
  port?: number;
  /** Admin endpoint port (always on 127.0.0.1); 0 picks a free one. */
  adminPort?: number;
  users?: KscUser[];
  /** Tokens accepted with `KSCT`. */
  tokens?: string[];
  hosts?: SimHostInput[];
  settings?: Partial<KscSimulatorSettings>;
  /** The product name / version the admin endpoint uses when a command names none. */
  productName?: string;
  productVersion?: string;
}

export interface KscSimulator {
  /** `https://127.0.0.1:<port>`: the value for `ksc.url`. */
  url: string;
  /** `http://127.0.0.1:<port>`: the admin endpoint. */
  adminUrl: string;
  /** The CA certificate file: the value for `ksc.ca`. */
  caFile: string;
  caPem: string;
  /** The simulated server, for tests in the same process. */
  core: KscSimulatorCore;
  close(): Promise<void>;
}

export const defaultKscUser: KscUser = { user: 'kics-sync', password: 'kics-sync-simulator', internal: true };

/**
 * A Kaspersky Security Center Open API simulator over HTTPS, with a certificate from a CA of its
 * own (written to `<stateDir>/ksc-ca.pem` so a client verifies it like a real deployment would).
 * Faithful to the vendor documents and strict where KSC is: see src/simulator/ksc/server.ts.
 */
export async function startKscSimulator(options: KscSimulatorOptions): Promise<KscSimulator> {
  await mkdir(options.stateDir, { recursive: true });
  const certs = generateCertificates();
  const caFile = path.join(options.stateDir, 'ksc-ca.pem');
  await writeFile(caFile, certs.caPem, { mode: 0o644 });

  const core = new KscSimulatorCore(options.users ?? [defaultKscUser], options.tokens ?? [], options.settings ?? {});
  if (options.hosts) core.addHosts(options.hosts);

  const api = https.createServer({ key: certs.keyPem, cert: certs.certPem, keepAliveTimeout: 60_000 }, (req, res) => void core.handle(req, res));
  const admin = http.createServer((req, res) => void adminHandler(core, { productName: options.productName ?? 'kics-sync', productVersion: options.productVersion ?? '1.0' })(req, res));
  const host = options.host ?? '127.0.0.1';
  await listen(api, options.port ?? 0, host);
  await listen(admin, options.adminPort ?? 0, '127.0.0.1');
  const apiPort = (api.address() as AddressInfo).port;
  const adminPort = (admin.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `https://${urlHost}:${apiPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await writeFile(path.join(options.stateDir, 'ksc-simulator.json'), `${JSON.stringify({ url, adminUrl, caFile }, null, 2)}\n`);

  return {
    url,
    adminUrl,
    caFile,
    caPem: certs.caPem,
    core,
    async close() {
      api.closeAllConnections();
      admin.closeAllConnections();
      await Promise.all([new Promise<void>((resolve) => api.close(() => resolve())), new Promise<void>((resolve) => admin.close(() => resolve()))]);
    },
  };
}

function listen(server: http.Server | https.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
