import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type pg from 'pg';
import type * as SchemaEngineWasm from '@prisma/schema-engine-wasm';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Logger } from '../log.js';

/**
 * Prisma's schema engine as WebAssembly (@prisma/schema-engine-wasm): migrations and schema diffs
 * with no native binary and no network. Its ESM entry imports the .wasm file directly, which Node 20
 * only allows behind a flag, so the module is instantiated here by hand.
 */
type SchemaEngineModule = typeof SchemaEngineWasm;
export type SchemaEngine = Awaited<ReturnType<SchemaEngineModule['SchemaEngine']['new']>>;
export type MigrationList = Parameters<SchemaEngine['applyMigrations']>[0]['migrationsList'];

const require = createRequire(import.meta.url);

/** The slice of the WebAssembly global used here (not in the ES lib typings). */
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: Record<string, unknown> } }>;
};
let modulePromise: Promise<SchemaEngineModule> | undefined;

async function loadModule(): Promise<SchemaEngineModule> {
  modulePromise ??= (async () => {
    const bgPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bg = (await import(bgPath)) as SchemaEngineModule & { __wbg_set_wasm(exports: Record<string, unknown>): void };
    const bytes = await readFile(bgPath.replace(/schema_engine_bg\.js$/, 'schema_engine_bg.wasm'));
    // The engine arms a timer for each timeout race and never clears it (it imports no clearTimeout),
    // which kept a finished command alive for 10 s. Its timers must not hold the process open.
    const imports: Record<string, unknown> = { ...bg };
    for (const [name, fn] of Object.entries(bg)) {
      if (name.startsWith('__wbg_setTimeout_') && typeof fn === 'function') {
        imports[name] = (...args: unknown[]) => {
          const timer = (fn as (...a: unknown[]) => unknown)(...args);
          (timer as { unref?: () => void } | undefined)?.unref?.();
          return timer;
        };
      }
    }
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': imports });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as (() => void) | undefined)?.();
    return bg;
  })();
  return modulePromise;
}

let pgAdapterPatched = false;

/**
 * Two gaps in @prisma/adapter-pg 7.10 that the native schema engine does not have:
 * - it rejects PostgreSQL's internal "char" type (oid 18), which the engine reads from pg_catalog
 *   when it describes a database; the values are one-character strings, so they go over as text;
 * - its executeScript splits a migration on every `;`, which breaks function bodies; PostgreSQL's
 *   simple query protocol runs a whole multi-statement script, as the native engine sends it.
 */
async function patchPgAdapter(factory: PrismaPg): Promise<void> {
  if (pgAdapterPatched) return;
  const adapter = await factory.connect();
  type Queryable = { performIO(q: unknown): Promise<{ fields: { dataTypeID: number }[] }> };
  type Adapter = { executeScript(script: string): Promise<void>; client: pg.Pool; onError(error: unknown): never };
  const adapterProto = Object.getPrototypeOf(adapter) as Adapter;
  const queryableProto = Object.getPrototypeOf(adapterProto) as Queryable;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with .call() on each adapter instance below
  const performIO = queryableProto.performIO;
  queryableProto.performIO = async function (this: unknown, query: unknown) {
    const result = await performIO.call(this, query);
    for (const field of result.fields) if (field.dataTypeID === 18) field.dataTypeID = 25;
    return result;
  };
  adapterProto.executeScript = async function (this: Adapter, script: string) {
    try {
      await this.client.query(script);
    } catch (error) {
      this.onError(error);
    }
  };
  pgAdapterPatched = true;
}

export type EngineTarget = { engine: 'postgres'; pool: pg.Pool; schema?: string } | { engine: 'pglite'; pglite: PGlite };

/** Starts the schema engine on a database. Call `free()` on the result when done. */
export async function startSchemaEngine(target: EngineTarget, schema: { path: string; content: string }, logger?: Logger): Promise<SchemaEngine> {
  const module = await loadModule();
  let adapter;
  if (target.engine === 'postgres') {
    const factory = new PrismaPg(target.pool, target.schema === undefined ? undefined : { schema: target.schema });
    await patchPgAdapter(factory);
    adapter = bindMigrationAwareSqlAdapterFactory(factory);
  } else {
    adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(target.pglite));
  }
  const onLog = (line: string): void => {
    try {
      const entry = JSON.parse(line) as { level?: string; fields?: { message?: string } };
      logger?.debug({ engine: 'schema-engine', level: entry.level }, entry.fields?.message ?? line);
    } catch {
      logger?.debug({ engine: 'schema-engine' }, line);
    }
  };
  return module.SchemaEngine.new({ datamodels: [[schema.path, schema.content]] }, onLog, adapter);
}
