import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseKicsTimestamp } from '../../../src/adapters/kics/time.js';

describe('parseKicsTimestamp', () => {
  it('reads the forms KICS answers with, a time without zone being UTC', () => {
    expect(parseKicsTimestamp('2020-11-14T10:16:11')).toBe(Date.parse('2020-11-14T10:16:11Z'));
    expect(parseKicsTimestamp('2026-03-01T10:16:11.123')).toBe(Date.parse('2026-03-01T10:16:11.123Z'));
    expect(parseKicsTimestamp('2026-03-01T10:16:11.123Z')).toBe(Date.parse('2026-03-01T10:16:11.123Z'));
    expect(parseKicsTimestamp('2022-12-18T21:09:08.2419216+03:00')).toBe(Date.parse('2022-12-18T18:09:08.241Z'));
    expect(parseKicsTimestamp(' 2026-03-01 10:16 ')).toBe(Date.parse('2026-03-01T10:16:00Z'));
    expect(parseKicsTimestamp('2024-02-29T00:00:00')).toBe(Date.parse('2024-02-29T00:00:00Z'));
  });

  it('refuses dates and times that do not exist, and text that is not a date-time', () => {
    for (const text of ['2026-02-29T00:00:00', '1900-02-29T00:00:00', '2026-04-31T00:00:00', '2026-13-01T00:00:00', '2026-00-10T00:00:00', '2026-01-00T00:00:00', '2026-01-01T24:00:00', '2026-01-01T23:60:00', '2026-01-01T23:59:60.000', '0099-01-01T00:00:00', '2026-01-01T1x:00:00', 'yesterday', '']) {
      expect(parseKicsTimestamp(text), text).toBeNull();
    }
  });

  it('agrees with the UTC reading of JavaScript for every time of the common forms', () => {
    const instant = fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
    fc.assert(
      fc.property(instant, fc.constantFrom(19, 23), fc.boolean(), (date, length, zulu) => {
        const text = date.toISOString().slice(0, length) + (zulu ? 'Z' : '');
        expect(parseKicsTimestamp(text)).toBe(Date.parse(`${date.toISOString().slice(0, length)}Z`));
      }),
      { numRuns: 2000 },
    );
  });
});
