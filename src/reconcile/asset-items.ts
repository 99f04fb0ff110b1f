import { deviceSide, assetSide, type BoundDevice, type BoundRecord } from './identity.js';
import type { ReconcileContext } from './context.js';
import type { KeyId } from './keys.js';
import type { AssetGroup } from './correlate.js';
import { assetName, emptyItem, factsOf, recordOwner, sourceKeysOf, type ItemBase, type Work } from './plan-builder.js';
import type { Conflict } from './plan-schema.js';
import type { Target } from './target.js';

/** Items any asset can produce, matched or new: not touched because stale, and the industrial configuration upload. */

const dayMs = 86_400_000;

/** The records a source confirmed within its staleness window (all of them when no source has one). */
export function freshRecords(ctx: ReconcileContext, records: readonly BoundRecord[]): readonly BoundRecord[] {
  if (ctx.staleAfter.size === 0) return records;
  const now = ctx.input.now.getTime();
  return records.filter((bound) => {
    const days = ctx.staleAfter.get(bound.record.source);
    if (days === undefined) return true;
    return !(bound.record.confirmedAt === null || now - bound.record.confirmedAt.getTime() > days * dayMs);
  });
}

/** An asset whose every record is stale: reported, not touched. */
export function staleWork(ctx: ReconcileContext, group: AssetGroup, device: BoundDevice | null, keys: readonly KeyId[]): Work {
  const records = group.records;
  const reason = records
    .map((r) => {
      const days = ctx.staleAfter.get(r.record.source)!;
      const when = r.record.confirmedAt ? `last confirmed ${r.record.confirmedAt.toISOString()}` : 'never confirmed';
      return `${r.record.source} ${JSON.stringify(r.record.key)} ${when}, more than ${days} days ago`;
    })
    .join('; ');
  return {
    item: {
      ...emptyItem('stale', 'not_applicable'),
      kicsDeviceId: device?.device.id ?? null,
      deviceName: device?.device.name ?? assetName(records),
      addressSpaceId: ctx.keys.primarySpace(keys),
      owner: recordOwner(records),
      matchKeys: ctx.keys.matchKeys(keys),
      sourceKeys: sourceKeysOf(records),
      reason: `not touched: ${reason}`,
    },
    facts: factsOf(records, device ? [device] : [], keys),
  };
}

/**
 * The upload of the asset's industrial configuration, when the file differs from the one uploaded
 * last; a conflict when the file was rejected; null when there is nothing to upload.
 */
export function configUpload(ctx: ReconcileContext, target: Target, records: readonly BoundRecord[], device: BoundDevice | null, keys: readonly KeyId[], base: Partial<ItemBase>): Work | null {
  if (!target.industrialConfig) return null;
  const file = ctx.input.configFiles?.get(target.industrialConfig);
  const facts = factsOf(records, device ? [device] : [], keys);
  if (!file || !file.ok) {
    const reason = file ? file.reason : `industrial configuration ${JSON.stringify(target.industrialConfig)} was not checked (no file information given)`;
    const body: Conflict = { kind: 'config_file_rejected', reason, assets: records.map(assetSide), devices: device ? [deviceSide(device)] : [] };
    return { item: { ...emptyItem('conflict', 'not_applicable'), ...base, reason, conflict: body }, facts };
  }
  const last = device ? ctx.input.lastUploads?.get(device.device.id) : undefined;
  // The same file as last time, and KICS still shows what that upload left (as far as the document lets it be read back).
  const changedInKics = last?.uploadedSettingsHash != null && last.currentSettingsHash !== last.uploadedSettingsHash;
  if (last && last.contentHash === file.contentHash && !changedInKics) return null;
  return {
    item: {
      ...emptyItem('upload_config', 'pending'),
      ...base,
      before: last ? { industrialConfig: { path: last.path, contentHash: last.contentHash } } : null,
      after: { industrialConfig: { path: file.path, contentHash: file.contentHash } },
      request: { mode: ctx.config.industrialConfig.mode, path: file.path, resolvedPath: file.resolvedPath, contentHash: file.contentHash, size: file.size },
      reason: !last
        ? 'no configuration uploaded yet'
        : last.contentHash !== file.contentHash
          ? `content differs from the configuration uploaded last (${last.path})`
          : last.currentSettingsHash === null
            ? `the industrial configuration uploaded last (${last.path}) was removed in KICS`
            : `the industrial configuration uploaded last (${last.path}) was changed in KICS since`,
    },
    facts,
  };
}
