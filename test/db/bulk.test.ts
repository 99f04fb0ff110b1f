import { expect, it } from 'vitest';
import { bulkUpsert, type BulkColumn } from '../../src/db/bulk.js';
import { CopyRows, JsonText } from '../../src/db/sql.js';
import { describeEachEngine } from '../support/db.js';

const columns: BulkColumn[] = [
  { name: 'source_id', type: 'int4' },
  { name: 'external_key', type: 'text' },
  { name: 'name', type: 'text' },
  { name: 'owner', type: 'text' },
  { name: 'raw', type: 'jsonb' },
  { name: 'normalized', type: 'jsonb' },
  { name: 'content_hash', type: 'text' },
];
const spec = {
  table: 'source_record',
  columns,
  key: ['source_id', 'external_key'],
  touch: { last_seen: 'now()', missing_since: 'NULL' },
  alsoWhen: 't.missing_since IS NOT NULL',
};

describeEachEngine('bulkUpsert', (t) => {
  let sourceId = 0;
  const row = (key: string, name: string | null, hash: string, raw: unknown = { key }): unknown[] => [sourceId, key, name, null, raw, { name }, hash];

  it('inserts new rows, rewrites only changed ones and leaves unchanged ones unwritten', async () => {
    const { db } = t();
    [{ id: sourceId }] = (await db.query<{ id: number }>(`INSERT INTO source (name, kind, updated_at) VALUES ('bulk', 'csv', now()) RETURNING id`)) as [{ id: number }];
    const first = Array.from({ length: 5000 }, (_, i) => row(`k${i}`, `device-${i}`, `h${i}`));
    const r1 = await db.transaction((tx) => bulkUpsert(tx, spec, first));
    expect(r1).toMatchObject({ inserted: 5000, updated: 0, unchanged: 0 });

    const before = new Map((await db.query<{ external_key: string; xmin: string }>(`SELECT external_key, xmin::text FROM source_record`)).map((r) => [r.external_key, r.xmin]));
    const second = first.map((r, i) => (i % 10 === 0 ? row(`k${i}`, `renamed-${i}`, `h${i}-v2`) : r));
    second.push(row('k-new', 'brand new', 'hnew'));
    const r2 = await db.transaction((tx) => bulkUpsert(tx, spec, second));
    expect(r2).toMatchObject({ inserted: 1, updated: 500, unchanged: 4500 });

    const after = await db.query<{ external_key: string; xmin: string; name: string }>(`SELECT external_key, xmin::text, name FROM source_record`);
    const rewritten = after.filter((r) => before.has(r.external_key) && before.get(r.external_key) !== r.xmin).map((r) => r.external_key);
    expect(rewritten).toHaveLength(500);
    expect(rewritten.every((k) => Number(k.slice(1)) % 10 === 0)).toBe(true);
    expect(after.find((r) => r.external_key === 'k10')?.name).toBe('renamed-10');
  });

  it('rewrites an unchanged row when alsoWhen holds (a record coming back)', async () => {
    const { db } = t();
    await db.execute(`UPDATE source_record SET missing_since = now() WHERE external_key = 'k1'`);
    const r = await db.transaction((tx) => bulkUpsert(tx, spec, [row('k1', 'device-1', 'h1'), row('k2', 'device-2', 'h2')]));
    expect(r).toMatchObject({ inserted: 0, updated: 1, unchanged: 1 });
    expect(await db.query(`SELECT missing_since FROM source_record WHERE external_key = 'k1'`)).toEqual([{ missing_since: null }]);
  });

  it('keeps every value exactly: quotes, delimiters, new lines, backslashes, unicode, empty string versus null', async () => {
    const { db } = t();
    const awkward = ['a,b', 'say "hi"', 'line1\nline2\r\nline3', 'tab\there', 'bell\u0007', 'back\\slash', '\\.', '\\N', '  padded  ', '', 'Zürich – 工厂 🏭', '=cmd|x'];
    const rows = awkward.map((name, i) => row(`awk${i}`, name, `ha${i}`, { name, nested: { list: [name, null, 1.5, true] } }));
    rows.push(row('awk-null', null, 'hnull', { name: null }));
    await db.transaction((tx) => bulkUpsert(tx, spec, rows));
    const back = await db.query<{ external_key: string; name: string | null; raw: unknown }>(`SELECT external_key, name, raw FROM source_record WHERE external_key LIKE 'awk%' ORDER BY external_key`);
    const byKey = new Map(back.map((r) => [r.external_key, r]));
    awkward.forEach((name, i) => {
      expect(byKey.get(`awk${i}`)?.name).toBe(name);
      expect(byKey.get(`awk${i}`)?.raw).toEqual({ name, nested: { list: [name, null, 1.5, true] } });
    });
    expect(byKey.get('awk-null')?.name).toBeNull();
  });

  it('stores JSON given as text (JsonText) exactly as the same value given as an object', async () => {
    const { db } = t();
    const values = ['plain', 'quote " and back\\slash', 'new\nline\ttab', '\\N', 'Zürich 🏭'];
    const rows = values.flatMap((v, i) => {
      const value = { v, list: [v, null, 2] };
      return [row(`obj${i}`, v, `ho${i}`, value), row(`txt${i}`, v, `ht${i}`, new JsonText(JSON.stringify(value)))];
    });
    await db.transaction((tx) => bulkUpsert(tx, spec, rows));
    const back = new Map((await db.query<{ external_key: string; raw: unknown }>(`SELECT external_key, raw FROM source_record WHERE external_key ~ '^(obj|txt)'`)).map((r) => [r.external_key, r.raw]));
    values.forEach((v, i) => {
      expect(back.get(`txt${i}`)).toEqual({ v, list: [v, null, 2] });
      expect(back.get(`txt${i}`)).toEqual(back.get(`obj${i}`));
    });
  });

  it('loads rows encoded ahead (CopyRows) exactly as the same rows given plainly, over several chunks', async () => {
    const { db } = t();
    // About 9 MiB of rows: more than two COPY chunks, so rows are held in several buffers.
    const long = 'x'.repeat(3000);
    const plain = Array.from({ length: 3000 }, (_, i) => row(`plain${i}`, `${long}-${i}`, `hp${i}`, { i, note: 'Zürich\tab\n' }));
    const encoded = new CopyRows();
    for (let i = 0; i < 3000; i += 1) encoded.push(row(`enc${i}`, `${long}-${i}`, `hp${i}`, { i, note: 'Zürich\tab\n' }));
    expect(encoded.count).toBe(3000);
    const copied = await db.transaction(async (tx) => [await tx.copyFrom('source_record', columns.map((c) => c.name), plain), await tx.copyFrom('source_record', columns.map((c) => c.name), encoded)]);
    expect(copied).toEqual([3000, 3000]);
    const back = await db.query<{ k: string; name: string; raw: unknown }>(`SELECT regexp_replace(external_key, '^(plain|enc)', '') AS k, name, raw FROM source_record WHERE external_key ~ '^(plain|enc)' ORDER BY external_key`);
    const plainRows = back.filter((_, i) => i >= 3000);
    expect(back).toHaveLength(6000);
    expect(back.slice(0, 3000)).toEqual(plainRows);
    // Taken rows are the caller's: the encoder starts empty again, and its count keeps every row added.
    expect(await db.transaction((tx) => tx.copyFrom('source_record', columns.map((c) => c.name), encoded))).toBe(0);
    expect(encoded.count).toBe(3000);
  });

  it('rolls the whole load back when the transaction fails', async () => {
    const { db } = t();
    const [{ n: before }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM source_record`)) as [{ n: number }];
    await expect(
      db.transaction(async (tx) => {
        await bulkUpsert(tx, spec, [row('rollback-1', 'x', 'hx')]);
        throw new Error('source read failed half way');
      }),
    ).rejects.toThrow('half way');
    const [{ n: after }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM source_record`)) as [{ n: number }];
    expect(after).toBe(before);
  });

  it('refuses an identifier that is not a plain SQL name', async () => {
    const { db } = t();
    await expect(db.transaction((tx) => bulkUpsert(tx, { ...spec, table: 'source_record; DROP TABLE plan' }, []))).rejects.toThrow(/not a valid SQL identifier/);
  });
});
