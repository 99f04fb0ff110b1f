import type { Config } from '../../../config/index.js';
import { KicsSyncError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { StageMode, StageOutcome, StageProgress } from '../source/stage.js';
import { errorFromThread, relog, startThread, type ThreadFailure } from './thread.js';

/**
 * Sources staged in a worker thread, on PostgreSQL, while the main thread stages KICS.
 *
 * A plan's first read parses a CMDB export and pages every KICS device at the same time; in one thread
 * the two take turns on one core and share one heap (at 100,000 devices the refresh took 12-13 s, against
 * 8-9 s for KICS alone). The worker builds the sources from the configuration, opens two connections of
 * its own (staging commits per source, so it needs no transaction of the main thread's) and runs
 * `stageSources()`. Its log lines come back to the main thread's logger, its progress to the caller, and
 * an abort of the main thread's signal stops it as it would stop an inline read. PGlite lives in the
 * main thread's memory, so there sources are staged inline.
 */

export interface SourceWorkerJob {
  /** PostgreSQL URL (password included; stays in memory). */
  url: string;
  config: Config;
  sourceNames: string[];
  mode: StageMode;
  rejectsDir: string;
  rejectsFiles: Record<string, string | undefined>;
  logLevel: string;
}

export type WorkerMessage =
  | { type: 'log'; line: string }
  | { type: 'progress'; progress: StageProgress }
  | { type: 'done'; outcomes: StageOutcome[] }
  | { type: 'failed'; error: ThreadFailure };

export interface SourceWorkerOptions {
  logger: Logger;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: StageProgress) => void) | undefined;
}

export function stageSourcesInWorker(job: SourceWorkerJob, options: SourceWorkerOptions): Promise<StageOutcome[]> {
  const { logger, signal } = options;
  signal?.throwIfAborted();
  const worker = startThread('source-worker', job);
  const onAbort = (): void => worker.postMessage({ type: 'abort' });
  signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise<StageOutcome[]>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'log':
          relog(logger, message.line);
          break;
        case 'progress':
          options.onProgress?.(message.progress);
          break;
        case 'done':
          settle(() => resolve(message.outcomes));
          break;
        case 'failed': {
          const error = errorFromThread(message.error, signal);
          settle(() => reject(error));
          break;
        }
      }
    });
    worker.on('error', (error) => settle(() => reject(new KicsSyncError(`the source staging thread failed: ${error.message}`, { code: 'INTERNAL', cause: error }))));
    worker.on('exit', (code) => settle(() => reject(new KicsSyncError(`the source staging thread stopped (exit ${code}) before it finished`, { code: 'INTERNAL' }))));
  });
}
