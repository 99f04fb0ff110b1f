import type { AddressSpaceIndex, Binding } from '../model/address-space.js';
import { parseIp } from '../model/ip.js';
import type { KicsDevice } from '../model/kics.js';
import { macIdentityProblem, parseMac } from '../model/mac.js';
import type { ConflictAsset, ConflictDevice, ConflictKind, MatchKey } from './plan-schema.js';
import type { StagedRecord } from './types.js';

/**
 * Identity: the keys that say two things are the same asset. A key is (MAC address space, MAC),
 * (IP address space, IP) or, only when reconcile.matchByName is on, the exact name. The same IP in
 * two address spaces gives two different keys: two different devices, never a conflict.
 */

export interface BoundIp {
  ip: string;
  space: number | null;
}

export interface BoundInterface {
  name: string | null;
  /** A MAC usable as identity (not broadcast / multicast / all-zero), or null. */
  mac: string | null;
  macSpace: number | null;
  /** The MAC's space could not be derived (no IP, no VLAN): `resolveUnboundMacs` settles it. */
  macUnbound?: boolean;
  ips: BoundIp[];
}

export interface IdentityProblem {
  kind: Extract<ConflictKind, 'ambiguous_address_space' | 'unknown_address_space'>;
  reason: string;
}

export interface BoundRecord {
  record: StagedRecord;
  /** Position of the record's source in config order. */
  sourceRank: number;
  interfaces: BoundInterface[];
  /** MAC and IP keys (see `macKey` / `ipKey`). */
  addressKeys: string[];
  /** The name key, when names match and the asset has a name. */
  nameKey: string | null;
  problems: IdentityProblem[];
  /** Keys an ambiguous address could have (one per candidate space): they name the devices of the conflict, never a match. */
  candidateKeys: string[];
}

export interface BoundDevice {
  device: KicsDevice;
  interfaces: BoundInterface[];
  addressKeys: string[];
  archived: boolean;
}

const spaceText = (space: number | null): string => (space === null ? '-' : String(space));
export const macKey = (space: number | null, mac: string): string => `m|${spaceText(space)}|${mac}`;
export const ipKey = (space: number | null, ip: string): string => `i|${spaceText(space)}|${ip}`;
export const nameKey = (name: string): string => `n|${name}`;

/** A key string back as the value stored in plan_item.match_keys. */
export function matchKeyOf(key: string): MatchKey {
  const [kind, space, ...rest] = key.split('|');
  const value = rest.join('|');
  if (kind === 'n') return { kind: 'name', space: null, value: [space, ...rest].join('|') };
  return { kind: kind === 'm' ? 'mac' : 'ip', space: space === '-' ? null : Number(space), value };
}

/** The address space of a MAC or IP key (`matchKeyOf(key).space` without taking the key apart). */
export function keySpace(key: string): number | null {
  const space = key.slice(2, key.indexOf('|', 2));
  return space === '-' ? null : Number(space);
}

/** Human text for a key: `MAC aa:bb:.. (space 1)`. */
export function describeKey(key: string, spaceName: (id: number | null) => string): string {
  const k = matchKeyOf(key);
  if (k.kind === 'name') return `name ${JSON.stringify(k.value)}`;
  return `${k.kind === 'mac' ? 'MAC' : 'IP'} ${k.value} (${spaceName(k.space)})`;
}

/** Binds a record's MACs and IPs to KICS address spaces, the way KICS would bind them. */
export function bindRecord(record: StagedRecord, sourceRank: number, spaces: AddressSpaceIndex, matchByName: boolean): BoundRecord {
  const problems: IdentityProblem[] = [];
  const candidateKeys: string[] = [];
  const interfaces: BoundInterface[] = [];
  const keys: string[] = [];
  const addKey = (key: string): void => {
    if (!keys.includes(key)) keys.push(key);
  };
  for (const iface of record.asset.interfaces ?? []) {
    let explicit: number | null | undefined;
    if (iface.addressSpace !== null && iface.addressSpace !== undefined && iface.addressSpace !== '') {
      const space = spaces.find(iface.addressSpace);
      if (!space) {
        problems.push({ kind: 'unknown_address_space', reason: `${record.source} names address space ${JSON.stringify(String(iface.addressSpace))}, which KICS does not have` });
        continue;
      }
      explicit = space.id;
    }
    const ips: BoundIp[] = [];
    const ipBindings: Binding[] = [];
    for (const ip of iface.ips ?? []) {
      if (explicit !== undefined) {
        ips.push({ ip, space: explicit });
        continue;
      }
      const binding = spaces.bindIp(ip, iface.vlan);
      ipBindings.push(binding);
      if (binding.ambiguous) {
        for (const space of binding.ambiguous) candidateKeys.push(ipKey(space, ip));
        problems.push({
          kind: 'ambiguous_address_space',
          reason: `IP ${ip} binds to address spaces ${binding.ambiguous.join(' and ')} equally${iface.vlan === null || iface.vlan === undefined ? ' and the source gives no VLAN' : ` in VLAN ${iface.vlan}`}`,
        });
        continue;
      }
      ips.push({ ip, space: binding.spaceId });
    }
    let mac: string | null = null;
    let macSpace: number | null = null;
    let macUnbound = false;
    if (iface.mac && macIdentityProblem(iface.mac) === null) {
      if (explicit !== undefined) {
        mac = iface.mac;
        macSpace = explicit;
      } else if ((iface.ips ?? []).length === 0 && (iface.vlan === null || iface.vlan === undefined)) {
        mac = iface.mac;
        macUnbound = true;
      } else {
        const binding = spaces.bindMacWith(ipBindings, iface.vlan);
        if (binding.ambiguous) {
          for (const space of binding.ambiguous) candidateKeys.push(macKey(space, iface.mac));
          problems.push({ kind: 'ambiguous_address_space', reason: `MAC ${iface.mac} binds to address spaces ${binding.ambiguous.join(' and ')} equally and the source gives no VLAN` });
        } else {
          mac = iface.mac;
          macSpace = binding.spaceId;
        }
      }
    }
    if (mac !== null && !macUnbound) addKey(macKey(macSpace, mac));
    for (const ip of ips) addKey(ipKey(ip.space, ip.ip));
    const bound: BoundInterface = { name: iface.name ?? null, mac, macSpace, ips };
    if (macUnbound) bound.macUnbound = true;
    interfaces.push(bound);
  }
  const name = record.asset.name?.trim();
  return { record, sourceRank, interfaces, addressKeys: keys, nameKey: matchByName && name ? nameKey(name) : null, problems, candidateKeys };
}

/** A KICS device's interfaces with canonical MACs / IPs and the address spaces KICS bound them to. */
export function bindDevice(device: KicsDevice): BoundDevice {
  const interfaces: BoundInterface[] = [];
  const keys: string[] = [];
  for (const info of device.addressInformation ?? []) {
    const parsedMac = info.macAddress ? parseMac(info.macAddress) : null;
    const mac = parsedMac?.ok && macIdentityProblem(parsedMac.mac) === null ? parsedMac.mac : null;
    const macSpace = info.macAddressSpaceId ?? null;
    const ips: BoundIp[] = [];
    for (const address of info.ipAddresses ?? []) {
      const parsed = parseIp(address.ip);
      if (parsed.ok) ips.push({ ip: parsed.ip, space: address.addressSpaceId ?? null });
    }
    const addKey = (key: string): void => {
      if (!keys.includes(key)) keys.push(key);
    };
    if (mac !== null) addKey(macKey(macSpace, mac));
    for (const ip of ips) addKey(ipKey(ip.space, ip.ip));
    interfaces.push({ name: info.networkInterfaceName ?? null, mac, macSpace, ips });
  }
  return { device, interfaces, addressKeys: keys, archived: device.status === 'Archived' };
}

const sideInterfaces = (interfaces: readonly BoundInterface[]): ConflictAsset['interfaces'] =>
  interfaces.map((i) => ({ mac: i.mac, macSpace: i.macSpace, ips: i.ips.map((ip) => ({ ip: ip.ip, space: ip.space })) }));

/** A record as one side of a conflict. */
export function assetSide(bound: BoundRecord): ConflictAsset {
  const { record } = bound;
  return { source: record.source, key: record.key, name: record.asset.name ?? null, owner: record.asset.owner ?? record.owner ?? null, interfaces: sideInterfaces(bound.interfaces) };
}

/** A device as the other side of a conflict. */
export function deviceSide(bound: BoundDevice): ConflictDevice {
  return { id: bound.device.id, name: bound.device.name, status: bound.device.status ?? null, interfaces: sideInterfaces(bound.interfaces) };
}

/**
 * A MAC given without IP or VLAN cannot be bound by the rules. It takes the one address space in
 * which KICS or another record has that MAC; in several, it is ambiguous (a conflict, never a
 * guess); in none, it stays without a space and KICS binds it when the device is created.
 */
export function resolveUnboundMacs(records: readonly BoundRecord[], devices: readonly BoundDevice[]): void {
  const unbound = records.filter((r) => r.interfaces.some((i) => i.macUnbound));
  if (unbound.length === 0) return;
  const wanted = new Set(unbound.flatMap((r) => r.interfaces.filter((i) => i.macUnbound).map((i) => i.mac!)));
  const spacesByMac = new Map<string, Set<number | null>>();
  const note = (mac: string | null, space: number | null): void => {
    if (mac === null || !wanted.has(mac)) return;
    let set = spacesByMac.get(mac);
    if (!set) spacesByMac.set(mac, (set = new Set()));
    set.add(space);
  };
  for (const d of devices) for (const i of d.interfaces) note(i.mac, i.macSpace);
  for (const r of records) for (const i of r.interfaces) if (!i.macUnbound) note(i.mac, i.macSpace);
  for (const r of unbound) {
    for (const iface of r.interfaces) {
      if (!iface.macUnbound) continue;
      const spaces = [...(spacesByMac.get(iface.mac!) ?? [])];
      if (spaces.length > 1) {
        const names = spaces.map((s) => (s === null ? 'none' : String(s))).join(' and ');
        r.problems.push({ kind: 'ambiguous_address_space', reason: `MAC ${iface.mac} is known in address spaces ${names} and the source gives no IP or VLAN to tell which` });
        for (const space of spaces) r.candidateKeys.push(macKey(space, iface.mac!));
        iface.mac = null;
      } else {
        iface.macSpace = spaces[0] ?? null;
        const key = macKey(iface.macSpace, iface.mac!);
        if (!r.addressKeys.includes(key)) r.addressKeys.push(key);
      }
      delete iface.macUnbound;
    }
  }
}
