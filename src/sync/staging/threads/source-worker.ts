/**
 * The source staging thread (started by `stageSourcesInWorker()` in worker.ts): builds the sources
 * of the job from the configuration, stages them on connections of its own, and reports back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { createSource, normalizerFor, selectSources } from '../../../adapters/index.js';
import { ExitCode, KicsSyncError } from '../../../errors.js';
import { pgPoolSql, pgTypes } from '../../../db/sql.js';
import { stageSources } from '../source/stage.js';
import { threadFailure, threadLogger } from './thread.js';
import type { SourceWorkerJob, WorkerMessage } from './source-thread.js';

const port = parentPort!;
const job = workerData as SourceWorkerJob;
const post = (message: WorkerMessage): void => port.postMessage(message);

const logger = threadLogger(job.logLevel, (line) => post({ type: 'log', line }));
const abort = new AbortController();
port.on('message', (message: { type: string }) => {
  if (message.type === 'abort') abort.abort(new KicsSyncError('interrupted', { code: 'INTERRUPTED', exitCode: ExitCode.interrupted }));
});
// Listening for an abort does not keep the thread alive: it ends when the staging has.
port.unref();

// Two connections: a source's transaction, and the read of the next one's state.
const pool = new pg.Pool({ connectionString: job.url, max: 2, types: pgTypes(pg.types), application_name: 'kics-sync sources', connectionTimeoutMillis: 10_000 });
pool.on('error', () => {});
const db = pgPoolSql(pool);

try {
  const deps = { logger, normalizer: normalizerFor(job.config.reconcile), config: job.config };
  const sources = selectSources(job.config, job.sourceNames).map((s) => createSource(s, deps));
  const outcomes = await stageSources(db, sources, {
    mode: job.mode,
    logger,
    signal: abort.signal,
    rejectsDir: job.rejectsDir,
    rejectsFiles: job.rejectsFiles,
    onProgress: (progress) => post({ type: 'progress', progress }),
  });
  post({ type: 'done', outcomes });
} catch (error) {
  post({ type: 'failed', error: threadFailure(error, abort.signal.aborted) });
} finally {
  await pool.end().catch(() => {});
}
