import { hash as digest } from 'node:crypto';
import type { AssetInterface, CanonicalAsset } from './asset.js';
import { ipIdentityProblem, ipToBigInt, parseIp } from './ip.js';
import { assetTypes, influenceTypes, kicsLimits, type AssetType, type Influence } from './kics.js';
import { assetFields, limitedTextFields } from './fields.js';
import { macIdentityProblem, parseMac } from './mac.js';

/**
 * Normalisation shared by every source: category, influence and vendor through mapping tables (built-in
 * defaults plus `reconcile.categoryMap` / `influenceMap` / `vendorMap`), interfaces from raw MAC / IP
 * text, KICS field limits, and the stable content hash that decides whether a staged record changed.
 * Values only; no I/O.
 */

export type MapResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Source value -> KICS value, on top of the built-in tables. Keys match case- and punctuation-insensitively. */
export interface MappingTables {
  categoryMap?: Readonly<Record<string, string>>;
  influenceMap?: Readonly<Record<string, string>>;
  vendorMap?: Readonly<Record<string, string>>;
}

/** How table keys are compared: `Engineering-Station`, `engineering_station` and `ENGINEERING STATION` are one key. */
export function mappingKey(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}+&]+/gu, ' ')
    .trim();
}

const category = (type: AssetType, ...keys: string[]): [string, AssetType][] => keys.map((k) => [k, type]);

/** Built-in category table: common inventory wording, NetBox role slugs and ServiceNow CI classes. */
export const defaultCategoryMap: ReadonlyMap<string, AssetType> = new Map<string, AssetType>([
  ...assetTypes.map((t): [string, AssetType] => [mappingKey(t), t]),
  ...category('Plc', 'plc', 'plcs', 'programmable logic controller', 'controller', 'pac', 'rtu', 'remote terminal unit', 'safety controller', 'dcs controller', 'process controller', 'io module', 'remote io'),
  ...category('ScadaHmi', 'scada', 'scada hmi', 'scada server', 'hmi server', 'operator station', 'operator workstation', 'control room', 'dcs operator station'),
  ...category('HmiPanel', 'hmi', 'hmi panel', 'operator panel', 'touch panel', 'panel pc', 'comfort panel'),
  ...category('EngineeringStation', 'engineering station', 'engineering workstation', 'ews', 'engineering pc', 'programming station'),
  ...category('Workstation', 'workstation', 'pc', 'desktop', 'computer', 'client', 'thin client', 'cmdb ci computer', 'cmdb ci pc hardware'),
  ...category('Laptop', 'laptop', 'notebook'),
  ...category('Server', 'server', 'servers', 'virtual server', 'vm', 'virtual machine', 'application server', 'domain controller', 'cmdb ci server', 'cmdb ci win server', 'cmdb ci linux server', 'cmdb ci unix server', 'cmdb ci esx server'),
  ...category('Historian', 'historian', 'data historian', 'process historian', 'pi server'),
  ...category('Switch', 'switch', 'switches', 'network switch', 'ethernet switch', 'industrial switch', 'access switch', 'core switch', 'l2 switch', 'l3 switch', 'cmdb ci ip switch'),
  ...category('VirtualSwitch', 'virtual switch', 'vswitch'),
  ...category('Router', 'router', 'routers', 'cmdb ci ip router'),
  ...category('VirtualRouter', 'virtual router', 'vrouter'),
  ...category('Firewall', 'firewall', 'firewalls', 'ngfw', 'utm', 'cmdb ci ip firewall'),
  ...category('Gateway', 'gateway', 'protocol gateway', 'protocol converter', 'serial gateway', 'serial server', 'iot gateway', 'edge gateway'),
  ...category('WiFi', 'wifi', 'wi fi', 'wireless', 'access point', 'wireless access point', 'wap', 'wlan', 'wlan controller', 'cmdb ci wap network'),
  ...category('NetworkCamera', 'camera', 'ip camera', 'network camera', 'cctv', 'cmdb ci ip camera'),
  ...category('Printer', 'printer', 'label printer', 'mfp', 'cmdb ci printer'),
  ...category('UPS', 'ups', 'uninterruptible power supply', 'cmdb ci ups'),
  ...category('StorageSystem', 'storage', 'storage system', 'nas', 'san', 'cmdb ci storage device', 'cmdb ci nas storage'),
  ...category('MobileDevice', 'mobile', 'mobile device', 'tablet', 'phone', 'smartphone', 'handheld', 'cmdb ci handheld computing'),
  ...category('Rpa', 'relay', 'protection relay', 'protective relay', 'relay protection', 'ied', 'intelligent electronic device', 'bay controller'),
  ...category('NetworkDevice', 'network device', 'network', 'networking', 'network equipment', 'media converter', 'cmdb ci netgear'),
  ...category('Other', 'other', 'unknown', 'misc', 'miscellaneous', 'cmdb ci', 'cmdb ci hardware'),
]);

/** When no table key matches: a word of the value decides, the first of this list found wins (`core-switch-01` -> Switch). */
const categoryKeywords: [string, AssetType][] = [
  ['firewall', 'Firewall'],
  ['router', 'Router'],
  ['switch', 'Switch'],
  ['gateway', 'Gateway'],
  ['historian', 'Historian'],
  ['engineering', 'EngineeringStation'],
  ['scada', 'ScadaHmi'],
  ['hmi', 'HmiPanel'],
  ['plc', 'Plc'],
  ['rtu', 'Plc'],
  ['controller', 'Plc'],
  ['relay', 'Rpa'],
  ['ied', 'Rpa'],
  ['camera', 'NetworkCamera'],
  ['printer', 'Printer'],
  ['ups', 'UPS'],
  ['storage', 'StorageSystem'],
  ['nas', 'StorageSystem'],
  ['wifi', 'WiFi'],
  ['wireless', 'WiFi'],
  ['laptop', 'Laptop'],
  ['tablet', 'MobileDevice'],
  ['workstation', 'Workstation'],
  ['server', 'Server'],
];

/** Built-in influence (criticality) table. Numbers are left to `reconcile.influenceMap`: plants disagree on whether 1 is high or low. */
export const defaultInfluenceMap: ReadonlyMap<string, Influence> = new Map<string, Influence>([
  ...influenceTypes.map((t): [string, Influence] => [mappingKey(t), t]),
  ...(['business critical', 'critical', 'very high', 'high', 'essential', 'safety critical', 'mission critical', 'vital', '1 most critical'] as const).map((k): [string, Influence] => [k, 'BusinessCritical']),
  ...(['important', 'medium', 'moderate', 'significant', 'elevated', '2 somewhat critical'] as const).map((k): [string, Influence] => [k, 'Important']),
  ...(['normal', 'low', 'very low', 'minor', 'none', 'not critical', 'non critical', 'standard', '3 less critical', '4 not critical'] as const).map((k): [string, Influence] => [k, 'Normal']),
]);

/** Built-in vendor spellings (after corporate suffixes are dropped) -> one name per vendor. */
export const defaultVendorMap: ReadonlyMap<string, string> = new Map<string, string>([
  ['siemens', 'Siemens'],
  ['siemens energy', 'Siemens Energy'],
  ['schneider', 'Schneider Electric'],
  ['schneider electric', 'Schneider Electric'],
  ['telemecanique', 'Schneider Electric'],
  ['rockwell', 'Rockwell Automation'],
  ['rockwell automation', 'Rockwell Automation'],
  ['allen bradley', 'Rockwell Automation'],
  ['abb', 'ABB'],
  ['honeywell', 'Honeywell'],
  ['emerson', 'Emerson'],
  ['emerson electric', 'Emerson'],
  ['yokogawa', 'Yokogawa'],
  ['yokogawa electric', 'Yokogawa'],
  ['mitsubishi', 'Mitsubishi Electric'],
  ['mitsubishi electric', 'Mitsubishi Electric'],
  ['omron', 'Omron'],
  ['ge', 'General Electric'],
  ['general electric', 'General Electric'],
  ['phoenix contact', 'Phoenix Contact'],
  ['beckhoff', 'Beckhoff'],
  ['beckhoff automation', 'Beckhoff'],
  ['wago', 'WAGO'],
  ['moxa', 'Moxa'],
  ['hirschmann', 'Hirschmann'],
  ['belden', 'Belden'],
  ['b&r', 'B&R'],
  ['b&r industrial automation', 'B&R'],
  ['bosch rexroth', 'Bosch Rexroth'],
  ['danfoss', 'Danfoss'],
  ['endress+hauser', 'Endress+Hauser'],
  ['endress hauser', 'Endress+Hauser'],
  ['pilz', 'Pilz'],
  ['sick', 'SICK'],
  ['festo', 'Festo'],
  ['hitachi', 'Hitachi'],
  ['toshiba', 'Toshiba'],
  ['fanuc', 'FANUC'],
  ['kuka', 'KUKA'],
  ['cisco', 'Cisco'],
  ['cisco systems', 'Cisco'],
  ['juniper', 'Juniper Networks'],
  ['juniper networks', 'Juniper Networks'],
  ['fortinet', 'Fortinet'],
  ['palo alto networks', 'Palo Alto Networks'],
  ['hewlett packard enterprise', 'Hewlett Packard Enterprise'],
  ['hpe', 'Hewlett Packard Enterprise'],
  ['dell', 'Dell'],
  ['dell technologies', 'Dell'],
  ['lenovo', 'Lenovo'],
  ['vmware', 'VMware'],
  ['microsoft', 'Microsoft'],
  ['apc', 'APC'],
  ['eaton', 'Eaton'],
  ['axis', 'Axis Communications'],
  ['axis communications', 'Axis Communications'],
  ['hikvision', 'Hikvision'],
]);

/** Corporate suffixes dropped before a vendor is looked up (`Siemens AG` and `SIEMENS` are one vendor). */
const corporateSuffix = /(?:\s+(?:&|ag|gmbh|kg|co|inc|incorporated|corp|corporation|company|ltd|limited|llc|sa|se|spa|s p a|bv|nv|ab|as|oy|kk|k k|plc group))+$/;

export interface Normalizer {
  /** A source's category value as a KICS AssetType, or why it has none. */
  category(value: string): MapResult<AssetType>;
  /** A source's criticality value as a KICS influence, or why it has none. */
  influence(value: string): MapResult<Influence>;
  /** One spelling per vendor; an unknown vendor is kept as written (trimmed). */
  vendor(value: string): string;
  /** The configured tables it maps with: two normalisers with the same signature give the same records. */
  readonly signature: string;
}

export class MappingTableError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'MappingTableError';
  }
}

function compileTable<T extends string>(name: string, allowed: readonly T[], extra: Readonly<Record<string, string>> | undefined, problems: string[]): Map<string, T> {
  const byLower = new Map(allowed.map((v) => [v.toLowerCase(), v]));
  const table = new Map<string, T>();
  for (const [from, to] of Object.entries(extra ?? {})) {
    const value = byLower.get(to.trim().toLowerCase());
    if (value === undefined) problems.push(`reconcile.${name}: ${JSON.stringify(from)} maps to ${JSON.stringify(to)}, which is not one of ${allowed.join(', ')}`);
    else table.set(mappingKey(from), value);
  }
  return table;
}

/** Builds the normaliser of a run; throws MappingTableError when a configured table maps to a value KICS does not have. */
export function createNormalizer(tables: MappingTables = {}): Normalizer {
  const problems: string[] = [];
  const categories = compileTable('categoryMap', assetTypes, tables.categoryMap, problems);
  const influences = compileTable('influenceMap', influenceTypes, tables.influenceMap, problems);
  if (problems.length > 0) throw new MappingTableError(problems);
  const vendors = new Map(Object.entries(tables.vendorMap ?? {}).map(([from, to]) => [vendorKey(from), to.trim()]));

  return memoized({
    signature: JSON.stringify([tables.categoryMap ?? {}, tables.influenceMap ?? {}, tables.vendorMap ?? {}]),
    category(value) {
      const key = mappingKey(value);
      if (key === '') return { ok: false, reason: 'empty category' };
      const known = categories.get(key) ?? defaultCategoryMap.get(key);
      if (known) return { ok: true, value: known };
      const words = new Set(key.split(' '));
      for (const [word, type] of categoryKeywords) if (words.has(word)) return { ok: true, value: type };
      return { ok: false, reason: `unknown category ${JSON.stringify(value.trim())}: not a KICS category and not in reconcile.categoryMap` };
    },
    influence(value) {
      const key = mappingKey(value);
      if (key === '') return { ok: false, reason: 'empty criticality' };
      const known = influences.get(key) ?? defaultInfluenceMap.get(key);
      if (known) return { ok: true, value: known };
      return { ok: false, reason: `unknown criticality ${JSON.stringify(value.trim())}: expected ${influenceTypes.join(', ')} or a value of reconcile.influenceMap` };
    },
    vendor(value) {
      const written = value.trim().replace(/\s+/g, ' ');
      const key = vendorKey(written);
      return vendors.get(mappingKey(written)) ?? vendors.get(key) ?? defaultVendorMap.get(key) ?? written;
    },
  });
}

/** Distinct values remembered per lookup: an inventory has a few dozen categories and vendors, not thousands. */
const memoEntries = 4096;

/** The same normaliser, each lookup remembered by its input (a column repeats a handful of values over 100,000 rows). */
function memoized(normalizer: Normalizer): Normalizer {
  const remember = <T>(lookup: (value: string) => T): ((value: string) => T) => {
    const seen = new Map<string, T>();
    return (value) => {
      let result = seen.get(value);
      if (result === undefined) {
        result = lookup(value);
        if (seen.size >= memoEntries) seen.clear();
        seen.set(value, result);
      }
      return result;
    };
  };
  return {
    signature: normalizer.signature,
    category: remember((value) => normalizer.category(value)),
    influence: remember((value) => normalizer.influence(value)),
    vendor: remember((value) => normalizer.vendor(value)),
  };
}

function vendorKey(text: string): string {
  return mappingKey(text).replace(corporateSuffix, '').trim();
}

// ---------------------------------------------------------------------------------------- values

/** A cell or field as text: trimmed; empty means the source says nothing (undefined). */
export function cleanText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = (typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)).trim();
  return text === '' ? undefined : text;
}

/** Splits a multi-value cell (`a|b`, `a; b`) on its separator, dropping empty parts. */
export function splitValues(text: string | undefined, separator: string): string[] {
  if (text === undefined) return [];
  if (!text.includes(separator)) {
    const one = text.trim();
    return one === '' ? [] : [one];
  }
  return text
    .split(separator)
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

export function parseVlan(text: string): MapResult<number> {
  const trimmed = text.trim();
  if (!/^\d{1,4}$/.test(trimmed) || Number(trimmed) > 4095) return { ok: false, reason: `${JSON.stringify(trimmed)} is not a VLAN id (0-4095)` };
  return { ok: true, value: Number(trimmed) };
}

const truthy = new Set(['1', 'y', 'yes', 'true', 't', 'x', 'ja', 'oui', 'si', 'on']);
const falsy = new Set(['0', 'n', 'no', 'false', 'f', 'nein', 'non', 'off']);

export function parseBoolean(text: string): MapResult<boolean> {
  const key = mappingKey(text);
  if (truthy.has(key)) return { ok: true, value: true };
  if (falsy.has(key)) return { ok: true, value: false };
  return { ok: false, reason: `${JSON.stringify(text.trim())} is not yes / no` };
}

/** Lifecycle words that mean the asset is gone from the plant. */
const retiredWords = new Set(['retired', 'decommissioned', 'disposed', 'scrapped', 'removed', 'archived', 'inactive', 'offline', 'out of service', 'stolen', 'lost']);

/** Whether a lifecycle / status value (or a yes / no "retired" flag) means retired. */
export function isRetiredStatus(text: string): boolean {
  const key = mappingKey(text);
  return retiredWords.has(key) || truthy.has(key);
}

/** An address space reference as a source writes it: digits are a KICS id, anything else a name. */
export function addressSpaceRef(text: string): number | string {
  const trimmed = text.trim();
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : trimmed;
}

// ------------------------------------------------------------------------------------ interfaces

export interface InterfaceInput {
  name?: string | null | undefined;
  mac?: string | null | undefined;
  ips?: readonly string[];
  vlan?: number | null | undefined;
  addressSpace?: number | string | null | undefined;
}

export interface InterfaceProblem {
  field: 'mac' | 'ip';
  reason: string;
}

export interface InterfaceResult {
  /** The interface, or null when nothing usable as identity is left. */
  interface: AssetInterface | null;
  /** Values that are not MACs / IPs at all: the record should be rejected. */
  errors: readonly InterfaceProblem[];
  /** Valid values that cannot identify a device (multicast, broadcast, all-zero...): left out and reported. */
  notes: readonly string[];
}

const none: readonly never[] = Object.freeze([]);

/** Turns raw MAC / IP text into a canonical interface, separating invalid values from unusable ones. */
export function normalizeInterface(input: InterfaceInput): InterfaceResult {
  // Called for every interface of every record: no arrays for errors or notes unless there are some.
  let errors: InterfaceProblem[] | null = null;
  let notes: string[] | null = null;
  let mac: string | null = null;
  if (input.mac !== null && input.mac !== undefined && input.mac.trim() !== '') {
    const parsed = parseMac(input.mac);
    if (!parsed.ok) (errors ??= []).push({ field: 'mac', reason: parsed.reason });
    else {
      const problem = macIdentityProblem(parsed.mac);
      if (problem) (notes ??= []).push(`${parsed.mac}: ${problem}, not used as identity`);
      else mac = parsed.mac;
    }
  }
  const ips: string[] = [];
  for (const text of input.ips ?? []) {
    const parsed = parseIp(text);
    if (!parsed.ok) {
      (errors ??= []).push({ field: 'ip', reason: parsed.reason });
      continue;
    }
    const problem = ipIdentityProblem(parsed.ip);
    if (problem) (notes ??= []).push(`${parsed.ip}: ${problem}, not used as identity`);
    else if (!ips.includes(parsed.ip)) ips.push(parsed.ip);
  }
  if (mac === null && ips.length === 0) return { interface: null, errors: errors ?? none, notes: notes ?? none };
  // Keys in sorted order (addressSpace, ips, mac, name, vlan): the canonical form, kept without a copy (canonicalAsset).
  const space = input.addressSpace;
  const result: AssetInterface = space !== null && space !== undefined && space !== '' ? { addressSpace: space, ips, mac } : { ips, mac };
  if (input.name) result.name = input.name;
  if (input.vlan !== null && input.vlan !== undefined) result.vlan = input.vlan;
  return { interface: result, errors: errors ?? none, notes: notes ?? none };
}

// -------------------------------------------------------------------------------- limits, hashing

export interface FieldProblem {
  field: string;
  reason: string;
}


/** What in an asset KICS would refuse: over-long strings, too many interfaces. */
export function checkFieldLimits(asset: CanonicalAsset): FieldProblem[] {
  // Called for every record of every read: no problem objects unless a limit is broken.
  let problems: FieldProblem[] | null = null;
  const tooLong = (field: string, value: string | null | undefined, max: number): void => {
    (problems ??= []).push({ field, reason: `${value!.length} characters, more than KICS's limit of ${max}` });
  };
  for (const [field, max] of limitedTextFields) {
    const value = asset[field] as string | null | undefined;
    if (value && value.length > max) tooLong(field, value, max);
  }
  const labelLimit = assetFields.labels.kicsLimit;
  if (asset.labels) for (const label of asset.labels) if (label.length > labelLimit) tooLong('labels', label, labelLimit);
  if (asset.userAttributes) {
    for (const [name, value] of Object.entries(asset.userAttributes)) {
      if (name.length > kicsLimits.nameLength) tooLong(`userAttributes.${name}`, name, kicsLimits.nameLength);
      if (value.length > kicsLimits.textLength) tooLong(`userAttributes.${name}`, value, kicsLimits.textLength);
    }
  }
  if (asset.interfaces.length > kicsLimits.maxInterfacesPerDevice) {
    (problems ??= []).push({ field: 'interfaces', reason: `${asset.interfaces.length} interfaces, more than KICS's limit of ${kicsLimits.maxInterfacesPerDevice} per device` });
  }
  return problems ?? [];
}

function compareIps(a: string, b: string): number {
  const va = a.includes(':') ? 6 : 4;
  const vb = b.includes(':') ? 6 : 4;
  if (va !== vb) return va - vb;
  const na = ipToBigInt(a);
  const nb = ipToBigInt(b);
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * Adds `more` to `interfaces` (in canonical order), each after those that do not sort after it: the
 * list stays in canonical order, as a stable sort of the concatenation would leave it.
 */
export function insertInterfaces(interfaces: AssetInterface[], more: readonly AssetInterface[]): void {
  for (const nic of more) {
    let at = interfaces.length;
    while (at > 0 && interfaceOrder(interfaces[at - 1]!, nic) > 0) at -= 1;
    interfaces.splice(at, 0, nic);
  }
}

/** The union of two ascending lists, ascending, each value once (a value twice in one list stays twice: canonicalAsset() settles it). */
export function unionSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x < y) {
      out.push(x);
      i += 1;
    } else if (y < x) {
      out.push(y);
      j += 1;
    } else {
      out.push(x);
      i += 1;
      j += 1;
    }
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** Text compared by code, never by a locale's collation: the content hash must not depend on `LANG`. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function interfaceOrder(a: AssetInterface, b: AssetInterface): number {
  const byMac = compareText(a.mac ?? '', b.mac ?? '');
  if (byMac !== 0) return byMac;
  const byIp = a.ips.length > 0 && b.ips.length > 0 ? compareIps(a.ips[0]!, b.ips[0]!) : a.ips.length - b.ips.length;
  if (byIp !== 0) return byIp;
  return compareText(a.name ?? '', b.name ?? '');
}

/**
 * The fields of an asset and of an interface, sorted: canonical objects are built in this order. The
 * asset's come from its registry (src/model/fields.ts), which the compiler holds to CanonicalAsset.
 */
const assetFieldSet = Object.fromEntries(Object.keys(assetFields).map((field) => [field, true])) as Record<keyof CanonicalAsset, true>;
const interfaceFieldSet: Record<keyof AssetInterface, true> = { name: true, mac: true, ips: true, vlan: true, addressSpace: true };
const assetKeys = (Object.keys(assetFieldSet) as (keyof CanonicalAsset)[]).sort();
const interfaceKeys = (Object.keys(interfaceFieldSet) as (keyof AssetInterface)[]).sort();

/** A copy of `object` with its defined values under `keys` (sorted), then any other keys it has. */
function inKeyOrder<T extends object>(object: T, keys: readonly (keyof T)[], value: (key: keyof T) => unknown): T {
  const out: Record<string, unknown> = {};
  let copied = 0;
  for (const key of keys) {
    if (!(key in object)) continue;
    copied += 1;
    const v = value(key);
    if (v !== undefined) out[key as string] = v;
  }
  let own = 0;
  for (const _ in object) own += 1;
  if (copied !== own) {
    for (const [key, v] of Object.entries(object)) if (!keys.includes(key as keyof T) && v !== undefined) out[key] = v;
  }
  return out as T;
}

/**
 * The one form of an asset that is stored and hashed: labels and IPs de-duplicated and sorted,
 * interfaces in a stable order, empty collections dropped. Two reads of the same data in a different
 * order give the same asset, so re-ordered rows never count as changes. Keys are in sorted order, so
 * that plain `JSON.stringify` writes its stable JSON. An asset already in that form (a source that
 * builds it in order, as the CSV source does) is returned as it is.
 */
export function canonicalAsset(asset: CanonicalAsset): CanonicalAsset {
  if (isCanonical(asset)) return asset;
  const interfaces = asset.interfaces.map((i) => inKeyOrder(i, interfaceKeys, (key) => (key === 'ips' ? (i.ips.length > 1 ? [...new Set(i.ips)].sort(compareIps) : [...i.ips]) : i[key])));
  interfaces.sort(interfaceOrder);
  return inKeyOrder(asset, assetKeys, (key) => {
    if (key === 'interfaces') return interfaces;
    if (key === 'labels') return asset.labels === undefined ? undefined : asset.labels.length > 1 ? [...new Set(asset.labels)].sort() : [...asset.labels];
    if (key === 'userAttributes') {
      const attributes = asset.userAttributes;
      if (attributes === undefined) return undefined;
      const names = Object.keys(attributes);
      return names.length === 0 ? undefined : Object.fromEntries(names.sort().map((name) => [name, attributes[name]]));
    }
    return asset[key];
  });
}

/**
 * Whether `asset` is in canonical form already: only known keys, each level's keys in order, no
 * undefined value, no empty user attributes, labels and each interface's IPs strictly ascending (so
 * without duplicates), interfaces in order. Reads only; no copy.
 */
function isCanonical(asset: CanonicalAsset): boolean {
  if (!keysKnownAndSorted(asset, assetFieldSet)) return false;
  const { interfaces, labels, userAttributes } = asset;
  if (labels !== undefined) for (let i = 1; i < labels.length; i += 1) if (!(labels[i - 1]! < labels[i]!)) return false;
  if (userAttributes !== undefined && (!keysSorted(userAttributes) || isEmpty(userAttributes))) return false;
  for (let i = 0; i < interfaces.length; i += 1) {
    const nic = interfaces[i]!;
    if (!keysKnownAndSorted(nic, interfaceFieldSet)) return false;
    const ips = nic.ips;
    for (let j = 1; j < ips.length; j += 1) if (compareIps(ips[j - 1]!, ips[j]!) >= 0) return false;
    if (i > 0 && interfaceOrder(interfaces[i - 1]!, nic) > 0) return false;
  }
  return true;
}

function keysKnownAndSorted(object: object, known: Readonly<Record<string, true>>): boolean {
  let previous: string | null = null;
  for (const key in object) {
    if (known[key] !== true || (object as Record<string, unknown>)[key] === undefined) return false;
    if (previous !== null && previous >= key) return false;
    previous = key;
  }
  return true;
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/** Whether an object's own keys are in sorted order. */
function keysSorted(object: object): boolean {
  let previous: string | null = null;
  for (const key in object) {
    if (previous !== null && previous >= key) return false;
    previous = key;
  }
  return true;
}

/** Object keys in sorted order (objects already in order pass through without a copy). */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  let ordered = true;
  for (let i = 1; i < keys.length && ordered; i += 1) ordered = keys[i - 1]! < keys[i]!;
  if (ordered) return value;
  // No prototype: a key named "__proto__" (JSON allows it) stays a key instead of setting the prototype.
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of keys.sort()) out[key] = object[key];
  return out;
}

/**
 * JSON with object keys sorted at every depth: equal values give equal text. Not a library's: the
 * stored content hashes were made with this (an object's array-index keys, such as "0", come first in
 * JavaScript whatever the sort), and safe-stable-stringify, which sorts "" before "0", gives other text
 * for such objects (test/model/normalize.test.ts).
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, sortedKeys) ?? 'null';
}

/**
 * The content hash of a canonical asset (SHA-256 of its stable JSON): equal for equal content whatever
 * the key order. Only the canonical asset counts: a change in a raw field no mapping reads is not a change.
 */
export function assetContentHash(asset: CanonicalAsset): string {
  return canonicalJson(asset).hash;
}

/** The stable JSON of a canonical asset and its content hash, for callers that store the JSON too. */
export function canonicalJson(asset: CanonicalAsset): { json: string; hash: string } {
  // A canonical asset has its keys in order at every depth: plain JSON.stringify (its fast path) gives the stable JSON.
  const ordered = keysSorted(asset) && asset.interfaces.every(keysSorted) && (asset.userAttributes === undefined || keysSorted(asset.userAttributes));
  const json = ordered ? JSON.stringify(asset) : stableStringify(asset);
  return { json, hash: digest('sha256', json, 'base64url') };
}

/**
 * The hash of a device's industrial configuration as KICS shows it (`processControlSettings`, the
 * read-only member the document defines): equal for equal content whatever the key order; null for none.
 */
export function settingsHash(settings: unknown): string | null {
  if (settings === null || settings === undefined) return null;
  return digest('sha256', stableStringify(settings), 'base64url');
}
