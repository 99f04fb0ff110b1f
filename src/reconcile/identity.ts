import type { AddressSpaceIndex, Binding } from '../model/address-space.js';
import { parseIp } from '../model/ip.js';
import type { KicsDevice } from '../model/kics.js';
import { macIdentityProblem, parseMac } from '../model/mac.js';
import type { KeyId, KeyTable } from './keys.js';
import type { ConflictAsset, ConflictDevice, ConflictKind } from './plan-schema.js';
import type { StagedRecord } from './types.js';

/**
 * Identity: records and devices bound to address spaces, with the keys that say two things are the
 * same asset (src/reconcile/keys.ts).
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

/**
 * A source record with its identity keys. Its interfaces (MACs and IPs bound to address spaces) are
 * bound again when a step needs them, for a create, an address change or a conflict: most records of
 * a large plan never need them.
 */
export class BoundRecord {
  /** MAC and IP keys, each once. */
  readonly addressKeys: KeyId[];
  /** The name key, when names match and the asset has a name. */
  readonly nameKey: KeyId | null;
  /** What keeps the record from being matched (usually none: one empty list shared by all such records). */
  problems: readonly IdentityProblem[] = noProblems;
  /** Keys an ambiguous address could have (one per candidate space): they name the devices of the conflict, never a match. */
  candidateKeys: readonly KeyId[] = noKeys;
  /** A MAC without IP or VLAN waits for `resolveUnboundMacs`. */
  readonly macUnbound: boolean;
  /** Every interface has a MAC and no address repeats: the record's keys are exactly its interfaces' addresses. */
  plain: boolean;
  private bound: BoundInterface[] | undefined;

  constructor(
    readonly record: StagedRecord,
    /** Position of the record's source in config order. */
    readonly sourceRank: number,
    private readonly spaces: AddressSpaceIndex,
    private readonly table: KeyTable,
    matchByName: boolean,
  ) {
    const problems: IdentityProblem[] = [];
    const candidateKeys: KeyId[] = [];
    const interfaces = bindInterfaces(record, spaces, table, problems, candidateKeys);
    this.addressKeys = interfaceKeys(interfaces, table);
    if (problems.length > 0) this.problems = problems;
    if (candidateKeys.length > 0) this.candidateKeys = candidateKeys;
    this.macUnbound = interfaces.some((i) => i.macUnbound === true);
    this.plain = isPlain(interfaces, this.addressKeys);
    // Kept only when `resolveUnboundMacs` has to settle a MAC in them.
    if (this.macUnbound) this.bound = interfaces;
    const name = record.asset.name?.trim();
    this.nameKey = matchByName && name ? table.name(name) : null;
  }

  get interfaces(): BoundInterface[] {
    return (this.bound ??= bindInterfaces(this.record, this.spaces, this.table, [], []));
  }
}

/**
 * A KICS device with its identity keys. Its interfaces (canonical MACs and IPs with the address
 * spaces KICS bound them to) are built when a step needs them, for a conflict or an address change:
 * most devices of a large plan never need them.
 */
export class BoundDevice {
  /** MAC and IP keys, each once. */
  readonly addressKeys: KeyId[];
  readonly archived: boolean;
  private bound: BoundInterface[] | undefined;

  constructor(
    readonly device: KicsDevice,
    table: KeyTable,
  ) {
    this.archived = device.status === 'Archived';
    this.addressKeys = interfaceKeys(deviceInterfaces(device), table);
  }

  get interfaces(): BoundInterface[] {
    return (this.bound ??= deviceInterfaces(this.device));
  }
}

const noProblems: readonly IdentityProblem[] = Object.freeze([]);
const noKeys: readonly KeyId[] = Object.freeze([]);

/** Adds a key to a list that holds each key once (an asset has a handful). */
function addKey(list: KeyId[], key: KeyId): void {
  if (!list.includes(key)) list.push(key);
}

/** The MAC and IP keys of interfaces, each once (a MAC still waiting for its address space has none yet). */
export function interfaceKeys(interfaces: readonly BoundInterface[], table: KeyTable): KeyId[] {
  const keys: KeyId[] = [];
  for (const iface of interfaces) {
    if (iface.mac !== null && !iface.macUnbound) addKey(keys, table.mac(iface.macSpace, iface.mac));
    for (const ip of iface.ips) addKey(keys, table.ip(ip.space, ip.ip));
  }
  return keys;
}

/** Every interface has a settled MAC and no address repeats: the keys are exactly the interfaces' addresses. */
function isPlain(interfaces: readonly BoundInterface[], keys: readonly KeyId[]): boolean {
  let addresses = 0;
  for (const iface of interfaces) {
    if (iface.mac === null || iface.macUnbound) return false;
    addresses += 1 + iface.ips.length;
  }
  return addresses === keys.length;
}

/**
 * Binds a record's MACs and IPs to KICS address spaces, the way KICS would bind them, noting what
 * cannot be bound in `problems` and the keys an ambiguous address could have in `candidateKeys`.
 */
function bindInterfaces(record: StagedRecord, spaces: AddressSpaceIndex, table: KeyTable, problems: IdentityProblem[], candidateKeys: KeyId[]): BoundInterface[] {
  const interfaces: BoundInterface[] = [];
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
        for (const space of binding.ambiguous) candidateKeys.push(table.ip(space, ip));
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
          for (const space of binding.ambiguous) candidateKeys.push(table.mac(space, iface.mac));
          problems.push({ kind: 'ambiguous_address_space', reason: `MAC ${iface.mac} binds to address spaces ${binding.ambiguous.join(' and ')} equally and the source gives no VLAN` });
        } else {
          mac = iface.mac;
          macSpace = binding.spaceId;
        }
      }
    }
    const bound: BoundInterface = { name: iface.name ?? null, mac, macSpace, ips };
    if (macUnbound) bound.macUnbound = true;
    interfaces.push(bound);
  }
  return interfaces;
}

/** A MAC as KICS shows it, canonical when it can identify a device, else null. */
function identityMac(text: string | null | undefined): string | null {
  const parsed = text ? parseMac(text) : null;
  return parsed?.ok && macIdentityProblem(parsed.mac) === null ? parsed.mac : null;
}

function deviceInterfaces(device: KicsDevice): BoundInterface[] {
  return (device.addressInformation ?? []).map((info) => {
    const ips: BoundIp[] = [];
    for (const address of info.ipAddresses ?? []) {
      const parsed = parseIp(address.ip);
      if (parsed.ok) ips.push({ ip: parsed.ip, space: address.addressSpaceId ?? null });
    }
    return { name: info.networkInterfaceName ?? null, mac: identityMac(info.macAddress), macSpace: info.macAddressSpaceId ?? null, ips };
  });
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
export function resolveUnboundMacs(records: readonly BoundRecord[], devices: readonly BoundDevice[], table: KeyTable): void {
  const unbound = records.filter((r) => r.macUnbound);
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
        r.problems = [...r.problems, { kind: 'ambiguous_address_space', reason: `MAC ${iface.mac} is known in address spaces ${names} and the source gives no IP or VLAN to tell which` }];
        r.candidateKeys = [...r.candidateKeys, ...spaces.map((space) => table.mac(space, iface.mac!))];
        iface.mac = null;
      } else {
        iface.macSpace = spaces[0] ?? null;
        addKey(r.addressKeys, table.mac(iface.macSpace, iface.mac!));
      }
      delete iface.macUnbound;
      r.plain = isPlain(r.interfaces, r.addressKeys);
    }
  }
}
