import path from 'node:path';
import { createSource, normalizerFor, selectSources } from '../../adapters/index.js';
import type { Config, SourceConfig } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../log.js';
import { stageSources, type StageMode, type StageOutcome, type StageProgress } from './source/stage.js';
import { stageSourcesInWorker } from './threads/source-thread.js';

export interface StageConfiguredOptions {
  /** The sources to stage (all enabled ones when empty). */
  sourceNames?: readonly string[];
  mode: StageMode;
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** The data directory: rejects files go to `<dataDir>/rejects/<source>.csv` unless a CSV source names its own. */
  dataDir: string;
  onProgress?: ((progress: StageProgress) => void) | undefined;
}

/**
 * The configured sources staged where they run fastest (`sources pull`, and a plan's refresh beside
 * KICS). On PostgreSQL, in a worker thread with connections of its own (worker.ts): the staging leaves
 * the main thread free, and a thread gets a young generation sized for it (thread.ts). On PGlite, whose
 * writes run in this thread, the sources are read, prepared and staged here (a thread of its own for a
 * large CSV file saved nothing measurable: README, Performance). A broken mapping table stops the call
 * before any read starts.
 */
/** Where a source's rejected records are listed: its `rejectsFile` (CSV), else <dataDir>/rejects/<name>.csv. */
export function rejectsFileOf(source: SourceConfig, dataDir: string): string {
  return (source.type === 'csv' ? source.rejectsFile : undefined) ?? path.join(dataDir, 'rejects', `${source.name}.csv`);
}

export function stageConfiguredSources(db: Database, config: Config, options: StageConfiguredOptions): Promise<StageOutcome[]> {
  const { logger, signal, mode } = options;
  const selected = selectSources(config, options.sourceNames ?? []);
  const normalizer = normalizerFor(config.reconcile);
  const rejectsDir = path.join(options.dataDir, 'rejects');
  const rejectsFiles = Object.fromEntries(selected.map((s) => [s.name, s.type === 'csv' ? s.rejectsFile : undefined]));
  if (selected.length === 0) return Promise.resolve([]);
  if (db.connectionUrl !== undefined) {
    return stageSourcesInWorker(
      { url: db.connectionUrl, config, sourceNames: selected.map((s) => s.name), mode, rejectsDir, rejectsFiles, logLevel: logger.level },
      { logger, signal, onProgress: options.onProgress },
    );
  }
  return stageSources(
    db,
    selected.map((s) => createSource(s, { logger, normalizer, config })),
    {
      mode,
      logger,
      ...(signal ? { signal } : {}),
      rejectsDir,
      rejectsFiles,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    },
  );
}
