import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { stringify, type Stringifier } from 'csv-stringify';

/**
 * The rejects file of a source: one CSV row per rejected record (and per note: a value normalisation
 * left out), written while the read streams, and put in place only when the staging commits, so a
 * failed read leaves the previous file as it was. Cells are neutralised for spreadsheets: a value
 * beginning with = + - @ tab or CR gets a leading apostrophe, so opening the file never runs a formula.
 */
export interface RejectsFileRow {
  kind: 'reject' | 'note';
  location: string;
  column?: string | undefined;
  reason: string;
  raw?: unknown;
}

export function spreadsheetSafe(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export class RejectsFile {
  private readonly temp: string;
  private readonly stringifier: Stringifier;
  private readonly out: WriteStream;
  private closed = false;

  private constructor(readonly file: string) {
    this.temp = `${file}.${process.pid}.tmp`;
    this.out = createWriteStream(this.temp, { encoding: 'utf8' });
    // A BOM so that Excel reads the file as UTF-8.
    this.out.write('\uFEFF');
    this.stringifier = stringify({ header: true, columns: ['kind', 'location', 'column', 'reason', 'record'], cast: { string: spreadsheetSafe } });
    this.stringifier.pipe(this.out);
  }

  static async open(file: string): Promise<RejectsFile> {
    await mkdir(path.dirname(file), { recursive: true });
    return new RejectsFile(file);
  }

  /** Adds a row; waits when the disk is slower than the read. */
  async write(row: RejectsFileRow): Promise<void> {
    const record = row.raw === undefined ? '' : JSON.stringify(row.raw);
    if (!this.stringifier.write([row.kind, row.location, row.column ?? '', row.reason, record])) {
      await new Promise<void>((resolve) => this.stringifier.once('drain', resolve));
    }
  }

  /** Finishes the file and moves it into place. */
  async commit(): Promise<void> {
    await this.end();
    await rename(this.temp, this.file);
  }

  /** Drops what was written; the previous file stays. */
  async abort(): Promise<void> {
    await this.end().catch(() => {});
    await rm(this.temp, { force: true });
  }

  private async end(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stringifier.end();
    await finished(this.out);
  }
}
