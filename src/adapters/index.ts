import type { Config } from '../config/index.js';
import type { ReconcileConfig } from '../config/reconcile.js';
import type { SourceConfig } from '../config/sources.js';
import { ConfigError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AssetSource } from '../model/asset.js';
import { MappingTableError, createNormalizer, type Normalizer } from '../model/normalize.js';
import { CsvSource } from './csv/source.js';
import { createKscSource } from './ksc/source.js';
import { NetboxSource } from './netbox/source.js';
import { ServicenowSource } from './servicenow/source.js';
import { requireSettings } from '../config/load.js';

/** What a source needs besides its own config section. */
export interface SourceDeps {
  logger: Logger;
  /** Category / influence / vendor mapping of the run (normalizerFor(config.reconcile)). */
  normalizer: Normalizer;
  /** The whole configuration, for sources that need more than their own section (KSC uses `ksc`). */
  config?: Config;
  /** Retry pacing of the REST sources (tests shorten it). */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/** The normaliser from `reconcile.categoryMap` / `influenceMap` / `vendorMap`; a bad table is a configuration error. */
export function normalizerFor(reconcile: Pick<ReconcileConfig, 'categoryMap' | 'influenceMap' | 'vendorMap'>): Normalizer {
  try {
    return createNormalizer(reconcile);
  } catch (error) {
    if (error instanceof MappingTableError) throw new ConfigError(error.message, { cause: error });
    throw error;
  }
}

/** One asset source from its config section. */
export function createSource(config: SourceConfig, deps: SourceDeps): AssetSource {
  requireSettings(config);
  const retry = {
    ...(deps.minRetryDelayMs === undefined ? {} : { minRetryDelayMs: deps.minRetryDelayMs }),
    ...(deps.maxRetryDelayMs === undefined ? {} : { maxRetryDelayMs: deps.maxRetryDelayMs }),
  };
  switch (config.type) {
    case 'csv':
      return new CsvSource(config, { normalizer: deps.normalizer, logger: deps.logger });
    case 'netbox':
      return new NetboxSource(config, { normalizer: deps.normalizer, logger: deps.logger, ...retry });
    case 'servicenow':
      return new ServicenowSource(config, { normalizer: deps.normalizer, logger: deps.logger, ...retry });
    case 'ksc':
      // The connection (URL, login, CA) is the top-level ksc section, shared with backend commands.
      return createKscSource(config, deps.config?.ksc, deps.logger);
  }
}

/**
 * The configured sources to read: all enabled ones, or exactly those named (an unknown or disabled
 * name is a usage error that lists the configured ones).
 */
export function selectSources(config: Config, names: readonly string[] = []): SourceConfig[] {
  if (names.length === 0) return config.sources.filter((s) => s.enabled);
  const known = config.sources.map((s) => s.name);
  return names.map((name) => {
    const found = config.sources.find((s) => s.name === name);
    if (!found) throw new UsageError(`no source named ${JSON.stringify(name)} in the configuration; configured: ${known.length > 0 ? known.join(', ') : 'none'}`);
    if (!found.enabled) throw new UsageError(`source ${name} is disabled in the configuration (enabled: false)`);
    return found;
  });
}
