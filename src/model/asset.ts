import type { AssetFieldValues } from './fields.js';

/**
 * The canonical asset: what every source turns its records into, and what the reconciler compares
 * with KICS devices. Field names follow KICS's device fields so that precedence rules name one field
 * the same way everywhere. Values are already normalised (src/model/normalize*.ts): MACs lower-case
 * and colon separated, IPs in canonical text, enums mapped to KICS values. Absent (undefined) means
 * "this source says nothing about it"; null means "this source says it is empty". The fields, their
 * types and what each means are declared once, in src/model/fields.ts.
 */
export interface CanonicalAsset extends AssetFieldValues {
  /** Network interfaces; identity comes from their MACs and IPs. */
  interfaces: AssetInterface[];
}

export interface AssetInterface {
  name?: string | null;
  /** Canonical MAC (aa:bb:cc:dd:ee:ff), or null when the interface has none usable as identity. */
  mac?: string | null;
  /** Canonical IP addresses (IPv4 dotted quad, IPv6 RFC 5952). */
  ips: string[];
  vlan?: number | null;
  /** The KICS address space the source names for this interface (id, or name to look up); otherwise derived from the IP. */
  addressSpace?: number | string | null;
}

/** One record a source delivered, with its canonical form. */
export interface SourceRecord {
  /** Stable key of the record within its source (CSV: the identity columns; NetBox: device id...). */
  externalKey: string;
  /** The record as delivered (stored for reports and audits; never secrets). */
  raw: Record<string, unknown>;
  asset: CanonicalAsset;
  /** Where it came from, e.g. `assets.csv:12`. */
  location?: string;
  /** Things normalisation noticed but did not reject (e.g. a multicast MAC not used as identity). */
  notes?: string[];
}

/** A record (or row) that could not be used: where, which column, why. */
export interface RecordReject {
  /** e.g. `assets.csv:17`, or `netbox device 42`. */
  location: string;
  column?: string;
  reason: string;
  raw?: Record<string, unknown>;
}

export interface SourceBatch {
  records: SourceRecord[];
  rejects: RecordReject[];
  /** The source's cursor after this batch (e.g. the newest last_updated seen); the stager keeps the last one. */
  watermark?: string;
  /** How many records the whole read is expected to deliver, when the source knows (for progress bars). */
  expected?: number;
}

export interface ReadOptions {
  /** `full` reads everything (and what is absent becomes missing); `incremental` reads what changed since `since`. */
  mode: 'full' | 'incremental';
  /** The watermark of the last successful read, for incremental reads. */
  since?: string | null;
  /**
   * Incremental reads: the keys of this source's present staged records whose raw record holds one of
   * the values at the SQL/JSON path, e.g. the devices that held IP address 5006 at the last read:
   * `stagedKeys('$.interfaces[*].ips[*].id', [5006])`. A source whose change feed names only where a
   * thing is now learns from it where the thing was.
   */
  stagedKeys?: (jsonPath: string, values: readonly (string | number)[]) => Promise<string[]>;
  signal?: AbortSignal;
  /**
   * For incremental reads: the keys of the records staged from this source (present) that have one of
   * these MACs or IPs (canonical). Where an address was before it moved is in no table of some sources
   * (a CMDB's adapter or IP record moved to another CI): the staged records say which asset still has it.
   */
  stagedHolders?: (addresses: { macs: readonly string[]; ips: readonly string[] }) => Promise<string[]>;
}

export type SourceKind = 'csv' | 'netbox' | 'servicenow' | 'ksc';

/** What a successful `check()` found, for the user: facts about the source, and what looks wrong. */
export interface SourceCheck {
  /** e.g. `delimiter: ";"`, `mac <- column "MAC Address"`. */
  details: string[];
  /** Things that will not stop a read but that the user should fix or know. */
  warnings: string[];
}

/**
 * The contract every asset source follows (STYLE.md): `check()` proves it can connect, `read()`
 * streams batches. Nothing else about a source leaks out of its folder in src/adapters/.
 */
export interface AssetSource {
  readonly name: string;
  readonly kind: SourceKind;
  /** Whether `read({ mode: 'incremental' })` is supported; otherwise every read is full. */
  readonly incremental: boolean;
  /**
   * Optional: true when a read never delivers a key twice (the source rejects a repeated key itself, with
   * its own words), so staging need not look for repeats again.
   */
  readonly uniqueKeys?: boolean;
  /** Proves the source can be read; may say what it found (e.g. a file's delimiter) and what looks wrong. */
  check(signal?: AbortSignal): Promise<SourceCheck | void>;
  read(options: ReadOptions): AsyncIterable<SourceBatch>;
  /**
   * Optional: an identity of everything a full read would deliver now (for a file: its bytes and the
   * settings that shape its records). When it equals the one the last successful read recorded, an
   * incremental stage does not read the source again (`stageSource()` in src/sync/staging/source/stage.ts).
   */
  fingerprint?(signal?: AbortSignal): Promise<string>;
}
