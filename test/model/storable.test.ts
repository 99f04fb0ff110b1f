import { describe, expect, it } from 'vitest';
import { findUnstorable, storableJson, storableText, unstorableReason } from '../../src/model/storable.js';

describe('text PostgreSQL cannot store', () => {
  it('finds NUL and lone surrogates, not surrogate pairs', () => {
    expect(unstorableReason('plc\u0000')).toMatch(/NUL character \(U\+0000\) at position 3/);
    expect(unstorableReason('a\ud800b')).toMatch(/lone UTF-16 surrogate U\+D800 at position 1/);
    expect(unstorableReason('x\udc00')).toMatch(/U\+DC00/);
    expect(unstorableReason('pump \u{1F6B0} ok')).toBeNull();
  });

  it('names the field, array index or key that holds it', () => {
    expect(findUnstorable({ name: 'ok', interfaces: [{ ips: ['10.0.0.1', 'x\u0000'] }] })).toMatchObject({ field: 'interfaces.0.ips.1' });
    expect(findUnstorable({ userAttributes: { ['Ro\u0000om']: 'x' } })).toMatchObject({ field: 'userAttributes.Ro\ufffdom' });
    expect(findUnstorable({ name: 'fine', labels: ['a'] })).toBeNull();
  });

  it('cleans raw JSON with U+FFFD, keys included, and leaves clean JSON as JSON.stringify writes it', () => {
    expect(storableText('a\u0000b\ud800')).toBe('a\ufffdb\ufffd');
    expect(JSON.parse(storableJson({ ['k\u0000']: ['v\udfff', 1] }))).toEqual({ 'k\ufffd': ['v\ufffd', 1] });
    const clean = { a: 'back\\u0000slash', b: 'pump \u{1F6B0}' };
    expect(storableJson(clean)).toBe(JSON.stringify(clean));
  });
});
