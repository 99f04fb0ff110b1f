import { z } from 'zod';
import { parseIp } from '../../model/ip.js';
import { assetStatuses, assetTypes, duplicateActions, influenceTypes, kicsLimits, type AssetStatus, type AssetType, type DeviceUserAttribute, type DuplicateAction, type Influence } from '../../model/kics.js';
import { macIdentityProblem } from '../../model/mac.js';
import type { KicsErrorItem } from './http.js';

/**
 * Reading the device bodies of create (`POST devices`), edit (`PUT devices/{id}`) and the document a
 * PATCH produces: types, enums and length limits from the reference, valid MAC / IP, no duplicate
 * address on one device. What needs the rest of the store (unique name, addresses owned by other
 * devices, caps, address space ids) is checked by the store. Unknown members are ignored, as the
 * real server's JSON binding does.
 */

/** One interface as written: ids may be absent or 0 (the server assigns them). */
export interface InterfaceInput {
  networkInterfaceId: number | null;
  networkInterfaceName: string | null;
  macAddress: string | null;
  macAddressSpaceId: number | null;
  ipAddresses: { id: number | null; ip: string; addressSpaceId: number | null }[];
}

/** Writable fields after validation. A member that is absent keeps the device's value; `null` clears it. */
export interface DeviceInput {
  name?: string;
  addressInformation?: InterfaceInput[];
  description?: string | null;
  status?: AssetStatus;
  category?: AssetType;
  os?: string | null;
  hardwareVendor?: string | null;
  hardwareModel?: string | null;
  hardwareVersion?: string | null;
  softwareVendor?: string | null;
  softwareModel?: string | null;
  softwareVersion?: string | null;
  networkName?: string | null;
  isRouter?: boolean;
  influence?: Influence;
  labels?: string[];
  userAttributes?: DeviceUserAttribute[];
}

/** The nullable free-text fields of a device, each at most 65,536 characters. */
export const deviceTextFields = ['description', 'os', 'hardwareVendor', 'hardwareModel', 'hardwareVersion', 'softwareVendor', 'softwareModel', 'softwareVersion', 'networkName'] as const;
export type DeviceTextField = (typeof deviceTextFields)[number];

/** Every member a connector may write; the PATCH paths are limited to these. */
export const writableDeviceFields = ['name', 'addressInformation', ...deviceTextFields, 'status', 'category', 'isRouter', 'influence', 'labels', 'userAttributes'] as const;
export type WritableDeviceField = (typeof writableDeviceFields)[number];

/**
 * `influence` is a string enum in the schema, but the reference's own examples send `"influence": 0`.
 * The index follows the paired examples of one device (the query answer shows "Normal" where the
 * GET answer shows 0): 0 = Normal, 1 = Important, 2 = BusinessCritical.
 */
export const influenceByIndex: readonly Influence[] = ['Normal', 'Important', 'BusinessCritical'];

const enumOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.string({ error: `${what}: expected one of ${values.join(', ')}` }).transform((value, ctx) => {
    const found = values.find((v): v is T[number] => v.toLowerCase() === value.toLowerCase());
    if (found === undefined) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a valid ${what}: expected one of ${values.join(', ')}` });
      return z.NEVER;
    }
    return found;
  });

const text = (max: number) => z.string({ error: 'expected a string or null' }).max(max, { error: `must be at most ${max} characters` });
const nullableText = text(kicsLimits.textLength).nullable();
const optionalId = z.number({ error: 'expected an integer or null' }).int({ error: 'expected an integer' }).min(0, { error: 'must be >= 0' }).nullable().optional();

const ipSchema = z.object({
  id: optionalId,
  ip: z.string({ error: 'an IP address is required' }),
  addressSpaceId: optionalId,
});

const interfaceSchema = z.object({
  networkInterfaceId: optionalId,
  networkInterfaceName: text(kicsLimits.nameLength).nullable().optional(),
  macAddress: z.string({ error: 'expected a MAC address string or null' }).nullable().optional(),
  macAddressSpaceId: optionalId,
  ipAddresses: z.array(ipSchema, { error: 'expected an array of IP addresses or null' }).nullable().optional(),
});

const userAttributeSchema = z.object({
  name: z.string({ error: 'a name is required' }).min(1, { error: 'must not be empty' }).max(kicsLimits.nameLength, { error: `must be at most ${kicsLimits.nameLength} characters` }),
  value: z.string({ error: 'expected a string' }).max(kicsLimits.textLength, { error: `must be at most ${kicsLimits.textLength} characters` }).nullable().optional(),
});

const influenceSchema = z.union([
  enumOf(influenceTypes, 'influence'),
  z
    .number()
    .int()
    .min(0)
    .max(influenceByIndex.length - 1)
    .transform((i) => influenceByIndex[i]!),
], { error: `expected one of ${influenceTypes.join(', ')} (or its index 0..2)` });

const writableShape = {
  name: z
    .string({ error: 'a name is required' })
    .max(kicsLimits.nameLength, { error: `must be at most ${kicsLimits.nameLength} characters` })
    .refine((s) => s.trim().length > 0, { error: 'must not be empty' }),
  addressInformation: z
    .array(interfaceSchema, { error: 'a non-empty array of network interfaces is required' })
    .min(1, { error: 'must not be empty: a device needs at least one MAC or IP address' })
    .max(kicsLimits.maxInterfacesPerDevice, { error: `a device has at most ${kicsLimits.maxInterfacesPerDevice} interfaces` }),
  ...Object.fromEntries(deviceTextFields.map((f) => [f, nullableText.optional()])),
  status: enumOf(assetStatuses, 'status').optional(),
  category: enumOf(assetTypes, 'category').optional(),
  isRouter: z.boolean({ error: 'expected true or false' }).optional(),
  influence: influenceSchema.optional(),
  labels: z
    .array(z.string({ error: 'expected a string' }).min(1, { error: 'must not be empty' }).max(kicsLimits.labelLength, { error: `must be at most ${kicsLimits.labelLength} characters` }), { error: 'expected an array of strings or null' })
    .nullable()
    .optional(),
  userAttributes: z.array(userAttributeSchema, { error: 'expected an array of {name, value} or null' }).nullable().optional(),
} as const;

const createSchema = z.object({
  ...writableShape,
  whatIfDuplicate: enumOf(duplicateActions, 'whatIfDuplicate'),
  allowProcessControlSettingsLoss: z.boolean({ error: 'true or false is required' }),
});
const editSchema = z.object({ ...writableShape, allowProcessControlSettingsUpdate: z.boolean({ error: 'true or false is required' }) });
const patchedSchema = z.object(writableShape);

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: KicsErrorItem[] };

/** The `path` of an error item: `addressInformation[0]/ipAddresses[1]/ip`, in the style of the reference's example. */
export function formatErrorPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += (out === '' ? '' : '/') + String(key);
  }
  return out;
}

function fieldOf(path: readonly PropertyKey[]): string | null {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return path[i] as string;
  return null;
}

export function errorItem(path: readonly PropertyKey[], errorMessage: string): KicsErrorItem {
  return { field: fieldOf(path), path: formatErrorPath(path), errorMessage };
}

/** Canonical MAC (lower case, colons) from the colon or dash form KICS shows; null with a reason otherwise. */
export function canonicalDeviceMac(input: string): { mac: string } | { reason: string } {
  const text = input.trim().toLowerCase();
  if (!/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/.test(text)) return { reason: `Wrong MAC address format: ${JSON.stringify(input)} (expected six hex octets, e.g. 00:1b:1b:aa:bb:cc)` };
  const mac = text.replace(/-/g, ':');
  // The reference's own device examples carry MACs with the group bit set (11:22:..., ff:aa:...), so
  // only the two addresses no device can have are refused.
  if (mac === 'ff:ff:ff:ff:ff:ff' || mac === '00:00:00:00:00:00') return { reason: `${JSON.stringify(input)} cannot identify a device: ${macIdentityProblem(mac)}` };
  return { mac };
}

/** Canonical IP (IPv4 dotted quad, IPv6 RFC 5952); a prefix, zone or bracket is refused. */
export function canonicalDeviceIp(input: string): { ip: string } | { reason: string } {
  const text = input.trim();
  const parsed = /[/%[\]]/.test(text) ? null : parseIp(text);
  if (!parsed || !parsed.ok) return { reason: `Wrong ip address format: ${JSON.stringify(input)}` };
  return { ip: parsed.ip };
}

type WritableParsed = z.infer<typeof patchedSchema>;

function normalise(parsed: WritableParsed, errors: KicsErrorItem[]): DeviceInput {
  const input: DeviceInput = {};
  input.name = parsed.name.trim();
  const interfaces: InterfaceInput[] = [];
  const seenMacs = new Map<string, number>();
  const seenIps = new Map<string, string>();
  parsed.addressInformation.forEach((nic, i) => {
    const at: PropertyKey[] = ['addressInformation', i];
    let mac: string | null = null;
    if (nic.macAddress !== null && nic.macAddress !== undefined && nic.macAddress.trim() !== '') {
      const canonical = canonicalDeviceMac(nic.macAddress);
      if ('reason' in canonical) errors.push(errorItem([...at, 'macAddress'], canonical.reason));
      else {
        mac = canonical.mac;
        const other = seenMacs.get(mac);
        if (other !== undefined) errors.push(errorItem([...at, 'macAddress'], `MAC address ${mac} is already on interface ${other} of this device`));
        seenMacs.set(mac, i);
      }
    }
    const ips: InterfaceInput['ipAddresses'] = [];
    (nic.ipAddresses ?? []).forEach((entry, j) => {
      const canonical = canonicalDeviceIp(entry.ip);
      if ('reason' in canonical) {
        errors.push(errorItem([...at, 'ipAddresses', j, 'ip'], canonical.reason));
        return;
      }
      const key = `${entry.addressSpaceId ?? ''}|${canonical.ip}`;
      const other = seenIps.get(key);
      if (other !== undefined) errors.push(errorItem([...at, 'ipAddresses', j, 'ip'], `IP address ${canonical.ip} is listed twice on this device (also at ${other})`));
      seenIps.set(key, formatErrorPath([...at, 'ipAddresses', j]));
      ips.push({ id: entry.id || null, ip: canonical.ip, addressSpaceId: entry.addressSpaceId ?? null });
    });
    if (mac === null && ips.length === 0 && !errors.some((e) => e.path?.startsWith(formatErrorPath(at)))) {
      errors.push(errorItem(at, 'An interface needs a MAC address or at least one IP address.'));
    }
    interfaces.push({
      networkInterfaceId: nic.networkInterfaceId || null,
      networkInterfaceName: nic.networkInterfaceName ?? null,
      macAddress: mac,
      macAddressSpaceId: nic.macAddressSpaceId ?? null,
      ipAddresses: ips,
    });
  });
  input.addressInformation = interfaces;
  const record = parsed as Record<string, unknown>;
  for (const field of deviceTextFields) if (record[field] !== undefined) input[field] = record[field] as string | null;
  if (parsed.status !== undefined) input.status = parsed.status;
  if (parsed.category !== undefined) input.category = parsed.category;
  if (parsed.isRouter !== undefined) input.isRouter = parsed.isRouter;
  if (parsed.influence !== undefined) input.influence = parsed.influence;
  if (parsed.labels !== undefined) {
    const labels = parsed.labels ?? [];
    const seen = new Set<string>();
    labels.forEach((label, i) => {
      if (seen.has(label)) errors.push(errorItem(['labels', i], `label ${JSON.stringify(label)} is listed twice`));
      seen.add(label);
    });
    input.labels = labels;
  }
  if (parsed.userAttributes !== undefined) {
    const attributes = (parsed.userAttributes ?? []).map((a) => ({ name: a.name, value: a.value ?? '' }));
    const seen = new Set<string>();
    attributes.forEach((a, i) => {
      const key = a.name.toLowerCase();
      if (seen.has(key)) errors.push(errorItem(['userAttributes', i, 'name'], `user attribute ${JSON.stringify(a.name)} is listed twice`));
      seen.add(key);
    });
    input.userAttributes = attributes;
  }
  return input;
}

function zodErrors(error: z.ZodError): KicsErrorItem[] {
  return error.issues.map((issue) => errorItem(issue.path, issue.message));
}

function parseWith<S extends z.ZodType<WritableParsed>>(schema: S, body: unknown): ParseResult<{ parsed: z.infer<S>; input: DeviceInput }> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { ok: false, errors: [{ field: null, path: '$', errorMessage: 'The request body must be a JSON object describing the device.' }] };
  const result = schema.safeParse(body);
  if (!result.success) return { ok: false, errors: zodErrors(result.error) };
  const errors: KicsErrorItem[] = [];
  const input = normalise(result.data, errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: { parsed: result.data, input } };
}

export interface CreateRequest {
  input: DeviceInput;
  whatIfDuplicate: DuplicateAction;
  allowProcessControlSettingsLoss: boolean;
}

/** `POST devices`. */
export function parseCreateRequest(body: unknown): ParseResult<CreateRequest> {
  const result = parseWith(createSchema, body);
  if (!result.ok) return result;
  const { parsed, input } = result.value;
  return { ok: true, value: { input, whatIfDuplicate: parsed.whatIfDuplicate, allowProcessControlSettingsLoss: parsed.allowProcessControlSettingsLoss } };
}

export interface EditRequest {
  input: DeviceInput;
  allowProcessControlSettingsUpdate: boolean;
}

/** `PUT devices/{id}`. */
export function parseEditRequest(body: unknown): ParseResult<EditRequest> {
  const result = parseWith(editSchema, body);
  if (!result.ok) return result;
  return { ok: true, value: { input: result.value.input, allowProcessControlSettingsUpdate: result.value.parsed.allowProcessControlSettingsUpdate } };
}

const notNullable = new Set<string>(['status', 'category', 'isRouter', 'influence']);

/** The writable document a PATCH produced: a removed member is null (cleared); one that cannot be null is an error. */
export function parsePatchedDocument(document: Record<string, unknown>): ParseResult<DeviceInput> {
  const errors: KicsErrorItem[] = [];
  const body: Record<string, unknown> = {};
  for (const field of writableDeviceFields) {
    const value = field in document ? document[field] : null;
    if ((value === null || value === undefined) && notNullable.has(field)) errors.push(errorItem([field], `${field} cannot be removed or set to null`));
    else body[field] = value;
  }
  const result = parseWith(patchedSchema, body);
  if (!result.ok) return { ok: false, errors: [...errors, ...result.errors] };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: result.value.input };
}
