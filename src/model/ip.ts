import ipaddr from 'ipaddr.js';

/**
 * IP addresses in canonical text: IPv4 dotted quad, IPv6 per RFC 5952 (lower case, zeros compressed).
 * A CIDR suffix on a host address is dropped; IPv4-mapped IPv6 becomes IPv4; an IPv6 zone is dropped.
 */
export type IpResult = { ok: true; ip: string; version: 4 | 6 } | { ok: false; reason: string };

/** An IPv4 address already in canonical text (no leading zeros): the common case, taken without a parser. */
const canonicalV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIp(input: string): IpResult {
  let text = input.trim();
  if (text === '') return { ok: false, reason: 'empty IP address' };
  if (canonicalV4.test(text)) return { ok: true, ip: text, version: 4 };
  const shown = JSON.stringify(text);
  let prefix: number | null = null;
  const slash = text.indexOf('/');
  if (slash !== -1) {
    const suffix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(suffix)) return { ok: false, reason: `${shown} has an invalid prefix length` };
    prefix = Number(suffix);
    text = text.slice(0, slash);
  }
  if (prefix !== null && canonicalV4.test(text)) {
    if (prefix > 32) return { ok: false, reason: `${shown} has prefix length ${prefix}, more than the 32 bits of the address` };
    if (prefix < 31 && isNetworkAddress(new ipaddr.IPv4(text.split('.').map(Number)), prefix)) return { ok: false, reason: `${shown} is a subnet, not a host address` };
    return { ok: true, ip: text, version: 4 };
  }
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1 && text.includes(':')) text = text.slice(0, zone);
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) address = ipaddr.IPv4.parse(text);
  else if (text.includes(':') && ipaddr.IPv6.isValid(text)) address = ipaddr.IPv6.parse(text);
  else return { ok: false, reason: `${shown} is not an IP address` };
  const width = address.kind() === 'ipv4' ? 32 : 128;
  if (prefix !== null) {
    if (prefix > width) return { ok: false, reason: `${shown} has prefix length ${prefix}, more than the ${width} bits of the address` };
    // A subnet written where a host belongs (10.0.0.0/24): there is no device to identify. /31, /32 (and
    // /127, /128) have no network address to confuse, so any address there is a host.
    if (prefix < width - 1 && isNetworkAddress(address, prefix)) {
      return { ok: false, reason: `${shown} is a subnet, not a host address` };
    }
  }
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return { ok: true, ip: v6.toIPv4Address().toString(), version: 4 };
    return { ok: true, ip: v6.toRFC5952String(), version: 6 };
  }
  return { ok: true, ip: address.toString(), version: 4 };
}

function isNetworkAddress(address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): boolean {
  const bytes = address.toByteArray();
  for (let bit = prefix; bit < bytes.length * 8; bit += 1) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/**
 * Why a canonical IP cannot identify one device (unspecified, broadcast, multicast, loopback), or null
 * when it can. Such addresses are reported and left out of the asset's identity.
 */
export function ipIdentityProblem(ip: string): string | null {
  if (canonicalV4.test(ip)) {
    // The same ranges as ipaddr.js's range() for IPv4, without parsing: 0/8, 255.255.255.255, 224/4, 127/8.
    const first = Number(ip.slice(0, ip.indexOf('.')));
    if (first === 0) return 'unspecified IP address';
    if (ip === '255.255.255.255') return 'broadcast IP address';
    if (first >= 224 && first <= 239) return 'multicast IP address';
    if (first === 127) return 'loopback IP address';
    return null;
  }
  const range = ipaddr.parse(ip).range();
  switch (range) {
    case 'unspecified':
      return 'unspecified IP address';
    case 'broadcast':
      return 'broadcast IP address';
    case 'multicast':
      return 'multicast IP address';
    case 'loopback':
      return 'loopback IP address';
    default:
      return null;
  }
}

/** The address as a number (IPv4) or a bigint (IPv6), for range checks. */
export function ipValue(ip: string): number | bigint {
  if (ipVersion(ip) === 6) return ipToBigInt(ip);
  const n = ipv4Number(ip);
  if (n >= 0) return n;
  const [a, b, c, d] = ipaddr.IPv4.parse(ip).toByteArray() as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** A canonical IPv4 address (dotted quad, no leading zeros) as its 32-bit number; -1 for any other text. */
export function ipv4Number(ip: string): number {
  let n = 0;
  let octet = -1;
  let dots = 0;
  for (let i = 0; i < ip.length; i += 1) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (octet < 0 || ++dots > 3) return -1;
      n = n * 256 + octet;
      octet = -1;
    } else if (c >= 48 && c <= 57) {
      if (octet === 0) return -1; // a leading zero
      octet = octet < 0 ? c - 48 : octet * 10 + (c - 48);
      if (octet > 255) return -1;
    } else return -1;
  }
  return dots === 3 && octet >= 0 ? n * 256 + octet : -1;
}

/** The address as a bigint, for range checks and ordering. */
export function ipToBigInt(ip: string): bigint {
  const bytes = ipaddr.parse(ip).toByteArray();
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

export function ipVersion(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}
