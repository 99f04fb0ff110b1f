import { bulkUpsert, type BulkColumn, type BulkUpsertSpec } from '../../../db/bulk.js';
import type { CopyRows, JsonText, Sql } from '../../../db/sql.js';

/**
 * The SQL of the KICS snapshot (`kics_device`, `kics_address`, `kics_address_space` and the `source`
 * row named `kics`), one function per operation; every statement parameterised, bulk data by COPY.
 */

/** The name of the `source` row of the KICS snapshot; its generation is the `kics` of a plan's basis. */
export const kicsSourceName = 'kics';

export interface KicsSourceRow {
  id: number;
  watermark: string | null;
  generation: number;
}

/** The `kics` source row, created on the first read (outside the read's transaction, so a failure can be recorded). */
export async function ensureKicsSource(db: Sql): Promise<KicsSourceRow> {
  await db.execute(`INSERT INTO source (name, kind, updated_at) VALUES ($1, 'kics'::source_kind, now()) ON CONFLICT (name) DO NOTHING`, [kicsSourceName]);
  const [row] = await db.query<KicsSourceRow & { kind: string }>(`SELECT id, kind::text AS kind, watermark, generation FROM source WHERE name = $1`, [kicsSourceName]);
  if (!row) throw new Error('the kics source row vanished while staging');
  if (row.kind !== 'kics') throw new Error(`the source named "kics" is of kind ${row.kind}; that name is reserved for the KICS snapshot`);
  return { id: row.id, watermark: row.watermark, generation: row.generation };
}

export interface StoredDevice {
  hash: string;
  missing: boolean;
  status: string;
}

/** What the snapshot holds per device: id -> (content hash, missing, status). One query, no JSON. */
export async function loadDeviceState(tx: Sql): Promise<Map<number, StoredDevice>> {
  const rows = await tx.query<{ id: number; content_hash: string; missing: boolean; status: string }>(
    `SELECT id, content_hash, missing_since IS NOT NULL AS missing, status FROM kics_device`,
  );
  const map = new Map<number, StoredDevice>();
  for (const r of rows) map.set(r.id, { hash: r.content_hash, missing: r.missing, status: r.status });
  return map;
}

const deviceColumns: BulkColumn[] = [
  { name: 'id', type: 'int8' },
  { name: 'name', type: 'text' },
  { name: 'status', type: 'text' },
  { name: 'category', type: 'text' },
  { name: 'last_modified', type: 'timestamptz' },
  { name: 'raw', type: 'jsonb' },
  { name: 'content_hash', type: 'text' },
];

const deviceSpec: BulkUpsertSpec = {
  table: 'kics_device',
  columns: deviceColumns,
  key: ['id'],
  touch: { last_seen: 'now()', missing_since: 'NULL' },
  alsoWhen: 't.missing_since IS NOT NULL',
};

/** [id, name, status, category, last_modified (ISO), raw (serialised JSON), content_hash] */
export type DeviceRow = [number, string, string, string | null, string | null, JsonText, string];

/** [device_id, interface_id, interface_name, mac, mac_address_space_id, ip, ip_address_space_id] */
export type AddressRow = [number, number | null, string | null, string | null, number | null, string | null, number | null];

/** Serialises KICS staging across processes (PostgreSQL) for the transaction; PGlite has one process anyway. */
export async function lockKicsStaging(tx: Sql): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('kics-sync:kics-staging', 0))`);
}

const deviceColumnNames = deviceColumns.map((c) => c.name);
const addressColumnNames = ['device_id', 'interface_id', 'interface_name', 'mac', 'mac_address_space_id', 'ip', 'ip_address_space_id'];

/**
 * Writes devices and rebuilds their address rows. Devices the snapshot never had go straight in by
 * COPY (the staging lock makes that safe); changed and returning ones by COPY + one upsert, after one
 * DELETE of their old addresses; then one COPY of all the new address rows.
 */
export async function writeDevices(tx: Sql, batch: { added: CopyRows<DeviceRow>; updated: CopyRows<DeviceRow>; updatedIds: readonly number[]; addresses: CopyRows<AddressRow> }): Promise<void> {
  if (batch.added.count > 0) await tx.copyFrom('kics_device', deviceColumnNames, batch.added);
  if (batch.updated.count > 0) {
    await bulkUpsert(tx, deviceSpec, batch.updated);
    await tx.execute(`DELETE FROM kics_address WHERE device_id = ANY($1::int8[])`, [batch.updatedIds]);
  }
  if (batch.addresses.count > 0) await tx.copyFrom('kics_address', addressColumnNames, batch.addresses);
}

/** Marks devices missing (a full read did not find them) and drops their addresses, so matching never finds a device KICS no longer has. */
export async function markDevicesMissing(tx: Sql, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const marked = await tx.execute(`UPDATE kics_device SET missing_since = now() WHERE missing_since IS NULL AND id = ANY($1::int8[])`, [ids]);
  await tx.execute(`DELETE FROM kics_address WHERE device_id = ANY($1::int8[])`, [ids]);
  return marked;
}

/** Devices of the snapshot by status (present ones only). */
export async function countDevicesByStatus(tx: Sql): Promise<Record<string, number>> {
  const rows = await tx.query<{ status: string; n: number }>(`SELECT status, count(*)::int4 AS n FROM kics_device WHERE missing_since IS NULL GROUP BY status ORDER BY status`);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

export interface StoredSpace {
  hash: string;
  missing: boolean;
}

export async function loadAddressSpaceState(tx: Sql): Promise<Map<number, StoredSpace>> {
  const rows = await tx.query<{ id: number; content_hash: string; missing: boolean }>(`SELECT id, content_hash, missing_since IS NOT NULL AS missing FROM kics_address_space`);
  return new Map(rows.map((r) => [r.id, { hash: r.content_hash, missing: r.missing }]));
}

const spaceSpec: BulkUpsertSpec = {
  table: 'kics_address_space',
  columns: [
    { name: 'id', type: 'int8' },
    { name: 'name', type: 'text' },
    { name: 'description', type: 'text' },
    { name: 'read_only', type: 'bool' },
    { name: 'rules', type: 'jsonb' },
    { name: 'raw', type: 'jsonb' },
    { name: 'content_hash', type: 'text' },
  ],
  key: ['id'],
  touch: { last_seen: 'now()', missing_since: 'NULL' },
  alsoWhen: 't.missing_since IS NOT NULL',
};

/** [id, name, description, read_only, rules, raw, content_hash] */
export type SpaceRow = [number, string, string | null, boolean, unknown, unknown, string];

export async function writeAddressSpaces(tx: Sql, rows: readonly SpaceRow[]): Promise<void> {
  if (rows.length > 0) await bulkUpsert(tx, spaceSpec, rows);
}

export async function markAddressSpacesMissing(tx: Sql, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  return tx.execute(`UPDATE kics_address_space SET missing_since = now() WHERE missing_since IS NULL AND id = ANY($1::int8[])`, [ids]);
}
