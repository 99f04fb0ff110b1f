import { createHash, hash as digest } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { KicsClient } from '../../../adapters/kics/index.js';
import { KicsApiError, parseKicsTimestamp } from '../../../adapters/kics/index.js';
import type { Database } from '../../../db/database.js';
import { CopyRows, JsonText, type Sql } from '../../../db/sql.js';
import { ExitCode, KicsSyncError, errorMessage } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { parseIp } from '../../../model/ip.js';
import type { AddressSpace, KicsDevice } from '../../../model/kics.js';
import { parseMac } from '../../../model/mac.js';
import { findUnstorable, storableJson } from '../../../model/storable.js';
import type { StageMode } from '../source/stage.js';
import { emitEvent } from '../../events/index.js';
import { BatchWriter } from '../batch-writer.js';
import { countChange } from '../change.js';
import {
  countDevicesByStatus,
  ensureKicsSource,
  lockKicsStaging,
  loadAddressSpaceState,
  loadDeviceState,
  markAddressSpacesMissing,
  markDevicesMissing,
  writeAddressSpaces,
  writeDevices,
  type AddressRow,
  type DeviceRow,
  type SpaceRow,
} from './store.js';
import { recordFailure, recordSuccess } from '../source/store.js';

/**
 * Staging KICS into the snapshot the reconciler reads: `kics_device` (the device as KICS answered it,
 * its content hash, name, status, category, lastModified), `kics_address` (one row per interface and
 * IP, rebuilt for changed devices only) and `kics_address_space`, tracked by the `source` row `kics`.
 *
 * - One transaction per read: a failed read leaves the previous snapshot exactly as it was, and the
 *   error is recorded on the source row afterwards.
 * - Pages stream in (the client fetches the next page while this one is written); each device's hash is
 *   compared in memory with the stored one, and only new, changed and returning devices are written
 *   (COPY, and one upsert for changed ones, per 2,000), so a read that finds nothing changed writes no device row at all.
 * - `lastSeen` is left out of the hash: KICS moves it whenever it sees the device on the network, which
 *   is not a change of the device. The stored `raw` keeps the lastSeen of the last write.
 * - Full read: every device; those no longer there are marked missing (`missing_since`), archived ones
 *   are counted. Incremental read: `LastModified > watermark - overlap`; deletions wait for a full read.
 * - Watermark: the newest `lastModified` read, but never later than KICS's clock (`Date` header) when
 *   the read started: a device changed during a full read after its page was read has a lastModified
 *   after that moment, so the next incremental read finds it. The overlap re-reads the last minutes
 *   again for changes KICS commits late; unchanged ones cost no write.
 * - Address spaces (at most 100) are read whole every time.
 */

export interface KicsStageOptions {
  mode: StageMode;
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** After each page; awaited, so a caller can pace the read. */
  onProgress?: (progress: { read: number; expected?: number }) => void | Promise<void>;
  /** Devices the read is expected to deliver (progress bars). */
  expected?: number;
  /** How far before the watermark an incremental read starts (default 2 minutes). */
  overlapMs?: number;
  /** Devices per page (default 1,000, KICS's maximum). */
  pageSize?: number;
  /** Id ranges a full read pages side by side (default 4; incremental reads use one). */
  streams?: number;
}

export interface KicsStageSummary {
  source: 'kics';
  /** The mode used: an incremental request without a watermark reads everything. */
  mode: StageMode;
  /**
   * An incremental read that became a full one: KICS refused its LastModified filter, or ignored it
   * (answered devices older than asked). The connector API document names no device filter fields.
   */
  filterFallback?: 'refused' | 'ignored';
  devices: {
    read: number;
    new: number;
    changed: number;
    unchanged: number;
    /** Missing devices that came back. */
    reappeared: number;
    /** Devices this read found gone (full reads only). */
    missing: number;
    /** Devices this read found archived that were not before. */
    archived: number;
    /** Present devices of the snapshot by status after the read. */
    byStatus: Record<string, number>;
    missingTotal: number;
  };
  addressSpaces: { read: number; new: number; changed: number; unchanged: number; missing: number };
  /**
   * Devices staged with a value PostgreSQL cannot store (NUL, lone surrogate) replaced by U+FFFD: how
   * many, and the first few (device, field, why), for the user to fix in KICS.
   */
  cleaned: { count: number; first: CleanedDevice[] };
  /** Address rows written (interfaces x IPs of new and changed devices). */
  addressRows: number;
  /** ISO time; incremental reads start from it (minus the overlap). */
  watermark: string | null;
  /** Incremental reads: the `LastModified >` bound used. */
  since: string | null;
  generation: number;
  durationMs: number;
}

export interface CleanedDevice {
  device: number;
  field: string;
  reason: string;
}

/** A 400 to a device query: KICS does not take the filter (the document names no device filter fields). */
function filterRefused(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    if (e instanceof KicsApiError) return e.endpoint.route === 'devicesQuery' && e.status === 400;
  }
  return false;
}

/** Cleaned devices named one by one in a summary (the count says how many there were). */
const cleanedListed = 10;

/** Id ranges of a full read paged side by side: KICS prepares one page while this process works on another. */
const defaultStreams = 4;

/** Default overlap of incremental reads. */
export const defaultOverlapMs = 120_000;

/** Devices per write: small enough that writing starts early and the last write is short. */
const flushDevices = 2000;

/**
 * The device as PostgreSQL can store it: a NUL or lone UTF-16 surrogate (seen in device names of a real
 * KICS) would fail the whole COPY, so it is replaced by U+FFFD and the device staged with a warning naming
 * the device and field. KICS holds the device, so it is kept, not rejected.
 */
const unstorableEscape = /\\u0000|\\ud[89a-f]/i;

function storableDevice(device: KicsDevice, logger: Logger, cleaned: KicsStageSummary['cleaned']): KicsDevice {
  const found = findUnstorable(device);
  if (found === null) return device;
  logger.warn({ device: device.id, field: found.field, reason: found.reason }, `KICS device ${device.id}: ${found.field} holds a value PostgreSQL cannot store; staged with U+FFFD in its place`);
  cleaned.count += 1;
  if (cleaned.first.length < cleanedListed) cleaned.first.push({ device: device.id, field: found.field, reason: found.reason });
  return JSON.parse(storableJson(device)) as KicsDevice;
}

/** One line for the user about an incremental read that became a full one. */
export function fallbackText(fallback: 'refused' | 'ignored'): string {
  return fallback === 'refused'
    ? 'KICS refused the LastModified filter of the incremental read (the connector API document names no device filter fields): every device was read instead'
    : 'KICS ignored the LastModified filter of the incremental read (it answered devices older than asked): the read counted as a full read';
}

/** One line for the user about the devices staged with cleaned values, or null when there were none. */
export function cleanedText(cleaned: KicsStageSummary['cleaned']): string | null {
  if (cleaned.count === 0) return null;
  const named = cleaned.first.map((c) => `device ${c.device} ${c.field}: ${c.reason}`).join('; ');
  const more = cleaned.count > cleaned.first.length ? `; and ${cleaned.count - cleaned.first.length} more` : '';
  return `${cleaned.count} KICS device(s) hold values PostgreSQL cannot store, staged with U+FFFD in their place (${named}${more})`;
}

/**
 * A device's JSON without `lastSeen` (what the content hash covers) and its SHA-256. One stringify:
 * the member is set aside for it (a copy of the object would cost as much again).
 */
export function deviceContent(device: KicsDevice): { json: string; hash: string } {
  const lastSeen = device.lastSeen;
  let json: string;
  if (lastSeen === undefined) json = JSON.stringify(device);
  else {
    device.lastSeen = undefined;
    try {
      json = JSON.stringify(device);
    } finally {
      device.lastSeen = lastSeen;
    }
  }
  return { json, hash: digest('sha256', json, 'base64url') };
}

/** The stored JSON: the whole device, `lastSeen` included (the content JSON when the device has none). */
function rawJson(device: KicsDevice, content: string): JsonText {
  return new JsonText(device.lastSeen === undefined ? content : JSON.stringify(device));
}

/** Rows of one write, encoded for COPY as they are found (their strings die young, see CopyRows). */
interface DeviceBatch {
  /** Devices the snapshot never had. */
  added: CopyRows<DeviceRow>;
  /** Changed and returning devices, and their ids. */
  updated: CopyRows<DeviceRow>;
  updatedIds: number[];
  /** The address rows of the devices above. */
  addresses: CopyRows<AddressRow>;
}

const emptyBatch = (): DeviceBatch => ({ added: new CopyRows<DeviceRow>(), updated: new CopyRows<DeviceRow>(), updatedIds: [], addresses: new CopyRows<AddressRow>() });

function canonicalMac(mac: string | null | undefined): string | null {
  if (!mac) return null;
  const parsed = parseMac(mac);
  return parsed.ok ? parsed.mac : mac.toLowerCase();
}

function canonicalIp(ip: string): string {
  const parsed = parseIp(ip);
  return parsed.ok ? parsed.ip : ip;
}

/** One address row per (interface, IP); an interface without IPs has one row with ip null. */
export function addressRows(device: KicsDevice): AddressRow[] {
  const rows: AddressRow[] = [];
  for (const nic of device.addressInformation ?? []) {
    const mac = canonicalMac(nic.macAddress);
    const base = [device.id, nic.networkInterfaceId ?? null, nic.networkInterfaceName ?? null, mac, mac === null ? null : (nic.macAddressSpaceId ?? null)] as const;
    const ips = nic.ipAddresses ?? [];
    if (ips.length === 0) rows.push([...base, null, null]);
    for (const ip of ips) rows.push([...base, canonicalIp(ip.ip), ip.addressSpaceId ?? null]);
  }
  return rows;
}

function isoOf(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export async function stageKics(db: Database, client: KicsClient, options: KicsStageOptions): Promise<KicsStageSummary> {
  const started = performance.now();
  const { logger, signal } = options;
  const sourceRow = await ensureKicsSource(db);
  const previousWatermark = sourceRow.watermark === null ? null : Date.parse(sourceRow.watermark);
  const mode: StageMode = options.mode === 'incremental' && previousWatermark !== null && !Number.isNaN(previousWatermark) ? 'incremental' : 'full';
  const since = mode === 'incremental' ? new Date(previousWatermark! - (options.overlapMs ?? defaultOverlapMs)) : null;
  logger.debug({ mode, since }, 'reading KICS');
  let filterFallback: 'refused' | 'ignored' | null = null;

  try {
    const summary = await db.transaction(async (tx) => {
      await lockKicsStaging(tx);
      const spaces: AddressSpace[] = [];
      for await (const page of client.iterateAddressSpaces(signal)) spaces.push(...page.values);
      const spaceCounts = await stageAddressSpaces(tx, spaces);

      const stored = await loadDeviceState(tx);
      const seen = new Set<number>();
      const counts = { read: 0, new: 0, changed: 0, unchanged: 0, reappeared: 0, archived: 0 };
      const cleaned: KicsStageSummary['cleaned'] = { count: 0, first: [] };
      let newest: number | null = null;
      let readStartedAt: number | null = null;
      let addressCount = 0;
      // Device writes run behind the read: a batch is written while the next pages arrive and are hashed
      // (on PostgreSQL the server parses the JSON meanwhile); up to three batches queued.
      const writer = new BatchWriter<DeviceBatch>((batch) => writeDevices(tx, batch), 3);
      let batch = emptyBatch();
      // The connector API document names no device filter fields: a KICS that refuses the LastModified
      // filter gets a full read instead; one that ignores it answers every device, and the read counts as full.
      let readSince = since;
      let olderThanAsked = false;
      try {
        for (;;) {
          try {
        for await (const page of client.iterateDevices({
          ...(readSince ? { modifiedSince: readSince } : {}),
          ...(options.pageSize ? { pageSize: options.pageSize } : {}),
          streams: readSince === null ? (options.streams ?? defaultStreams) : 1,
          signal,
        })) {
          signal?.throwIfAborted();
          readStartedAt ??= page.serverDate?.getTime() ?? null;
          for (let device of page.values) {
            // Id paging reads a device once; a server that repeated one must not fail the write.
            if (seen.has(device.id)) continue;
            counts.read += 1;
            seen.add(device.id);
            const modified = device.lastModified ? parseKicsTimestamp(device.lastModified) : null;
            if (modified !== null && (newest === null || modified > newest)) newest = modified;
            if (readSince !== null && modified !== null && modified < readSince.getTime()) olderThanAsked = true;
            let content = deviceContent(device);
            // JSON.stringify writes NUL and lone surrogates as escapes: only then is the device walked.
            if (unstorableEscape.test(content.json)) {
              device = storableDevice(device, logger, cleaned);
              content = deviceContent(device);
            }
            const before = stored.get(device.id);
            if (countChange(before, content.hash, counts) === 'unchanged') continue;
            if (device.status === 'Archived' && before !== undefined && before.status !== 'Archived') counts.archived += 1;
            const row: DeviceRow = [device.id, device.name, device.status, device.category ?? null, isoOf(modified), rawJson(device, content.json), content.hash];
            if (before === undefined) batch.added.push(row);
            else {
              batch.updated.push(row);
              batch.updatedIds.push(device.id);
            }
            for (const address of addressRows(device)) batch.addresses.push(address);
            if (batch.added.count + batch.updated.count >= flushDevices) {
              addressCount += batch.addresses.count;
              await writer.push(batch);
              batch = emptyBatch();
            }
          }
          await options.onProgress?.({ read: counts.read, ...(options.expected === undefined ? {} : { expected: options.expected }) });
          // A page fetched ahead resolves as a microtask: give the write in flight a turn of the event loop.
          await nextTurn();
        }
            break;
          } catch (error) {
            if (readSince === null || counts.read > 0 || !filterRefused(error)) throw error;
            logger.warn({ err: errorMessage(error) }, 'KICS refused the LastModified filter of an incremental read; reading every device instead');
            filterFallback = 'refused';
            readSince = null;
          }
        }
        if (olderThanAsked) {
          logger.warn({ since: readSince?.toISOString() }, 'KICS answered devices older than the LastModified filter asked for (the filter is ignored); the read counts as a full read');
          filterFallback = 'ignored';
          readSince = null;
        }
        addressCount += batch.addresses.count;
        await writer.push(batch);
      } finally {
        // Never leave a write running on a transaction that is about to end.
        await writer.drain().catch(() => {});
      }
      await writer.drain();

      const gone: number[] = [];
      let missingTotal = 0;
      for (const [id, device] of stored) {
        if (seen.has(id)) continue;
        if (device.missing) missingTotal += 1;
        else if (readSince === null) gone.push(id);
      }
      const missing = await markDevicesMissing(tx, gone);
      missingTotal += missing;

      // The newest change read, but not beyond KICS's clock at the start of the read (see above).
      let watermark = sourceRow.watermark;
      if (newest !== null) {
        const bound = readStartedAt === null ? newest : Math.min(newest, readStartedAt);
        const next = previousWatermark !== null && !Number.isNaN(previousWatermark) && mode === 'incremental' ? Math.max(previousWatermark, bound) : bound;
        watermark = new Date(next).toISOString();
      }

      const changed = counts.new + counts.changed + counts.reappeared + missing + spaceCounts.new + spaceCounts.changed + spaceCounts.reappeared + spaceCounts.missing > 0;
      const byStatus = await countDevicesByStatus(tx);
      const { reappeared: _spacesBack, ...spaceSummary } = spaceCounts;
      const readMode: StageMode = readSince === null ? 'full' : 'incremental';
      const result = {
        source: 'kics' as const,
        mode: readMode,
        ...(filterFallback ? { filterFallback } : {}),
        devices: { ...counts, missing, byStatus, missingTotal },
        addressSpaces: spaceSummary,
        cleaned,
        addressRows: addressCount,
        watermark,
        since: since?.toISOString() ?? null,
      };
      const generation = await recordSuccess(tx, sourceRow.id, { changed, watermark, full: readMode === 'full', summary: result });
      return { ...result, generation };
    });
    const done: KicsStageSummary = { ...summary, durationMs: Math.round(performance.now() - started) };
    if (done.filterFallback) {
      await emitEvent(db, 'KSYNC_KICS_INCREMENTAL_FALLBACK', { fallback: done.filterFallback, since: since?.toISOString() ?? null }, { message: fallbackText(done.filterFallback) }).catch((e: unknown) =>
        logger.error({ err: errorMessage(e) }, 'could not record the engine event'),
      );
    }
    logger.info({ mode: done.mode, ...done.devices, addressSpaces: done.addressSpaces.read, generation: done.generation, ms: done.durationMs }, 'KICS staged');
    return done;
  } catch (error) {
    // Whatever broke the read, the snapshot is the earlier one and the command says KICS could not be read (exit 3).
    const failure = error instanceof KicsSyncError ? error : new KicsSyncError(`reading KICS failed: ${errorMessage(error)}`, { code: 'KICS_STAGE_FAILED', cause: error, exitCode: ExitCode.unavailable });
    await recordFailure(db, sourceRow.id, failure.message).catch((e: unknown) => logger.error({ err: errorMessage(e) }, 'could not record the failed KICS read'));
    throw signal?.aborted ? (signal.reason ?? failure) : failure;
  }
}

async function stageAddressSpaces(tx: Sql, spaces: readonly AddressSpace[]): Promise<{ read: number; new: number; changed: number; unchanged: number; reappeared: number; missing: number }> {
  const stored = await loadAddressSpaceState(tx);
  const counts = { read: spaces.length, new: 0, changed: 0, unchanged: 0, reappeared: 0, missing: 0 };
  const rows: SpaceRow[] = [];
  const seen = new Set<number>();
  for (const space of spaces) {
    seen.add(space.id);
    const hash = createHash('sha256').update(JSON.stringify(space)).digest('base64url');
    if (countChange(stored.get(space.id), hash, counts) === 'unchanged') continue;
    rows.push([space.id, space.name, space.description ?? null, space.readOnly ?? false, space.rules ?? [], space, hash]);
  }
  await writeAddressSpaces(tx, rows);
  counts.missing = await markAddressSpacesMissing(
    tx,
    [...stored].filter(([id, s]) => !s.missing && !seen.has(id)).map(([id]) => id),
  );
  return counts;
}
