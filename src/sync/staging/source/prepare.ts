import type { AssetSource, RecordReject, SourceBatch } from '../../../model/asset.js';
import { canonicalAsset, canonicalJson, checkFieldLimits } from '../../../model/normalize.js';
import { findUnstorable, storableJson, storableText, unstorableReason } from '../../../model/storable.js';

/**
 * A source's records made ready to stage, before anything is compared with what is staged: duplicates
 * and records over KICS's limits turned into rejects, each record's canonical JSON, content hash and
 * raw JSON written once. Strings, ready for COPY.
 */
export interface PreparedRecord {
  key: string;
  location: string;
  name: string | null;
  owner: string | null;
  /** The record as delivered, as JSON. */
  raw: string;
  /** The canonical asset's stable JSON, and its SHA-256. */
  json: string;
  hash: string;
  notes: string[];
}

export interface PreparedBatch {
  /** Records and rejects the source delivered in this batch (before duplicates and limits were taken out). */
  read: number;
  records: PreparedRecord[];
  rejects: RecordReject[];
  watermark?: string;
  expected?: number;
}

/**
 * Prepares the batches of one read; remembers the keys it has seen, to reject a key delivered twice
 * (unless the source promises unique keys: `AssetSource.uniqueKeys`).
 */
export class RecordPreparer {
  private readonly seen: Map<string, string> | null;

  constructor(
    private readonly sourceName: string,
    uniqueKeys = false,
  ) {
    this.seen = uniqueKeys ? null : new Map();
  }

  prepare(batch: SourceBatch): PreparedBatch {
    const records: PreparedRecord[] = [];
    const rejects: RecordReject[] = [...batch.rejects];
    for (const record of batch.records) {
      const location = storableText(record.location ?? `${this.sourceName} ${record.externalKey}`);
      // A value PostgreSQL cannot store (NUL, a lone surrogate) would fail the whole batch's COPY: in the
      // key or the canonical asset it costs this record (a reject naming the field), in `raw` it is cleaned.
      const keyReason = unstorableReason(record.externalKey);
      if (keyReason !== null) {
        rejects.push({ location, column: 'key', reason: `key: ${keyReason}`, raw: record.raw });
        continue;
      }
      const first = this.seen?.get(record.externalKey);
      if (first !== undefined) {
        rejects.push({ location, reason: `duplicate key ${record.externalKey}: ${first} already delivered this record`, raw: record.raw });
        continue;
      }
      const limits = checkFieldLimits(record.asset);
      if (limits.length > 0) {
        rejects.push({ location, column: limits.map((p) => p.field).join(', '), reason: limits.map((p) => `${p.field}: ${p.reason}`).join('; '), raw: record.raw });
        continue;
      }
      const unstorable = findUnstorable(record.asset);
      if (unstorable !== null) {
        rejects.push({ location, column: unstorable.field, reason: `${unstorable.field}: ${unstorable.reason}`, raw: record.raw });
        continue;
      }
      this.seen?.set(record.externalKey, location);
      const asset = canonicalAsset(record.asset);
      const { json, hash } = canonicalJson(asset);
      records.push({ key: record.externalKey, location, name: asset.name ?? null, owner: asset.owner ?? null, raw: storableJson(record.raw), json, hash, notes: (record.notes ?? []).map(storableText) });
    }
    return {
      read: batch.records.length + batch.rejects.length,
      records,
      rejects: rejects.length === 0 ? rejects : rejects.map(storableReject),
      ...(batch.watermark === undefined ? {} : { watermark: batch.watermark }),
      ...(batch.expected === undefined ? {} : { expected: batch.expected }),
    };
  }
}

/** A reject as it can be stored: its texts and raw record with NUL and lone surrogates replaced by U+FFFD. */
function storableReject(reject: RecordReject): RecordReject {
  const cleaned: RecordReject = { location: storableText(reject.location), reason: storableText(reject.reason) };
  if (reject.column !== undefined) cleaned.column = storableText(reject.column);
  if (reject.raw !== undefined) cleaned.raw = findUnstorable(reject.raw) === null ? reject.raw : (JSON.parse(storableJson(reject.raw)) as Record<string, unknown>);
  return cleaned;
}

export async function* prepareBatches(source: Pick<AssetSource, 'name' | 'uniqueKeys'>, batches: AsyncIterable<SourceBatch>): AsyncGenerator<PreparedBatch> {
  const preparer = new RecordPreparer(source.name, source.uniqueKeys === true);
  for await (const batch of batches) yield preparer.prepare(batch);
}

