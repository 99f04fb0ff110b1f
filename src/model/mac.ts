/**
 * MAC addresses in one canonical form: lower case, colon separated (aa:bb:cc:dd:ee:ff), as KICS shows them.
 * Accepts colon, dash, Cisco dot (aabb.ccdd.eeff), bare hex and upper case.
 */
export type MacResult = { ok: true; mac: string } | { ok: false; reason: string };

const separated = /^([0-9a-f]{1,2})([:-])([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})$/;
const ciscoDot = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/;
const bare = /^[0-9a-f]{12}$/;

/** Six two-digit octets, colons or dashes: the common case, canonical once lower-cased with colons. */
const twoDigitOctets = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/;

export function parseMac(input: string): MacResult {
  const text = input.trim().toLowerCase();
  if (text === '') return { ok: false, reason: 'empty MAC address' };
  if (twoDigitOctets.test(text)) return { ok: true, mac: text[2] === ':' ? text : withColons(text) };
  let hex: string | null = null;
  const sep = separated.exec(text);
  if (sep) hex = [sep[1], sep[3], sep[4], sep[5], sep[6], sep[7]].map((o) => o!.padStart(2, '0')).join('');
  else if (ciscoDot.test(text)) hex = text.replace(/\./g, '');
  else if (bare.test(text)) hex = text;
  if (hex === null) return { ok: false, reason: `${JSON.stringify(input.trim())} is not a MAC address (expected six hex octets, e.g. 00:1b:1b:aa:bb:cc)` };
  return { ok: true, mac: hex.match(/../g)!.join(':') };
}

/** aa-bb-cc-dd-ee-ff -> aa:bb:cc:dd:ee:ff (half the time of replaceAll, which collects the matches first). */
function withColons(t: string): string {
  return `${t.slice(0, 2)}:${t.slice(3, 5)}:${t.slice(6, 8)}:${t.slice(9, 11)}:${t.slice(12, 14)}:${t.slice(15, 17)}`;
}

/** Why a canonical MAC cannot identify one device (broadcast, multicast, all zeros), or null when it can. */
export function macIdentityProblem(mac: string): string | null {
  if (mac === '00:00:00:00:00:00') return 'all-zero MAC address';
  if (mac === 'ff:ff:ff:ff:ff:ff') return 'broadcast MAC address';
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) return 'multicast MAC address';
  return null;
}

/** The OUI (first three octets, upper case without separators) of a canonical MAC, as OUI registries key it. */
export function macOui(mac: string): string {
  return mac.slice(0, 8).replace(/:/g, '').toUpperCase();
}

/** A canonical MAC (aa:bb:cc:dd:ee:ff, lower case) as its 48-bit number; -1 for any other text. */
export function macNumber(mac: string): number {
  if (mac.length !== 17) return -1;
  let n = 0;
  for (let i = 0; i < 17; i += 1) {
    const c = mac.charCodeAt(i);
    if (i % 3 === 2) {
      if (c !== 58) return -1; // ':'
    } else if (c >= 48 && c <= 57) n = n * 16 + (c - 48);
    else if (c >= 97 && c <= 102) n = n * 16 + (c - 87);
    else return -1;
  }
  return n;
}
