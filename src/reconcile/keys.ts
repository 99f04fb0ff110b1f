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
  private readonly macs = new Map<number | null, Map<string, KeyId>>();
  private readonly ips = new Map<number | null, Map<string, KeyId>>();
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
    return this.intern(this.names, NAME, null, name);
  }

  /** The key a text (`macKey` / `ipKey` / `nameKey`) stands for, if this run has it. */
  find(text: string): KeyId | undefined {
    if (text.startsWith('n|')) return this.names.get(text.slice(2));
    const bar = text.indexOf('|', 2);
    const spaceText = text.slice(2, bar);
    const space = spaceText === '-' ? null : Number(spaceText);
    return (text.startsWith('m|') ? this.macs : this.ips).get(space)?.get(text.slice(bar + 1));
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

  private inSpace(bySpace: Map<number | null, Map<string, KeyId>>, space: number | null): Map<string, KeyId> {
    let values = bySpace.get(space);
    if (values === undefined) bySpace.set(space, (values = new Map<string, KeyId>()));
    return values;
  }

  private intern(values: Map<string, KeyId>, kind: number, space: number | null, value: string): KeyId {
    let key = values.get(value);
    if (key === undefined) {
      key = this.values.length;
      values.set(value, key);
      this.kinds.push(kind);
      this.spaces.push(space);
      this.values.push(value);
    }
    return key;
  }
}

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

  toArray(): { deviceId: number; address: string }[] {
    const { deviceIds, addresses } = this.columns(0, this.length);
    return deviceIds.map((deviceId, i) => ({ deviceId, address: addresses[i]! }));
  }
}
