/**
 * KICS timestamps. Device times come without a zone designator (`"lastModified": "2020-11-14T10:16:11"`,
 * `2026-03-01T10:16:11.123` from the simulator) and are UTC; event times carry `Z`; some answers carry
 * an offset and seven fractional digits (`2022-12-18T21:09:08.2419216+03:00`). JavaScript's Date.parse
 * would read a time without zone as local time, so the text is parsed here.
 */
const isoTime = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

const daysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number written by the ASCII digits text[from, to), or -1 when one is not a digit. */
function digitsAt(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * The form KICS writes device times in, `2026-03-01T10:16:11` or `2026-03-01T10:16:11.123`, optionally
 * with `Z`: read digit by digit (a page of 1,000 devices carries 2,000 of them, each checked and then
 * read again by staging). Undefined for any other form, which the expression below reads.
 */
function commonForm(text: string): number | null | undefined {
  let end = text.length;
  if (text.charCodeAt(end - 1) === 90 /* Z */) end -= 1;
  if ((end !== 19 && end !== 23) || text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return undefined;
  if (end === 23 && text[19] !== '.') return undefined;
  const y = digitsAt(text, 0, 4);
  const mo = digitsAt(text, 5, 7);
  const d = digitsAt(text, 8, 10);
  const h = digitsAt(text, 11, 13);
  const mi = digitsAt(text, 14, 16);
  const s = digitsAt(text, 17, 19);
  const ms = end === 23 ? digitsAt(text, 20, 23) : 0;
  if (y < 100 || mo < 1 || d < 1 || h < 0 || mi < 0 || s < 0 || ms < 0) return undefined;
  if (mo > 12 || h > 23 || mi > 59 || s > 59) return null;
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > daysInMonth[mo - 1]! + (leap ? 1 : 0)) return null;
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/** Milliseconds since the epoch; a time without zone is UTC. Null when the text is not an ISO 8601 date-time. */
export function parseKicsTimestamp(text: string): number | null {
  const common = commonForm(text);
  if (common !== undefined) return common;
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
