import ipaddr from 'ipaddr.js';
import { ipToBigInt, ipVersion } from './ip.js';
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

interface CompiledRule {
  spaceId: number;
  version: 4 | 6 | null;
  ranges: { from: bigint; to: bigint }[];
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
  /** A space by id or (case-insensitive) name. */
  find(ref: number | string): AddressSpace | undefined;
}

function compileRule(spaceId: number, rule: AddressSpaceRule): CompiledRule {
  const ranges: { from: bigint; to: bigint }[] = [];
  let version: 4 | 6 | null = null;
  for (const subnet of rule.subnets ?? []) {
    try {
      if (subnet.to === null || subnet.to === undefined || subnet.to === '') {
        const [addr, bits] = subnet.from.includes('/') ? ipaddr.parseCIDR(subnet.from) : [ipaddr.parse(subnet.from), ipaddr.parse(subnet.from).kind() === 'ipv4' ? 32 : 128];
        const width = addr.kind() === 'ipv4' ? 32 : 128;
        const base = ipToBigInt(addr.toString());
        const size = 1n << BigInt(width - bits);
        const from = (base / size) * size;
        ranges.push({ from, to: from + size - 1n });
        version = addr.kind() === 'ipv4' ? 4 : 6;
      } else {
        ranges.push({ from: ipToBigInt(subnet.from), to: ipToBigInt(subnet.to) });
        version = ipVersion(subnet.from);
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

export function indexAddressSpaces(spaces: readonly AddressSpace[]): AddressSpaceIndex {
  const rules = spaces.flatMap((s) => (s.rules ?? []).map((r) => compileRule(s.id, r)));
  const ipRules = rules.filter((r) => r.l3 && r.ranges.length > 0);
  const l2Rules = rules.filter((r) => r.l2 && r.ranges.length === 0).sort((a, b) => a.vlanWidth - b.vlanWidth);
  const byId = new Map(spaces.map((s) => [s.id, s]));
  const byName = new Map(spaces.map((s) => [s.name.toLowerCase(), s]));

  const pick = (candidates: { spaceId: number; size: bigint; vlanWidth: number }[], vlanKnown: boolean): Binding => {
    if (candidates.length === 0) return { spaceId: null };
    candidates.sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : vlanKnown ? a.vlanWidth - b.vlanWidth : 0));
    const best = candidates[0]!;
    const tied = candidates.filter((c) => c.size === best.size && (!vlanKnown || c.vlanWidth === best.vlanWidth));
    const spaceIds = [...new Set(tied.map((c) => c.spaceId))];
    if (spaceIds.length > 1) return { spaceId: null, ambiguous: spaceIds.sort((a, b) => a - b) };
    return { spaceId: best.spaceId };
  };

  const bindIp = (ip: string, vlan?: number | null): Binding => {
    const version = ipVersion(ip);
    const n = ipToBigInt(ip);
    const candidates: { spaceId: number; size: bigint; vlanWidth: number }[] = [];
    for (const rule of ipRules) {
      if (rule.version !== version || !vlanMatches(rule, vlan)) continue;
      let size: bigint | null = null;
      for (const r of rule.ranges) if (n >= r.from && n <= r.to && (size === null || r.to - r.from < size)) size = r.to - r.from;
      if (size !== null) candidates.push({ spaceId: rule.spaceId, size, vlanWidth: rule.vlanWidth });
    }
    return pick(candidates, vlan !== null && vlan !== undefined);
  };

  return {
    spaces,
    bindIp,
    bindMac(ips, vlan) {
      for (const ip of ips) {
        const binding = bindIp(ip, vlan);
        if (binding.spaceId !== null) {
          const rule = ipRules.find((r) => r.spaceId === binding.spaceId && r.l2);
          if (rule) return binding;
        }
      }
      if (vlan === null || vlan === undefined) return { spaceId: null };
      const matching = l2Rules.filter((r) => vlanMatches(r, vlan));
      return pick(matching.map((r) => ({ spaceId: r.spaceId, size: 0n, vlanWidth: r.vlanWidth })), true);
    },
    find(ref) {
      if (typeof ref === 'number') return byId.get(ref);
      if (/^\d+$/.test(ref)) return byId.get(Number(ref)) ?? byName.get(ref.toLowerCase());
      return byName.get(ref.toLowerCase());
    },
  };
}
