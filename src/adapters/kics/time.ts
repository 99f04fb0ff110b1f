/**
 * KICS timestamps. Device times come without a zone designator (`"lastModified": "2020-11-14T10:16:11"`,
 * `2026-03-01T10:16:11.123` from the simulator) and are UTC; event times carry `Z`; some answers carry
 * an offset and seven fractional digits (`2022-12-18T21:09:08.2419216+03:00`). JavaScript's Date.parse
 * would read a time without zone as local time, so the text is parsed here.
 */
const isoTime = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Milliseconds since the epoch; a time without zone is UTC. Null when the text is not an ISO 8601 date-time. */
export function parseKicsTimestamp(text: string): number | null {
  const m = isoTime.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0').slice(0, 3)));
  const check = new Date(t);
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return t;
}
