import { ipv4Number } from '../model/ip.js';
import { macNumber } from '../model/mac.js';
import type { MatchKey } from './plan-schema.js';

/**
 * Identity keys: (MAC address space, MAC), (IP address space, IP) or, only when reconcile.matchByName
 * is on, the exact name. The same IP in two address spaces gives two different keys: two different
 * devices, never a conflict.
 *
 * Within one reconcile() a key is a number (`KeyId`), given once by the run's `KeyTable`: the steps
 * index devices and records by key in plain arrays, and 100,000 devices cost no key strings. Outside
 * it a key is text (`macKey` / `ipKey` / `nameKey`), as address assertions are stored, and a plan item
 * shows its keys as `MatchKey` values.
 */

export type KeyId = number;

const spaceText = (space: number | null): string => (space === null ? '-' : String(space));
export const macKey = (space: number | null, mac: string): string => `m|${spaceText(space)}|${mac}`;
export const ipKey = (space: number | null, ip: string): string => `i|${spaceText(space)}|${ip}`;
export const nameKey = (name: string): string => `n|${name}`;

const MAC = 0;
const IP = 1;
const NAME = 2;
const kindNames = ['mac', 'ip', 'name'] as const;

/** The keys of one reconcile() run, each a number from 0: MACs and IPs by address space, and names. */
export class KeyTable {
  private readonly kinds: number[] = [];
  private readonly spaces: (number | null)[] = [];
  private readonly values: string[] = [];
  private readonly macs = new Map<number | null, AddressKeys>();
  private readonly ips = new Map<number | null, AddressKeys>();
  private readonly names = new Map<string, KeyId>();

  /** How many keys there are: every key is below this. */
  get size(): number {
    return this.values.length;
  }

  /** The key of a canonical MAC in an address space (null: none). */
  mac(space: number | null, mac: string): KeyId {
    return this.intern(this.inSpace(this.macs, space), MAC, space, mac);
  }

  /** The key of a canonical IP in an address space (null: none). */
  ip(space: number | null, ip: string): KeyId {
    return this.intern(this.inSpace(this.ips, space), IP, space, ip);
  }

  name(name: string): KeyId {
    let key = this.names.get(name);
    if (key === undefined) this.names.set(name, (key = this.add(NAME, null, name)));
    return key;
  }

  /** The key a text (`macKey` / `ipKey` / `nameKey`) stands for, if this run has it. */
  find(text: string): KeyId | undefined {
    if (text.startsWith('n|')) return this.names.get(text.slice(2));
    const bar = text.indexOf('|', 2);
    const spaceText = text.slice(2, bar);
    const space = spaceText === '-' ? null : Number(spaceText);
    const key = (text.startsWith('m|') ? this.macs : this.ips).get(space)?.get(text.slice(bar + 1));
    return key === -1 ? undefined : key;
  }

  isMac(key: KeyId): boolean {
    return this.kinds[key] === MAC;
  }

  isName(key: KeyId): boolean {
    return this.kinds[key] === NAME;
  }

  /** The address space of a MAC or IP key (null for none, and for a name). */
  space(key: KeyId): number | null {
    return this.spaces[key]!;
  }

  /** The key as text, as address assertions are stored. */
  text(key: KeyId): string {
    const value = this.values[key]!;
    switch (this.kinds[key]) {
      case MAC:
        return macKey(this.spaces[key]!, value);
      case IP:
        return ipKey(this.spaces[key]!, value);
      default:
        return nameKey(value);
    }
  }

  /** The keys as a plan item shows them. */
  matchKeys(keys: readonly KeyId[]): MatchKey[] {
    return keys.map((key) => ({ kind: kindNames[this.kinds[key]!]!, space: this.spaces[key]!, value: this.values[key]! }));
  }

  /** The address space an item is filed under: that of its first MAC or IP key. */
  primarySpace(keys: readonly KeyId[]): number | null {
    for (const key of keys) if (this.kinds[key] !== NAME) return this.spaces[key]!;
    return null;
  }

  /** Human text for a key: `MAC aa:bb:.. (address space "Plant A")`, `name "plc-1"`. */
  describe(key: KeyId, spaceName: (id: number | null) => string): string {
    const value = this.values[key]!;
    switch (this.kinds[key]) {
      case MAC:
        return `MAC ${value} (${spaceName(this.spaces[key]!)})`;
      case IP:
        return `IP ${value} (${spaceName(this.spaces[key]!)})`;
      default:
        return `name ${JSON.stringify(value)}`;
    }
  }

  private inSpace(bySpace: Map<number | null, AddressKeys>, space: number | null): AddressKeys {
    let keys = bySpace.get(space);
    if (keys === undefined) bySpace.set(space, (keys = new AddressKeys()));
    return keys;
  }

  private intern(keys: AddressKeys, kind: number, space: number | null, value: string): KeyId {
    let key = keys.get(value);
    if (key === -1) keys.set(value, (key = this.add(kind, space, value)));
    return key;
  }

  private add(kind: number, space: number | null, value: string): KeyId {
    this.kinds.push(kind);
    this.spaces.push(space);
    return this.values.push(value) - 1;
  }
}

/**
 * The MAC or IP keys of one address space. Canonical MACs (48 bits) and IPv4 addresses (32) are
 * numbers in an open-addressing table of typed arrays; anything else (IPv6) is in a Map. A Map of
 * their strings reads a key string for every comparison: binding 100,000 devices and records took
 * a fifth longer with it.
 */
class AddressKeys {
  private numbers = new Float64Array(1 << 10);
  private ids = new Int32Array(1 << 10).fill(-1);
  /** 32 - log2 of the table's size: a slot is the top bits of a hash. */
  private shift = 22;
  private count = 0;
  private readonly texts = new Map<string, KeyId>();

  /** The key of a value, -1 for none. */
  get(value: string): KeyId {
    const n = addressNumber(value);
    if (n < 0) return this.texts.get(value) ?? -1;
    const mask = this.ids.length - 1;
    for (let slot = slotOf(n, this.shift); ; slot = (slot + 1) & mask) {
      const id = this.ids[slot]!;
      if (id === -1 || this.numbers[slot] === n) return id;
    }
  }

  set(value: string, key: KeyId): void {
    const n = addressNumber(value);
    if (n < 0) {
      this.texts.set(value, key);
      return;
    }
    if (++this.count * 2 > this.ids.length) this.grow();
    this.place(n, key);
  }

  private place(n: number, key: KeyId): void {
    const mask = this.ids.length - 1;
    let slot = slotOf(n, this.shift);
    while (this.ids[slot] !== -1) slot = (slot + 1) & mask;
    this.numbers[slot] = n;
    this.ids[slot] = key;
  }

  private grow(): void {
    const { numbers, ids } = this;
    this.numbers = new Float64Array(ids.length * 2);
    this.ids = new Int32Array(ids.length * 2).fill(-1);
    this.shift -= 1;
    for (let slot = 0; slot < ids.length; slot += 1) if (ids[slot] !== -1) this.place(numbers[slot]!, ids[slot]!);
  }
}

/** A table slot for a whole number below 2^53: the top bits of a multiplicative hash of its two 32-bit halves. */
const slotOf = (n: number, shift: number): number => (Math.imul(n >>> 0, 0x9e3779b1) + Math.imul(Math.floor(n / 4294967296), 0x85ebca6b)) >>> shift;

/**
 * A canonical MAC or IPv4 address as a number; -1 for anything else (IPv6: no canonical IPv6 has a
 * MAC's shape). Within one kind of key, two different canonical texts never give the same number.
 */
const addressNumber = (value: string): number => (value.length === 17 ? macNumber(value) : ipv4Number(value));

/**
 * Addresses asserted for devices: pairs of a device id and a key, as text only when they are stored.
 * A first plan of 100,000 devices asserts about 200,000 addresses.
 */
export class KeyAssertions {
  private readonly deviceIds: number[] = [];
  private readonly keys: KeyId[] = [];

  constructor(private readonly table: KeyTable) {}

  get length(): number {
    return this.keys.length;
  }

  add(deviceId: number, key: KeyId): void {
    this.deviceIds.push(deviceId);
    this.keys.push(key);
  }

  /** Pairs `start` to `end` (excluded) as columns: the device ids and the addresses as text (`macKey` / `ipKey`). */
  columns(start: number, end: number): { deviceIds: number[]; addresses: string[] } {
    return { deviceIds: this.deviceIds.slice(start, end), addresses: this.keys.slice(start, end).map((key) => this.table.text(key)) };
  }
}
