import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PGlite, Transaction as PGliteTransaction } from '@electric-sql/pglite';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

/**
 * Raw, parameterised SQL on either engine, with the same value types back:
 * int8 as number, numeric as string, timestamptz as Date, json/jsonb parsed.
 * Values always travel as parameters or through COPY; identifiers are checked by `ident()`.
 */
export interface Sql {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Number of rows the statement affected. */
  execute(text: string, params?: readonly unknown[]): Promise<number>;
  /** Several statements, no parameters (DDL, SET LOCAL...). */
  exec(script: string): Promise<void>;
  /** Loads rows into `table (columns)` with COPY ... FROM (text format); returns the row count. */
  copyFrom(table: string, columns: readonly string[], rows: CopySource): Promise<number>;
}

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

/** Quotes a trusted identifier after checking its shape; throws on anything else. */
export function ident(name: string): string {
  if (!identifier.test(name)) throw new Error(`not a valid SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** COPY chunks of about this many bytes, so a large load never sits in memory at once. */
const copyChunkBytes = 4 * 1024 * 1024;

/** Characters COPY's text format gives a meaning to, each written as a backslash escape. */
const copyEscapes: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const copySpecial = /[\\\n\r\t]/;

function copyEscape(text: string): string {
  return copySpecial.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => copyEscapes[c]!) : text;
}

/** JSON text for COPY: JSON.stringify escapes every control character, so only backslashes need doubling. */
function copyJson(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

/**
 * A value already serialised as JSON, for a json / jsonb column: COPY writes the text as it is, so a
 * caller that needed the JSON anyway (to hash it) does not pay for serialising it twice.
 */
export class JsonText {
  constructor(readonly json: string) {}
}

/**
 * Encodes one value for PostgreSQL's COPY text format: `\N` is NULL, anything else is the value with
 * backslash, new line, carriage return and tab escaped; objects become JSON for json/jsonb columns.
 * (The text format, not CSV: JSON is full of double quotes, which CSV would have to double.)
 */
function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'string') return copyEscape(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return value.toISOString();
  if (value instanceof JsonText) return copyJson(value.json);
  return copyJson(JSON.stringify(value));
}

/** A chunk's buffer: the chunk and room for the row that fills it. */
const fullChunkBytes = copyChunkBytes + 64 * 1024;
/** The first buffer of a `CopyRows`: it doubles up to `fullChunkBytes`, so a handful of rows costs a few KiB, not 4 MiB. */
const firstChunkBytes = 64 * 1024;

/**
 * Rows in COPY's text format, encoded as they are added, in chunks of about `copyChunkBytes` (each a
 * whole number of rows). Each field is written straight into the chunk's buffer as UTF-8: no line
 * string, no joined chunk string, no conversion of it to bytes afterwards (at 100,000 devices of 2 KB
 * each, those copies were a third of the encoding's time). Rows held for a later COPY live here as
 * bytes outside the JavaScript heap: the strings they were made of die young, instead of surviving
 * (and being copied by) every garbage collection until the batch is written.
 */
export class CopyRows<Row extends readonly unknown[] = readonly unknown[]> {
  private readonly done: { bytes: Buffer; count: number }[] = [];
  private buffer: Buffer | null = null;
  private at = 0;
  private rows = 0;
  private total = 0;
  /** Set once a chunk filled up: the next ones start at full size. */
  private large = false;

  /** Rows added so far (taken ones included). */
  get count(): number {
    return this.total;
  }

  push(row: Row): void {
    for (let i = 0; i < row.length; i++) {
      if (i > 0) this.byte(0x09); // tab
      this.text(copyField(row[i]));
    }
    this.byte(0x0a); // new line
    this.rows += 1;
    this.total += 1;
    if (this.at >= copyChunkBytes) {
      this.large = true;
      this.seal();
    }
  }

  /** The chunks encoded so far (the rows are the caller's now; later rows start a new chunk). */
  take(): { bytes: Buffer; count: number }[] {
    this.seal();
    return this.full();
  }

  /** The chunks that are full, leaving the one being filled. */
  full(): { bytes: Buffer; count: number }[] {
    return this.done.length === 0 ? [] : this.done.splice(0);
  }

  private seal(): void {
    if (this.rows === 0) return;
    this.done.push({ bytes: this.buffer!.subarray(0, this.at), count: this.rows });
    this.buffer = null;
    this.at = 0;
    this.rows = 0;
  }

  private text(text: string): void {
    this.room(text.length);
    this.at += this.buffer!.write(text, this.at);
  }

  private byte(value: number): void {
    this.room(0);
    this.buffer![this.at++] = value;
  }

  /** Room for `chars` UTF-16 code units (at most 3 bytes each in UTF-8) and one more byte; a row is never split. */
  private room(chars: number): void {
    const need = this.at + chars * 3 + 1;
    if (this.buffer !== null && need <= this.buffer.length) return;
    const size = Math.max(need, this.buffer === null ? (this.large ? fullChunkBytes : firstChunkBytes) : Math.min(fullChunkBytes, this.buffer.length * 2));
    const bigger = Buffer.allocUnsafe(size);
    this.buffer?.copy(bigger, 0, 0, this.at);
    this.buffer = bigger;
  }
}

/** Rows for `copyFrom`: plain rows (encoded while they are sent) or rows encoded already. */
export type CopySource = Iterable<readonly unknown[]> | CopyRows;

/** The chunks of a COPY: those a `CopyRows` holds, or the rows encoded one chunk at a time, so a large load never sits in memory at once. */
function* copyChunks(rows: CopySource): Generator<{ bytes: Buffer; count: number }> {
  if (rows instanceof CopyRows) {
    yield* rows.take();
    return;
  }
  const encoder = new CopyRows<readonly unknown[]>();
  for (const row of rows) {
    encoder.push(row);
    yield* encoder.full();
  }
  yield* encoder.take();
}

function copyStatement(table: string, columns: readonly string[], from: string): string {
  return `COPY ${ident(table)} (${columns.map(ident).join(', ')}) FROM ${from} WITH (FORMAT text)`;
}

// ---------------------------------------------------------------------------- PostgreSQL (pg)

const int8Parser = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} does not fit a JavaScript number`);
  return n;
};

/** Type parsers for our raw queries; Prisma's adapter brings its own per query. */
export function pgTypes(base: typeof pg.types): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: string) => {
      if (oid === 20 && format !== 'binary') return int8Parser;
      if (oid === 1016 && format !== 'binary') {
        const parseArray = base.getTypeParser(1016 as unknown as Parameters<typeof base.getTypeParser>[0]) as (v: string) => (string | number | null)[];
        return (v: string) => parseArray(v).map((x) => (x === null ? null : int8Parser(String(x))));
      }
      return base.getTypeParser(oid, format as 'text') as (value: string) => unknown;
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

export class PgSql implements Sql {
  constructor(private readonly client: pg.Pool | pg.PoolClient) {}

  async query<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    const result = await this.client.query(text, params as unknown[]);
    return result.rows as R[];
  }

  async execute(text: string, params: readonly unknown[] = []): Promise<number> {
    const result = await this.client.query(text, params as unknown[]);
    return result.rowCount ?? 0;
  }

  async exec(script: string): Promise<void> {
    await this.client.query(script);
  }

  async copyFrom(table: string, columns: readonly string[], rows: CopySource): Promise<number> {
    const run = async (client: pg.PoolClient): Promise<number> => {
      let total = 0;
      const chunks = copyChunks(rows);
      const source = Readable.from(
        (function* () {
          for (const chunk of chunks) {
            total += chunk.count;
            yield chunk.bytes;
          }
        })(),
      );
      await pipeline(source, client.query(copyStreams.from(copyStatement(table, columns, 'STDIN'))));
      return total;
    };
    if ('release' in this.client) return run(this.client);
    const client = await this.client.connect();
    try {
      return await run(client);
    } finally {
      client.release();
    }
  }
}

/** SQL with transactions: what staging needs of a database (`Database` adds Prisma, migrations, closing). */
export interface TransactionalSql extends Sql {
  /** Runs `fn` in one transaction; use only `tx` inside it. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/** SQL on a pool's connections, and transactions on one of them. */
export function pgPoolSql(pool: pg.Pool): TransactionalSql {
  const sql = new PgSql(pool);
  return {
    query: (text, params) => sql.query(text, params),
    execute: (text, params) => sql.execute(text, params),
    exec: (script) => sql.exec(script),
    copyFrom: (table, columns, rows) => sql.copyFrom(table, columns, rows),
    transaction: (fn) => pgTransaction(pool, fn),
  };
}

/** Runs `fn` in one transaction on a connection of the pool: committed when it resolves, rolled back when it throws. */
async function pgTransaction<T>(pool: pg.Pool, fn: (tx: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(new PgSql(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------------------- PGlite

export class PGliteSql implements Sql {
  constructor(private readonly db: PGlite | PGliteTransaction) {}

  async query<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    const result = await this.db.query<R>(text, params as unknown[]);
    return result.rows;
  }

  async execute(text: string, params: readonly unknown[] = []): Promise<number> {
    const result = await this.db.query(text, params as unknown[]);
    return result.affectedRows ?? 0;
  }

  async exec(script: string): Promise<void> {
    await this.db.exec(script);
  }

  async copyFrom(table: string, columns: readonly string[], rows: CopySource): Promise<number> {
    let total = 0;
    for (const chunk of copyChunks(rows)) {
      await this.db.query(copyStatement(table, columns, "'/dev/blob'"), [], { blob: new Blob([chunk.bytes]) });
      total += chunk.count;
    }
    return total;
  }
}
