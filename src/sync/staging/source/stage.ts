import { existsSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CopyRows, JsonText, type TransactionalSql } from '../../../db/sql.js';
import { KicsSyncError, errorMessage } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { AssetSource, ReadOptions, RecordReject } from '../../../model/asset.js';
import { BatchWriter } from '../batch-writer.js';
import { countChange } from '../change.js';
import { prepareBatches } from './prepare.js';
import { RejectsFile } from './rejects-file.js';
import {
  clearRejects,
  ensureSourceRow,
  insertRecords,
  insertRejects,
  keysHoldingAddresses,
  loadExisting,
  markMissing,
  recordFailure,
  recordSuccess,
  stagedKeysMatching,
  upsertRecords,
  type RecordRow,
  type RejectRow,
  type SourceRow,
} from './store.js';

/**
 * Staging a source into the database: one transaction per read, so a failed read leaves the earlier
 * staging exactly as it was. What is staged is loaded once as (key, hash, missing); records are compared
 * in memory and only new, changed and returning ones are written (bulk COPY + upsert); a full read marks
 * what it no longer saw as missing in one statement. Unchanged records cost no writes at all.
 */
export type StageMode = 'full' | 'incremental';

export interface StageSummary {
  source: string;
  /** The mode actually used: an incremental request becomes full for a source without a watermark or without incremental reads. */
  mode: StageMode;
  /** Records and rejects the source delivered. */
  read: number;
  valid: number;
  rejected: number;
  new: number;
  changed: number;
  unchanged: number;
  /** Records this read marked missing (full reads only). */
  missing: number;
  /** Missing records that came back in this read. */
  reappeared: number;
  /** Records of the source missing after this read. */
  missingTotal: number;
  /** Values normalisation left out (e.g. a multicast MAC), listed in the rejects file. */
  notes: number;
  watermark: string | null;
  generation: number;
  durationMs: number;
  /** The rejects file written, if any. */
  rejectsFile?: string;
  /** The source's fingerprint (see `AssetSource.fingerprint`), when it has one. */
  fingerprint?: string;
  /** True when the fingerprint matched the last successful read, so the source was not read again. */
  unchangedSource?: boolean;
}

export interface StageProgress {
  source: string;
  read: number;
  /** Records the source expects to deliver, when it knows. */
  expected?: number;
}

export interface StageOptions {
  mode: StageMode;
  signal?: AbortSignal;
  logger: Logger;
  runId?: number;
  /** Folder of the rejects files (`<rejectsDir>/<source>.csv`); none written when absent. */
  rejectsDir?: string;
  /** Per source name, a rejects file that overrides `<rejectsDir>/<source>.csv`. */
  rejectsFiles?: Readonly<Record<string, string | undefined>>;
  onProgress?: (progress: StageProgress) => void;
}

/** Rows written per bulk upsert: bounds memory whatever the source's size. */
const flushRows = 5000;

export async function stageSource(db: TransactionalSql, source: AssetSource, options: StageOptions): Promise<StageSummary> {
  const started = performance.now();
  const { logger, signal } = options;
  const sourceRow = await ensureSourceRow(db, source.name, source.kind);
  const mode: StageMode = options.mode === 'incremental' && source.incremental && sourceRow.watermark ? 'incremental' : 'full';
  const rejectsPath = options.rejectsFiles?.[source.name] ?? (options.rejectsDir ? path.join(options.rejectsDir, `${source.name}.csv`) : undefined);
  let rejectsFile: RejectsFile | null = null;
  try {
    const fingerprint = source.fingerprint ? `${await source.fingerprint(signal)}:${rejectsPath ?? ''}` : undefined;
    if (options.mode === 'incremental' && fingerprint !== undefined && unchangedSinceLastRead(sourceRow.lastSummary, fingerprint, rejectsPath)) {
      return await confirmUnchanged(db, source.name, sourceRow, { started, logger, rejectsPath });
    }
    // An incremental read adds to the rejects staged so far (`source_reject` is cleared by a full read only): so does the file.
    rejectsFile = rejectsPath ? await RejectsFile.open(rejectsPath, { keep: mode === 'incremental' }) : null;
    logger.debug({ source: source.name, mode, since: mode === 'incremental' ? sourceRow.watermark : undefined }, 'staging source');
    const summary = await db.transaction(async (tx) => {
      const existing = await loadExisting(tx, sourceRow.id);
      if (mode === 'full') await clearRejects(tx, sourceRow.id);
      const counts = { read: 0, valid: 0, rejected: 0, new: 0, changed: 0, unchanged: 0, reappeared: 0, notes: 0 };
      let watermark: string | null = null;
      // New records go straight in with COPY (their keys are not staged); changed and returning ones are
      // upserted. Each row is encoded for COPY as it is found, so its strings die young (see CopyRows).
      let fresh = new CopyRows<RecordRow>();
      let pending = new CopyRows<RecordRow>();
      let rejectRows: RejectRow[] = [];

      const reject = async (r: RecordReject): Promise<void> => {
        counts.rejected += 1;
        rejectRows.push([sourceRow.id, options.runId ?? null, r.location, r.column ?? null, r.reason, r.raw ?? null]);
        await rejectsFile?.write({ kind: 'reject', location: r.location, column: r.column, reason: r.reason, raw: r.raw });
      };
      // One write in flight behind the read: the source is parsed while the database takes the previous batch.
      const writer = new BatchWriter<{ fresh: CopyRows<RecordRow>; pending: CopyRows<RecordRow>; rejectRows: RejectRow[] }>(async (batch) => {
        await insertRecords(tx, batch.fresh);
        await upsertRecords(tx, batch.pending);
        await insertRejects(tx, batch.rejectRows);
      }, 2);
      const flush = async (): Promise<void> => {
        const batch = { fresh, pending, rejectRows };
        fresh = new CopyRows<RecordRow>();
        pending = new CopyRows<RecordRow>();
        rejectRows = [];
        await writer.push(batch);
      };

      const readOptions: ReadOptions = {
        mode,
        since: mode === 'incremental' ? sourceRow.watermark : null,
        stagedKeys: (jsonPath, values) => stagedKeysMatching(tx, sourceRow.id, jsonPath, values),
        ...(signal ? { signal } : {}),
      };
      if (mode === 'incremental') readOptions.stagedHolders = ({ macs, ips }) => keysHoldingAddresses(tx, sourceRow.id, macs, ips);
      const batches = prepareBatches(source, source.read(readOptions));
      try {
        for await (const batch of batches) {
          signal?.throwIfAborted();
          counts.read += batch.read;
          for (const r of batch.rejects) await reject(r);
          for (const record of batch.records) {
            counts.valid += 1;
            for (const note of record.notes) {
              counts.notes += 1;
              await rejectsFile?.write({ kind: 'note', location: record.location, reason: note });
            }
            const before = existing.get(record.key);
            if (before !== undefined) before.seen = true;
            if (countChange(before, record.hash, counts) === 'unchanged') continue;
            (before === undefined ? fresh : pending).push([sourceRow.id, record.key, record.name, record.owner, new JsonText(record.raw), new JsonText(record.json), record.hash]);
            if (fresh.count + pending.count >= flushRows) await flush();
          }
          if (batch.watermark !== undefined) watermark = batch.watermark;
          // A batch is read and prepared without a pause (its promises are microtasks): give the write in
          // flight a turn of the event loop, or each step of its COPY waits for the next file read.
          await nextTurn();
          options.onProgress?.({ source: source.name, read: counts.read, ...(batch.expected === undefined ? {} : { expected: batch.expected }) });
        }
        await flush();
      } finally {
        // Never leave a write running on a transaction that is about to end.
        await writer.drain().catch(() => {});
      }
      await writer.drain();

      let missingKeys: string[] = [];
      if (mode === 'full') {
        for (const [key, record] of existing) if (!record.missing && !record.seen) missingKeys.push(key);
      }
      const missing = await markMissing(tx, sourceRow.id, missingKeys);
      missingKeys = [];
      let missingTotal = 0;
      for (const record of existing.values()) if (record.missing && !record.seen) missingTotal += 1;
      missingTotal += missing;

      const changed = counts.new + counts.changed + counts.reappeared + missing > 0;
      const result = { source: source.name, mode, ...counts, missing, missingTotal, watermark: watermark ?? sourceRow.watermark, ...(fingerprint === undefined ? {} : { fingerprint }) };
      const generation = await recordSuccess(tx, sourceRow.id, { changed, watermark, full: mode === 'full', summary: result });
      return { ...result, generation };
    });
    await rejectsFile?.commit();
    const done: StageSummary = { ...summary, durationMs: Math.round(performance.now() - started), ...(rejectsFile ? { rejectsFile: rejectsFile.file } : {}) };
    logger.info({ ...done }, 'source staged');
    return done;
  } catch (error) {
    await rejectsFile?.abort();
    const failure = asStageError(source.name, error);
    await recordFailure(db, sourceRow.id, failure.message).catch((e: unknown) => logger.error({ source: source.name, err: errorMessage(e) }, 'could not record the failed read'));
    throw failure;
  }
}

/** The last successful read recorded this fingerprint, and the rejects file it wrote is still there. */
function unchangedSinceLastRead(last: Record<string, unknown> | null, fingerprint: string, rejectsPath: string | undefined): boolean {
  if (!last || last.fingerprint !== fingerprint) return false;
  const wroteRejects = Number(last.rejected ?? 0) + Number(last.notes ?? 0) > 0;
  return !(rejectsPath && wroteRejects && !existsSync(rejectsPath));
}

/**
 * A source whose fingerprint matches its last successful read: what a read would stage is staged
 * already, so nothing is read or written but the read's record (the staged records are confirmed now,
 * the generation does not move). `--full` always reads.
 */
async function confirmUnchanged(db: TransactionalSql, name: string, sourceRow: SourceRow, context: { started: number; logger: Logger; rejectsPath: string | undefined }): Promise<StageSummary> {
  const last = sourceRow.lastSummary!;
  const count = (key: string): number => Number(last[key] ?? 0);
  const result = {
    source: name,
    mode: last.mode === 'incremental' ? ('incremental' as const) : ('full' as const),
    read: count('read'),
    valid: count('valid'),
    rejected: count('rejected'),
    new: 0,
    changed: 0,
    unchanged: count('valid'),
    reappeared: 0,
    notes: count('notes'),
    missing: 0,
    missingTotal: count('missingTotal'),
    watermark: sourceRow.watermark,
    fingerprint: last.fingerprint as string,
    unchangedSource: true,
  };
  const generation = await db.transaction((tx) => recordSuccess(tx, sourceRow.id, { changed: false, watermark: null, full: result.mode === 'full', summary: result }));
  const done: StageSummary = { ...result, generation, durationMs: Math.round(performance.now() - context.started), ...(context.rejectsPath && result.rejected + result.notes > 0 ? { rejectsFile: context.rejectsPath } : {}) };
  context.logger.info({ ...done }, 'source staged');
  return done;
}

function asStageError(name: string, error: unknown): KicsSyncError {
  if (error instanceof KicsSyncError) return error;
  return new KicsSyncError(`source ${name}: ${errorMessage(error)}`, { code: 'SOURCE_READ_FAILED', cause: error });
}

export type StageOutcome = ({ ok: true } & StageSummary) | { ok: false; source: string; mode: StageMode; error: { code: string; message: string; retryable: boolean } };

/**
 * Stages several sources one after the other; a source that fails does not stop the others. Its error
 * is on its source row (last_error) and in its outcome. An interruption (signal) stops the rest.
 */
export async function stageSources(db: TransactionalSql, sources: readonly AssetSource[], options: StageOptions): Promise<StageOutcome[]> {
  const outcomes: StageOutcome[] = [];
  for (const source of sources) {
    options.signal?.throwIfAborted();
    try {
      outcomes.push({ ok: true, ...(await stageSource(db, source, options)) });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      const e = error as KicsSyncError;
      options.logger.error({ source: source.name, code: e.code, err: e.message }, 'source not staged');
      outcomes.push({ ok: false, source: source.name, mode: options.mode, error: { code: e.code, message: e.message, retryable: e.retryable } });
    }
  }
  return outcomes;
}
