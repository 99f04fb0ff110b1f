/**
 * Text PostgreSQL cannot store: NUL (U+0000) is refused in `text` and `jsonb` ("invalid byte sequence
 * for encoding UTF8: 0x00", "unsupported Unicode escape sequence"), and a lone UTF-16 surrogate has no
 * UTF-8 form at all. One such value in a COPY or a parameter fails the whole statement, so it is found
 * here, per record, before anything is written.
 */
// eslint-disable-next-line no-control-regex
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;
// eslint-disable-next-line no-control-regex
const unstorableAll = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

/** Why `text` cannot be stored, or null when it can. */
export function unstorableReason(text: string): string | null {
  const found = unstorable.exec(text);
  if (!found) return null;
  const at = found.index;
  return found[0] === '\u0000'
    ? `NUL character (U+0000) at position ${at}, which PostgreSQL cannot store`
    : `lone UTF-16 surrogate U+${found[0].charCodeAt(0).toString(16).toUpperCase()} at position ${at}, which has no UTF-8 form`;
}

/** `text` with every NUL and lone surrogate replaced by U+FFFD (the replacement character), so what was there stays visible. */
export function storableText(text: string): string {
  return unstorable.test(text) ? text.replace(unstorableAll, '\ufffd') : text;
}

export interface UnstorableField {
  /** Dotted path of the value, e.g. `name`, `interfaces.0.ips.1`, `userAttributes.Room`. */
  field: string;
  reason: string;
}

/** The first string (value or object key) in `value` that PostgreSQL cannot store, or null. */
export function findUnstorable(value: unknown, path = ''): UnstorableField | null {
  if (typeof value === 'string') {
    const reason = unstorableReason(value);
    return reason === null ? null : { field: path || '(value)', reason };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = findUnstorable(value[i], path ? `${path}.${i}` : String(i));
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, member] of Object.entries(value)) {
      const keyReason = unstorableReason(key);
      const at = path ? `${path}.${storableText(key)}` : storableText(key);
      if (keyReason !== null) return { field: at, reason: `field name: ${keyReason}` };
      const found = findUnstorable(member, at);
      if (found) return found;
    }
  }
  return null;
}

/** JSON of `value` with every string (values and keys) made storable; for raw records kept as delivered. */
export function storableJson(value: unknown): string {
  const json = JSON.stringify(value) ?? 'null';
  // JSON.stringify writes NUL as the escape \u0000 and a lone surrogate as \udXXX (well-formed JSON):
  // only then is a replacer walk needed.
  if (!/\\u0000|\\ud[89a-f]/i.test(json)) return json;
  return JSON.stringify(value, (_key, member: unknown) => {
    if (typeof member === 'string') return storableText(member);
    if (member !== null && typeof member === 'object' && !Array.isArray(member)) {
      let dirty = false;
      for (const key of Object.keys(member)) if (unstorable.test(key)) dirty = true;
      if (dirty) return Object.fromEntries(Object.entries(member).map(([key, inner]) => [storableText(key), inner]));
    }
    return member;
  });
}
