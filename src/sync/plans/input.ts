import type { Database } from '../../db/database.js';
import type { Sql } from '../../db/sql.js';
import { ExitCode, KicsSyncError } from '../../errors.js';
import type { CanonicalAsset } from '../../model/asset.js';
import type { AddressSpace, KicsDevice } from '../../model/kics.js';
import type { PlanBasis } from '../../reconcile/plan-schema.js';
import { settingsHash } from '../../model/normalize.js';
import { deviceFields } from '../../reconcile/fields.js';
import type { LastUpload, ReconcileDecisions, StagedRecord } from '../../reconcile/types.js';
import { decisionsInForce } from '../decisions/store.js';
import { kicsSourceName } from '../staging/kics/store.js';
import { currentBasis } from './basis.js';

/**
 * The reconciler's input from the database, read in one REPEATABLE READ transaction so the records,
 * the KICS snapshot and the basis (generations) all describe the same moment. One query per table,
 * whatever the size: at 100,000 devices these are a handful of sequential scans.
 */

export interface StagedInput {
  records: StagedRecord[];
  devices: KicsDevice[];
  addressSpaces: AddressSpace[];
  lastUploads: Map<number, LastUpload>;
  /** The addresses sources asserted for each device on earlier plans (`address_assertion`). */
  assertedAddresses: Map<number, string[]>;
  basis: PlanBasis;
  /** Owners' decisions in force (src/sync/decisions). */
  decisions: ReconcileDecisions;
  /** When the KICS snapshot was last read successfully. */
  kicsReadAt: Date;
}

export class NoKicsSnapshotError extends KicsSyncError {
  constructor() {
    super('there is no KICS snapshot yet: read KICS first (kics-sync kics pull); without one every asset would look new', {
      code: 'NO_KICS_SNAPSHOT',
      exitCode: ExitCode.unavailable,
    });
  }
}

export async function loadStagedInput(db: Database, sourceNames: readonly string[], now: Date = new Date()): Promise<StagedInput> {
  return db.transaction(async (tx) => {
    await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const [kics] = await tx.query<{ last_success_at: Date | null }>(`SELECT last_success_at FROM source WHERE name = $1 AND kind = 'kics'`, [kicsSourceName]);
    if (!kics?.last_success_at) throw new NoKicsSnapshotError();
    const basis = await currentBasis(tx, sourceNames);
    const records = await loadRecords(tx, sourceNames);
    const devices = await loadDevices(tx);
    const addressSpaces = (await tx.query<{ raw: AddressSpace; id: number }>(`SELECT id, raw FROM kics_address_space WHERE missing_since IS NULL ORDER BY id`)).map((r) => ({ ...r.raw, id: r.id }));
    // The last upload to each device, with what KICS showed of its configuration then and shows now
    // (compared only when the snapshot read the device after the upload).
    const lastUploads = new Map(
      (
        await tx.query<{ device_id: number; path: string; content_hash: string; uploaded: string | null; settings: unknown; has_settings_hash: boolean }>(
          `SELECT u.device_id, u.path, u.content_hash, u.result->>'processControlSettingsHash' AS uploaded, u.result ? 'processControlSettingsHash' AND d.last_seen > u.uploaded_at AS has_settings_hash,
                  d.raw->'processControlSettings' AS settings
             FROM (SELECT DISTINCT ON (device_id) * FROM industrial_config_upload ORDER BY device_id, uploaded_at DESC, id DESC) u
             LEFT JOIN kics_device d ON d.id = u.device_id`,
        )
      ).map((r) => [
        Number(r.device_id),
        { path: r.path, contentHash: r.content_hash, ...(r.has_settings_hash ? { uploadedSettingsHash: r.uploaded, currentSettingsHash: settingsHash(r.settings) } : {}) },
      ]),
    );
    const assertedAddresses = new Map<number, string[]>();
    for (const row of await tx.query<{ device_id: string | number; address: string }>(`SELECT device_id, address FROM address_assertion`)) {
      const id = Number(row.device_id);
      const list = assertedAddresses.get(id);
      if (list) list.push(row.address);
      else assertedAddresses.set(id, [row.address]);
    }
    const decisions = await decisionsInForce(tx, now);
    return { records, devices, addressSpaces, lastUploads, assertedAddresses, basis, decisions, kicsReadAt: kics.last_success_at };
  });
}

async function loadRecords(tx: Sql, sourceNames: readonly string[]): Promise<StagedRecord[]> {
  const rows = await tx.query<{ source: string; key: string; owner: string | null; normalized: CanonicalAsset; confirmed_at: Date | null }>(
    `SELECT s.name AS source, r.external_key AS key, r.owner, r.normalized,
            CASE WHEN r.missing_since IS NULL THEN COALESCE(s.last_success_at, r.last_seen) ELSE r.last_seen END AS confirmed_at
       FROM source_record r JOIN source s ON s.id = r.source_id
      WHERE r.missing_since IS NULL AND s.name = ANY($1::text[])
      ORDER BY r.source_id, r.external_key`,
    [sourceNames],
  );
  return rows.map((r) => ({ source: r.source, key: r.key, owner: r.owner, asset: r.normalized, confirmedAt: r.confirmed_at }));
}

/**
 * Each device with exactly the fields the reconciler reads, null where KICS sent none. One query, so
 * the database sends rows while they are parsed (paging by id took 50% longer at 100,000 devices).
 */
async function loadDevices(tx: Sql): Promise<KicsDevice[]> {
  const rows = await tx.query<{ id: number; raw: Record<string, unknown> }>(`SELECT id, raw FROM kics_device WHERE missing_since IS NULL ORDER BY id`);
  const devices = new Array<KicsDevice>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const { id, raw } = rows[i]!;
    const device: Record<string, unknown> = {};
    for (const field of deviceFields) device[field] = raw[field] ?? null;
    device.id = id;
    devices[i] = device as unknown as KicsDevice;
  }
  return devices;
}
