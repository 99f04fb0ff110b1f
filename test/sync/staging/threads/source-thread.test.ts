import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/index.js';
import { createLogger, silentLogger } from '../../../../src/log.js';
import { createNormalizer } from '../../../../src/model/normalize.js';
import { CsvSource } from '../../../../src/adapters/csv/source.js';
import { csvSourceSchema } from '../../../../src/config/sources.js';
import { runPlan } from '../../../../src/sync/plans/run.js';
import { stageSources, type StageOutcome } from '../../../../src/sync/staging/source/stage.js';
import { stageSourcesInWorker, type SourceWorkerJob } from '../../../../src/sync/staging/threads/source-thread.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../support/db.js';
import { stageKics } from '../../plans/fixtures.js';

const fixture = (name: string): string => path.resolve('test/fixtures/csv', name);

function plantCsv(count: number): string {
  const rows = ['name,mac,ip,vendor,owner'];
  for (let i = 0; i < count; i += 1) rows.push(`dev-${i},00:1b:1b:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},10.${i >> 8}.${i & 255}.7,Siemens,ops`);
  rows.push('broken,not-a-mac,10.0.0.300,Siemens,ops');
  return `${rows.join('\n')}\n`;
}

/** A logger writing JSON lines into `lines`. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return createLogger({ level: 'info', pretty: false, destination });
}

interface RecordRow {
  external_key: string;
  name: string | null;
  owner: string | null;
  normalized: unknown;
  raw: unknown;
  content_hash: string;
}

(postgresAvailable() ? describe : describe.skip)('sources staged in a worker thread [postgres]', () => {
  let handle: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    handle = await createTestDatabase('postgres');
    dir = path.join(handle.dataDir, 'work');
    mkdirSync(dir, { recursive: true });
  });
  afterAll(async () => {
    await handle?.drop();
  });

  const records = async (source: string): Promise<RecordRow[]> =>
    handle.db.query<RecordRow>(
      `SELECT r.external_key, r.name, r.owner, r.normalized, r.raw, r.content_hash FROM source_record r JOIN source s ON s.id = r.source_id WHERE s.name = $1 ORDER BY r.external_key`,
      [source],
    );
  const job = (config: SourceWorkerJob['config'], names: string[], extra: Partial<SourceWorkerJob> = {}): SourceWorkerJob => ({
    url: handle.url!,
    config,
    sourceNames: names,
    mode: 'full',
    rejectsDir: path.join(dir, 'rejects'),
    rejectsFiles: {},
    logLevel: 'info',
    ...extra,
  });

  it('stages what the same read stages in this thread (records, rejects file), reporting progress and logging through the caller', async () => {
    const file = path.join(dir, 'plant.csv');
    writeFileSync(file, plantCsv(120));
    const config = parseConfig({ sources: [{ name: 'threaded', type: 'csv', path: file }] }, { env: {} });
    const lines: Record<string, unknown>[] = [];
    const progress: number[] = [];
    const outcomes = await stageSourcesInWorker(job(config, ['threaded']), { logger: capturingLogger(lines), onProgress: (p) => progress.push(p.read) });
    expect(outcomes).toMatchObject([{ ok: true, source: 'threaded', mode: 'full', read: 121, valid: 120, rejected: 1, new: 120 }]);
    expect(progress.at(-1)).toBe(121);
    expect(lines.find((l) => l.msg === 'source staged')).toMatchObject({ source: 'threaded', valid: 120, rejected: 1 });
    expect(readFileSync(path.join(dir, 'rejects', 'threaded.csv'), 'utf8')).toContain('not-a-mac');

    const inline = new CsvSource(csvSourceSchema.parse({ name: 'inline', type: 'csv', path: file }), { normalizer: createNormalizer(), logger: silentLogger() });
    await stageSources(handle.db, [inline], { mode: 'full', logger: silentLogger() });
    const [threaded, here] = [await records('threaded'), await records('inline')];
    expect(threaded).toHaveLength(120);
    expect(threaded).toEqual(here);
  });

  it('reports a source that cannot be read as its outcome and still stages the next one', async () => {
    const config = parseConfig(
      {
        sources: [
          { name: 'gone', type: 'csv', path: path.join(dir, 'no-such-file.csv') },
          { name: 'excel', type: 'csv', path: fixture('excel-semicolon.csv') },
        ],
      },
      { env: {} },
    );
    const outcomes = await stageSourcesInWorker(job(config, ['gone', 'excel']), { logger: silentLogger() });
    expect(outcomes.map((o) => [o.source, o.ok])).toEqual([
      ['gone', false],
      ['excel', true],
    ]);
    const failed = outcomes[0] as Extract<StageOutcome, { ok: false }>;
    expect(failed.error.message).toContain('no-such-file.csv');
    const [row] = await handle.db.query<{ last_error: string }>(`SELECT last_error FROM source WHERE name = 'gone'`);
    expect(row?.last_error).toContain('no-such-file.csv');
    const excel = outcomes[1] as Extract<StageOutcome, { ok: true }>;
    expect(excel.valid).toBeGreaterThan(0);
    expect(await records('excel')).toHaveLength(excel.valid);
  });

  it('stops when the caller aborts, leaving what was staged before exactly as it was', async () => {
    const file = path.join(dir, 'big.csv');
    writeFileSync(file, plantCsv(400));
    const config = parseConfig({ sources: [{ name: 'big', type: 'csv', path: file }] }, { env: {} });
    await stageSourcesInWorker(job(config, ['big']), { logger: silentLogger() });
    const before = await records('big');
    expect(before).toHaveLength(400);

    writeFileSync(file, plantCsv(60_000));
    const controller = new AbortController();
    const reason = new Error('stopped by the operator');
    const staging = stageSourcesInWorker(job(config, ['big']), { logger: silentLogger(), signal: controller.signal, onProgress: () => controller.abort(reason) });
    await expect(staging).rejects.toBe(reason);
    expect(await records('big')).toEqual(before);
  });

  it('is what a plan on PostgreSQL uses: the plan sees the records the worker staged', async () => {
    await stageKics(handle.db, { devices: [] });
    const file = path.join(dir, 'plan.csv');
    writeFileSync(file, plantCsv(30));
    const config = parseConfig({ sources: [{ name: 'for-plan', type: 'csv', path: file }] }, { env: {} });
    const lines: Record<string, unknown>[] = [];
    const result = await runPlan(handle.db, { config, dataDir: dir, refresh: 'full', logger: capturingLogger(lines), vendorFromMac: () => undefined });
    expect(result.refresh?.sources).toMatchObject([{ ok: true, source: 'for-plan', valid: 30, rejected: 1 }]);
    expect(result.value.items.filter((i) => i.action === 'create')).toHaveLength(30);
    expect(lines.some((l) => l.msg === 'source staged' && l.source === 'for-plan')).toBe(true);
  });
});
