import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { errorMessage } from '../../errors.js';
import { SourceError } from '../source-error.js';

/**
 * Reading a CSV file as text, in chunks: the encoding from its byte order mark (else the configured
 * one), and a clear refusal of files that are not text at all (a workbook, a PDF, an archive).
 */
export type CsvEncoding = 'utf-8' | 'utf-16le' | 'windows-1252' | 'iso-8859-1';

const chunkBytes = 256 * 1024;

/** Files people export by mistake instead of CSV, by their first bytes. */
const signatures: [number[], string][] = [
  [[0x50, 0x4b, 0x03, 0x04], 'a ZIP archive (an Excel .xlsx workbook?); save it as "CSV UTF-8" first'],
  [[0xd0, 0xcf, 0x11, 0xe0], 'an OLE compound file (an old Excel .xls workbook?); save it as "CSV UTF-8" first'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document'],
  [[0x1f, 0x8b], 'a gzip archive'],
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
];

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

export interface CsvFileInfo {
  file: string;
  size: number;
  modified: Date;
}

export async function statCsvFile(file: string): Promise<CsvFileInfo> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new SourceError(`${file} is not a file`, { code: 'CSV_UNREADABLE' });
    return { file, size: s.size, modified: s.mtime };
  } catch (error) {
    if (error instanceof SourceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? errorMessage(error));
    throw new SourceError(`cannot read CSV file ${file}: ${why}`, { code: 'CSV_UNREADABLE', cause: error });
  }
}

/** The encoding a read of the file uses: its byte order mark's, else the configured one. */
export async function csvEncodingOf(file: string, configured: CsvEncoding): Promise<{ encoding: string; bom: boolean }> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(3);
    const { bytesRead } = await handle.read(head, 0, 3, 0);
    const bom = bomEncoding(head.subarray(0, bytesRead));
    return bom ? { encoding: bom, bom: true } : { encoding: configured, bom: false };
  } finally {
    await handle.close();
  }
}

function bomEncoding(chunk: Buffer): string | null {
  return startsWith(chunk, [0xef, 0xbb, 0xbf]) ? 'utf-8' : startsWith(chunk, [0xff, 0xfe]) ? 'utf-16le' : startsWith(chunk, [0xfe, 0xff]) ? 'utf-16be' : null;
}

/**
 * Where a file's first invalid UTF-8 byte is, as a user finds it in an editor: the line (1-based, by
 * line feeds), the byte within it and the line's start with the bad byte shown as hex. Only for the
 * error message: the file is read again, line by line, each checked with `buffer.isUtf8()`.
 */
async function firstInvalidUtf8(file: string): Promise<{ line: number; column: number; shown: string } | null> {
  let line = 1;
  let carry: Buffer = Buffer.alloc(0);
  const check = (bytes: Buffer): { line: number; column: number; shown: string } | null => {
    if (isUtf8(bytes)) return null;
    // The bad byte is where the longest prefix that is valid UTF-8 (or becomes so with the rest of a
    // character it cuts) ends: that holds for every shorter prefix and for no longer one.
    const validUpTo = (k: number): boolean => [0, 1, 2, 3].some((e) => k + e <= bytes.length && isUtf8(bytes.subarray(0, k + e)));
    let low = 0;
    let high = bytes.length;
    while (high - low > 1) {
      const mid = (low + high) >> 1;
      if (validUpTo(mid)) low = mid;
      else high = mid;
    }
    const start = validUpTo(high) ? high : low;
    const before = bytes.subarray(Math.max(0, start - 40), start).toString('utf8');
    return { line, column: start + 1, shown: `${JSON.stringify(before)} then 0x${bytes[start]!.toString(16).padStart(2, '0')}` };
  };
  for await (const chunk of createReadStream(file, { highWaterMark: chunkBytes })) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a)) {
      const found = check(data.subarray(0, nl));
      if (found) return found;
      line += 1;
      data = data.subarray(nl + 1);
    }
    carry = Buffer.from(data);
  }
  return carry.length > 0 ? check(carry) : null;
}

/** The file's text in chunks, decoded; throws CSV_NOT_CSV for binary content or text in another encoding. */
export async function* readCsvText(file: string, encoding: CsvEncoding, signal?: AbortSignal, progress?: { bytes: number }): AsyncGenerator<string> {
  const name = path.basename(file);
  let decoder: TextDecoder | null = null;
  let offset = 0;
  let stream: AsyncIterable<Buffer>;
  try {
    stream = createReadStream(file, { highWaterMark: chunkBytes, signal });
  } catch (error) {
    throw new SourceError(`cannot read CSV file ${file}: ${errorMessage(error)}`, { code: 'CSV_UNREADABLE', cause: error });
  }
  try {
    for await (const chunk of stream) {
      if (decoder === null) {
        for (const [signature, what] of signatures) {
          if (startsWith(chunk, signature)) throw new SourceError(`${name} is not a CSV file: it is ${what}`, { code: 'CSV_NOT_CSV' });
        }
        const bom = bomEncoding(chunk);
        decoder = new TextDecoder(bom ?? encoding, { fatal: true });
      }
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch (error) {
        const at = decoder.encoding === 'utf-8' ? await firstInvalidUtf8(file) : null;
        const where = at ? `line ${at.line}, byte ${at.column} of the line: ${at.shown}` : `invalid byte sequence between bytes ${offset} and ${offset + chunk.length}`;
        throw new SourceError(`${name} is not ${decoder.encoding.toUpperCase()} text (${where}); save it as "CSV UTF-8" or set encoding`, {
          code: 'CSV_NOT_CSV',
          cause: error,
        });
      }
      if (text.includes('\u0000')) throw new SourceError(`${name} is not a CSV file: it contains NUL characters (binary data)`, { code: 'CSV_NOT_CSV' });
      offset += chunk.length;
      if (progress) progress.bytes = offset;
      if (text !== '') yield text;
    }
    if (decoder !== null) {
      let rest: string;
      try {
        rest = decoder.decode();
      } catch (error) {
        throw new SourceError(`${name} ends in the middle of a ${decoder.encoding.toUpperCase()} character`, { code: 'CSV_NOT_CSV', cause: error });
      }
      if (rest !== '') yield rest;
    }
  } catch (error) {
    if (error instanceof SourceError) throw error;
    if (signal?.aborted) throw signal.reason ?? error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? errorMessage(error));
    throw new SourceError(`cannot read CSV file ${file}: ${why}`, { code: 'CSV_UNREADABLE', cause: error });
  }
}

/**
 * The delimiter of a header line: whichever of `,` `;` tab occurs most often outside quotes. Excel
 * writes `;` where the decimal separator is a comma, so both are common.
 */
export function detectDelimiter(headerLine: string): ',' | ';' | '\t' {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts[ch] += 1;
  }
  const best = (Object.entries(counts) as [',' | ';' | '\t', number][]).sort((a, b) => b[1] - a[1])[0]!;
  return best[1] === 0 ? ',' : best[0];
}

/** The first line of the text (up to a new line outside quotes), once enough text has arrived; null while it has not. */
export function firstLine(text: string, complete: boolean): string | null {
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) return text.slice(0, i);
  }
  return complete ? text : null;
}
