import type { AssetSource, RecordReject, SourceBatch } from '../../../model/asset.js';
import { canonicalAsset, canonicalJson, checkFieldLimits } from '../../../model/normalize.js';

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
      const location = record.location ?? `${this.sourceName} ${record.externalKey}`;
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
      this.seen?.set(record.externalKey, location);
      const asset = canonicalAsset(record.asset);
      const { json, hash } = canonicalJson(asset);
      records.push({ key: record.externalKey, location, name: asset.name ?? null, owner: asset.owner ?? null, raw: JSON.stringify(record.raw), json, hash, notes: record.notes ?? [] });
    }
    return {
      read: batch.records.length + batch.rejects.length,
      records,
      rejects,
      ...(batch.watermark === undefined ? {} : { watermark: batch.watermark }),
      ...(batch.expected === undefined ? {} : { expected: batch.expected }),
    };
  }
}

export async function* prepareBatches(source: Pick<AssetSource, 'name' | 'uniqueKeys'>, batches: AsyncIterable<SourceBatch>): AsyncGenerator<PreparedBatch> {
  const preparer = new RecordPreparer(source.name, source.uniqueKeys === true);
  for await (const batch of batches) yield preparer.prepare(batch);
}

