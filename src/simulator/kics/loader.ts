import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { UsageError } from '../../errors.js';
import parserStream from 'stream-json';
import { pick } from 'stream-json/filters/pick.js';
import { streamArray } from 'stream-json/streamers/stream-array.js';
import { streamValues } from 'stream-json/streamers/stream-values.js';
import { parseEditRequest } from './device-input.js';
import type { SimAttribute, SimDevice, SimEpp, SimProcessControlSettings, SimRisk } from './device.js';
import { SimulatorHttpError } from './http.js';
import type { DeviceStore } from './store.js';
import { formatKicsTime, normaliseKicsTime } from './time.js';

/**
 * Loading devices instead of generating them: `--from-file` (streamed, so a 100,000-device file is
 * never held as one string) or `initialDevices`. A file is a JSON array of device objects shaped as
 * in the reference, a query answer `{"values": [...]}`, or `{"addressSpaces": [...], "devices": [...]}`.
 * Ids and timestamps are kept (absent ones are assigned); writable members are validated as a PUT
 * would validate them, and every rule of the store holds. Any invalid device stops the load with
 * the first problems listed (file[index] "name": path: message): a fixture that silently differs
 * from its file would mislead the tests that use it.
 */

const maxReported = 20;

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function number(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function time(value: unknown, fallback: string | null): string | null {
  return typeof value === 'string' ? (normaliseKicsTime(value) ?? fallback) : fallback;
}

/** A complete stored device from a device document (validated; throws a validation error). */
export function deviceFromDocument(doc: unknown, store: DeviceStore, where: string): SimDevice {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SimulatorHttpError(400, [{ field: null, path: where, errorMessage: 'a device must be a JSON object' }]);
  }
  const d = doc as Record<string, unknown>;
  const parsed = parseEditRequest({ ...d, allowProcessControlSettingsUpdate: true });
  if (!parsed.ok) throw new SimulatorHttpError(400, parsed.errors);
  const input = parsed.value.input;
  if (d.id !== undefined && !(typeof d.id === 'number' && Number.isSafeInteger(d.id) && d.id >= 1)) {
    throw new SimulatorHttpError(400, [{ field: 'id', path: 'id', errorMessage: `id must be an integer >= 1; found ${JSON.stringify(d.id)}` }]);
  }
  const errors: SimulatorHttpError['errors'] = [];
  const interfaces = store.resolveInterfaces(null, input.addressInformation ?? [], errors, { keepIds: true });
  if (errors.length > 0) throw new SimulatorHttpError(400, errors);
  // Loaded devices without timestamps share the load's time; the store's clock moves past them (load()).
  const now = formatKicsTime(Date.now());
  const lastModified = time(d.lastModified, now)!;
  return {
    id: typeof d.id === 'number' ? d.id : store.allocateDeviceId(),
    name: input.name!,
    description: input.description ?? null,
    status: input.status ?? 'Unauthorized',
    addressInformation: interfaces,
    category: input.category ?? 'Other',
    categoryConfidence: number(d.categoryConfidence, 0),
    group: text(d.group),
    securityState: text(d.securityState) ?? 'Ok',
    influence: input.influence ?? 'Normal',
    lastSeen: time(d.lastSeen, null),
    lastModified,
    created: time(d.created, lastModified)!,
    os: input.os ?? null,
    osConfidence: number(d.osConfidence, 0),
    networkName: input.networkName ?? null,
    networkNameConfidence: number(d.networkNameConfidence, 0),
    hardwareVendor: input.hardwareVendor ?? null,
    hardwareVendorConfidence: number(d.hardwareVendorConfidence, 0),
    hardwareModel: input.hardwareModel ?? null,
    hardwareModelConfidence: number(d.hardwareModelConfidence, 0),
    hardwareVersion: input.hardwareVersion ?? null,
    hardwareVersionConfidence: number(d.hardwareVersionConfidence, 0),
    softwareVendor: input.softwareVendor ?? null,
    softwareVendorConfidence: number(d.softwareVendorConfidence, 0),
    softwareModel: input.softwareModel ?? null,
    softwareModelConfidence: number(d.softwareModelConfidence, 0),
    softwareVersion: input.softwareVersion ?? null,
    softwareVersionConfidence: number(d.softwareVersionConfidence, 0),
    isRouter: input.isRouter ?? false,
    isRouterConfidence: number(d.isRouterConfidence, 0),
    labels: input.labels ?? [],
    risks: Array.isArray(d.risks) ? (d.risks as SimRisk[]) : [],
    processControlSettings: d.processControlSettings && typeof d.processControlSettings === 'object' ? (d.processControlSettings as SimProcessControlSettings) : null,
    attributes: Array.isArray(d.attributes) ? (d.attributes as SimAttribute[]) : [],
    userAttributes: input.userAttributes ?? [],
    epp: d.epp && typeof d.epp === 'object' ? (d.epp as SimEpp) : null,
  };
}

/** Calls `visit` with each device document of a source, in order. */
export type DeviceDocuments = (visit: (doc: unknown) => void) => Promise<void>;

/** Loads devices into the store; throws a UsageError naming the first problems. Returns how many were loaded. */
export async function loadDevices(documents: DeviceDocuments, store: DeviceStore, source: string): Promise<number> {
  const problems: string[] = [];
  let invalid = 0;
  let index = 0;
  let loaded = 0;
  await documents((item) => {
    const at = `${source}[${index++}]`;
    try {
      const device = deviceFromDocument(item, store, at);
      store.load(device);
      loaded++;
    } catch (error) {
      if (!(error instanceof SimulatorHttpError)) throw error;
      invalid++;
      if (problems.length < maxReported) {
        const name = item && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string' ? ` ${JSON.stringify((item as { name: string }).name)}` : '';
        problems.push(`${at}${name}: ${error.errors.map((e) => (e.path ? `${e.path}: ${e.errorMessage}` : e.errorMessage)).join('; ')}`);
      }
    }
  });
  if (invalid > 0) {
    throw new UsageError(`${invalid} of ${index} devices in ${source} are invalid; nothing was served. First problems:\n  ${problems.join('\n  ')}${invalid > problems.length ? `\n  ... and ${invalid - problems.length} more` : ''}`);
  }
  return loaded;
}

/** Documents from a list in memory (`initialDevices`). */
export function documentsOf(list: readonly unknown[]): DeviceDocuments {
  return async (visit) => {
    for (const item of list) visit(item);
  };
}

async function firstCharacter(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    return head.charAt(0);
  } finally {
    await handle.close();
  }
}

/** Streams the elements of the array at `key` (the root array when null) through `visit`. */
async function streamArrayOf(file: string, key: string | RegExp | null, visit: (value: unknown) => void): Promise<void> {
  const consume = async (items: AsyncIterable<{ value: unknown }>): Promise<void> => {
    for await (const { value } of items) visit(value);
  };
  if (key === null) await pipeline(createReadStream(file), parserStream(), streamArray.asStream(), consume);
  else await pipeline(createReadStream(file), parserStream(), pick.asStream({ filter: key, once: true }), streamArray.asStream(), consume);
}

export interface DeviceFile {
  /** The file's `addressSpaces`, when it has them. */
  addressSpaces: unknown;
  devices: DeviceDocuments;
}

/**
 * Opens a devices file: its shape, its address spaces (if any; put them before the devices, or the
 * whole file is read once to look for them), and a streamed reader of its devices.
 */
export async function openDeviceFile(file: string): Promise<DeviceFile> {
  let first: string;
  try {
    first = await firstCharacter(file);
  } catch (error) {
    throw new UsageError(`cannot read --from-file ${file}: ${(error as Error).message}`, { cause: error });
  }
  const explain = (error: unknown): never => {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${file} is not a valid devices file: ${(error as Error).message}`, { cause: error });
  };
  if (first === '[') return { addressSpaces: undefined, devices: (visit) => streamArrayOf(file, null, visit).catch(explain) };
  if (first !== '{') throw new UsageError(`${file} must hold a JSON array of devices, {"values": [...]} or {"addressSpaces": [...], "devices": [...]}`);
  let addressSpaces: unknown;
  await pipeline(createReadStream(file), parserStream(), pick.asStream({ filter: 'addressSpaces', once: true }), streamValues.asStream(), async (values: AsyncIterable<{ value: unknown }>) => {
    for await (const { value } of values) addressSpaces ??= value;
  }).catch(explain);
  return { addressSpaces, devices: (visit) => streamArrayOf(file, /^(values|devices)$/, visit).catch(explain) };
}
