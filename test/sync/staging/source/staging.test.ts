import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { expect, it } from 'vitest';
import { CsvSource } from '../../../../src/adapters/csv/source.js';
import { csvSourceSchema } from '../../../../src/config/sources.js';
import { KicsSyncError } from '../../../../src/errors.js';
import { silentLogger } from '../../../../src/log.js';
import type { AssetSource, ReadOptions, SourceBatch } from '../../../../src/model/asset.js';
import { createNormalizer } from '../../../../src/model/normalize.js';
import { stageSource, stageSources } from '../../../../src/sync/staging/source/stage.js';
import { describeEachEngine } from '../../../support/db.js';

const logger = silentLogger();
const normalizer = createNormalizer();

function csvSource(name: string, file: string): CsvSource {
  return new CsvSource(csvSourceSchema.parse({ name, type: 'csv', path: file }), { normalizer, logger, batchSize: 50 });
}

function plantCsv(count: number, change: (i: number) => string = () => ''): string {
  const rows = ['name,mac,ip,vendor'];
  for (let i = 0; i < count; i += 1) rows.push(`dev-${i},00:1b:1b:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},10.${i >> 8}.${i & 255}.5,Siemens${change(i)}`);
  return `${rows.join('\n')}\n`;
}

/** An in-memory source delivering the given batches, failing with `failWith` after `failAfter` batches. */
class ScriptedSource implements AssetSource {
  readonly kind = 'netbox' as const;
  readonly incremental = true;
  reads: ReadOptions[] = [];
  constructor(
    readonly name: string,
    private readonly batches: SourceBatch[],
    private readonly failAfter?: number,
    private readonly failWith: Error = new Error('connection reset by peer'),
  ) {}
  async check(): Promise<void> {}
  async *read(options: ReadOptions): AsyncIterable<SourceBatch> {
    this.reads.push(options);
    for (const [i, batch] of this.batches.entries()) {
      if (i === this.failAfter) throw this.failWith;
      yield batch;
    }
    if (this.failAfter === this.batches.length) throw this.failWith;
  }
}

const record = (key: string, name: string, mac: string) => ({ externalKey: key, raw: { id: key }, asset: { name, interfaces: [{ mac, ips: [] }] }, location: `scripted ${key}` });

describeEachEngine('staging', (t) => {
  interface Row {
    external_key: string;
    name: string;
    xmin: string;
    missing_since: Date | null;
    last_seen: Date;
    first_seen: Date;
    content_hash: string;
  }
  const records = async (source: string): Promise<Map<string, Row>> => {
    const rows = await t().db.query<Row>(
      `SELECT r.external_key, r.name, r.xmin::text AS xmin, r.missing_since, r.last_seen, r.first_seen, r.content_hash FROM source_record r JOIN source s ON s.id = r.source_id WHERE s.name = $1`,
      [source],
    );
    return new Map(rows.map((r) => [r.external_key, r]));
  };
  const sourceRow = async (name: string) =>
    (await t().db.query<{ generation: number; watermark: string | null; last_error: string | null; last_success_at: Date | null; last_full_read_at: Date | null; last_summary: Record<string, unknown> | null }>(
      `SELECT generation, watermark, last_error, last_success_at, last_full_read_at, last_summary FROM source WHERE name = $1`,
      [name],
    ))[0]!;

  it('stages a full read, then costs no writes when nothing changed', async () => {
    const { db, dataDir } = t();
    const file = path.join(dataDir, 'plant.csv');
    writeFileSync(file, plantCsv(600));
    const rejectsDir = path.join(dataDir, 'rejects');
    const first = await stageSource(db, csvSource('plant', file), { mode: 'full', logger, rejectsDir });
    expect(first).toMatchObject({ source: 'plant', mode: 'full', read: 600, valid: 600, rejected: 0, new: 600, changed: 0, unchanged: 0, missing: 0, generation: 1 });
    const before = await records('plant');
    expect(before.size).toBe(600);
    expect(before.get('name:dev-7')?.name).toBe('dev-7');

    const second = await stageSource(db, csvSource('plant', file), { mode: 'full', logger, rejectsDir });
    expect(second).toMatchObject({ read: 600, new: 0, changed: 0, unchanged: 600, missing: 0, generation: 1 });
    const after = await records('plant');
    const rewritten = [...after.values()].filter((r) => r.xmin !== before.get(r.external_key)!.xmin);
    expect(rewritten).toEqual([]);
    const row = await sourceRow('plant');
    expect(row.last_summary).toMatchObject({ read: 600, unchanged: 600 });
    expect(row.last_full_read_at).not.toBeNull();
  });

  it('writes only changed records, marks missing ones, and brings returning ones back', async () => {
    const { db, dataDir } = t();
    const file = path.join(dataDir, 'plant.csv');
    const before = await records('plant');
    writeFileSync(file, plantCsv(590, (i) => (i % 100 === 0 ? ' AG' : i % 100 === 1 ? ' Energy' : '')));
    const summary = await stageSource(db, csvSource('plant', file), { mode: 'full', logger });
    // " AG" normalises to the same vendor: not a change. " Energy" is another vendor.
    expect(summary).toMatchObject({ read: 590, new: 0, changed: 6, unchanged: 584, missing: 10, missingTotal: 10, generation: 2 });
    const after = await records('plant');
    const rewritten = [...after.values()].filter((r) => r.xmin !== before.get(r.external_key)!.xmin).map((r) => r.external_key);
    expect(rewritten.sort()).toEqual([...['1', '101', '201', '301', '401', '501'].map((i) => `name:dev-${i}`), ...Array.from({ length: 10 }, (_, i) => `name:dev-${590 + i}`)].sort());
    const gone = after.get('name:dev-595')!;
    expect(gone.missing_since).not.toBeNull();
    // A missing record's last_seen is its last confirmation, not the read that lost it.
    expect(gone.last_seen.getTime()).toBeLessThan(gone.missing_since!.getTime());

    writeFileSync(file, plantCsv(600, (i) => (i % 100 === 1 ? ' Energy' : '')));
    const back = await stageSource(db, csvSource('plant', file), { mode: 'full', logger });
    expect(back).toMatchObject({ new: 0, changed: 0, reappeared: 10, missing: 0, missingTotal: 0, generation: 3 });
    const returned = (await records('plant')).get('name:dev-595')!;
    expect(returned.missing_since).toBeNull();
    expect(returned.first_seen).toEqual(gone.first_seen);
  });

  it('refuses a file that is not a CSV and leaves the earlier staging exactly as it was', async () => {
    const { db, dataDir } = t();
    const file = path.join(dataDir, 'plant.csv');
    const rejectsFile = path.join(dataDir, 'rejects', 'plant.csv');
    writeFileSync(file, plantCsv(600, (i) => (i === 3 ? ',extra' : '')));
    await stageSource(db, csvSource('plant', file), { mode: 'full', logger, rejectsDir: path.join(dataDir, 'rejects') });
    const rejectsBefore = readFileSync(rejectsFile, 'utf8');
    expect(rejectsBefore).toContain('plant.csv:5');
    const before = await records('plant');
    const sourceBefore = await sourceRow('plant');

    writeFileSync(file, Buffer.from('PK\u0003\u0004 workbook', 'latin1'));
    await expect(stageSource(db, csvSource('plant', file), { mode: 'full', logger, rejectsDir: path.join(dataDir, 'rejects') })).rejects.toMatchObject({ code: 'CSV_NOT_CSV' });
    const after = await records('plant');
    expect([...after.values()]).toEqual([...before.values()]);
    const sourceAfter = await sourceRow('plant');
    expect(sourceAfter.generation).toBe(sourceBefore.generation);
    expect(sourceAfter.last_success_at).toEqual(sourceBefore.last_success_at);
    expect(sourceAfter.last_error).toMatch(/plant\.csv is not a CSV file: it is a ZIP archive/);
    expect(readFileSync(rejectsFile, 'utf8')).toBe(rejectsBefore);
    expect(await db.query(`SELECT location FROM source_reject r JOIN source s ON s.id = r.source_id WHERE s.name = 'plant'`)).toEqual([{ location: 'plant.csv:5' }]);
  });

  it('rolls back a read that fails half way, after records were already written', async () => {
    const { db } = t();
    const batches = Array.from({ length: 3 }, (_, b) => ({ records: Array.from({ length: 4000 }, (_, i) => record(`k${b}-${i}`, `n${b}-${i}`, '00:1b:1b:00:00:01')), rejects: [] }));
    await expect(stageSource(db, new ScriptedSource('flaky', batches, 2), { mode: 'full', logger })).rejects.toThrow('source flaky: connection reset by peer');
    expect((await records('flaky')).size).toBe(0);
    expect((await sourceRow('flaky')).last_error).toBe('source flaky: connection reset by peer');
    // The next good read clears the error.
    await stageSource(db, new ScriptedSource('flaky', batches.slice(0, 1)), { mode: 'full', logger });
    expect((await records('flaky')).size).toBe(4000);
    expect((await sourceRow('flaky')).last_error).toBeNull();
  });

  it('rejects duplicate keys of one read with both locations, never failing the bulk write', async () => {
    const { db } = t();
    const src = new ScriptedSource('dups', [{ records: [record('a', 'A', '00:1b:1b:00:00:01'), record('b', 'B', '00:1b:1b:00:00:02')], rejects: [] }, { records: [record('a', 'A2', '00:1b:1b:00:00:03')], rejects: [] }]);
    const summary = await stageSource(db, src, { mode: 'full', logger });
    expect(summary).toMatchObject({ read: 3, valid: 2, rejected: 1, new: 2 });
    expect(await db.query(`SELECT location, reason FROM source_reject r JOIN source s ON s.id = r.source_id WHERE s.name = 'dups'`)).toEqual([
      { location: 'scripted a', reason: 'duplicate key a: scripted a already delivered this record' },
    ]);
    expect((await records('dups')).get('a')?.name).toBe('A');
  });

  it('stages the good records of a batch and rejects the one holding NUL or a lone surrogate, naming its key and field', async () => {
    const { db, dataDir } = t();
    const rejectsDir = path.join(dataDir, 'rejects');
    const bad = { ...record('b', 'B\u0000x', '00:1b:1b:00:00:02'), raw: { id: 'b', name: 'B\u0000x' } };
    const surrogate = { ...record('c', 'C', '00:1b:1b:00:00:03'), asset: { name: 'C', description: 'half \ud800 pair', interfaces: [{ mac: '00:1b:1b:00:00:03', ips: [] }] } };
    // Only `raw` (the source's own JSON) holds the NUL here: cleaned, the record is staged.
    const rawOnly = { ...record('d', 'D', '00:1b:1b:00:00:04'), raw: { id: 'd', comment: 'x\u0000y', ['k\u0000']: 1 } };
    const src = new ScriptedSource('nul', [{ records: [record('a', 'A', '00:1b:1b:00:00:01'), bad, surrogate, rawOnly], rejects: [] }]);
    const summary = await stageSource(db, src, { mode: 'full', logger, rejectsDir });
    expect(summary).toMatchObject({ read: 4, valid: 2, rejected: 2, new: 2 });
    expect([...(await records('nul')).keys()].sort()).toEqual(['a', 'd']);
    expect(await db.query(`SELECT raw->>'comment' AS comment FROM source_record r JOIN source s ON s.id = r.source_id WHERE s.name = 'nul' AND external_key = 'd'`)).toEqual([{ comment: 'x\ufffdy' }]);
    const rejects = await db.query<{ location: string; column: string; reason: string; raw: Record<string, unknown> }>(
      `SELECT location, "column", reason, raw FROM source_reject r JOIN source s ON s.id = r.source_id WHERE s.name = 'nul' ORDER BY location`,
    );
    expect(rejects.map((r) => [r.location, r.column])).toEqual([
      ['scripted b', 'name'],
      ['scripted c', 'description'],
    ]);
    expect(rejects[0]!.reason).toMatch(/^name: NUL character \(U\+0000\) at position 1/);
    expect(rejects[1]!.reason).toMatch(/^description: lone UTF-16 surrogate U\+D800/);
    expect(rejects[0]!.raw).toEqual({ id: 'b', name: 'B\ufffdx' });
    const file = readFileSync(path.join(rejectsDir, 'nul.csv'), 'utf8');
    expect(file).toContain('scripted b');
    expect(file).toContain('NUL character');
  });

  it('reads incrementally from the watermark without marking anything missing', async () => {
    const { db } = t();
    const full = new ScriptedSource('cmdb', [{ records: [record('1', 'one', '00:1b:1b:00:00:01'), record('2', 'two', '00:1b:1b:00:00:02')], rejects: [], watermark: '2024-05-01T00:00:00Z' }]);
    // An incremental request without a watermark reads everything.
    expect(await stageSource(db, full, { mode: 'incremental', logger })).toMatchObject({ mode: 'full', new: 2, watermark: '2024-05-01T00:00:00Z' });
    const delta = new ScriptedSource('cmdb', [{ records: [record('2', 'two renamed', '00:1b:1b:00:00:02')], rejects: [], watermark: '2024-05-02T00:00:00Z' }]);
    const summary = await stageSource(db, delta, { mode: 'incremental', logger });
    expect(delta.reads[0]).toMatchObject({ mode: 'incremental', since: '2024-05-01T00:00:00Z' });
    expect(summary).toMatchObject({ mode: 'incremental', read: 1, changed: 1, missing: 0, watermark: '2024-05-02T00:00:00Z' });
    const staged = await records('cmdb');
    expect(staged.get('1')?.missing_since).toBeNull();
    expect(staged.get('2')?.name).toBe('two renamed');
    expect((await sourceRow('cmdb')).watermark).toBe('2024-05-02T00:00:00Z');
  });

  it('an incremental read keeps the rejects file listing the rejects the database still holds, even when it reads nothing', async () => {
    const { db, dataDir } = t();
    const rejectsDir = path.join(dataDir, 'rejects-incremental');
    const file = path.join(rejectsDir, 'delta.csv');
    const fileRows = () => parse<Record<string, string>>(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''), { columns: true }).map((r) => r.location);
    const stagedRejects = async () => (await db.query<{ location: string }>(`SELECT location FROM source_reject r JOIN source s ON s.id = r.source_id WHERE s.name = 'delta' ORDER BY location`)).map((r) => r.location);
    const bad = (key: string) => ({ location: `scripted ${key}`, reason: 'no usable MAC or IP', raw: { id: key } });
    await stageSource(db, new ScriptedSource('delta', [{ records: [record('1', 'one', '00:1b:1b:00:00:01')], rejects: [bad('b1')], watermark: '2024-05-01T00:00:00Z' }]), { mode: 'incremental', logger, rejectsDir });
    expect(fileRows()).toEqual(['scripted b1']);
    await stageSource(db, new ScriptedSource('delta', [{ records: [], rejects: [], watermark: '2024-05-01T00:00:00Z' }]), { mode: 'incremental', logger, rejectsDir });
    expect(await stagedRejects()).toEqual(['scripted b1']);
    expect(fileRows()).toEqual(['scripted b1']);
    await stageSource(db, new ScriptedSource('delta', [{ records: [], rejects: [bad('b2')], watermark: '2024-05-02T00:00:00Z' }]), { mode: 'incremental', logger, rejectsDir });
    expect(await stagedRejects()).toEqual(['scripted b1', 'scripted b2']);
    expect(fileRows()).toEqual(['scripted b1', 'scripted b2']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // A full read starts both again.
    await stageSource(db, new ScriptedSource('delta', [{ records: [record('1', 'one', '00:1b:1b:00:00:01')], rejects: [], watermark: '2024-05-03T00:00:00Z' }]), { mode: 'full', logger, rejectsDir });
    expect(await stagedRejects()).toEqual([]);
    expect(fileRows()).toEqual([]);
  });

  it('stages several sources, one failing not stopping the others', async () => {
    const { db, dataDir } = t();
    const good = path.join(dataDir, 'good.csv');
    writeFileSync(good, plantCsv(5));
    const outcomes = await stageSources(db, [csvSource('missing-file', path.join(dataDir, 'nope.csv')), csvSource('good', good)], { mode: 'full', logger });
    expect(outcomes).toMatchObject([
      { ok: false, source: 'missing-file', error: { code: 'CSV_UNREADABLE', message: `cannot read CSV file ${path.join(dataDir, 'nope.csv')}: no such file`, retryable: false } },
      { ok: true, source: 'good', new: 5 },
    ]);
    expect((await sourceRow('missing-file')).last_error).toMatch(/no such file/);
  });

  it('stops on an interruption and keeps what was staged', async () => {
    const { db } = t();
    const controller = new AbortController();
    const interrupted = new KicsSyncError('interrupted by SIGINT', { code: 'INTERRUPTED' });
    const src = new ScriptedSource('slow', [{ records: [record('x', 'X', '00:1b:1b:00:00:09')], rejects: [] }, { records: [], rejects: [] }]);
    controller.abort(interrupted);
    await expect(stageSources(db, [src], { mode: 'full', logger, signal: controller.signal })).rejects.toBe(interrupted);
    expect((await records('slow')).size).toBe(0);
  });

  it('writes the rejects file safe to open in a spreadsheet, and only when the read commits', async () => {
    const { db, dataDir } = t();
    const file = path.join(dataDir, 'formula.csv');
    writeFileSync(file, 'name,mac,"=cmd|\' /C calc\'!A0"\n=HYPERLINK("http://x"),00:1b:1b:00:00:01,toaster\nok,01:00:5e:00:00:01|00:1b:1b:00:00:02,plc\n');
    const rejectsFile = path.join(dataDir, 'custom', 'formula-rejects.csv');
    const src = new CsvSource(csvSourceSchema.parse({ name: 'formula', type: 'csv', path: file, columns: { category: "=cmd|' /C calc'!A0" } }), { normalizer, logger });
    const summary = await stageSource(db, src, { mode: 'full', logger, rejectsFiles: { formula: rejectsFile } });
    expect(summary).toMatchObject({ rejected: 1, valid: 1, notes: 1, rejectsFile });
    const text = readFileSync(rejectsFile, 'utf8');
    expect(text.startsWith('\uFEFFkind,location,column,reason,record\n')).toBe(true);
    expect(text).toContain(`reject,formula.csv:2,'=cmd|' /C calc'!A0,"unknown category ""toaster""`);
    expect(text).not.toMatch(/(^|,)[=@+-]/m);
    expect(text).toContain('note,formula.csv:3,,"01:00:5e:00:00:01: multicast MAC address, not used as identity",\n');
    expect(existsSync(`${rejectsFile}.${process.pid}.tmp`)).toBe(false);
  });
  it('does not read a file again that is byte for byte the one last staged, unless asked to or its settings changed', async () => {
    const { db, dataDir } = t();
    const file = path.join(dataDir, 'same.csv');
    writeFileSync(file, `${plantCsv(300)}bad,00:1b:1b:zz:00:01,10.9.9.9,Siemens\n`);
    const rejectsDir = path.join(dataDir, 'rejects');
    const first = await stageSource(db, csvSource('same', file), { mode: 'incremental', logger, rejectsDir });
    expect(first).toMatchObject({ read: 301, valid: 300, rejected: 1, new: 300, generation: 1 });
    expect(first.unchangedSource).toBeUndefined();
    const before = await records('same');

    // The same bytes: confirmed as staged, no record written, the generation kept, the rejects file still there.
    const again = await stageSource(db, csvSource('same', file), { mode: 'incremental', logger, rejectsDir });
    expect(again).toMatchObject({ read: 301, valid: 300, rejected: 1, new: 0, changed: 0, unchanged: 300, missing: 0, generation: 1, unchangedSource: true, rejectsFile: path.join(rejectsDir, 'same.csv') });
    expect(existsSync(path.join(rejectsDir, 'same.csv'))).toBe(true);
    const after = await records('same');
    for (const [key, row] of before) expect(after.get(key)?.xmin).toBe(row.xmin);

    // --full reads it all the same.
    const full = await stageSource(db, csvSource('same', file), { mode: 'full', logger, rejectsDir });
    expect(full).toMatchObject({ read: 301, unchanged: 300 });
    expect(full.unchangedSource).toBeUndefined();

    // Other mapping tables would give other records: read again.
    const mapped = new CsvSource(csvSourceSchema.parse({ name: 'same', type: 'csv', path: file }), { normalizer: createNormalizer({ vendorMap: { Siemens: 'Siemens AG' } }), logger });
    const remapped = await stageSource(db, mapped, { mode: 'incremental', logger, rejectsDir });
    expect(remapped).toMatchObject({ changed: 300, generation: 2 });
    expect(remapped.unchangedSource).toBeUndefined();

    // Back to the default tables, one row more: read again, the changes staged.
    writeFileSync(file, `${plantCsv(301)}bad,00:1b:1b:zz:00:01,10.9.9.9,Siemens\n`);
    const changed = await stageSource(db, csvSource('same', file), { mode: 'incremental', logger, rejectsDir });
    expect(changed.unchangedSource).toBeUndefined();
    expect(changed).toMatchObject({ read: 302, rejected: 1, new: 1, changed: 300, generation: 3 });

    // A rejects file deleted since: read again so that it is written again.
    rmSync(path.join(rejectsDir, 'same.csv'));
    const rewritten = await stageSource(db, csvSource('same', file), { mode: 'incremental', logger, rejectsDir });
    expect(rewritten.unchangedSource).toBeUndefined();
    expect(readFileSync(path.join(rejectsDir, 'same.csv'), 'utf8')).toContain('zz');
  });
  it('tells an incremental read which staged records held given values at a JSON path (present records only)', async () => {
    const db = t().db;
    const held = (key: string, ips: number[]) => ({ ...record(key, key.toUpperCase(), `00:1b:1b:00:00:0${key.charCodeAt(0) - 96}`), raw: { id: key, interfaces: [{ ips: ips.map((id) => ({ id })) }, { ips: [] }] } });
    await stageSource(db, new ScriptedSource('holders', [{ records: [held('a', [5001, 5002]), held('b', [5003]), held('c', [5004])], rejects: [], watermark: '2024-06-01T00:00:00.000Z' }]), { mode: 'full', logger });
    await stageSource(db, new ScriptedSource('holders', [{ records: [held('a', [5001, 5002]), held('b', [5003])], rejects: [], watermark: '2024-06-02T00:00:00.000Z' }]), { mode: 'full', logger });
    const answers: string[][] = [];
    const asking: AssetSource = {
      name: 'holders',
      kind: 'netbox',
      incremental: true,
      check: async () => {},
      async *read(options) {
        expect(options).toMatchObject({ mode: 'incremental', since: '2024-06-02T00:00:00.000Z' });
        const ask = options.stagedKeys!;
        answers.push(await ask('$.interfaces[*].ips[*].id', [5002, 5003, 5004, 9999]), await ask('$.interfaces[*].ips[*].id', []), await ask('$.interfaces[*].macs[*].id', [5001]));
        yield { records: [], rejects: [] };
      },
    };
    await stageSource(db, asking, { mode: 'incremental', logger });
    // c, which held 5004, is missing since the last full read.
    expect(answers.map((keys) => [...keys].sort())).toEqual([['a', 'b'], [], []]);
  });
});
