import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import Papa from 'papaparse';
import type { CsvField, CsvSourceConfig } from '../../config/sources.js';
import type { Logger } from '../../log.js';
import { packageVersion } from '../../paths.js';
import type { AssetInterface, AssetSource, CanonicalAsset, ReadOptions, RecordReject, SourceBatch, SourceCheck, SourceRecord } from '../../model/asset.js';
import {
  addressSpaceRef,
  cleanText,
  insertInterfaces,
  isRetiredStatus,
  normalizeInterface,
  parseBoolean,
  parseVlan,
  splitValues,
  unionSorted,
  type Normalizer,
} from '../../model/normalize.js';
import { csvScalarFields, type FieldSpec } from '../../model/fields.js';
import { SourceError } from '../source-error.js';
import { columnMapDetails, columnMapWarnings, identityFields, mapColumns, type ColumnMap } from './columns.js';
import { csvEncodingOf, detectDelimiter, firstLine, readCsvText, statCsvFile } from './file.js';

/**
 * A CSV file as an asset source. The file is streamed (PapaParse; never whole in memory), the header
 * mapped to canonical fields (src/adapters/csv/columns.ts), and each row normalised. A bad row is
 * rejected with file, line, column and reason and the others go on; a file that is not a CSV at all,
 * or has none of the identity columns, is refused as a whole before anything is staged.
 *
 * Rows of one asset: consecutive rows with the same key (id, else name, else first MAC, else first IP)
 * are the interfaces of one asset; the same key further down is a duplicate and is rejected.
 */
export interface CsvSourceDeps {
  normalizer: Normalizer;
  logger: Logger;
  /** Records per batch handed to the stager. */
  batchSize?: number;
}

interface ParsedRow {
  cells: string[];
  /** 1-based line where the row starts. */
  line: number;
}

/** A row turned into (part of) an asset. */
interface RowAsset {
  key: string;
  line: number;
  asset: CanonicalAsset;
  /** The row's non-empty cells by header; an asset of several rows gets `_moreRows` here (see finish()). */
  raw: Record<string, unknown>;
  notes: string[];
}

interface PendingAsset extends RowAsset {
  lines: number[];
  rawRows: Record<string, unknown>[];
}

/** Rows parsed from a text, each with the position its line break ends at, and the first quote error. */
interface ParsedText {
  rows: string[][];
  ends: number[];
  quoteError: { row: number; code: string } | null;
}

/** Longest row accepted, in characters: longer is a broken file (an unclosed quote swallowing the rest), not a row. */
const maxRowChars = 1_000_000;

type RowOutcome = { ok: true; row: RowAsset } | { ok: false; reject: RecordReject };

/** Scalar asset fields and the CSV field that fills each (to name the column of a conflict). */
const scalarFields = csvScalarFields;

export class CsvSource implements AssetSource {
  readonly kind = 'csv' as const;
  readonly incremental = false;
  /** A repeated key is rejected here, naming the line that has it first. */
  readonly uniqueKeys = true;
  readonly name: string;
  private readonly file: string;
  private readonly label: string;

  constructor(
    private readonly config: CsvSourceConfig,
    private readonly deps: CsvSourceDeps,
  ) {
    this.name = config.name;
    this.file = config.path;
    this.label = path.basename(config.path);
  }

  /** Proves the file can be read and its header has what a read needs. */
  async check(signal?: AbortSignal): Promise<SourceCheck> {
    await statCsvFile(this.file);
    const rows = this.parseRows(signal);
    let map: ColumnMap;
    try {
      const first = await rows.next();
      map = this.headerMap(first.done ? null : first.value[0]!.cells);
    } finally {
      await rows.return(undefined);
    }
    return { details: [...(await this.fileDetails(signal)), ...columnMapDetails(map)], warnings: columnMapWarnings(this.label, map) };
  }

  /** The encoding and delimiter a read uses, and whether each was detected or configured. */
  private async fileDetails(signal?: AbortSignal): Promise<string[]> {
    const { encoding, bom } = await csvEncodingOf(this.file, this.config.encoding);
    let delimiter = this.config.delimiter;
    if (delimiter === undefined) {
      let head = '';
      for await (const text of readCsvText(this.file, this.config.encoding, signal)) {
        head += text;
        if (firstLine(head, false) !== null) break;
      }
      delimiter = detectDelimiter(firstLine(head, true) ?? '');
    }
    const delimiterName = delimiter === '\t' ? 'tab' : JSON.stringify(delimiter);
    return [
      `encoding: ${encoding.toUpperCase()} (${bom ? 'from its byte order mark' : "no byte order mark: the source's encoding setting, UTF-8 unless set"})`,
      `delimiter: ${delimiterName} (${this.config.delimiter === undefined ? 'detected from the header line' : 'configured'})`,
    ];
  }

  /**
   * The file's bytes (SHA-256) with everything else that shapes its records: this source's settings,
   * the normaliser's tables and the kics-sync version. The same fingerprint means a read would stage
   * exactly what the last one did.
   */
  async fingerprint(signal?: AbortSignal): Promise<string> {
    const info = await statCsvFile(this.file);
    const hash = createHash('sha256');
    hash.update(JSON.stringify({ version: packageVersion, config: this.config, normalizer: this.deps.normalizer.signature, size: info.size }));
    try {
      for await (const chunk of createReadStream(this.file, { highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) })) hash.update(chunk as Buffer);
    } catch (error) {
      signal?.throwIfAborted();
      throw new SourceError(`cannot read CSV file ${this.file}: ${(error as Error).message}`, { code: 'CSV_UNREADABLE', cause: error });
    }
    return `csv:${hash.digest('hex')}`;
  }

  async *read(options: ReadOptions): AsyncIterable<SourceBatch> {
    const info = await statCsvFile(this.file);
    const watermark = info.modified.toISOString();
    const batchSize = this.deps.batchSize ?? 1000;
    const consumed = { bytes: 0 };
    const rows = this.parseRows(options.signal, consumed);
    let delivered = 0;
    // Rows to expect, from the share of the file read so far: only for progress bars.
    const estimate = (): number | undefined => (consumed.bytes > 0 && info.size > 0 ? Math.round((delivered * info.size) / consumed.bytes) : undefined);
    try {
      let map: ColumnMap | null = null;
      let records: SourceRecord[] = [];
      let rejects: RecordReject[] = [];
      const seen = new Map<string, number>();
      let pending: PendingAsset | null = null;

      const flush = (): void => {
        if (!pending) return;
        records.push(this.finish(pending));
        pending = null;
      };

      for await (const batch of rows) {
        let start = 0;
        if (map === null) {
          map = this.headerMap(batch[0]!.cells);
          start = 1;
        }
        for (let i = start; i < batch.length; i += 1) {
          const outcome = this.readRow(batch[i]!, map);
          if (!outcome.ok) rejects.push(outcome.reject);
          else {
            const row = outcome.row;
            const current = pending;
            if (current && current.key === row.key) {
              const conflict = mergeRow(current, row, map);
              if (conflict) rejects.push({ location: this.at(row.line), column: conflict.column, reason: conflict.reason, raw: row.raw });
            } else if (seen.has(row.key)) {
              rejects.push({
                location: this.at(row.line),
                column: columnName(map, keyField(row.key)),
                reason: `duplicate key ${row.key}: line ${seen.get(row.key)} already has this asset (rows of one asset must be consecutive)`,
                raw: row.raw,
              });
            } else {
              flush();
              seen.set(row.key, row.line);
              pending = { key: row.key, line: row.line, asset: row.asset, raw: row.raw, notes: row.notes, lines: [row.line], rawRows: [row.raw] };
            }
          }
          if (records.length + rejects.length >= batchSize) {
            delivered += records.length + rejects.length;
            const expected = estimate();
            yield { records, rejects, watermark, ...(expected === undefined ? {} : { expected }) };
            records = [];
            rejects = [];
          }
        }
      }
      if (map === null) this.headerMap(null);
      flush();
      delivered += records.length + rejects.length;
      yield { records, rejects, watermark, expected: delivered };
    } finally {
      await rows.return(undefined);
    }
  }

  private at(line: number): string {
    return `${this.label}:${line}`;
  }

  private headerMap(cells: string[] | null): ColumnMap {
    if (cells === null) throw new SourceError(`${this.label} is empty: no header line`, { code: 'CSV_NOT_CSV' });
    const header = cells.map((c) => c.trim());
    const { map, problems } = mapColumns(header, this.config.columns, this.config.attributes);
    const shown = header.slice(0, 12).map((h) => JSON.stringify(h.length > 40 ? `${h.slice(0, 40)}...` : h)).join(', ') + (header.length > 12 ? `, ... (${header.length} columns)` : '');
    const missing = problems.filter((p) => p.kind === 'missing');
    if (missing.length > 0) {
      throw new SourceError(`${this.label}: the header has no column ${missing.map((p) => `${JSON.stringify(p.header)} (configured in ${p.what})`).join(', ')}; the header is ${shown}`, {
        code: 'CSV_COLUMN_MISSING',
      });
    }
    if (problems.some((p) => p.kind === 'noIdentity')) {
      throw new SourceError(
        `${this.label} has none of the identity columns (a name, MAC or IP column such as ${identityFields.map((f) => JSON.stringify(f)).join(', ')}, "hostname", "mac address", "ip address"); its first line is ${shown}. Is it a CSV export of the asset list? Map other headers with columns in the source's config`,
        { code: 'CSV_NO_IDENTITY_COLUMN' },
      );
    }
    // Attribute columns by attribute name, so that each row's userAttributes are built in the canonical key order.
    return { ...map, attributes: [...map.attributes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  }

  /**
   * The file's rows as cell arrays with their starting line, a batch per chunk of text (the first row is
   * the header). Each chunk is parsed in one synchronous pass by PapaParse's documented string API
   * (`Papa.parse(text, { step })`, which gives each row with the position it ends at): the chunk's last
   * row, which may go on in the next chunk, is parsed again with it. A row costs no promise of its own.
   */
  private async *parseRows(signal?: AbortSignal, consumed?: { bytes: number }): AsyncGenerator<ParsedRow[]> {
    const text = readCsvText(this.file, this.config.encoding, signal, consumed);
    const iterator = text[Symbol.asyncIterator]();
    // The header line gives the delimiter (unless configured) and the line break of the whole file.
    const buffered: string[] = [];
    let head = '';
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      buffered.push(next.value);
      head += next.value;
      if (firstLine(head, false) !== null || head.length > maxRowChars) break;
    }
    const header = firstLine(head, true) ?? '';
    const delimiter = this.config.delimiter ?? detectDelimiter(header);
    const newline = head.startsWith('\r\n', header.length) ? '\r\n' : head[header.length] === '\r' ? '\r' : '\n';
    head = '';
    const parseText = (input: string): ParsedText => {
      const parsed: ParsedText = { rows: [], ends: [], quoteError: null };
      Papa.parse<string[]>(input, {
        delimiter,
        newline,
        quoteChar: '"',
        escapeChar: '"',
        step: (result) => {
          const quote = result.errors.find((e) => e.type === 'Quotes');
          if (quote && parsed.quoteError === null) parsed.quoteError = { row: parsed.rows.length, code: quote.code };
          parsed.rows.push(result.data);
          parsed.ends.push(result.meta.cursor);
        },
      });
      return parsed;
    };
    // Blank lines and rows of empty cells are skipped here rather than by the parser, so that every line
    // is counted: a row's line is the count so far, plus the line breaks inside its quoted cells.
    let line = 1;
    const rowsOf = (parsed: ParsedText, count: number): ParsedRow[] => {
      const quoteError = parsed.quoteError !== null && parsed.quoteError.row < count ? parsed.quoteError : null;
      const rows: ParsedRow[] = [];
      for (let i = 0; i < count; i += 1) {
        if (quoteError && i === quoteError.row) break;
        const cells = parsed.rows[i]!;
        const start = line;
        let blank = true;
        for (const cell of cells) {
          if (blank && cell.trim() !== '') blank = false;
          // A CR LF inside a quoted cell is one line break, as it is between rows.
          if (cell.length > 0 && (cell.includes('\n') || cell.includes('\r'))) line += (cell.match(/\r\n|\r|\n/g) ?? []).length;
        }
        line += 1;
        if (!blank) rows.push({ cells, line: start });
      }
      if (quoteError) {
        const what = quoteError.code === 'MissingQuotes' ? 'a quoted field opened on this line is never closed' : 'a quoted field is followed by text before the next delimiter (quotes inside a field must be doubled)';
        throw new SourceError(`${this.label}:${line}: not valid CSV: ${what}`, { code: 'CSV_MALFORMED' });
      }
      return rows;
    };
    try {
      let rest = '';
      for (;;) {
        const next = buffered.length > 0 ? { done: false as const, value: buffered.shift()! } : await iterator.next();
        if (next.done) break;
        signal?.throwIfAborted();
        // The last, possibly partial, row of a chunk waits for the next chunk.
        const input = rest + next.value;
        const parsed = parseText(input);
        const complete = parsed.rows.length - 1;
        rest = complete > 0 ? input.slice(parsed.ends[complete - 1]) : input;
        const rows = rowsOf(parsed, Math.max(complete, 0));
        if (rows.length > 0) yield rows;
        if (rest.length > maxRowChars) {
          const quoted = rest.startsWith('"') || rest.includes(`${delimiter}"`);
          throw new SourceError(`${this.label}:${line}: not valid CSV: the row starting on this line is longer than ${maxRowChars} characters${quoted ? ' (a quoted field that is never closed?)' : ''}`, { code: 'CSV_MALFORMED' });
        }
      }
      if (rest !== '') {
        const parsed = parseText(rest);
        const rows = rowsOf(parsed, parsed.rows.length);
        if (rows.length > 0) yield rows;
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      throw error;
    } finally {
      // End the file's reader here, which closes the file (also when the caller stops early).
      await iterator.return(undefined).catch(() => undefined);
    }
  }

  /** One row -> part of an asset, or the reason it cannot be used. */
  private readRow(parsed: ParsedRow, map: ColumnMap): RowOutcome {
    const { cells, line } = parsed;
    const { header } = map;
    const raw: Record<string, string> = {};
    let extra = false;
    for (let i = 0; i < cells.length; i += 1) {
      const value = cells[i]!;
      if (value.trim() === '') continue;
      raw[header[i] ?? `column ${i + 1}`] = value;
      if (i >= header.length) extra = true;
    }
    const location = this.at(line);
    if (cells.length < header.length || extra) {
      return { ok: false, reject: { location, reason: `has ${cells.length} fields, the header has ${header.length} (a missing or extra delimiter?)`, raw } };
    }

    const separator = this.config.multiValueSeparator;
    const problems: { field: CsvField; reason: string }[] = [];
    const cell = (field: CsvField): string | undefined => {
      const i = map.fields[field];
      return i === undefined ? undefined : cleanText(cells[i]);
    };

    let attributes: Record<string, string> | undefined;
    for (const [attribute, i] of map.attributes) {
      const value = cleanText(cells[i]);
      if (value !== undefined) (attributes ??= {})[attribute] = value;
    }

    // Interfaces: one per MAC; IPs go with the single MAC, or pair one-to-one with several MACs.
    const notes: string[] = [];
    const macs = splitValues(cell('mac'), separator);
    const ips = splitValues(cell('ip'), separator);
    const names = splitValues(cell('interface'), separator);
    let vlan: number | undefined;
    const vlanText = cell('vlan');
    if (vlanText !== undefined) {
      const parsedVlan = parseVlan(vlanText);
      if (parsedVlan.ok) vlan = parsedVlan.value;
      else problems.push({ field: 'vlan', reason: parsedVlan.reason });
    }
    const spaceText = cell('addressSpace');
    const addressSpace = spaceText !== undefined ? addressSpaceRef(spaceText) : this.config.addressSpace;
    let groups: { mac?: string; ips: string[] }[];
    if (macs.length <= 1) groups = [{ mac: macs[0], ips }];
    else if (ips.length === 0) groups = macs.map((mac) => ({ mac, ips: [] }));
    else if (ips.length === macs.length) groups = macs.map((mac, i) => ({ mac, ips: [ips[i]!] }));
    else {
      groups = [];
      problems.push({ field: 'ip', reason: `${macs.length} MACs and ${ips.length} IPs in one row: cannot tell which IP belongs to which MAC (give one IP per MAC in the same order, or one interface per row)` });
    }
    const interfaces: AssetInterface[] = [];
    groups.forEach((group, i) => {
      const result = normalizeInterface({ name: names.length === groups.length ? names[i] : undefined, mac: group.mac, ips: group.ips, vlan, addressSpace });
      for (const e of result.errors) problems.push({ field: e.field, reason: e.reason });
      notes.push(...result.notes);
      if (result.interface) interfaces.push(result.interface);
    });
    // The asset's fields from their columns (src/model/fields.ts), set in sorted key order as
    // canonicalAsset() wants them: a row's asset needs no canonical copy.
    const fields = {} as Record<string, unknown>;
    for (const part of map.build) {
      const value = part.field === 'interfaces' ? interfaces : part.field === 'userAttributes' ? attributes : 'spec' in part ? this.fieldValue(part.spec, part.column, cleanText(cells[part.index]), problems) : undefined;
      if (value !== undefined) fields[part.field] = value;
    }
    const asset = fields as unknown as CanonicalAsset;

    if (problems.length > 0) {
      return { ok: false, reject: { location, column: [...new Set(problems.map((p) => columnName(map, p.field)))].join(', '), reason: problems.map((p) => p.reason).join('; '), raw } };
    }
    if (asset.name === undefined && interfaces.length === 0) {
      const had = macs.length + ips.length > 0;
      const identityColumns = identityFields.filter((f) => map.fields[f] !== undefined).map((f) => columnName(map, f));
      return {
        ok: false,
        reject: { location, column: identityColumns.join(', '), reason: had ? `no usable identity: ${notes.join('; ')}, and no name` : 'missing identity: no name, MAC or IP', raw },
      };
    }
    const id = cell('id');
    const key = id !== undefined ? `id:${id}` : asset.name !== undefined && asset.name !== null ? `name:${asset.name}` : interfaces[0]!.mac ? `mac:${interfaces[0]!.mac}` : `ip:${interfaces[0]!.ips[0]}`;
    return { ok: true, row: { key, line, asset, raw, notes } };
  }

  /** One field's value from its column, by the field's kind; a value that cannot be used is a problem of that column. */
  private fieldValue(spec: FieldSpec, column: CsvField, text: string | undefined, problems: { field: CsvField; reason: string }[]): unknown {
    if (text === undefined) return undefined;
    const { normalizer } = this.deps;
    let mapped: { ok: true; value: unknown } | { ok: false; reason: string };
    switch (spec.kind) {
      case 'text':
        return spec.normalize === 'vendor' ? normalizer.vendor(text) : text;
      case 'flag':
        return isRetiredStatus(text);
      case 'list': {
        const values = splitValues(text, this.config.multiValueSeparator).sort();
        return values.length > 0 ? values : undefined;
      }
      case 'enum':
        mapped = spec.normalize === 'influence' ? normalizer.influence(text) : normalizer.category(text);
        break;
      case 'boolean':
        mapped = parseBoolean(text);
        break;
      default:
        return undefined;
    }
    if (mapped.ok) return mapped.value;
    problems.push({ field: column, reason: mapped.reason });
    return undefined;
  }

  private finish(pending: PendingAsset): SourceRecord {
    const location = pending.lines.length === 1 ? this.at(pending.line) : `${this.label}:${pending.lines.join(',')}`;
    // The first row's fields, then the other rows (the first row's object is this asset's own: no copy).
    const raw: Record<string, unknown> = pending.raw;
    if (pending.rawRows.length > 1) raw._moreRows = pending.rawRows.slice(1);
    // KICS's field limits are checked where every source's records are prepared (src/sync/staging/source/prepare.ts).
    const record: SourceRecord = { externalKey: pending.key, raw, asset: pending.asset, location };
    if (pending.notes.length > 0) record.notes = pending.notes;
    return record;
  }
}

function keyField(key: string): CsvField {
  const kind = key.slice(0, key.indexOf(':'));
  return kind === 'id' || kind === 'name' || kind === 'mac' || kind === 'ip' ? kind : 'name';
}

function columnName(map: ColumnMap, field: CsvField): string {
  const i = map.fields[field];
  return i === undefined ? field : (map.header[i] ?? field);
}

/** Adds a continuation row to its asset; a value that differs from the asset's is a conflict. */
function mergeRow(pending: PendingAsset, row: RowAsset, map: ColumnMap): { column: string; reason: string } | null {
  const target = pending.asset as unknown as Record<string, unknown>;
  const source = row.asset as unknown as Record<string, unknown>;
  for (const [field, csvField] of scalarFields) {
    const value = source[field];
    if (value === undefined) continue;
    if (target[field] !== undefined && target[field] !== value) {
      return { column: columnName(map, csvField), reason: `${field} ${JSON.stringify(value)} differs from ${JSON.stringify(target[field])} on line ${pending.line}, a row of the same asset (${pending.key})` };
    }
  }
  for (const [name, value] of Object.entries(row.asset.userAttributes ?? {})) {
    const existing = pending.asset.userAttributes?.[name];
    if (existing !== undefined && existing !== value) {
      const column = map.attributes.find(([attribute]) => attribute === name)?.[1];
      return { column: column === undefined ? name : (map.header[column] ?? name), reason: `user attribute ${name} ${JSON.stringify(value)} differs from ${JSON.stringify(existing)} on line ${pending.line}, a row of the same asset (${pending.key})` };
    }
  }
  for (const [field] of scalarFields) if (source[field] !== undefined) target[field] = source[field];
  // Labels and interfaces merged in canonical order, so the asset stays canonical (canonicalAsset() makes no copy).
  if (row.asset.labels) pending.asset.labels = pending.asset.labels ? unionSorted(pending.asset.labels, row.asset.labels) : row.asset.labels;
  if (row.asset.userAttributes) pending.asset.userAttributes = { ...pending.asset.userAttributes, ...row.asset.userAttributes };
  insertInterfaces(pending.asset.interfaces, row.asset.interfaces);
  pending.notes.push(...row.notes);
  pending.lines.push(row.line);
  pending.rawRows.push(row.raw);
  return null;
}
