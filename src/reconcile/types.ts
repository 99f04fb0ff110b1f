import type { ReconcileConfig } from '../config/reconcile.js';
import type { CanonicalAsset } from '../model/asset.js';
import type { AddressSpace, KicsDevice } from '../model/kics.js';
import type { PlanAction, PlanBasis, PlanScope, SourceKey } from './plan-schema.js';

/** One staged source record, as the reconciler sees it. */
export interface StagedRecord {
  /** The source's configured name. */
  source: string;
  /** The record's key within its source. */
  key: string;
  owner: string | null;
  asset: CanonicalAsset;
  /** When the source last confirmed the record; null = never (the record counts as stale when the source has a staleness window). */
  confirmedAt: Date | null;
}

/** A configured, enabled source, in config order (the default precedence order). */
export interface SourceInfo {
  name: string;
  staleAfterDays?: number | undefined;
}

/** An industrial configuration file a record names, as the I/O side found it under the configured root. */
export type ConfigFileInfo =
  | { ok: true; path: string; resolvedPath: string; contentHash: string; size: number }
  | { ok: false; path: string; reason: string };

/** The last configuration uploaded to a device. */
export interface LastUpload {
  path: string;
  contentHash: string;
  /**
   * What KICS showed of the device's industrial configuration (`processControlSettings`, read back
   * after the upload) and what the snapshot shows now, as `settingsHash()`; absent for uploads made
   * before the read-back existed. When they differ, the configuration was changed or removed in KICS.
   */
  uploadedSettingsHash?: string | null;
  currentSettingsHash?: string | null;
}

/** Everything the reconciler needs, as values: it reads no files, database or clock of its own. */
export interface ReconcileInput {
  now: Date;
  config: ReconcileConfig;
  sources: readonly SourceInfo[];
  records: readonly StagedRecord[];
  /** The KICS snapshot (devices not missing). Only the writable fields, `id` and `status` are read. */
  devices: readonly KicsDevice[];
  addressSpaces: readonly AddressSpace[];
  lastUploads?: ReadonlyMap<number, LastUpload>;
  /**
   * The addresses sources asserted for each device on earlier plans (identity keys, `macKey` /
   * `ipKey`): one of them that no fresh source asserts now is removed from the device. Addresses not
   * here (KICS discovered them on its own) are never removed.
   */
  assertedAddresses?: ReadonlyMap<number, readonly string[]>;
  /** Keyed by the path exactly as records name it. */
  configFiles?: ReadonlyMap<string, ConfigFileInfo>;
  scope?: PlanScope;
  basis?: PlanBasis;
  /** Owners' decisions in force (the I/O side leaves out revoked, expired and lapsed ones). */
  decisions?: ReconcileDecisions | undefined;
  /** Vendor of a MAC's OUI; used only as the lowest-precedence hardwareVendor when reconcile.vendorFromOui is on. */
  vendorFromMac?: ((mac: string) => string | undefined) | undefined;
}

/** Who decided, when and why: shown on what the decision changes. */
export interface DecisionRef {
  id: number;
  by: string;
  /** ISO time. */
  at: string;
  reason: string;
}

/** A change an owner rejected: an item of this action on this device (or, for a create, from exactly these records) is held. */
export interface HoldDecision extends DecisionRef {
  action: PlanAction;
  deviceId: number | null;
  sourceKeys: readonly SourceKey[];
}

/** "This record is that KICS device." */
export interface PinDecision extends DecisionRef {
  source: string;
  key: string;
  deviceId: number;
}

/** "These records are one asset." */
export interface SameAssetDecision extends DecisionRef {
  records: readonly SourceKey[];
}

/** "Ignore this device": in KICS on purpose, never reported as unknown. */
export interface IgnoreDecision extends DecisionRef {
  deviceId: number;
}

/** The owners' decisions the reconciler follows, as plain values (src/reconcile/decisions.ts). */
export interface ReconcileDecisions {
  holds: readonly HoldDecision[];
  pins: readonly PinDecision[];
  sameAssets: readonly SameAssetDecision[];
  ignoredDevices: readonly IgnoreDecision[];
}
