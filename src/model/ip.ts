import ipaddr from 'ipaddr.js';

/**
 * IP addresses in canonical text: IPv4 dotted quad, IPv6 per RFC 5952 (lower case, zeros compressed).
 * A CIDR suffix on a host address is dropped; IPv4-mapped IPv6 becomes IPv4; an IPv6 zone is dropped.
 */
export type IpResult = { ok: true; ip: string; version: 4 | 6 } | { ok: false; reason: string };

export function parseIp(input: string): IpResult {
  let text = input.trim();
  if (text === '') return { ok: false, reason: 'empty IP address' };
  const slash = text.indexOf('/');
  if (slash !== -1) {
    const prefix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefix)) return { ok: false, reason: `${JSON.stringify(input.trim())} has an invalid prefix length` };
    text = text.slice(0, slash);
  }
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1 && text.includes(':')) text = text.slice(0, zone);
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { ok: true, ip: ipaddr.IPv4.parse(text).toString(), version: 4 };
  }
  if (text.includes(':') && ipaddr.IPv6.isValid(text)) {
    const v6 = ipaddr.IPv6.parse(text);
    if (v6.isIPv4MappedAddress()) return { ok: true, ip: v6.toIPv4Address().toString(), version: 4 };
    return { ok: true, ip: v6.toRFC5952String(), version: 6 };
  }
  return { ok: false, reason: `${JSON.stringify(input.trim())} is not an IP address` };
}

/** The address as a number (IPv4) or bigint (IPv6), for range checks. */
export function ipToBigInt(ip: string): bigint {
  const bytes = ipaddr.parse(ip).toByteArray();
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

export function ipVersion(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}
