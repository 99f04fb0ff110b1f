import { parse } from 'csv-parse/sync';
import { expect } from 'vitest';

/**
 * A CSV export's rows as a reader that ends a row at any line break outside quotes (CRLF, LF or CR)
 * sees them, after checking the UTF-8 BOM Excel needs to read the text as UTF-8.
 */
export function csvRows(text: string): string[][] {
  expect(text.startsWith('\uFEFF'), 'a UTF-8 BOM, so Excel reads the text as UTF-8').toBe(true);
  const rows: string[][] = parse(text.slice(1), { record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true });
  return rows;
}

/** Every row has the header's column count; the rows as objects keyed by the header. */
export function csvRecords(text: string): Record<string, string>[] {
  const [columns, ...rows] = csvRows(text);
  for (const row of rows) expect(row, `a row of ${columns!.length} columns: ${JSON.stringify(row)}`).toHaveLength(columns!.length);
  return rows.map((r) => Object.fromEntries(columns!.map((c, i) => [c, r[i]!])));
}
