import type { DeviceAddressInformation, DeviceUserAttribute, KicsDevice } from '../model/kics.js';
import { kicsLimits } from '../model/kics.js';
import { attributePrecedence, kicsEntry, nonNullableFields, ownField, scalarFields, type Precedence, type ScalarField } from './fields.js';
import { parseIp } from '../model/ip.js';
import { interfaceKeys, type BoundDevice, type BoundInterface, type BoundRecord } from './identity.js';
import type { KeyId, KeyTable } from './keys.js';

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
  return ownField(device, field) ?? null;
}

/** The first entry of `list` with a value for the managed attribute `name`; undefined when none has one. */
function attributeOpinion(list: readonly string[], fresh: Fresh, device: KicsDevice | null, name: string): { value: string; from: string } | undefined {
  for (const entry of list) {
    if (entry === kicsEntry) {
      const value = device?.userAttributes?.find((a) => a.name === name)?.value;
      if (value !== null && value !== undefined) return { value, from: kicsEntry };
      continue;
    }
    // Several records of one source are one asset only when an owner declared them so: the first
    // of them with a value speaks for the source.
    for (const record of fresh.records) {
      if (record.record.source !== entry) continue;
      const value = recordAttribute(record, name);
      if (value !== undefined) return { value, from: entry };
    }
  }
  return undefined;
}

/**
 * The first value the sources of `list` give an asset's status (`retired`), industrial configuration
 * or owner (the asset's, else the record's); undefined when none gives one. KICS has no opinion on
 * these.
 */
function sourceOpinion(list: readonly string[], fresh: Fresh, field: 'retired' | 'industrialConfig' | 'owner'): unknown {
  for (const entry of list) {
    for (const record of fresh.records) {
      if (record.record.source !== entry) continue;
      const value = field === 'owner' ? (record.record.asset.owner ?? record.record.owner) : ownField(record.record.asset, field);
      if (value !== undefined && value !== null) return value;
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
    const value = ownField(record.record.asset, field);
    if (value === undefined || (value === null && nonNullableFields.has(field))) continue;
    if (field === 'name' && typeof value === 'string' && value.trim() === '') continue;
    return value;
  }
  return undefined;
}

/**
 * The precedence lists of one run, looked up once: computing a target reads them for every asset of
 * the plan.
 */
export interface TargetRules {
  options: TargetOptions;
  scalars: readonly { field: ScalarField; list: readonly string[] }[];
  labels: readonly string[];
  attributes: readonly { name: string; list: readonly string[] }[];
  status: readonly string[];
  industrialConfig: readonly string[];
  owner: readonly string[];
}

export function targetRules(options: TargetOptions): TargetRules {
  const { precedence } = options;
  return {
    options,
    scalars: scalarFields.map((field) => ({ field, list: precedence[field] ?? [] })),
    labels: precedence.labels ?? [],
    attributes: options.managedAttributes.map((name) => ({ name, list: attributePrecedence(precedence, name) })),
    status: precedence.status ?? [],
    industrialConfig: precedence.industrialConfig ?? [],
    owner: precedence.owner ?? [],
  };
}

/** `firstMac` gives the asset's first MAC, for the vendor of its OUI when nothing else names one. */
export function computeTarget(fresh: Fresh, device: KicsDevice | null, firstMac: () => string | null, rules: TargetRules): Target {
  const fields: Partial<Record<ScalarField, unknown>> = {};
  const from: Partial<Record<string, string>> = {};
  // The hot loop of a plan (fields x assets): plain loops, no closures.
  for (const { field, list } of rules.scalars) {
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
  const { vendorFromMac } = rules.options;
  if (vendorFromMac && fields.hardwareVendor === undefined && deviceValue(device, 'hardwareVendor') === null) {
    const mac = firstMac();
    const vendor = mac === null ? undefined : vendorFromMac(mac);
    if (vendor) {
      fields.hardwareVendor = vendor;
      from.hardwareVendor = 'oui';
    }
  }

  let labels: string[] | undefined;
  for (const entry of rules.labels) {
    const list = entry === kicsEntry ? device?.labels : fresh.records.find((r) => r.record.source === entry && r.record.asset.labels)?.record.asset.labels;
    if (list === undefined || list === null) continue;
    labels ??= [];
    from.labels = joinSource(from.labels, entry);
    for (const label of list) if (!labels.includes(label)) labels.push(label);
  }

  const attributes = new Map<string, string | null>();
  for (const { name, list } of rules.attributes) {
    const opinion = attributeOpinion(list, fresh, device, name);
    const source = opinion ? opinion.from : list.find((entry) => entry !== kicsEntry && fresh.has(entry));
    if (source === undefined) continue;
    attributes.set(name, opinion ? opinion.value : null);
    from.userAttributes = joinSource(from.userAttributes, source);
  }

  const retired = sourceOpinion(rules.status, fresh, 'retired') === true;
  const industrialConfig = (sourceOpinion(rules.industrialConfig, fresh, 'industrialConfig') as string | undefined) ?? null;
  const owner = (sourceOpinion(rules.owner, fresh, 'owner') as string | undefined) ?? null;
  return { fields, from, labels, attributes, retired, industrialConfig, owner };
}

/** `a + b`: the entries a decided value came from, each once. */
const joinSource = (sources: string | undefined, entry: string): string => (sources === undefined ? entry : sources.split(' + ').includes(entry) ? sources : `${sources} + ${entry}`);

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
export function sourceInterfaces(records: readonly BoundRecord[], table: KeyTable): readonly BoundInterface[] {
  return records.length === 1 && records[0]!.plain ? records[0]!.interfaces : mergeInterfaces(records, table);
}

/** The identity keys of the fresh records' interfaces merged (`sourceInterfaces`). */
export function sourceKeys(records: readonly BoundRecord[], table: KeyTable): readonly KeyId[] {
  // One plain record (the usual asset): nothing to merge, and its keys are those of its interfaces.
  if (records.length === 1 && records[0]!.plain) return records[0]!.addressKeys;
  return interfaceKeys(mergeInterfaces(records, table), table);
}

function mergeInterfaces(records: readonly BoundRecord[], table: KeyTable): BoundInterface[] {
  const merged: BoundInterface[] = [];
  const byKey = new Map<KeyId, BoundInterface>();
  for (const record of records) {
    for (const iface of record.interfaces) {
      let into = iface.mac !== null ? byKey.get(table.mac(iface.macSpace, iface.mac)) : undefined;
      if (!into) {
        // An interface another source listed by IP alone is the same interface; it learns the MAC.
        into = iface.ips.map((ip) => byKey.get(table.ip(ip.space, ip.ip))).find((i) => i !== undefined && (i.mac === null || iface.mac === null));
        if (into && into.mac === null && iface.mac !== null) {
          into.mac = iface.mac;
          into.macSpace = iface.macSpace;
          byKey.set(table.mac(iface.macSpace, iface.mac), into);
        }
      }
      if (!into) {
        into = { name: iface.name, mac: iface.mac, macSpace: iface.macSpace, ips: [] };
        merged.push(into);
        if (iface.mac !== null) byKey.set(table.mac(iface.macSpace, iface.mac), into);
      }
      for (const ip of iface.ips) {
        const key = table.ip(ip.space, ip.ip);
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
  removed: readonly KeyId[];
  /** Stale addresses kept because removing them would leave the device without an address. */
  keptLast: boolean;
}

/**
 * Brings the device's addresses to what the sources know: adds IPs on an interface with the same MAC
 * (or sharing an IP), and whole new interfaces; removes an address only when a source asserted it on
 * an earlier plan (`asserted`) and no fresh source asserts it now. What KICS discovered on its own is
 * never removed or rewritten. The caller guarantees that no other device holds the added addresses
 * (the asset matched only this device), so KICS has nothing to merge. New interfaces are added only if
 * the device stays within KICS's interface limit. The PATCH that carries the result is guarded by a
 * `Test` of the whole address list it was computed from. `wantedKeys` are `sourceKeys(records)`.
 */
export function mergeAddresses(device: BoundDevice, records: readonly BoundRecord[], wantedKeys: readonly KeyId[], asserted: readonly KeyId[], table: KeyTable): AddressMerge {
  const known = device.addressKeys;
  let stale: Set<KeyId> | null = null;
  for (const key of asserted) if (!wantedKeys.includes(key) && known.includes(key)) (stale ??= new Set()).add(key);
  // Nearly always the device already has every address the sources know and nothing stale.
  if (stale === null && wantedKeys.every((key) => known.includes(key))) return { after: null, interfacesLeftOut: 0, removed: [], keptLast: false };
  const wanted = sourceInterfaces(records, table);
  const current = device.device.addressInformation ?? [];
  let next: DeviceAddressInformation[] = current.map((i) => ({ ...i, ipAddresses: i.ipAddresses ? [...i.ipAddresses] : i.ipAddresses }));
  const byMac = new Map<KeyId, number>();
  const byIp = new Map<KeyId, number>();
  device.interfaces.forEach((iface, index) => {
    if (iface.mac !== null) byMac.set(table.mac(iface.macSpace, iface.mac), index);
    for (const ip of iface.ips) byIp.set(table.ip(ip.space, ip.ip), index);
  });
  let changed = false;
  const newInterfaces: BoundInterface[] = [];
  for (const iface of wanted) {
    let index = iface.mac !== null ? byMac.get(table.mac(iface.macSpace, iface.mac)) : undefined;
    index ??= iface.ips.map((ip) => byIp.get(table.ip(ip.space, ip.ip))).find((i) => i !== undefined);
    if (index === undefined) {
      newInterfaces.push(iface);
      continue;
    }
    for (const ip of iface.ips) {
      const key = table.ip(ip.space, ip.ip);
      if (byIp.has(key)) continue;
      byIp.set(key, index);
      const target = next[index]!;
      target.ipAddresses = [...(target.ipAddresses ?? []), { ip: ip.ip, addressSpaceId: ip.space }];
      changed = true;
    }
  }
  const removed: KeyId[] = [];
  let keptLast = false;
  if (stale !== null) {
    const pruned: DeviceAddressInformation[] = [];
    next.forEach((info, index) => {
      const bound = device.interfaces[index];
      const macGone = bound?.mac != null && stale.has(table.mac(bound.macSpace, bound.mac));
      const ips = (info.ipAddresses ?? []).filter((a) => {
        const parsed = parseIp(a.ip);
        const key = parsed.ok ? table.ip(a.addressSpaceId ?? null, parsed.ip) : null;
        const gone = key !== null && stale.has(key);
        if (gone) removed.push(key);
        return !gone;
      });
      if (macGone) removed.push(table.mac(bound.macSpace, bound.mac!));
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
