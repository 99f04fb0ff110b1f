import { statSync } from 'node:fs';
import type { Config } from '../../../config/index.js';
import type { Logger } from '../../../log.js';
import type { AssetSource, ReadOptions } from '../../../model/asset.js';
import type { PreparedBatch, PreparedRecord } from '../source/prepare.js';
import { errorFromThread, relog, startThread, type ThreadFailure } from './thread.js';

/**
 * A source read and prepared in a worker thread, while the thread that stages it compares and writes.
 *
 * Parsing a large CSV export and preparing its records (canonical JSON, hashes) is the CPU-bound half of
 * a staging; comparing with what is staged and writing with COPY is the other half, and the database's
 * own work is a third. In one thread the first two take turns; here they run side by side on two cores
 * (on PGlite, whose writes run in the main thread, the parse leaves that thread to them). The worker
 * builds the source from the configuration, sends prepared batches a few at a time (it waits while the
 * stager has `readAheadBatches` it has not taken), forwards its log lines, and stops when the stager stops
 * early or the caller's signal aborts.
 */

export interface ReadThreadJob {
  config: Config;
  source: string;
  read: { mode: ReadOptions['mode']; since: string | null };
  logLevel: string;
}

/**
 * A prepared batch as it crosses threads: each record field as one array (a structured clone copies
 * strings at memcpy speed, but writes every property name of every object again).
 */
export interface PackedBatch extends Omit<PreparedBatch, 'records'> {
  keys: string[];
  locations: string[];
  names: (string | null)[];
  owners: (string | null)[];
  raws: string[];
  jsons: string[];
  hashes: string[];
  /** The notes of the records that have some: [record index, notes]. */
  notes: [number, string[]][];
}

export function packBatch(batch: PreparedBatch): PackedBatch {
  const { records, ...rest } = batch;
  const n = records.length;
  const packed: PackedBatch = { ...rest, keys: new Array<string>(n), locations: new Array<string>(n), names: new Array<string | null>(n), owners: new Array<string | null>(n), raws: new Array<string>(n), jsons: new Array<string>(n), hashes: new Array<string>(n), notes: [] };
  for (let i = 0; i < n; i += 1) {
    const r = records[i]!;
    packed.keys[i] = r.key;
    packed.locations[i] = r.location;
    packed.names[i] = r.name;
    packed.owners[i] = r.owner;
    packed.raws[i] = r.raw;
    packed.jsons[i] = r.json;
    packed.hashes[i] = r.hash;
    if (r.notes.length > 0) packed.notes.push([i, r.notes]);
  }
  return packed;
}

export function unpackBatch(packed: PackedBatch): PreparedBatch {
  const { keys, locations, names, owners, raws, jsons, hashes, notes, ...rest } = packed;
  const records = new Array<PreparedRecord>(keys.length);
  for (let i = 0; i < keys.length; i += 1) records[i] = { key: keys[i]!, location: locations[i]!, name: names[i]!, owner: owners[i]!, raw: raws[i]!, json: jsons[i]!, hash: hashes[i]!, notes: [] };
  for (const [i, list] of notes) records[i]!.notes = list;
  return { ...rest, records };
}

export type ReadThreadMessage =
  | { type: 'log'; line: string }
  | { type: 'batch'; batch: PackedBatch }
  | { type: 'done' }
  | { type: 'failed'; error: ThreadFailure };

/** Batches the worker may send ahead of the stager: enough to keep both busy, few enough to bound memory. */
export const readAheadBatches = 4;

/** The prepared batches of one read of `job.source`, produced in a worker thread. */
export async function* readInThread(job: ReadThreadJob, options: { logger: Logger; signal?: AbortSignal | undefined }): AsyncGenerator<PreparedBatch> {
  const { logger, signal } = options;
  signal?.throwIfAborted();
  const worker = startThread('read-worker', job);
  const queue: ReadThreadMessage[] = [];
  let wake: (() => void) | null = null;
  const push = (message: ReadThreadMessage): void => {
    queue.push(message);
    wake?.();
  };
  let exited = false;
  worker.on('message', (message: ReadThreadMessage) => (message.type === 'log' ? relog(logger, message.line) : push(message)));
  worker.on('error', (error) => push({ type: 'failed', error: { message: `the source read thread failed: ${error.message}`, code: 'INTERNAL', exitCode: 1, retryable: false, aborted: false } }));
  worker.on('exit', (code) => {
    exited = true;
    push({ type: 'failed', error: { message: `the source read thread stopped (exit ${code}) before it finished`, code: 'INTERNAL', exitCode: 1, retryable: false, aborted: false } });
  });
  const onAbort = (): void => worker.postMessage({ type: 'abort' });
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      const message = queue.shift()!;
      if (message.type === 'batch') {
        worker.postMessage({ type: 'next' });
        yield unpackBatch(message.batch);
      } else if (message.type === 'done') return;
      else if (message.type === 'failed') throw errorFromThread(message.error, signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!exited) await worker.terminate();
  }
}

/**
 * How `stageSource()` reads the sources of `config` (StageOptions.read): a CSV file of at least
 * `minBytes` in a thread of its own; anything else (smaller files, the REST sources, which mostly wait
 * on the network) inline.
 */
export function readsInThreads(config: Config, options: { logger: Logger; minBytes?: number }): (source: AssetSource, read: ReadOptions) => AsyncIterable<PreparedBatch> | undefined {
  const minBytes = options.minBytes ?? 4 * 1024 * 1024;
  return (source, read) => {
    const sourceConfig = config.sources.find((s) => s.name === source.name);
    if (sourceConfig?.type !== 'csv') return undefined;
    let size: number;
    try {
      size = statSync(sourceConfig.path).size;
    } catch {
      return undefined; // the inline read reports why the file cannot be read
    }
    if (size < minBytes) return undefined;
    const job: ReadThreadJob = { config, source: source.name, read: { mode: read.mode, since: read.since ?? null }, logLevel: options.logger.level };
    return readInThread(job, { logger: options.logger, signal: read.signal });
  };
}
