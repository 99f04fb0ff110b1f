import ipaddr from 'ipaddr.js';
import { ipToBigInt, ipValue, ipVersion } from './ip.js';
import type { AddressSpace, AddressSpaceRule } from './kics.js';

/**
 * Binding addresses to KICS address spaces the way KICS does: an address belongs to the space of the
 * most specific rule that covers it (the smallest subnet; then the narrowest VLAN range). The same IP
 * in two spaces (e.g. one subnet per VLAN) is two different addresses. No I/O.
 */
export interface Binding {
  /** The address space id, or null when no rule covers the address (or the answer is ambiguous). */
  spaceId: number | null;
  /** When the VLAN is unknown and equally specific rules of different spaces cover the address. */
  ambiguous?: number[];
}

/** An address range: numbers for IPv4, bigints for IPv6 (`ipValue`); `size` is `to - from`. */
interface Range {
  from: number | bigint;
  to: number | bigint;
  size: number | bigint;
}

interface CompiledRule {
  spaceId: number;
  version: 4 | 6 | null;
  ranges: Range[];
  /** VLAN ranges of a SpecificVlans rule; null for any VLAN. */
  vlans: { from: number; to: number }[] | null;
  /** How many VLANs the rule covers (for ranking); Infinity for any VLAN. */
  vlanWidth: number;
  l2: boolean;
  l3: boolean;
}

export interface AddressSpaceIndex {
  readonly spaces: readonly AddressSpace[];
  /** The space an IP (seen in `vlan`, when known) binds to. */
  bindIp(ip: string, vlan?: number | null): Binding;
  /** The space a MAC binds to: that of its interface's IPs under an L2-and-L3 rule, else an L2 rule for its VLAN. */
  bindMac(ips: readonly string[], vlan?: number | null): Binding;
  /** `bindMac` given the bindings of its interface's IPs (`bindIp`), when the caller has them already. */
  bindMacWith(ipBindings: readonly Binding[], vlan?: number | null): Binding;
  /** A space by id or (case-insensitive) name. */
  find(ref: number | string): AddressSpace | undefined;
}

function compileRule(spaceId: number, rule: AddressSpaceRule): CompiledRule {
  const ranges: Range[] = [];
  // IPv4 ranges as plain numbers: an IPv4 address is checked without a bigint.
  const range = (from: bigint, to: bigint, version: 4 | 6): Range => (version === 4 ? { from: Number(from), to: Number(to), size: Number(to - from) } : { from, to, size: to - from });
  let version: 4 | 6 | null = null;
  for (const subnet of rule.subnets ?? []) {
    try {
      if (subnet.to === null || subnet.to === undefined || subnet.to === '') {
        const [addr, bits] = subnet.from.includes('/') ? ipaddr.parseCIDR(subnet.from) : [ipaddr.parse(subnet.from), ipaddr.parse(subnet.from).kind() === 'ipv4' ? 32 : 128];
        const width = addr.kind() === 'ipv4' ? 32 : 128;
        const base = ipToBigInt(addr.toString());
        const size = 1n << BigInt(width - bits);
        const from = (base / size) * size;
        version = addr.kind() === 'ipv4' ? 4 : 6;
        ranges.push(range(from, from + size - 1n, version));
      } else {
        version = ipVersion(subnet.from);
        ranges.push(range(ipToBigInt(subnet.from), ipToBigInt(subnet.to), version));
      }
    } catch {
      // A subnet KICS would not have accepted; it covers nothing.
    }
  }
  const specific = rule.vlanType === 'SpecificVlans';
  const vlans = specific ? (rule.vlans ?? []) : null;
  const vlanWidth = vlans ? vlans.reduce((sum, v) => sum + (v.to - v.from + 1), 0) : Number.POSITIVE_INFINITY;
  const subnetType = rule.subnetType ?? 'L2AndL3';
  return { spaceId, version, ranges, vlans, vlanWidth, l2: subnetType !== 'L3Only', l3: subnetType !== 'L2Only' };
}

function vlanMatches(rule: CompiledRule, vlan: number | null | undefined): boolean {
  if (vlan === null || vlan === undefined) return true;
  if (!rule.vlans) return true;
  return rule.vlans.some((v) => vlan >= v.from && vlan <= v.to);
}

/**
 * The most specific candidate wins: the smallest range, then (when the VLAN is known) the narrowest
 * VLAN set. Equally specific candidates of different spaces are ambiguous.
 */
class Best {
  private size: number | bigint | null = null;
  private vlanWidth = Number.POSITIVE_INFINITY;
  private spaceId: number | null = null;
  private tied: number[] | null = null;
  constructor(private readonly vlanKnown: boolean) {}
  offer(spaceId: number, size: number | bigint, vlanWidth: number): void {
    const order = this.size === null ? -1 : size < this.size ? -1 : size > this.size ? 1 : this.vlanKnown ? vlanWidth - this.vlanWidth : 0;
    if (order < 0) {
      this.size = size;
      this.vlanWidth = vlanWidth;
      this.spaceId = spaceId;
      this.tied = null;
    } else if (order === 0 && spaceId !== this.spaceId && !this.tied?.includes(spaceId)) (this.tied ??= []).push(spaceId);
  }
  binding(): Binding {
    if (this.tied) return { spaceId: null, ambiguous: [this.spaceId!, ...this.tied].sort((a, b) => a - b) };
    return { spaceId: this.spaceId };
  }
}

export function indexAddressSpaces(spaces: readonly AddressSpace[]): AddressSpaceIndex {
  const rules = spaces.flatMap((s) => (s.rules ?? []).map((r) => compileRule(s.id, r)));
  const ipRules = rules.filter((r) => r.l3 && r.ranges.length > 0);
  const l2Rules = rules.filter((r) => r.l2 && r.ranges.length === 0).sort((a, b) => a.vlanWidth - b.vlanWidth);
  const byId = new Map(spaces.map((s) => [s.id, s]));
  const byName = new Map(spaces.map((s) => [s.name.toLowerCase(), s]));

  // Spaces whose IP rules also bind MACs (L2 and L3): a MAC takes such a space from its IPs.
  const macFromIpSpaces = new Set(ipRules.filter((r) => r.l2).map((r) => r.spaceId));

  const bindIp = (ip: string, vlan?: number | null): Binding => {
    const version = ipVersion(ip);
    const n = ipValue(ip);
    const best = new Best(vlan !== null && vlan !== undefined);
    for (const rule of ipRules) {
      if (rule.version !== version || !vlanMatches(rule, vlan)) continue;
      let size: number | bigint | null = null;
      for (const r of rule.ranges) if (n >= r.from && n <= r.to && (size === null || r.size < size)) size = r.size;
      if (size !== null) best.offer(rule.spaceId, size, rule.vlanWidth);
    }
    return best.binding();
  };

  const bindMacWith = (ipBindings: readonly Binding[], vlan?: number | null): Binding => {
    for (const binding of ipBindings) if (binding.spaceId !== null && macFromIpSpaces.has(binding.spaceId)) return { spaceId: binding.spaceId };
    if (vlan === null || vlan === undefined) return { spaceId: null };
    const best = new Best(true);
    for (const rule of l2Rules) if (vlanMatches(rule, vlan)) best.offer(rule.spaceId, 0, rule.vlanWidth);
    return best.binding();
  };

  return {
    spaces,
    bindIp,
    bindMacWith,
    bindMac: (ips, vlan) => bindMacWith(ips.map((ip) => bindIp(ip, vlan)), vlan),
    find(ref) {
      if (typeof ref === 'number') return byId.get(ref);
      if (/^\d+$/.test(ref)) return byId.get(Number(ref)) ?? byName.get(ref.toLowerCase());
      return byName.get(ref.toLowerCase());
    },
  };
}
