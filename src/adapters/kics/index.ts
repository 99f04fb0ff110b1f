import type { KicsConfig } from '../../config/index.js';
import type { Logger } from '../../log.js';
import { KicsClient } from './client.js';
import { loadConnectorTls } from './package.js';
import { resolveRoutes } from './routes.js';
import { createKicsAgent } from './tls.js';
import { requireSettings } from '../../config/load.js';

export { KicsClient, type DeleteOutcome, type DeviceCreateOutcome, type IterateDevicesOptions, type PatchOptions, type PatchOutcome } from './client.js';
export { KicsApiError, KicsPackageError, kicsErrorCodes, type KicsEndpoint, type KicsErrorCode, type KicsErrorItem, type KicsPackageErrorCode } from './errors.js';
export { addressSpaceFilter, deviceFilter, eventFilter, filterBuilder, type FilterBuilder } from './filter.js';
export { loadConnectorTls, type CertificateInfo, type ConnectorTls } from './package.js';
export type { Page } from './paging.js';
export { kicsRouteNames, kicsRouteTable, resolveRoutes, type KicsRouteName } from './routes.js';
export type { ConnectorConfiguration, IndustrialConfigResult, KicsEvent } from './schemas.js';
export { parseKicsTimestamp } from './time.js';
export type { TokenInfo } from './token.js';

export interface CreateKicsClientOptions {
  logger: Logger;
  /** The clock (tests pin it). */
  now?: () => number;
}

/**
 * The KICS client for a `kics` config section: loads the communication data package (or PEM files),
 * checks the certificates, resolves the route table and opens the keep-alive agent. Nothing is sent
 * until the first call. `kics.insecure` is announced here, so every run that uses KICS warns.
 */
export async function createKicsClient(config: KicsConfig, options: CreateKicsClientOptions): Promise<KicsClient> {
  const { logger } = options;
  requireSettings(config);
  const routes = resolveRoutes(config.apiVersion, config.routes);
  const tls = await loadConnectorTls(config, options.now ? new Date(options.now()) : new Date());
  if (config.insecure) {
    logger.warn(
      { kics: new URL(config.url).host },
      'kics.insecure is set: the KICS server certificate is NOT verified; anyone on the network path can pose as KICS and read the device inventory. Remove kics.insecure once the package is in place',
    );
  } else if (!tls.pinned) {
    logger.warn({ kics: new URL(config.url).host, origin: tls.origin }, 'the package names no KICS server certificate to pin; KICS is verified against its CA certificates and host name instead');
  }
  const agent = createKicsAgent({ tls, insecure: config.insecure, connections: config.maxInFlight, timeoutMs: config.timeoutMs });
  return new KicsClient({ config, routes, agent, tls, logger, ...(options.now ? { now: options.now } : {}) });
}
