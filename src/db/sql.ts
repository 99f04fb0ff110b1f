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
  copyFrom(table: string, columns: readonly string[], rows: Iterable<readonly unknown[]>): Promise<number>;
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

/**
 * Rows in COPY's text format, in chunks of about `copyChunkBytes`, each a whole number of rows.
 * Each field is written straight into the chunk's buffer as UTF-8: no line string, no joined chunk
 * string, no conversion of it to bytes afterwards (at 100,000 devices of 2 KB each, those copies
 * were a third of the encoding's time).
 */
function* copyChunks(rows: Iterable<readonly unknown[]>): Generator<{ bytes: Buffer; count: number }> {
  let buffer = Buffer.allocUnsafe(copyChunkBytes + 64 * 1024);
  let at = 0;
  let count = 0;
  /** Room for `chars` UTF-16 code units (at most 3 bytes each in UTF-8) and a separator; a row is never split. */
  const room = (chars: number): void => {
    const need = at + chars * 3 + 1;
    if (need <= buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(need, buffer.length * 2));
    buffer.copy(bigger, 0, 0, at);
    buffer = bigger;
  };
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const text = copyField(row[i]);
      room(text.length);
      if (i > 0) buffer[at++] = 0x09; // tab
      at += buffer.write(text, at);
    }
    room(0);
    buffer[at++] = 0x0a; // new line
    count += 1;
    if (at >= copyChunkBytes) {
      yield { bytes: buffer.subarray(0, at), count };
      buffer = Buffer.allocUnsafe(copyChunkBytes + 64 * 1024);
      at = 0;
      count = 0;
    }
  }
  if (count > 0) yield { bytes: buffer.subarray(0, at), count };
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

  async copyFrom(table: string, columns: readonly string[], rows: Iterable<readonly unknown[]>): Promise<number> {
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

  async copyFrom(table: string, columns: readonly string[], rows: Iterable<readonly unknown[]>): Promise<number> {
    let total = 0;
    for (const chunk of copyChunks(rows)) {
      await this.db.query(copyStatement(table, columns, "'/dev/blob'"), [], { blob: new Blob([chunk.bytes]) });
      total += chunk.count;
    }
    return total;
  }
}
