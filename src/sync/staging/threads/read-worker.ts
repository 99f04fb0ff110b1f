/**
 * The source read thread (started by `readInThread()` in read-thread.ts): builds the source of the job
 * from the configuration, reads and prepares its records, and sends the batches back a few at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSource, normalizerFor, selectSources } from '../../../adapters/index.js';
import { ExitCode, KicsSyncError } from '../../../errors.js';
import { prepareBatches } from '../source/prepare.js';
import { packBatch, readAheadBatches, type ReadThreadJob, type ReadThreadMessage } from './read-thread.js';
import { threadFailure, threadLogger } from './thread.js';

const port = parentPort!;
const job = workerData as ReadThreadJob;
const post = (message: ReadThreadMessage): void => port.postMessage(message);
const logger = threadLogger(job.logLevel, (line) => post({ type: 'log', line }));

const abort = new AbortController();
let credit = readAheadBatches;
let resume: (() => void) | null = null;
port.on('message', (message: { type: string }) => {
  if (message.type === 'next') {
    credit += 1;
    resume?.();
  } else if (message.type === 'abort') {
    abort.abort(new KicsSyncError('interrupted', { code: 'INTERRUPTED', exitCode: ExitCode.interrupted }));
    resume?.();
  }
});

try {
  const [config] = selectSources(job.config, [job.source]);
  const source = createSource(config!, { logger, normalizer: normalizerFor(job.config.reconcile), config: job.config });
  const read = source.read({ mode: job.read.mode, since: job.read.since, signal: abort.signal });
  for await (const batch of prepareBatches(source, read)) {
    while (credit === 0 && !abort.signal.aborted) await new Promise<void>((resolve) => (resume = resolve));
    abort.signal.throwIfAborted();
    credit -= 1;
    post({ type: 'batch', batch: packBatch(batch) });
  }
  post({ type: 'done' });
} catch (error) {
  post({ type: 'failed', error: threadFailure(error, abort.signal.aborted) });
} finally {
  port.close();
}
