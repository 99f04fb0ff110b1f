import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { Database } from '../db/database.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { buildConsole } from './server.js';
import { defaultSiteName } from '../config/sites.js';
import { cachedFleetStatus } from '../fleet/status.js';

/** The console as `serve` and `schedule` (console.withSchedule) start it, from the configuration. */
export async function serveConsole(options: { db: Database; config: Config; dataDir: string; logger: Logger; host?: string | undefined; port?: number | undefined; }): Promise<{ address: string; close: () => Promise<void> }> {
  const { config } = options;
  const tls = config.console.tls;
  const readPem = async (file: string, what: string): Promise<Buffer> => {
    const full = path.resolve(file);
    try {
      return await readFile(full);
    } catch (error) {
      throw new ConfigError(`console.tls.${what}: cannot read ${full} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const https = tls ? { cert: await readPem(tls.certFile, 'certFile'), key: await readPem(tls.keyFile, 'keyFile') } : undefined;
  const app = await buildConsole({
    db: options.db,
    logger: options.logger,
    holdDays: config.console.holdDays,
    runs: { config, dataDir: options.dataDir },
    ...(config.console.oidc ? { oidc: config.console.oidc } : {}),
    fleet: cachedFleetStatus({
      config,
      databaseUrl: options.db.engine === 'postgres' ? options.db.connectionUrl : undefined,
      held: { name: config.site?.name ?? defaultSiteName, db: options.db },
    }),
    ...(https ? { https } : {}),
  });
  const address = await app.listen({ host: options.host ?? config.console.host, port: options.port ?? config.console.port });
  options.logger.info({ address }, 'review console listening');
  return { address, close: () => app.close() };
}
