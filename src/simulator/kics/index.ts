import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UsageError, errorMessage } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { AboutResponse, AddressSpace } from '../../model/kics.js';
import { AddressSpaceRegistry, defaultAddressSpaces, parseAddressSpaces } from './address-spaces.js';
import { createAdminServer } from './admin.js';
import type { ApiState } from './api.js';
import { TokenService } from './auth.js';
import {
  createClientCertificate,
  issuedBy,
  loadOrCreateServerIdentity,
  readPfx,
  writeConnectorPackage,
  type ClientCertificateKind,
  type ClientIdentity,
  type PackageMetadata,
  type ServerIdentity,
} from './certificates.js';
import { EventStore } from './events.js';
import { FaultInjector } from './faults.js';
import { generateDevices } from './generator.js';
import { documentsOf, loadDevices, openDeviceFile } from './loader.js';
import { RequestLog } from './request-log.js';
import type { SimulatorBehaviour } from './behaviour.js';
import { createApiServer } from './server.js';
import { DeviceStore, type DeviceLimits } from './store.js';
import { MonotonicClock } from './time.js';

export type { SimDevice, SimInterface } from './device.js';
export type { DeviceStore, DeviceLimits, IndustrialTag } from './store.js';
export type { EventStore, SimEvent } from './events.js';
export type { FaultInjector, FaultRule, FaultRuleInput, FaultSettings, FaultSettingsInput } from './faults.js';
export type { RequestLog, RequestLogEntry } from './request-log.js';
export type { TokenService } from './auth.js';
export type { ClientCertificateKind, ClientIdentity, PackageMetadata } from './certificates.js';
export { readConnectorPackage } from './certificates.js';
export { kicsRoutes, kicsRouteNames, type KicsRouteName } from './routes.js';

/** Options of `startKicsSimulator`, mirroring `kics-sync simulator` flags. */
export interface KicsSimulatorOptions {
  /** Address the API listens on (default 127.0.0.1). */
  host?: string;
  /** API port; 0 (default) picks a free one. */
  port?: number;
  /** Admin port on 127.0.0.1; 0 (default) picks a free one. */
  adminPort?: number;
  /** Generated devices (default 100), unless `fromFile` or `initialDevices` is given. */
  devices?: number;
  /** Seed of the generated data and of fault decisions (default 1). */
  seed?: number | string;
  /** Where the certificates and the communication data package live; a temporary folder (removed on close) when absent. */
  stateDir?: string;
  /** Password of certificates.pfx (default "kics-simulator"). */
  packagePassword?: string;
  /** A devices file (JSON array, `{"values": [...]}` or `{"addressSpaces": [...], "devices": [...]}`). */
  fromFile?: string;
  /** Devices to start with, shaped as in the reference. */
  initialDevices?: readonly unknown[];
  /** Address spaces (default: the simulated plant's five). */
  addressSpaces?: readonly AddressSpace[];
  /** Access token lifetime (default 36000 s = 10 h, as KICS). */
  tokenTtlSeconds?: number;
  /** Refresh token lifetime (default max(1 day, 2 x token lifetime)). */
  refreshTokenTtlSeconds?: number;
  /** Latency added to every API call (ms). */
  latencyMs?: number;
  /** Share (0..1) of API calls, token calls included, answered with a random fault. */
  faultRate?: number;
  /** Device caps (default: KICS's 100,000 active and 100,000 archived). Tests may lower them. */
  limits?: Partial<DeviceLimits>;
  /** Answer only what the connector API document defines (src/simulator/kics/behaviour.ts). */
  strict?: boolean;
  /** Generated events (default: a tenth of the devices, at most 200). */
  events?: number;
  /** The server version `about` reports. */
  serverVersion?: string;
  logger?: Logger;
}

/** A running simulator. */
export interface KicsSimulator {
  /** `https://host:port` of the API. */
  url: string;
  /** `http://127.0.0.1:port` of the admin endpoint. */
  adminUrl: string;
  /** The folder with certificates.pfx and metadata.json. */
  packageDir: string;
  packagePassword: string;
  metadata: PackageMetadata;
  store: DeviceStore;
  events: EventStore;
  addressSpaces: AddressSpaceRegistry;
  tokens: TokenService;
  faults: FaultInjector;
  requests: RequestLog;
  /** What it does where the connector API document is silent; tests change it (src/simulator/kics/behaviour.ts). */
  behaviour: SimulatorBehaviour;
  /** The connector identity written to the package (PEM). */
  identity: ClientIdentity;
  /** The simulator's CA and server certificate. */
  server: { caCert: string; cert: string };
  setLatency(ms: number): void;
  /** Another client identity: `valid`, `expired` (refused at TLS) or `foreign` (another CA, refused at TLS). */
  issueClientIdentity(kind?: ClientCertificateKind): ClientIdentity;
  /** Writes a communication data package for such an identity into `dir`. */
  writeClientPackage(dir: string, options?: { kind?: ClientCertificateKind; password?: string }): Promise<PackageMetadata>;
  close(): Promise<void>;
}

export const defaultPackagePassword = 'kics-simulator';

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function clientIdentity(server: ServerIdentity, kind: ClientCertificateKind): ClientIdentity {
  return { ...createClientCertificate(server.ca, kind), ca: server.ca.cert, serverCert: server.server.cert };
}

/** The package's connector identity when it can still be used with this CA, else a new one. */
async function reuseOrIssue(stateDir: string, password: string, server: ServerIdentity, logger: Logger): Promise<ClientIdentity> {
  const pfxFile = path.join(stateDir, 'certificates.pfx');
  if (existsSync(pfxFile)) {
    try {
      const { key, cert } = readPfx(await readFile(pfxFile), password);
      if (issuedBy(cert, server.ca.cert)) return { key, cert, ca: server.ca.cert, serverCert: server.server.cert };
      logger.info({ stateDir }, 'connector certificate in the package is expired or from another CA; issuing a new one');
    } catch {
      logger.info({ stateDir }, 'existing package cannot be opened with this password; writing a new one');
    }
  }
  return clientIdentity(server, 'valid');
}

/** Starts the simulator: HTTPS API with mutual TLS, admin endpoint on loopback, package written to the state directory. */
export async function startKicsSimulator(options: KicsSimulatorOptions = {}): Promise<KicsSimulator> {
  const logger = options.logger ?? silentLogger();
  const host = options.host ?? '127.0.0.1';
  const seed = options.seed ?? 1;
  const password = options.packagePassword ?? defaultPackagePassword;
  if (options.faultRate !== undefined && !(options.faultRate >= 0 && options.faultRate <= 1)) throw new UsageError(`fault rate must be from 0 to 1; found ${options.faultRate}`);
  const clock = new MonotonicClock();
  let spaces: readonly AddressSpace[] = defaultAddressSpaces;
  const file = options.fromFile ? await openDeviceFile(options.fromFile) : null;
  if (options.addressSpaces) spaces = parseAddressSpaces(options.addressSpaces, 'addressSpaces');
  else if (file?.addressSpaces !== undefined) spaces = parseAddressSpaces(file.addressSpaces, `${options.fromFile} addressSpaces`);
  const addressSpaces = new AddressSpaceRegistry(spaces);
  const store = new DeviceStore(addressSpaces, clock, options.limits);

  if (file) await loadDevices(file.devices, store, options.fromFile!);
  else if (options.initialDevices) await loadDevices(documentsOf(options.initialDevices), store, 'initialDevices');
  else {
    const count = options.devices ?? 100;
    if (!Number.isInteger(count) || count < 0) throw new UsageError(`devices must be a non-negative integer; found ${count}`);
    for (const { device, tags } of generateDevices(count, seed, addressSpaces)) {
      try {
        store.load(device);
      } catch (error) {
        // The caps: more devices than a KICS server holds.
        throw new UsageError(`cannot generate ${count} devices: device ${device.name} is refused: ${errorMessage(error)}`, { cause: error });
      }
      if (tags) store.loadTags(device.id, tags);
    }
  }
  const events = new EventStore();
  const sample = [];
  for (const device of store.all()) {
    sample.push(device);
    if (sample.length >= 1000) break;
  }
  events.generate(options.events ?? Math.min(200, Math.ceil(store.size / 10)), seed, sample);

  const tokens = new TokenService({ ttlSeconds: options.tokenTtlSeconds, refreshTtlSeconds: options.refreshTokenTtlSeconds });
  const faults = FaultInjector.withRate(options.faultRate ?? 0, options.latencyMs ?? 0, seed);
  const requests = new RequestLog();
  const about: AboutResponse = {
    version: options.serverVersion ?? '4.2.0.3250',
    updateableComponents: [
      { type: 'Icr', releaseTime: '2025-05-21T23:00:07' },
      { type: 'Idsir', releaseTime: '2025-05-21T23:00:07' },
    ],
  };
  const state: ApiState = {
    behaviour: { undocumentedDeviceFilters: 'honour', failedTest: 'results', strict: options.strict ?? false },
    store,
    events,
    addressSpaces,
    tokens,
    about,
    connectorConfiguration: {
      config: '- type: string\n  name: address\n  default: yes\n  max_len: 1024\n- type: uint\n  name: portNumber\n  range: {from: 0, to: 65535}\n  default: yes\n  default_value: 0\n- type: string\n  name: transportProtocol\n  loc: yes\n  values: [TCP, UDP]\n  default: yes',
      eventTypesToSend: [3],
      forwardAppMessages: true,
      forwardAuditMessages: false,
    },
  };

  const ownStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ? path.resolve(options.stateDir) : await mkdtemp(path.join(os.tmpdir(), 'kics-simulator-'));
  const servers: Server[] = [];
  const cleanUp = async (): Promise<void> => {
    await Promise.all(servers.map(closeServer));
    if (ownStateDir) await rm(stateDir, { recursive: true, force: true });
  };
  try {
    await mkdir(stateDir, { recursive: true });
    const serverIdentity = await loadOrCreateServerIdentity(stateDir, host);
    const api = createApiServer({ tls: { server: serverIdentity.server, ca: serverIdentity.ca.cert }, state, faults, requests, logger });
    servers.push(api);
    const apiAddress = await listen(api, options.port ?? 0, host);
    // The URL names the host as given (the server certificate is issued for it); a wildcard address is reached on loopback.
    const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const url = `https://${isIP(urlHost) === 6 ? `[${urlHost}]` : urlHost}:${apiAddress.port}`;
    const identity = await reuseOrIssue(stateDir, password, serverIdentity, logger);
    const metadata = await writeConnectorPackage({ dir: stateDir, password, identity, url });

    const sim: KicsSimulator = {
      url,
      adminUrl: '',
      packageDir: stateDir,
      packagePassword: password,
      metadata,
      store,
      events,
      addressSpaces,
      tokens,
      faults,
      requests,
      behaviour: state.behaviour,
      identity,
      server: { caCert: serverIdentity.ca.cert, cert: serverIdentity.server.cert },
      setLatency: (ms) => faults.setLatency(ms),
      issueClientIdentity: (kind = 'valid') => clientIdentity(serverIdentity, kind),
      async writeClientPackage(dir, { kind = 'valid', password: pw = password } = {}) {
        return writeConnectorPackage({ dir, password: pw, identity: clientIdentity(serverIdentity, kind), url });
      },
      close: cleanUp,
    };
    const admin = createAdminServer(sim, logger);
    servers.push(admin);
    const adminAddress = await listen(admin, options.adminPort ?? 0, '127.0.0.1');
    sim.adminUrl = `http://127.0.0.1:${adminAddress.port}`;
    logger.info({ url, adminUrl: sim.adminUrl, packageDir: stateDir, devices: store.size }, 'KICS simulator ready');
    return sim;
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
