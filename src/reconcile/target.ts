import type { DeviceAddressInformation, DeviceUserAttribute, KicsDevice } from '../model/kics.js';
import { kicsLimits } from '../model/kics.js';
import { attributePrecedence, kicsEntry, nonNullableFields, scalarFields, type Precedence, type ScalarField } from './fields.js';
import { parseIp } from '../model/ip.js';
import { ipKey, macKey, type BoundDevice, type BoundInterface, type BoundRecord } from './identity.js';

/**
 * The target state of one asset: per field, the value of the first entry in its precedence list that
 * has one. Only fresh records take part (a stale record has lost its precedence). `kics` in a list
 * keeps the device's own value at that rank when it has one.
 */

export interface TargetOptions {
  precedence: Precedence;
  managedAttributes: readonly string[];
  labels: 'add' | 'replace';
  vendorFromMac?: ((mac: string) => string | undefined) | undefined;
}

export interface Target {
  /** Scalar fields some entry has an opinion on (null = clear the field). */
  fields: Partial<Record<ScalarField, unknown>>;
  /** Which entry each decided field came from: a source name, `kics` or `oui`. */
  from: Partial<Record<string, string>>;
  /** The labels the device should carry, or undefined when nothing says anything about them. */
  labels: string[] | undefined;
  /**
   * Managed attribute name -> value, or null to remove it (a source that owns the attribute describes
   * the asset and has no value). A managed name absent here is left as it is: none of its sources
   * describes the asset.
   */
  attributes: Map<string, string | null>;
  retired: boolean;
  industrialConfig: string | null;
  owner: string | null;
}

/**
 * The fresh records of one asset by source: a plain scan of one to three records beats a Map built
 * for every asset of a 100,000-device plan.
 */
export class RecordsBySource {
  constructor(readonly records: readonly BoundRecord[]) {}
  get(source: string): BoundRecord | undefined {
    for (const r of this.records) if (r.record.source === source) return r;
    return undefined;
  }
  has(source: string): boolean {
    return this.get(source) !== undefined;
  }
  /** Source names, for reasons. */
  names(): string {
    return [...new Set(this.records.map((r) => r.record.source))].join(' + ');
  }
}

type Fresh = RecordsBySource;

function deviceValue(device: KicsDevice | null, field: string): unknown {
  if (!device) return null;
  return (device as Record<string, unknown>)[field] ?? null;
}

/** The first entry with an opinion on `read`; undefined when none has one. */
function firstOpinion<T>(list: readonly string[], fresh: Fresh, device: KicsDevice | null, read: (record: BoundRecord) => T | undefined, readDevice: (device: KicsDevice) => T | null | undefined): { value: T; from: string } | undefined {
  for (const entry of list) {
    if (entry === kicsEntry) {
      const value = device ? readDevice(device) : undefined;
      if (value !== null && value !== undefined) return { value, from: kicsEntry };
      continue;
    }
    // Several records of one source are one asset only when an owner declared them so: the first
    // of them with a value speaks for the source.
    for (const record of fresh.records) {
      if (record.record.source !== entry) continue;
      const value = read(record);
      if (value !== undefined) return { value, from: entry };
    }
  }
  return undefined;
}

/** Attributes KICS keeps by name; `owner` / `location` fall back to the asset's own fields of that name, `criticality` to its influence. */
function recordAttribute(record: BoundRecord, name: string): string | undefined {
  const { asset } = record.record;
  const value = asset.userAttributes?.[name];
  if (value !== undefined) return value === '' ? undefined : value;
  const lower = name.toLowerCase();
  if (lower === 'owner') return asset.owner ?? record.record.owner ?? undefined;
  if (lower === 'location') return asset.location ?? undefined;
  if (lower === 'criticality') return asset.influence ?? undefined;
  return undefined;
}

/**
 * A source's value of a field for the asset: the first of its records (one, unless an owner declared
 * several records one asset) with a value; undefined when none has one. Null counts only for fields
 * that can be cleared; a blank name is no opinion (KICS needs a name).
 */
function sourceValue(fresh: Fresh, source: string, field: ScalarField): unknown {
  for (const record of fresh.records) {
    if (record.record.source !== source) continue;
    const value = record.record.asset[field];
    if (value === undefined || (value === null && nonNullableFields.has(field))) continue;
    if (field === 'name' && typeof value === 'string' && value.trim() === '') continue;
    return value;
  }
  return undefined;
}

export function computeTarget(fresh: Fresh, device: KicsDevice | null, firstMac: string | null, options: TargetOptions): Target {
  const fields: Partial<Record<ScalarField, unknown>> = {};
  const from: Partial<Record<string, string>> = {};
  // The hot loop of a plan (fields x assets): plain loops, no closures.
  for (const field of scalarFields) {
    const list = options.precedence[field] ?? [];
    for (const entry of list) {
      let value: unknown;
      if (entry === kicsEntry) {
        value = deviceValue(device, field);
        if (value === null) continue;
      } else {
        value = sourceValue(fresh, entry, field);
        if (value === undefined) continue;
      }
      fields[field] = value;
      from[field] = entry;
      break;
    }
  }
  if (fields.hardwareVendor === undefined && deviceValue(device, 'hardwareVendor') === null && options.vendorFromMac && firstMac) {
    const vendor = options.vendorFromMac(firstMac);
    if (vendor) {
      fields.hardwareVendor = vendor;
      from.hardwareVendor = 'oui';
    }
  }

  let labels: string[] | undefined;
  const labelSources: string[] = [];
  for (const entry of options.precedence.labels ?? []) {
    const list = entry === kicsEntry ? (device?.labels ?? undefined) : fresh.records.find((r) => r.record.source === entry && r.record.asset.labels)?.record.asset.labels;
    if (list === undefined || list === null) continue;
    labels ??= [];
    labelSources.push(entry);
    for (const label of list) if (!labels.includes(label)) labels.push(label);
  }
  if (labelSources.length > 0) from.labels = labelSources.join(' + ');

  const attributes = new Map<string, string | null>();
  const noteFrom = (entry: string): void => {
    if (!from.userAttributes?.split(' + ').includes(entry)) from.userAttributes = from.userAttributes ? `${from.userAttributes} + ${entry}` : entry;
  };
  for (const name of options.managedAttributes) {
    const list = attributePrecedence(options.precedence, name);
    const opinion = firstOpinion(
      list,
      fresh,
      device,
      (r) => recordAttribute(r, name),
      (d) => d.userAttributes?.find((a) => a.name === name)?.value,
    );
    if (opinion) {
      attributes.set(name, opinion.value);
      noteFrom(opinion.from);
    } else {
      const owner = list.find((entry) => entry !== kicsEntry && fresh.has(entry));
      if (owner !== undefined) {
        attributes.set(name, null);
        noteFrom(owner);
      }
    }
  }

  const retired = firstOpinion(options.precedence.status ?? [], fresh, null, readRetired, noDeviceValue)?.value ?? false;
  const industrialConfig = firstOpinion(options.precedence.industrialConfig ?? [], fresh, null, readIndustrialConfig, noDeviceValue)?.value ?? null;
  const owner = firstOpinion(options.precedence.owner ?? [], fresh, null, readOwner, noDeviceValue)?.value ?? null;
  return { fields, from, labels, attributes, retired, industrialConfig, owner };
}

const readRetired = (r: BoundRecord): boolean | undefined => r.record.asset.retired;
const readIndustrialConfig = (r: BoundRecord): string | undefined => r.record.asset.industrialConfig ?? undefined;
const readOwner = (r: BoundRecord): string | undefined => r.record.asset.owner ?? r.record.owner ?? undefined;
const noDeviceValue = (): undefined => undefined;

/** The labels after applying `target`: add-only keeps every current label; replace gives exactly the target's. */
export function targetLabels(current: readonly string[] | null | undefined, target: Target, mode: 'add' | 'replace'): string[] | null {
  if (target.labels === undefined) return null;
  const now = current ?? [];
  if (mode === 'add') {
    const added = target.labels.filter((l) => !now.includes(l));
    return added.length === 0 ? null : [...now, ...added];
  }
  const same = now.length === target.labels.length && target.labels.every((l) => now.includes(l));
  return same ? null : target.labels;
}

/**
 * The user attributes after applying `target`: unmanaged attributes stay exactly as they are (same
 * place, same value); managed ones are set, added or removed. Null when nothing changes.
 */
export function targetAttributes(current: readonly DeviceUserAttribute[] | null | undefined, target: Target, managed: readonly string[]): DeviceUserAttribute[] | null {
  const now = current ?? [];
  // Usually nothing changes: check that before building anything.
  if (
    managed.every((name) => {
      const wanted = target.attributes.get(name);
      if (wanted === undefined) return true;
      const present = now.filter((a) => a.name === name);
      return wanted === null ? present.length === 0 : present.length === 1 && present[0]!.value === wanted;
    })
  ) {
    return null;
  }
  const managedSet = new Set(managed);
  const seen = new Set<string>();
  const next: DeviceUserAttribute[] = [];
  for (const attribute of now) {
    if (!managedSet.has(attribute.name)) {
      next.push(attribute);
      continue;
    }
    if (seen.has(attribute.name)) continue;
    seen.add(attribute.name);
    const value = target.attributes.get(attribute.name);
    if (value === undefined) next.push(attribute);
    else if (value !== null) next.push({ name: attribute.name, value });
  }
  for (const name of managed) {
    const value = target.attributes.get(name);
    if (!seen.has(name) && value !== undefined && value !== null) next.push({ name, value });
  }
  const same = next.length === now.length && next.every((a, i) => a.name === now[i]!.name && a.value === now[i]!.value);
  return same ? null : next;
}

/** Interfaces of the fresh records merged into one list (one interface per MAC; IP-only interfaces merged by IP). */
export function sourceInterfaces(records: readonly BoundRecord[]): readonly BoundInterface[] {
  return sourceAddresses(records).interfaces;
}

/** The fresh records' interfaces merged (`sourceInterfaces`), with their identity keys. */
export function sourceAddresses(records: readonly BoundRecord[]): { interfaces: readonly BoundInterface[]; keys: readonly string[] } {
  // One record whose interfaces all have a MAC and repeat no address: nothing to merge, and its keys are those of its interfaces.
  if (records.length === 1) {
    const only = records[0]!;
    const keyCount = only.interfaces.reduce((n, i) => n + (i.mac === null ? 0 : 1) + i.ips.length, 0);
    if (only.interfaces.every((i) => i.mac !== null) && keyCount === only.addressKeys.length) return { interfaces: only.interfaces, keys: only.addressKeys };
  }
  const interfaces = mergeInterfaces(records);
  return { interfaces, keys: interfaceKeys(interfaces) };
}

function mergeInterfaces(records: readonly BoundRecord[]): BoundInterface[] {
  const merged: BoundInterface[] = [];
  const byKey = new Map<string, BoundInterface>();
  for (const record of records) {
    for (const iface of record.interfaces) {
      let into = iface.mac !== null ? byKey.get(macKey(iface.macSpace, iface.mac)) : undefined;
      if (!into) {
        // An interface another source listed by IP alone is the same interface; it learns the MAC.
        into = iface.ips.map((ip) => byKey.get(ipKey(ip.space, ip.ip))).find((i) => i !== undefined && (i.mac === null || iface.mac === null));
        if (into && into.mac === null && iface.mac !== null) {
          into.mac = iface.mac;
          into.macSpace = iface.macSpace;
          byKey.set(macKey(iface.macSpace, iface.mac), into);
        }
      }
      if (!into) {
        into = { name: iface.name, mac: iface.mac, macSpace: iface.macSpace, ips: [] };
        merged.push(into);
        if (iface.mac !== null) byKey.set(macKey(iface.macSpace, iface.mac), into);
      }
      for (const ip of iface.ips) {
        const key = ipKey(ip.space, ip.ip);
        if (byKey.has(key)) continue;
        byKey.set(key, into);
        into.ips.push(ip);
      }
    }
  }
  return merged;
}

/** KICS's shape for interfaces we create or add. */
export function toAddressInformation(iface: BoundInterface): DeviceAddressInformation {
  return {
    networkInterfaceName: iface.name,
    macAddress: iface.mac,
    macAddressSpaceId: iface.macSpace,
    ipAddresses: iface.ips.map((ip) => ({ ip: ip.ip, addressSpaceId: ip.space })),
  };
}

export interface AddressMerge {
  /** The device's interfaces with the additions and removals, or null when nothing changes. */
  after: DeviceAddressInformation[] | null;
  /** Interfaces left out because the device would exceed KICS's interface limit. */
  interfacesLeftOut: number;
  /** Keys of the addresses removed: asserted by a source earlier, by none now. */
  removed: string[];
  /** Stale addresses kept because removing them would leave the device without an address. */
  keptLast: boolean;
}

/** The identity keys of a list of interfaces, each once. */
function interfaceKeys(interfaces: readonly BoundInterface[]): string[] {
  const keys = new Set<string>();
  for (const i of interfaces) {
    if (i.mac !== null) keys.add(macKey(i.macSpace, i.mac));
    for (const ip of i.ips) keys.add(ipKey(ip.space, ip.ip));
  }
  return [...keys];
}

/**
 * Brings the device's addresses to what the sources know: adds IPs on an interface with the same MAC
 * (or sharing an IP), and whole new interfaces; removes an address only when a source asserted it on
 * an earlier plan (`asserted`) and no fresh source asserts it now. What KICS discovered on its own is
 * never removed or rewritten. The caller guarantees that no other device holds the added addresses
 * (the asset matched only this device), so KICS has nothing to merge. New interfaces are added only if
 * the device stays within KICS's interface limit. The PATCH that carries the result is guarded by a
 * `Test` of the whole address list it was computed from. `wanted` and `wantedKeys` come from
 * `sourceAddresses()`.
 */
export function mergeAddresses(device: BoundDevice, wanted: readonly BoundInterface[], wantedKeys: readonly string[], asserted: readonly string[] = []): AddressMerge {
  const known = device.addressKeys;
  let stale: Set<string> | null = null;
  for (const key of asserted) if (!wantedKeys.includes(key) && known.includes(key)) (stale ??= new Set()).add(key);
  // Nearly always the device already has every address the sources know and nothing stale.
  if (stale === null && wantedKeys.every((key) => known.includes(key))) return { after: null, interfacesLeftOut: 0, removed: [], keptLast: false };
  const current = device.device.addressInformation ?? [];
  let next: DeviceAddressInformation[] = current.map((i) => ({ ...i, ipAddresses: i.ipAddresses ? [...i.ipAddresses] : i.ipAddresses }));
  const byMac = new Map<string, number>();
  const byIp = new Map<string, number>();
  device.interfaces.forEach((iface, index) => {
    if (iface.mac !== null) byMac.set(macKey(iface.macSpace, iface.mac), index);
    for (const ip of iface.ips) byIp.set(ipKey(ip.space, ip.ip), index);
  });
  let changed = false;
  const newInterfaces: BoundInterface[] = [];
  for (const iface of wanted) {
    let index = iface.mac !== null ? byMac.get(macKey(iface.macSpace, iface.mac)) : undefined;
    index ??= iface.ips.map((ip) => byIp.get(ipKey(ip.space, ip.ip))).find((i) => i !== undefined);
    if (index === undefined) {
      newInterfaces.push(iface);
      continue;
    }
    for (const ip of iface.ips) {
      const key = ipKey(ip.space, ip.ip);
      if (byIp.has(key)) continue;
      byIp.set(key, index);
      const target = next[index]!;
      target.ipAddresses = [...(target.ipAddresses ?? []), { ip: ip.ip, addressSpaceId: ip.space }];
      changed = true;
    }
  }
  const removed: string[] = [];
  let keptLast = false;
  if (stale !== null) {
    const pruned: DeviceAddressInformation[] = [];
    next.forEach((info, index) => {
      const bound = device.interfaces[index];
      const macGone = bound?.mac != null && stale.has(macKey(bound.macSpace, bound.mac));
      const ips = (info.ipAddresses ?? []).filter((a) => {
        const parsed = parseIp(a.ip);
        const gone = parsed.ok && stale.has(ipKey(a.addressSpaceId ?? null, parsed.ip));
        if (gone) removed.push(ipKey(a.addressSpaceId ?? null, parsed.ok ? parsed.ip : a.ip));
        return !gone;
      });
      if (macGone) removed.push(macKey(bound.macSpace, bound.mac!));
      const kept: DeviceAddressInformation = { ...info, ipAddresses: ips, ...(macGone ? { macAddress: null, macAddressSpaceId: null } : {}) };
      if (kept.macAddress || ips.length > 0) pruned.push(kept);
    });
    if (pruned.length === 0 && newInterfaces.length === 0) {
      // KICS needs at least one address: the device keeps the stale ones until a source gives another.
      keptLast = true;
      removed.length = 0;
    } else if (removed.length > 0) {
      next = pruned;
      changed = true;
    }
  }
  let interfacesLeftOut = 0;
  if (newInterfaces.length > 0) {
    if (next.length + newInterfaces.length > kicsLimits.maxInterfacesPerDevice) interfacesLeftOut = newInterfaces.length;
    else {
      next.push(...newInterfaces.map(toAddressInformation));
      changed = true;
    }
  }
  return { after: changed ? next : null, interfacesLeftOut, removed, keptLast };
}
