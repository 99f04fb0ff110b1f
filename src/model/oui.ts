import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Vendor of a network card from its MAC's OUI, from the IEEE registry as shipped by the `oui-data`
 * package (MA-L, MA-M and MA-S assignments). The lowest-precedence vendor: the reconciler uses it only
 * when no source names one, and staging never stores it.
 *
 * The registry (about 54,000 assignments, 5.6 MB of JSON) is read on the first call: about 120 ms and
 * 13 MB of heap on this project's machine kind, paid only by runs that need it.
 */
let registry: Map<string, string> | null = null;

function load(): Map<string, string> {
  const file = createRequire(import.meta.url).resolve('oui-data');
  // Read and parse here rather than `require()` the JSON, so the full entries (with postal addresses)
  // are not kept alive by the module cache: only the vendor names stay.
  const entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const map = new Map<string, string>();
  for (const [prefix, text] of Object.entries(entries)) {
    const newline = text.indexOf('\n');
    const vendor = (newline === -1 ? text : text.slice(0, newline)).replace(/[\s,;]+$/, '');
    if (vendor !== '') map.set(prefix.toUpperCase(), vendor);
  }
  return map;
}

/**
 * The registered vendor of a MAC (any form `parseMac` accepts is not needed: pass a canonical MAC,
 * aa:bb:cc:dd:ee:ff), or undefined when the block is unassigned or the address is locally administered.
 * The most specific assignment wins: a 36-bit MA-S block over a 28-bit MA-M block over a 24-bit MA-L.
 */
export function ouiVendor(mac: string): string | undefined {
  const hex = mac.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  if (hex.length !== 12) return undefined;
  // Locally administered addresses (second bit of the first octet) carry no vendor.
  if ((parseInt(hex.slice(0, 2), 16) & 0x02) !== 0) return undefined;
  registry ??= load();
  return registry.get(hex.slice(0, 9)) ?? registry.get(hex.slice(0, 7)) ?? registry.get(hex.slice(0, 6));
}
