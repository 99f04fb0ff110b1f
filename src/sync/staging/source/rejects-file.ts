import { createWriteStream, type WriteStream } from 'node:fs';
import { copyFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { stringify, type Stringifier } from 'csv-stringify';
import { makeDirectory, privateFileMode } from '../../../private-files.js';

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

  private constructor(
    readonly file: string,
    kept: boolean,
  ) {
    this.temp = `${file}.${process.pid}.tmp`;
    // Raw asset data: for the owner only (0600), like the embedded database.
    this.out = createWriteStream(this.temp, { encoding: 'utf8', mode: privateFileMode, flags: kept ? 'a' : 'w' });
    // A BOM so that Excel reads the file as UTF-8.
    if (!kept) this.out.write('\uFEFF');
    this.stringifier = stringify({ header: !kept, columns: ['kind', 'location', 'column', 'reason', 'record'], cast: { string: spreadsheetSafe } });
    this.stringifier.pipe(this.out);
  }

  /**
   * Starts the file's next version. With `keep` (an incremental read, which adds to the rejects the
   * database holds rather than replacing them), it starts as a copy of the present file, so the file
   * keeps listing what `source_reject` still holds.
   */
  static async open(file: string, options: { keep?: boolean } = {}): Promise<RejectsFile> {
    await makeDirectory(path.dirname(file));
    let kept = false;
    if (options.keep) {
      try {
        await copyFile(file, `${file}.${process.pid}.tmp`);
        kept = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return new RejectsFile(file, kept);
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
