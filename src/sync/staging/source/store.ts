import { bulkUpsert, type BulkColumn, type BulkUpsertSpec } from '../../../db/bulk.js';
import type { CopyRows, Sql } from '../../../db/sql.js';
import type { SourceKind } from '../../../model/asset.js';

/** The SQL of staging, one function per operation; every statement parameterised. */

export interface SourceRow {
  id: number;
  watermark: string | null;
  generation: number;
  /** Counts of the last successful read (with the source's fingerprint, when it has one). */
  lastSummary: Record<string, unknown> | null;
}

/** The source's row, created on its first read (outside the read's transaction, so a failure can be recorded). */
export async function ensureSourceRow(db: Sql, name: string, kind: SourceKind): Promise<SourceRow> {
  await db.execute(`INSERT INTO source (name, kind, updated_at) VALUES ($1, $2::source_kind, now()) ON CONFLICT (name) DO NOTHING`, [name, kind]);
  // A source renamed to another type keeps its records (they are keyed by name); its kind follows the config.
  await db.execute(`UPDATE source SET kind = $2::source_kind, updated_at = now() WHERE name = $1 AND kind <> $2::source_kind`, [name, kind]);
  const [row] = await db.query<SourceRow>(`SELECT id, watermark, generation, last_summary AS "lastSummary" FROM source WHERE name = $1`, [name]);
  if (!row) throw new Error(`source ${name} vanished while staging`);
  return row;
}

export interface ExistingRecord {
  hash: string;
  missing: boolean;
  /** Set by the read that delivers the record again (false as loaded): what stays false is missing after a full read. */
  seen: boolean;
}

/** What is staged for the source: key -> content hash and whether it is missing. One query, no JSON. */
export async function loadExisting(tx: Sql, sourceId: number): Promise<Map<string, ExistingRecord>> {
  const rows = await tx.query<{ external_key: string; content_hash: string; missing: boolean }>(
    `SELECT external_key, content_hash, missing_since IS NOT NULL AS missing FROM source_record WHERE source_id = $1`,
    [sourceId],
  );
  const map = new Map<string, ExistingRecord>();
  for (const r of rows) map.set(r.external_key, { hash: r.content_hash, missing: r.missing, seen: false });
  return map;
}

/**
 * Keys of the source's present records whose raw JSON holds one of `values` at `jsonPath`: one scan of the
 * source's rows, the values matched as a set (a jsonpath filter holding the values would compare every
 * value with every record's, which grows with their product).
 */
export async function stagedKeysMatching(tx: Sql, sourceId: number, jsonPath: string, values: readonly (string | number)[]): Promise<string[]> {
  if (values.length === 0) return [];
  const rows = await tx.query<{ external_key: string }>(
    `SELECT DISTINCT r.external_key FROM source_record r CROSS JOIN LATERAL jsonb_path_query(r.raw, $2::jsonpath) AS held(value)
      WHERE r.source_id = $1 AND r.missing_since IS NULL AND held.value IN (SELECT jsonb_array_elements($3::jsonb))`,
    [sourceId, jsonPath, JSON.stringify(values)],
  );
  return rows.map((r) => r.external_key);
}

const recordColumns: BulkColumn[] = [
  { name: 'source_id', type: 'int4' },
  { name: 'external_key', type: 'text' },
  { name: 'name', type: 'text' },
  { name: 'owner', type: 'text' },
  { name: 'raw', type: 'jsonb' },
  { name: 'normalized', type: 'jsonb' },
  { name: 'content_hash', type: 'text' },
];

const recordSpec: BulkUpsertSpec = {
  table: 'source_record',
  columns: recordColumns,
  key: ['source_id', 'external_key'],
  touch: { last_seen: 'now()', missing_since: 'NULL' },
  alsoWhen: 't.missing_since IS NOT NULL',
};

/** [source_id, external_key, name, owner, raw, normalized, content_hash] */
export type RecordRow = [number, string, string | null, string | null, unknown, unknown, string];

/** Inserts records whose keys are not staged for the source yet: one COPY, no conflict handling needed. */
export async function insertRecords(tx: Sql, rows: CopyRows<RecordRow>): Promise<number> {
  if (rows.count === 0) return 0;
  return tx.copyFrom('source_record', recordColumns.map((c) => c.name), rows);
}

/** Inserts new records and rewrites changed or returning ones (COPY + one INSERT ... ON CONFLICT). */
export async function upsertRecords(tx: Sql, rows: CopyRows<RecordRow>): Promise<{ inserted: number; updated: number }> {
  if (rows.count === 0) return { inserted: 0, updated: 0 };
  const result = await bulkUpsert(tx, recordSpec, rows);
  return { inserted: result.inserted, updated: result.updated };
}

/** Marks records missing in one set-based statement. */
export async function markMissing(tx: Sql, sourceId: number, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  // last_seen becomes the last confirmation: the previous successful read (recordSuccess runs after this).
  return tx.execute(
    `UPDATE source_record r SET missing_since = now(), last_seen = COALESCE(s.last_success_at, r.last_seen)
       FROM source s
      WHERE s.id = r.source_id AND r.source_id = $1 AND r.missing_since IS NULL AND r.external_key = ANY($2::text[])`,
    [sourceId, keys],
  );
}

/** The present records of a source with an interface holding one of these MACs or IPs (canonical text). */
export async function keysHoldingAddresses(tx: Sql, sourceId: number, macs: readonly string[], ips: readonly string[]): Promise<string[]> {
  if (macs.length === 0 && ips.length === 0) return [];
  const rows = await tx.query<{ external_key: string }>(
    `SELECT r.external_key FROM source_record r
      WHERE r.source_id = $1 AND r.missing_since IS NULL
        AND EXISTS (SELECT 1 FROM jsonb_array_elements(r.normalized->'interfaces') i
                     WHERE i->>'mac' = ANY($2::text[])
                        OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(i->'ips') ip WHERE ip = ANY($3::text[])))
      ORDER BY r.external_key`,
    [sourceId, macs, ips],
  );
  return rows.map((r) => r.external_key);
}

export async function clearRejects(tx: Sql, sourceId: number): Promise<void> {
  await tx.execute(`DELETE FROM source_reject WHERE source_id = $1`, [sourceId]);
}

/** [source_id, run_id, location, column, reason, raw] */
export type RejectRow = [number, number | null, string, string | null, string, unknown];

export async function insertRejects(tx: Sql, rows: readonly RejectRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.copyFrom('source_reject', ['source_id', 'run_id', 'location', 'column', 'reason', 'raw'], rows);
}

export interface SuccessUpdate {
  changed: boolean;
  watermark: string | null;
  full: boolean;
  summary: Record<string, unknown>;
}

/** Records a successful read on the source row, in the read's transaction; returns the generation. */
export async function recordSuccess(tx: Sql, sourceId: number, update: SuccessUpdate): Promise<number> {
  const [row] = await tx.query<{ generation: number }>(
    `UPDATE source SET
       generation = generation + $2,
       watermark = COALESCE($3, watermark),
       last_read_at = now(),
       last_success_at = now(),
       last_full_read_at = CASE WHEN $4 THEN now() ELSE last_full_read_at END,
       last_error = NULL,
       last_error_at = NULL,
       last_summary = $5::jsonb,
       updated_at = now()
     WHERE id = $1
     RETURNING generation`,
    [sourceId, update.changed ? 1 : 0, update.watermark, update.full, JSON.stringify(update.summary)],
  );
  return row?.generation ?? 0;
}

/** Records a failed read, outside the rolled-back transaction. */
export async function recordFailure(db: Sql, sourceId: number, message: string): Promise<void> {
  await db.execute(`UPDATE source SET last_read_at = now(), last_error = $2, last_error_at = now(), updated_at = now() WHERE id = $1`, [sourceId, message]);
}
