import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvSource } from '../../../../src/adapters/csv/source.js';
import { parseConfig, type Config } from '../../../../src/config/index.js';
import { csvSourceSchema } from '../../../../src/config/sources.js';
import { KicsSyncError } from '../../../../src/errors.js';
import { silentLogger } from '../../../../src/log.js';
import type { AssetSource } from '../../../../src/model/asset.js';
import { createNormalizer } from '../../../../src/model/normalize.js';
import { prepareBatches, type PreparedBatch } from '../../../../src/sync/staging/source/prepare.js';
import { readInThread, readsInThreads, type ReadThreadJob } from '../../../../src/sync/staging/threads/read-thread.js';
import { stageConfiguredSources } from '../../../../src/sync/staging/sources.js';
import { createTestDatabase, type TestDatabase } from '../../../support/db.js';

/** Rows of several batches: plain rows, assets on two rows, a multicast MAC (left out, a note), a bad row (a reject). */
function plantCsv(count: number): string {
  const rows = ['name,mac,ip,vendor,owner,labels'];
  for (let i = 0; i < count; i += 1) {
    const mac = `00:1b:1b:02:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    rows.push(`dev-${i},${mac},10.${i >> 8}.${i & 255}.9,Siemens,ops,b|a`);
    if (i % 50 === 0) rows.push(`dev-${i},00:1b:1b:03:00:${(i & 255).toString(16).padStart(2, '0')},,Siemens,ops,`);
  }
  rows.push('multicast,01:00:5e:00:00:01,10.9.9.9,Siemens,ops,');
  rows.push('broken,not-a-mac,10.0.0.300,Siemens,ops,');
  return `${rows.join('\n')}\n`;
}

const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'kics-sync-read-thread-'));

function csvConfig(file: string, name = 'cmdb'): Config {
  return parseConfig({ sources: [{ name, type: 'csv', path: file }] }, { env: {} });
}

async function collect(batches: AsyncIterable<PreparedBatch>): Promise<PreparedBatch[]> {
  const all: PreparedBatch[] = [];
  for await (const batch of batches) all.push(batch);
  return all;
}

const job = (config: Config, source = 'cmdb'): ReadThreadJob => ({ config, source, read: { mode: 'full', since: null }, logLevel: 'info' });

/** The same read prepared in this thread. */
function inlineRead(file: string): AsyncGenerator<PreparedBatch> {
  const source = new CsvSource(csvSourceSchema.parse({ name: 'cmdb', type: 'csv', path: file }), { normalizer: createNormalizer(), logger: silentLogger() });
  return prepareBatches(source, source.read({ mode: 'full' }));
}

describe('a source read and prepared in a worker thread', () => {
  it('delivers the batches the same read prepares in this thread: records, notes, rejects, progress', async () => {
    const file = path.join(tempDir(), 'plant.csv');
    writeFileSync(file, plantCsv(2500));
    const threaded = await collect(readInThread(job(csvConfig(file)), { logger: silentLogger() }));
    const inline = await collect(inlineRead(file));
    expect(threaded.length).toBeGreaterThan(2);
    expect(threaded).toEqual(inline);
    const records = threaded.flatMap((b) => b.records);
    expect(records).toHaveLength(2501);
    expect(records.find((r) => r.key === 'name:dev-50')!.location).toBe('plant.csv:53,54');
    expect(records.find((r) => r.key === 'name:multicast')!.notes).toEqual(['01:00:5e:00:00:01: multicast MAC address, not used as identity']);
    expect(threaded.flatMap((b) => b.rejects).map((r) => r.raw?.name)).toEqual(['broken']);
    expect(threaded.at(-1)!.expected).toBe(threaded.reduce((n, b) => n + b.read, 0));
  });

  it('fails as the inline read fails: the same code and message, naming the file and line', async () => {
    const file = path.join(tempDir(), 'broken.csv');
    writeFileSync(file, `${plantCsv(3000)}"unclosed,00:1b:1b:00:00:01,10.0.0.1,x,y,\n`);
    const inline = await collect(inlineRead(file)).catch((e: unknown) => e);
    const threaded = await collect(readInThread(job(csvConfig(file)), { logger: silentLogger() })).catch((e: unknown) => e);
    expect(threaded).toBeInstanceOf(KicsSyncError);
    expect(threaded).toMatchObject({ code: 'CSV_MALFORMED', message: (inline as Error).message });
    expect((threaded as Error).message).toMatch(/^broken\.csv:\d+: not valid CSV/);
  });

  it('stops its thread when the stager stops early, and an abort gives the caller its reason', async () => {
    const file = path.join(tempDir(), 'big.csv');
    writeFileSync(file, plantCsv(20_000));
    let taken = 0;
    for await (const batch of readInThread(job(csvConfig(file)), { logger: silentLogger() })) {
      taken += batch.records.length;
      if (taken > 1500) break;
    }
    expect(taken).toBeGreaterThan(1500);

    const controller = new AbortController();
    const reason = new Error('stopped by the operator');
    const reading = collect(
      (async function* () {
        for await (const batch of readInThread(job(csvConfig(file)), { logger: silentLogger(), signal: controller.signal })) {
          controller.abort(reason);
          yield batch;
        }
      })(),
    );
    await expect(reading).rejects.toBe(reason);
  });

  it('is used for CSV files from the size given, and not for smaller files or other sources', () => {
    const dir = tempDir();
    const small = path.join(dir, 'small.csv');
    writeFileSync(small, plantCsv(5));
    const config = parseConfig(
      { sources: [{ name: 'small', type: 'csv', path: small }, { name: 'nb', type: 'netbox', url: 'https://netbox.example', token: 'x' }] },
      { env: {} },
    );
    const source = (name: string): AssetSource => ({ name, kind: 'csv', incremental: false, check: async () => {}, read: async function* () {} });
    expect(readsInThreads(config, { logger: silentLogger() })(source('small'), { mode: 'full' })).toBeUndefined();
    expect(readsInThreads(config, { logger: silentLogger(), minBytes: 10 })(source('nb'), { mode: 'full' })).toBeUndefined();
    const reader = readsInThreads(config, { logger: silentLogger(), minBytes: 10 })(source('small'), { mode: 'full' });
    expect(reader).toBeDefined();
    return collect(reader!).then((batches) => expect(batches.flatMap((b) => b.records)).toHaveLength(6));
  });
});

describe('configured sources staged on PGlite, a large CSV read in a thread of its own', () => {
  let handle: TestDatabase;
  beforeAll(async () => {
    handle = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    await handle?.drop();
  });

  it('stages the rows the inline read stages', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'plant.csv');
    writeFileSync(file, plantCsv(1200));
    const config = parseConfig(
      {
        sources: [
          { name: 'threaded', type: 'csv', path: file },
          { name: 'inline', type: 'csv', path: file },
        ],
      },
      { env: {} },
    );
    const progress: number[] = [];
    const [threaded] = await stageConfiguredSources(handle.db, config, { sourceNames: ['threaded'], mode: 'full', logger: silentLogger(), dataDir: dir, readThreadMinBytes: 0, onProgress: (p) => progress.push(p.read) });
    const [inline] = await stageConfiguredSources(handle.db, config, { sourceNames: ['inline'], mode: 'full', logger: silentLogger(), dataDir: dir, readThreadMinBytes: Number.MAX_SAFE_INTEGER });
    expect(threaded).toMatchObject({ ok: true, valid: 1201, rejected: 1, notes: 1, new: 1201 });
    const same = (o: typeof inline) => ({ ...o, source: '', durationMs: 0, rejectsFile: '', fingerprint: '' });
    expect(same(inline)).toEqual(same(threaded));
    expect(progress.at(-1)).toBe(threaded?.ok ? threaded.read : -1);
    const rows = (name: string) =>
      handle.db.query(`SELECT r.external_key, r.raw, r.normalized, r.content_hash FROM source_record r JOIN source s ON s.id = r.source_id WHERE s.name = $1 ORDER BY r.external_key`, [name]);
    const [a, b] = [await rows('threaded'), await rows('inline')];
    expect(a).toHaveLength(1201);
    expect(a).toEqual(b);
  });
});
