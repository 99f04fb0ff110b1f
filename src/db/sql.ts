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

function* copyChunks(rows: Iterable<readonly unknown[]>): Generator<{ text: string; count: number }> {
  let parts: string[] = [];
  let size = 0;
  let count = 0;
  for (const row of rows) {
    const line = row.map(copyField).join('\t') + '\n';
    parts.push(line);
    size += line.length;
    count += 1;
    if (size >= copyChunkBytes) {
      yield { text: parts.join(''), count };
      parts = [];
      size = 0;
      count = 0;
    }
  }
  if (count > 0) yield { text: parts.join(''), count };
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
            yield chunk.text;
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
      await this.db.query(copyStatement(table, columns, "'/dev/blob'"), [], { blob: new Blob([chunk.text]) });
      total += chunk.count;
    }
    return total;
  }
}
