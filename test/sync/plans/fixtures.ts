import { createHash } from 'node:crypto';
import type { Sql } from '../../../src/db/sql.js';
import type { CanonicalAsset } from '../../../src/model/asset.js';
import type { AddressSpace, KicsDevice } from '../../../src/model/kics.js';

/**
 * Puts reconciler inputs straight into the database, the way staging leaves them (source rows with
 * generations, source_record rows, the KICS snapshot), with COPY so that 100,000 rows take seconds.
 */

export interface StagedSource {
  name: string;
  kind?: 'csv' | 'netbox' | 'servicenow' | 'ksc';
  generation?: number;
  lastSuccessAt?: Date;
  records: { key: string; asset: CanonicalAsset; missingSince?: Date | null; lastSeen?: Date }[];
}

export interface StagedKics {
  generation?: number;
  lastSuccessAt?: Date;
  devices: KicsDevice[];
  addressSpaces?: AddressSpace[];
  missing?: number[];
}

const hash = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex');

async function sourceRow(db: Sql, name: string, kind: string, generation: number, lastSuccessAt: Date): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO source (name, kind, generation, last_success_at, last_read_at, updated_at)
     VALUES ($1, $2::source_kind, $3, $4, $4, now())
     ON CONFLICT (name) DO UPDATE SET generation = EXCLUDED.generation, last_success_at = EXCLUDED.last_success_at, updated_at = now()
     RETURNING id`,
    [name, kind, generation, lastSuccessAt],
  );
  return row!.id;
}

/** Replaces what a source has staged. */
export async function stageSource(db: Sql, source: StagedSource): Promise<void> {
  const id = await sourceRow(db, source.name, source.kind ?? 'csv', source.generation ?? 1, source.lastSuccessAt ?? new Date());
  await db.execute(`DELETE FROM source_record WHERE source_id = $1`, [id]);
  await db.copyFrom(
    'source_record',
    ['source_id', 'external_key', 'name', 'owner', 'raw', 'normalized', 'content_hash', 'last_seen', 'missing_since'],
    (function* () {
      for (const r of source.records) {
        yield [id, r.key, r.asset.name ?? null, r.asset.owner ?? null, { key: r.key }, r.asset, hash(r.asset), r.lastSeen ?? new Date(), r.missingSince ?? null];
      }
    })(),
  );
}

/** Replaces the KICS snapshot. */
export async function stageKics(db: Sql, kics: StagedKics): Promise<void> {
  await sourceRow(db, 'kics', 'kics', kics.generation ?? 1, kics.lastSuccessAt ?? new Date());
  await db.execute(`DELETE FROM kics_device`);
  await db.execute(`DELETE FROM kics_address_space`);
  const missing = new Set(kics.missing ?? []);
  await db.copyFrom(
    'kics_device',
    ['id', 'name', 'status', 'category', 'raw', 'content_hash', 'missing_since'],
    (function* () {
      for (const d of kics.devices) yield [d.id, d.name, d.status, d.category ?? null, d, hash(d), missing.has(d.id) ? new Date() : null];
    })(),
  );
  await db.copyFrom(
    'kics_address_space',
    ['id', 'name', 'rules', 'raw', 'content_hash'],
    (function* () {
      for (const s of kics.addressSpaces ?? []) yield [s.id, s.name, s.rules ?? [], s, hash(s)];
    })(),
  );
}

/** Bumps a source's generation, as a staging that changed data does. */
export async function bumpGeneration(db: Sql, name: string): Promise<void> {
  await db.execute(`UPDATE source SET generation = generation + 1 WHERE name = $1`, [name]);
}
