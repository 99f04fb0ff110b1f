import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { KicsApiError, type DeviceCreateOutcome, type KicsClient, type KicsErrorCode } from '../../adapters/kics/index.js';
import type { Sql } from '../../db/sql.js';
import { errorMessage } from '../../errors.js';
import { settingsHash } from '../../model/normalize.js';
import type { Logger } from '../../log.js';
import type { DeviceCreateRequest, KicsDevice } from '../../model/kics.js';
import { deviceFields } from '../../reconcile/fields.js';
import type { ConfigUploadRequest } from '../../reconcile/plan-schema.js';
import { checkConfigFiles } from '../plans/config-files.js';
import { itemBySeq, type ClaimedItem } from './claim.js';
import { guardsHold, plannedValuesHeld } from './landed.js';
import type { ItemOutcome } from './outcome.js';

/**
 * Executing one claimed item against KICS and saying what happened. KICS errors never escape: they
 * become a `failed` outcome (with the HTTP status and KICS's messages), so one item never stops the
 * others. Retries happen only inside the client, under its safe-retry rules.
 *
 * How each action avoids doing anything twice:
 * - create: an item a dead process had claimed is first looked up in KICS by name (its MACs when the
 *   name is not found); found by name, the earlier attempt landed. A lost answer is verified by the
 *   client the same way. `whatIfDuplicate: Skip` answering `Skipped` means a device matching the asset
 *   appeared in KICS after planning: drift, nothing created. A `Created` answer (the document's only
 *   one, also for a duplicate) naming a device the snapshot had, or one under another name, is the
 *   duplicate KICS matched (settleCreatedAnswer).
 * - update / archive: PATCH with the Test guards first. When a guard fails, the device is read and
 *   compared with the planned values: equal after a resent request or a dead claimant means the
 *   earlier attempt landed (applied); equal otherwise means KICS already had them (skipped); anything
 *   else is drift, and KICS's value is kept (the failed guard stopped the ops).
 * - delete: a dead claimant's delete is checked with a GET first; 404 means gone. A DELETE answered
 *   404 is "already gone" only when a GET of the device also answers 404 (a KICS without the route
 *   answers 404 too).
 * - upload_config: the file is checked again (still under the root, same content). KICS's
 *   configuration is read (`GET devices/{id}`, its `processControlSettings` hashed) before sending and
 *   kept on the item; an upload whose answer is lost, now or by a process that died, is applied when
 *   KICS's configuration changed since, and sent again only when it did not (an upload of the same
 *   file is idempotent: Replace gives the same tags, Merge replaces each tag by itself).
 */

export interface ExecuteContext {
  client: KicsClient;
  db: Sql;
  planId: number;
  /** `reconcile.industrialConfig.root`: uploads read files only from under it. */
  industrialConfigRoot: string | undefined;
  /** `kics.sourceId`: sent with every PATCH so that KICS attributes the change to the connector. */
  sourceId?: number | undefined;
  logger: Logger;
}

/** Errors that say KICS as a whole cannot be used right now: the apply stops claiming. */
const systemicCodes: ReadonlySet<KicsErrorCode> = new Set<KicsErrorCode>(['KICS_UNREACHABLE', 'KICS_TIMEOUT', 'KICS_TLS_UNTRUSTED', 'KICS_TLS_PIN_MISMATCH', 'KICS_TLS_CLIENT_REFUSED', 'KICS_AUTH_FAILED', 'KICS_FORBIDDEN']);

export function isSystemic(error: unknown): error is KicsApiError {
  return error instanceof KicsApiError && systemicCodes.has(error.code);
}

export async function executeItem(ctx: ExecuteContext, item: ClaimedItem): Promise<ItemOutcome & { systemic?: KicsApiError }> {
  switch (item.action) {
    case 'create':
      return createDevice(ctx, item);
    case 'update':
    case 'recognize':
    case 'archive':
      return patchDevice(ctx, item);
    case 'delete':
      return deleteDevice(ctx, item);
    case 'upload_config':
      return uploadConfig(ctx, item);
    default:
      throw new Error(`plan item ${item.seq}: ${item.action} items are never applied`);
  }
}

function failed(item: ClaimedItem, operation: ItemOutcome['audit']['operation'], deviceId: number | null, request: Record<string, unknown>, error: unknown): ItemOutcome & { systemic?: KicsApiError } {
  const api = error instanceof KicsApiError ? error : null;
  const message = errorMessage(error);
  return {
    status: 'failed',
    message,
    result: { error: api ? api.toJSON() : { message } },
    audit: { operation, deviceId, request, httpStatus: api?.status ?? null, kicsResult: api ? { code: api.code, errors: api.errors, outcomeUnknown: api.outcomeUnknown } : null, before: item.before, after: null },
    events: [
      {
        type: 'KSYNC_WRITE_FAILED',
        payload: { seq: item.seq, action: item.action, deviceId, status: api?.status ?? null, code: api?.code ?? 'INTERNAL', errors: api?.errors ?? [], message },
        message: `${item.action} of ${deviceId === null ? `new device ${JSON.stringify(item.deviceName)}` : `device ${deviceId}`} failed: ${message}`,
      },
    ],
    ...(isSystemic(error) ? { systemic: error } : {}),
  };
}

// ------------------------------------------------------------------------------------------ create

async function createDevice(ctx: ExecuteContext, item: ClaimedItem): Promise<ItemOutcome & { systemic?: KicsApiError }> {
  const request = item.request as DeviceCreateRequest;
  const summary = { method: 'POST', route: 'deviceCreate', body: request } as Record<string, unknown>;
  const { whatIfDuplicate: _w, allowProcessControlSettingsLoss: _a, ...fields } = request;
  try {
    if (item.mayHaveLanded) {
      const macs = request.addressInformation.flatMap((i) => (i.macAddress ? [i.macAddress] : []));
      const found = (await ctx.client.findDevices({ name: request.name, macs })).find((d) => d.name === request.name);
      if (found) {
        ctx.logger.info({ seq: item.seq, deviceId: found.id, claimant: item.previousClaimant, orphaned: item.orphaned }, 'an earlier attempt of this create had landed: device found in KICS by name');
        return {
          status: 'applied',
          message: null,
          result: { deviceId: found.id, status: 'Found', recovered: true },
          deviceId: found.id,
          audit: { operation: 'create', deviceId: found.id, request: summary, httpStatus: null, kicsResult: { status: 'Found', deviceId: found.id, recovered: true, by: 'name' }, before: null, after: fields },
        };
      }
    }
    const answer = await settleCreatedAnswer(ctx, request, await ctx.client.createDevice(request));
    if (answer.status === 'Skipped') {
      const dup = answer.duplicate;
      const matched = dup?.matchedBy ? ` (matched by ${dup.matchedBy}${dup.value === undefined ? '' : ` ${JSON.stringify(dup.value)}`})` : '';
      const message = `KICS already has a device matching this asset: device ${answer.deviceId}${matched}. It appeared after planning; nothing was created and KICS's device is kept. Plan again to match it`;
      return {
        status: 'drifted',
        message,
        result: { status: 'Skipped', duplicateDeviceId: answer.deviceId, duplicate: dup ?? null },
        audit: { operation: 'create', deviceId: answer.deviceId, request: summary, httpStatus: 200, kicsResult: answer, before: null, after: null },
        events: [{ type: 'KSYNC_DRIFT_FOUND', payload: { seq: item.seq, action: 'create', deviceId: answer.deviceId, duplicate: dup ?? null }, message: `new device ${JSON.stringify(request.name)}: ${message}` }],
      };
    }
    // Overwrite replaced an existing device's values: what it held before goes into the audit, from
    // the snapshot (a device the snapshot does not have is audited without them, and says so).
    const before = answer.status === 'Overwritten' ? await snapshotValues(ctx, answer.deviceId) : null;
    return {
      status: 'applied',
      message: answer.status === 'Overwritten' ? `KICS overwrote its device ${answer.deviceId}, which matched this asset${before ? '' : ' (its earlier values are not in the snapshot)'}` : null,
      result: { deviceId: answer.deviceId, status: answer.status, recovered: answer.recovered },
      deviceId: answer.deviceId,
      audit: { operation: 'create', deviceId: answer.deviceId, request: summary, httpStatus: answer.recovered ? null : 200, kicsResult: answer, before, after: fields },
    };
  } catch (error) {
    return failed(item, 'create', null, summary, error);
  }
}

/**
 * The document shows one create answer, `{status: "Created", deviceId}`, also for a request KICS
 * matched to a device it already had (the answers `Skipped` / `Overwritten` are not in it). A
 * `Created` answer is taken at its word only when the device it names is new to the engine and holds
 * the name sent: a device the snapshot already had, or (with `Skip`) one under another name, is the
 * duplicate KICS matched, and the answer is settled as `Skipped` / `Overwritten`.
 */
async function settleCreatedAnswer(ctx: ExecuteContext, request: DeviceCreateRequest, answer: DeviceCreateOutcome): Promise<DeviceCreateOutcome> {
  if (answer.status !== 'Created' || answer.recovered) return answer;
  const [known] = await ctx.db.query<{ id: number }>(`SELECT id FROM kics_device WHERE id = $1 AND missing_since IS NULL`, [answer.deviceId]);
  let matchedBy: string | null = known ? 'a device KICS held when the plan was made' : null;
  if (matchedBy === null && request.whatIfDuplicate !== 'Overwrite') {
    const device = await ctx.client.findDevice(answer.deviceId).catch((error: unknown) => {
      ctx.logger.warn({ deviceId: answer.deviceId, err: errorMessage(error) }, 'could not read a created device back; taking the create answer at its word');
      return null;
    });
    if (device && device.name !== request.name) matchedBy = `a device named ${JSON.stringify(device.name)} that appeared after planning`;
  }
  if (matchedBy === null) return answer;
  ctx.logger.info({ deviceId: answer.deviceId, matchedBy }, 'KICS answered Created with a device it already had');
  return { ...answer, status: request.whatIfDuplicate === 'Overwrite' ? 'Overwritten' : 'Skipped', duplicate: { deviceId: answer.deviceId, matchedBy } };
}

/**
 * What KICS shows of a device's industrial configuration right after an upload (`GET devices/{id}`,
 * `processControlSettings`), hashed: the next plan compares it with the snapshot to see a
 * configuration changed or removed in KICS. Undefined when the device cannot be read now.
 */
async function readBackSettings(ctx: ExecuteContext, deviceId: number): Promise<string | null | undefined> {
  try {
    const device = await ctx.client.findDevice(deviceId);
    return device ? settingsHash(device.processControlSettings) : undefined;
  } catch (error) {
    ctx.logger.warn({ deviceId, err: errorMessage(error) }, 'could not read the device back after its industrial configuration upload');
    return undefined;
  }
}

/** The writable values of a device as the KICS snapshot holds them, or null when it does not. */
async function snapshotValues(ctx: ExecuteContext, deviceId: number): Promise<Record<string, unknown> | null> {
  const [row] = await ctx.db.query<{ raw: Record<string, unknown> }>(`SELECT raw FROM kics_device WHERE id = $1`, [deviceId]);
  if (!row) return null;
  return Object.fromEntries(deviceFields.filter((f) => f in row.raw).map((f) => [f, row.raw[f]]));
}

// ------------------------------------------------------------------------------------ update, recognize, archive

type PatchOperation = 'update' | 'recognize' | 'archive';

async function patchDevice(ctx: ExecuteContext, item: ClaimedItem): Promise<ItemOutcome & { systemic?: KicsApiError }> {
  const deviceId = item.kicsDeviceId!;
  const ops = item.ops ?? [];
  const operation = item.action === 'archive' || item.action === 'recognize' ? item.action : 'update';
  const summary = { method: 'PATCH', route: 'devicePatch', deviceId, ops };
  try {
    const answer = await ctx.client.patchDevice(deviceId, ops, ctx.sourceId === undefined ? {} : { sourceId: ctx.sourceId });
    if (answer.ok) {
      return { status: 'applied', message: null, result: { results: answer.results }, audit: { operation, deviceId, request: summary, httpStatus: 200, kicsResult: answer.results, before: item.before, after: item.after } };
    }
    const failure = answer.firstFailure!;
    if (failure.op.op !== 'Test') {
      const message = `KICS refused ${failure.op.op} ${failure.op.path}: ${failure.errorMessage}`;
      return { ...failed(item, operation, deviceId, summary, new Error(message)), result: { results: answer.results }, audit: { operation, deviceId, request: summary, httpStatus: 200, kicsResult: answer.results, before: item.before, after: null } };
    }
    // A guard failed: KICS no longer holds what the plan was computed from. Drift, unless the
    // device already holds the planned values.
    return await settleByReading(ctx, item, operation, summary, { resent: answer.resent, results: answer.results, testMessage: failure.errorMessage });
  } catch (error) {
    if (error instanceof KicsApiError && error.status === 404) return gone(item, operation, summary, null);
    // The document defines a failed Test only as a result in the answer. A KICS that answers a failed
    // guard with an HTTP error instead (400, 409, 412, 422), or with fewer results than ops, is asked
    // what it holds now: guards that no longer hold are drift, not a failure repeated on every apply.
    if (ops[0]?.op === 'Test' && error instanceof KicsApiError && error.endpoint.route === 'devicePatch' && (guardRefusals.has(error.status ?? 0) || (error.code === 'KICS_BAD_RESPONSE' && !error.outcomeUnknown))) {
      try {
        return await settleByReading(ctx, item, operation, summary, { resent: false, results: { error: error.toJSON() }, testMessage: error.message, refusal: error });
      } catch {
        return failed(item, operation, deviceId, summary, error);
      }
    }
    return failed(item, operation, deviceId, summary, error);
  }
}

/** HTTP statuses a KICS might answer a failed Test guard with (the document shows results instead). */
const guardRefusals: ReadonlySet<number> = new Set([400, 409, 412, 422]);

/**
 * After a PATCH whose guards failed (or that KICS refused without saying which op): the device as KICS
 * holds it now decides. Planned values held: the earlier attempt landed (applied) or KICS had them
 * (skipped). Guards still holding after a refusal: KICS refused the write itself (failed). Otherwise
 * drift, and KICS's value is kept.
 */
async function settleByReading(
  ctx: ExecuteContext,
  item: ClaimedItem,
  operation: PatchOperation,
  summary: Record<string, unknown>,
  answer: { resent: boolean; results: unknown; testMessage: string; refusal?: KicsApiError },
): Promise<ItemOutcome & { systemic?: KicsApiError }> {
  const deviceId = item.kicsDeviceId!;
  const after = item.after ?? {};
  const httpStatus = answer.refusal?.status ?? 200;
  const device = await ctx.client.findDevice(deviceId);
  if (!device) return gone(item, operation, summary, answer.results);
  const held = plannedValuesHeld(device, after);
  if (held.held) {
    const landed = answer.resent || item.mayHaveLanded;
    if (landed) ctx.logger.info({ seq: item.seq, deviceId, resent: answer.resent, orphaned: item.orphaned }, 'an earlier attempt of this PATCH had landed: KICS holds the planned values');
    return {
      status: landed ? 'applied' : 'skipped',
      message: landed ? null : 'KICS already holds the planned values (they were set in KICS after planning); nothing sent',
      result: { recognised: landed ? 'earlier attempt landed' : 'already as planned', results: answer.results },
      audit: { operation, deviceId, request: summary, httpStatus, kicsResult: { landed, results: answer.results }, before: landed ? item.before : held.kicsValues, after: landed ? item.after : null },
    };
  }
  if (answer.refusal && guardsHold(device, item.ops ?? [])) return failed(item, operation, deviceId, summary, answer.refusal);
  return drifted(item, operation, summary, device, held.differing, held.kicsValues, answer.testMessage, answer.results, httpStatus);
}

function gone(item: ClaimedItem, operation: PatchOperation, request: Record<string, unknown>, results: unknown): ItemOutcome {
  const deviceId = item.kicsDeviceId!;
  const message = `device ${deviceId} no longer exists in KICS (deleted after planning); nothing changed. Plan again`;
  return {
    status: 'drifted',
    message,
    result: { kics: null },
    audit: { operation, deviceId, request, httpStatus: 404, kicsResult: results, before: null, after: null },
    events: [{ type: 'KSYNC_DRIFT_FOUND', payload: { seq: item.seq, deviceId, fields: [], kics: null }, message }],
  };
}

function drifted(
  item: ClaimedItem,
  operation: PatchOperation,
  request: Record<string, unknown>,
  device: KicsDevice,
  fields: readonly string[],
  kicsValues: Record<string, unknown>,
  testMessage: string,
  results: unknown,
  httpStatus = 200,
): ItemOutcome {
  const described = fields.map((f) => `${f} is ${short(kicsValues[f])} in KICS (planned: ${short(item.before?.[f] ?? null)} -> ${short(item.after?.[f] ?? null)})`).join('; ');
  const message = `changed in KICS since planning: ${described || testMessage}. KICS's value is kept; plan again to include it`;
  return {
    status: 'drifted',
    message,
    result: { kics: kicsValues, differing: fields, test: testMessage },
    audit: { operation, deviceId: device.id, request, httpStatus, kicsResult: results, before: kicsValues, after: null },
    events: [{ type: 'KSYNC_DRIFT_FOUND', payload: { seq: item.seq, deviceId: device.id, fields, kics: kicsValues, planned: item.after }, message: `device ${device.id} (${device.name}): ${message}` }],
  };
}

function short(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}

// ------------------------------------------------------------------------------------------ delete

async function deleteDevice(ctx: ExecuteContext, item: ClaimedItem): Promise<ItemOutcome & { systemic?: KicsApiError }> {
  const deviceId = item.kicsDeviceId!;
  const summary = { method: 'DELETE', route: 'deviceDelete', deviceId };
  const done = (recovered: boolean, httpStatus: number | null): ItemOutcome => ({
    status: 'applied',
    message: null,
    result: { deleted: deviceId, recovered },
    audit: { operation: 'delete', deviceId, request: summary, httpStatus, kicsResult: { recovered }, before: item.before, after: null },
  });
  try {
    if (item.mayHaveLanded && (await ctx.client.findDevice(deviceId)) === null) return done(true, null);
    const answer = await ctx.client.deleteDevice(deviceId);
    return done(answer.recovered, answer.recovered ? null : 204);
  } catch (error) {
    if (error instanceof KicsApiError && error.status === 404) {
      // The document defines no DELETE route: a KICS without one answers 404 for a device that is
      // still there. Only a GET that finds nothing makes it "already gone".
      const still = await ctx.client.findDevice(deviceId).catch((e: unknown) => e);
      if (still !== null) {
        const why =
          still instanceof Error
            ? `and the device could not be read to tell whether it is gone (${errorMessage(still)})`
            : `but the device is still there: this KICS has no delete route at ${error.endpoint.path} (the connector API document defines none; see kics.routes.deviceDelete, or archive instead of deleting)`;
        return failed(item, 'delete', deviceId, summary, new KicsApiError(`${error.message}, ${why}`, { code: 'KICS_NOT_FOUND', endpoint: error.endpoint, status: 404, errors: error.errors }));
      }
      return {
        status: 'skipped',
        message: `device ${deviceId} was already gone from KICS`,
        result: { deleted: null },
        audit: { operation: 'delete', deviceId, request: summary, httpStatus: 404, kicsResult: { errors: error.errors }, before: item.before, after: null },
      };
    }
    return failed(item, 'delete', deviceId, summary, error);
  }
}

// ------------------------------------------------------------------------------------------ upload

async function uploadConfig(ctx: ExecuteContext, item: ClaimedItem): Promise<ItemOutcome & { systemic?: KicsApiError }> {
  const request = item.request as ConfigUploadRequest;
  let deviceId = item.kicsDeviceId;
  const summary = (): Record<string, unknown> => ({ method: 'POST', route: 'deviceIndustrialConfiguration', deviceId, mode: request.mode, path: request.path, contentHash: request.contentHash, size: request.size });
  const notSent = (status: 'skipped' | 'failed', message: string): ItemOutcome => ({
    status,
    message,
    result: null,
    audit: { operation: 'upload_config', deviceId, request: summary(), httpStatus: null, kicsResult: null, before: item.before, after: null },
    ...(status === 'failed' ? { events: [{ type: 'KSYNC_WRITE_FAILED' as const, payload: { seq: item.seq, action: item.action, deviceId, status: null, code: 'NOT_SENT', message }, message }] } : {}),
  });

  if (deviceId === null && request.createSeq !== undefined) {
    const create = await itemBySeq(ctx.db, ctx.planId, request.createSeq);
    const createdId = create?.status === 'applied' ? Number(create.result?.deviceId ?? create.kicsDeviceId) : NaN;
    if (!Number.isSafeInteger(createdId) || createdId <= 0) {
      const state = create?.status ?? 'missing';
      if (state === 'drifted' || state === 'skipped') return notSent('skipped', `its device was not created (create item ${request.createSeq} ${state}); nothing uploaded`);
      return notSent('failed', `its device has not been created yet (create item ${request.createSeq} is ${state}); apply again once it is`);
    }
    deviceId = createdId;
  }
  if (deviceId === null) return notSent('failed', 'the item names no device');

  const [file] = (await checkConfigFiles([request.path], ctx.industrialConfigRoot)).values();
  if (!file || !file.ok) return notSent('failed', file ? file.reason : `industrial configuration ${JSON.stringify(request.path)} was not checked`);
  if (file.contentHash !== request.contentHash) {
    return notSent('skipped', `industrial configuration ${JSON.stringify(request.path)} changed since planning (sha256 ${file.contentHash}, planned ${request.contentHash}); nothing uploaded. Plan again to upload the new content`);
  }
  let content: Buffer;
  try {
    content = await readFile(file.resolvedPath);
  } catch (error) {
    return notSent('failed', `industrial configuration ${JSON.stringify(request.path)} cannot be read: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  // KICS's configuration hash before this upload: an upload whose answer is lost (now, or in an
  // attempt whose process died) is settled against it instead of being sent again blindly.
  const earlier = item.mayHaveLanded ? item.previousResult?.preUploadHash : undefined;
  const pre = await readBackSettings(ctx, deviceId);
  if (earlier !== undefined && pre !== undefined && pre !== earlier) return uploadLanded(item, deviceId, request, summary(), pre);
  if (pre !== undefined) await ctx.db.execute(`UPDATE plan_item SET result = $2::jsonb WHERE id = $1`, [item.id, JSON.stringify({ preUploadHash: pre })]);
  const send = () => ctx.client.uploadIndustrialConfiguration(deviceId, { name: path.basename(request.path), content }, request.mode);
  try {
    let answer: Awaited<ReturnType<typeof send>>;
    try {
      answer = await send();
    } catch (error) {
      if (!(error instanceof KicsApiError && error.outcomeUnknown && pre !== undefined)) throw error;
      // The answer was lost: a configuration KICS now shows differently means the upload landed. One
      // that did not change either did not land or changed nothing; the same file again is idempotent.
      const post = await readBackSettings(ctx, deviceId);
      if (post === undefined) throw error;
      if (post !== pre) return uploadLanded(item, deviceId, request, summary(), post);
      ctx.logger.warn({ seq: item.seq, deviceId, err: error.message }, 'an industrial configuration upload whose answer was lost changed nothing in KICS; sending it again');
      answer = await send();
    }
    // KICS took the file; tags it could not apply are counted in tagErrors, and rules bound to tags it
    // removed or replaced in removedRules (the reference gives counts, not names).
    const notes = [
      ...(answer.tagErrors > 0 ? [`KICS could not apply ${answer.tagErrors} tag(s) of ${JSON.stringify(request.path)} (tagErrors); the others were applied`] : []),
      ...(answer.removedRules > 0 ? [`KICS removed ${answer.removedRules} rule(s) bound to tags the upload removed or replaced (removedRules)`] : []),
    ];
    return {
      status: answer.tagErrors > 0 ? 'applied_with_errors' : 'applied',
      message: notes.length > 0 ? notes.join('; ') : null,
      result: { deviceId, answer },
      audit: { operation: 'upload_config', deviceId, request: summary(), httpStatus: 200, kicsResult: answer, before: item.before, after: item.after },
      upload: { deviceId, path: request.path, contentHash: request.contentHash, mode: request.mode, result: { ...answer, processControlSettingsHash: await readBackSettings(ctx, deviceId) } },
    };
  } catch (error) {
    const outcome = failed(item, 'upload_config', deviceId, summary(), error);
    return pre === undefined ? outcome : { ...outcome, result: { ...outcome.result, preUploadHash: pre } };
  }
}

/** An upload whose answer was lost, found to have landed: applied by the engine, its counts unknown. */
function uploadLanded(item: ClaimedItem, deviceId: number, request: ConfigUploadRequest, summary: Record<string, unknown>, hash: string | null): ItemOutcome {
  const result = { recovered: true, tagErrors: null, removedRules: null, processControlSettingsHash: hash };
  return {
    status: 'applied',
    message: `the answer was lost; KICS shows the device's industrial configuration changed since just before the upload, so the upload landed (KICS's tagErrors and removedRules for it are unknown)`,
    result: { deviceId, answer: result },
    audit: { operation: 'upload_config', deviceId, request: summary, httpStatus: null, kicsResult: result, before: item.before, after: item.after },
    upload: { deviceId, path: request.path, contentHash: request.contentHash, mode: request.mode, result },
  };
}
