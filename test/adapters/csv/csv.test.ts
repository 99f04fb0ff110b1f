import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvSource } from '../../../src/adapters/csv/source.js';
import { SourceError } from '../../../src/adapters/source-error.js';
import { csvSourceSchema } from '../../../src/config/sources.js';
import { silentLogger } from '../../../src/log.js';
import type { RecordReject, SourceBatch, SourceRecord } from '../../../src/model/asset.js';
import { createNormalizer } from '../../../src/model/normalize.js';
import { prepareBatches } from '../../../src/sync/staging/source/prepare.js';

const fixtures = path.resolve(import.meta.dirname, '../../fixtures/csv');
const normalizer = createNormalizer({ influenceMap: { Hoch: 'BusinessCritical', Mittel: 'Important' } });

function source(file: string, extra: Record<string, unknown> = {}, batchSize?: number): CsvSource {
  const config = csvSourceSchema.parse({ name: 'plant', type: 'csv', path: file, ...extra });
  return new CsvSource(config, { normalizer, logger: silentLogger(), ...(batchSize ? { batchSize } : {}) });
}

async function readAll(src: CsvSource): Promise<{ records: SourceRecord[]; rejects: RecordReject[]; batches: SourceBatch[] }> {
  const batches: SourceBatch[] = [];
  for await (const batch of src.read({ mode: 'full' })) batches.push(batch);
  return { records: batches.flatMap((b) => b.records), rejects: batches.flatMap((b) => b.rejects), batches };
}

function tempFile(name: string, content: string | Buffer): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'kics-sync-csv-')), name);
  writeFileSync(file, content);
  return file;
}

async function refusal(src: CsvSource): Promise<SourceError> {
  try {
    await readAll(src);
  } catch (error) {
    expect(error).toBeInstanceOf(SourceError);
    return error as SourceError;
  }
  throw new Error('the file was not refused');
}

describe('CSV source: an Excel export (semicolons, BOM, CR LF, quoted new lines, Cisco MACs, bad rows mixed in)', () => {
  it('keeps the valid rows, normalised', async () => {
    const { records } = await readAll(source(path.join(fixtures, 'excel-semicolon.csv')));
    expect(records.map((r) => [r.externalKey, r.location])).toEqual([
      ['id:A-100', 'excel-semicolon.csv:2'],
      ['id:A-101', 'excel-semicolon.csv:4'],
      ['id:A-102', 'excel-semicolon.csv:5'],
      ['id:A-108', 'excel-semicolon.csv:12,13'],
      ['id:A-109', 'excel-semicolon.csv:14'],
    ]);
    const [boiler, hmi, sw, ews, mcast] = records;
    expect(boiler!.asset).toEqual({
      name: 'PLC-BOILER-1',
      description: 'Main boiler controller\nreplaced 2023',
      category: 'Plc',
      hardwareVendor: 'Siemens',
      hardwareModel: 'S7-1516F',
      softwareVersion: 'V2,9',
      influence: 'BusinessCritical',
      owner: 'Utilities',
      location: 'Boiler house',
      interfaces: [{ mac: '00:1b:1b:aa:00:01', ips: ['10.10.1.11'] }],
    });
    expect(boiler!.raw).toMatchObject({ 'Asset Tag': 'A-100', Hostname: 'PLC-BOILER-1', 'MAC Address': '001B.1BAA.0001' });
    expect(hmi!.asset.interfaces).toEqual([
      { mac: '00:1b:1b:aa:00:02', ips: ['10.10.1.21'] },
      { mac: '00:1b:1b:aa:00:03', ips: ['10.10.2.21'] },
    ]);
    expect(hmi!.asset).toMatchObject({ category: 'HmiPanel', influence: 'Important' });
    expect(sw!.asset).toMatchObject({ category: 'Switch', hardwareVendor: 'Hirschmann', interfaces: [{ mac: '00:80:f4:aa:00:04', ips: ['10.10.1.2'] }] });
    expect(sw!.asset.influence).toBeUndefined();
    expect(ews!.asset).toMatchObject({ name: 'EWS-1', category: 'EngineeringStation', description: 'TIA Portal; STEP 7' });
    expect(ews!.asset.interfaces).toEqual([
      { mac: '00:1b:1b:aa:00:09', ips: ['10.10.1.61'] },
      { mac: '00:1b:1b:aa:00:0a', ips: ['10.10.3.61'] },
    ]);
    expect(mcast!.asset.interfaces).toEqual([{ mac: null, ips: ['10.10.1.71'] }]);
    expect(mcast!.notes).toEqual(['01:00:5e:00:00:01: multicast MAC address, not used as identity']);
  });

  it('rejects each bad row with file, line, column and reason', async () => {
    const { rejects } = await readAll(source(path.join(fixtures, 'excel-semicolon.csv')));
    expect(rejects.map(({ location, column, reason }) => ({ location, column, reason }))).toEqual([
      { location: 'excel-semicolon.csv:6', column: 'MAC Address', reason: '"00:1B:1B:ZZ:00:05" is not a MAC address (expected six hex octets, e.g. 00:1b:1b:aa:bb:cc)' },
      { location: 'excel-semicolon.csv:7', column: 'Device Type', reason: 'unknown category "Toaster": not a KICS category and not in reconcile.categoryMap' },
      { location: 'excel-semicolon.csv:9', column: 'Hostname, MAC Address, IP Address', reason: 'missing identity: no name, MAC or IP' },
      { location: 'excel-semicolon.csv:10', column: 'IP Address', reason: '"10.10.1.300" is not an IP address' },
      { location: 'excel-semicolon.csv:11', column: undefined, reason: 'has 5 fields, the header has 12 (a missing or extra delimiter?)' },
      { location: 'excel-semicolon.csv:15', column: 'Asset Tag', reason: 'duplicate key id:A-100: line 2 already has this asset (rows of one asset must be consecutive)' },
    ]);
    expect(rejects[0]!.raw).toMatchObject({ Hostname: 'BAD-MAC' });
  });

  it('reads with the delimiter configured instead of detected, and then finds no identity column', async () => {
    const error = await refusal(source(path.join(fixtures, 'excel-semicolon.csv'), { delimiter: ',' }));
    expect(error.code).toBe('CSV_NO_IDENTITY_COLUMN');
  });
});

describe('CSV source: column aliases, attributes, address spaces, several values per cell', () => {
  it('maps the common header spellings and the configured attribute columns', async () => {
    const src = source(path.join(fixtures, 'inventory-comma.csv'), { attributes: { 'serial number': 'Serial', zone: 'Zone' } });
    const { records, rejects } = await readAll(src);
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.asset)).toEqual([
      {
        name: 'plc-1',
        category: 'Plc',
        hardwareVendor: 'Siemens',
        influence: 'BusinessCritical',
        labels: ['line-1', 'ot'],
        retired: false,
        industrialConfig: 'configs/plc-1.xml',
        userAttributes: { Serial: 'S100', Zone: 'Z1' },
        interfaces: [{ mac: '00:1b:1b:00:00:01', ips: ['10.0.0.1'], vlan: 10, addressSpace: 'Cell A' }],
      },
      {
        name: 'plc-2',
        category: 'Plc',
        hardwareVendor: 'Siemens',
        influence: 'Normal',
        labels: ['ot'],
        retired: true,
        userAttributes: { Serial: 'S101', Zone: 'Z1' },
        interfaces: [{ mac: '00:1b:1b:00:00:02', ips: ['10.0.0.2'] }],
      },
      {
        name: 'sensor-gw',
        category: 'Gateway',
        hardwareVendor: 'Moxa',
        labels: ['ot,sensors'],
        userAttributes: { Serial: 'S102', Zone: 'Z2' },
        interfaces: [{ mac: null, ips: ['192.168.7.4', '2001:db8::4'], addressSpace: 7 }],
      },
    ]);
  });

  it('uses the configured column mapping and default address space, and a configured separator', async () => {
    const file = tempFile('custom.csv', 'Gerät,Netzwerkadresse,Adressen,Kategorie\nP1,00:1b:1b:00:00:01,10.0.0.1;10.0.0.9,plc\nP2,,10.0.0.2,plc\n');
    const src = source(file, { columns: { name: 'Gerät', mac: 'netzwerkadresse', ip: 'ADRESSEN', category: 'Kategorie' }, multiValueSeparator: ';', addressSpace: 'Plant' });
    const { records } = await readAll(src);
    expect(records.map((r) => r.asset.interfaces)).toEqual([[{ mac: '00:1b:1b:00:00:01', ips: ['10.0.0.1', '10.0.0.9'], addressSpace: 'Plant' }], [{ mac: null, ips: ['10.0.0.2'], addressSpace: 'Plant' }]]);
  });

  it('rejects a row whose MACs and IPs cannot be paired', async () => {
    const file = tempFile('pairs.csv', 'name,mac,ip\nx,00:1b:1b:00:00:01|00:1b:1b:00:00:02,10.0.0.1|10.0.0.2|10.0.0.3\n');
    const { rejects } = await readAll(source(file));
    expect(rejects).toMatchObject([{ location: 'pairs.csv:2', column: 'ip' }]);
    expect(rejects[0]!.reason).toContain('2 MACs and 3 IPs in one row');
  });

  it('keeps each record as delivered: the cells by column, further rows of the asset under _moreRows', async () => {
    const file = tempFile(
      'raw.csv',
      'name,mac,ip,"Note ""quoted""",Ünïcode,dup,dup\n' +
        'plc-1,00:1b:1b:00:00:01,10.0.0.1,"say ""hi"" \\ back\nslash",äö 🙂,first,second\n' +
        'plc-1,00:1b:1b:00:00:02,10.0.0.2,  ,,,\n' +
        'plc-2,00:1b:1b:00:00:03,,tab\there,,,\n',
    );
    const { records } = await readAll(source(file));
    const expected = [
      {
        name: 'plc-1',
        mac: '00:1b:1b:00:00:01',
        ip: '10.0.0.1',
        'Note "quoted"': 'say "hi" \\ back\nslash',
        Ünïcode: 'äö 🙂',
        dup: 'second',
        _moreRows: [{ name: 'plc-1', mac: '00:1b:1b:00:00:02', ip: '10.0.0.2' }],
      },
      { name: 'plc-2', mac: '00:1b:1b:00:00:03', 'Note "quoted"': 'tab\there' },
    ];
    expect(records.map((r) => r.raw)).toEqual(expected);
    const prepared = [];
    const csv = source(file);
    for await (const batch of prepareBatches(csv, csv.read({ mode: 'full' }))) prepared.push(...batch.records);
    expect(prepared.map((r) => JSON.parse(r.raw) as unknown)).toEqual(expected);
  });

  it('rejects a row over KICS limits when its records are prepared, naming the line and the field', async () => {
    const file = tempFile('long.csv', `name,mac\n${'n'.repeat(8193)},00:1b:1b:00:00:01\nok,00:1b:1b:00:00:02\n`);
    const prepared = [];
    const csv = source(file);
    for await (const batch of prepareBatches(csv, csv.read({ mode: 'full' }))) prepared.push(batch);
    expect(prepared.flatMap((b) => b.records.map((r) => r.name))).toEqual(['ok']);
    expect(prepared.flatMap((b) => b.rejects)).toMatchObject([{ location: 'long.csv:2', column: 'name', reason: "name: 8193 characters, more than KICS's limit of 8192", raw: { mac: '00:1b:1b:00:00:01' } }]);
  });

  it('rejects a continuation row that contradicts its asset', async () => {
    const file = tempFile('conflict.csv', 'name,mac,vendor\nplc,00:1b:1b:00:00:01,Siemens\nplc,00:1b:1b:00:00:02,Rockwell\n');
    const { records, rejects } = await readAll(source(file));
    expect(records[0]!.asset.interfaces).toHaveLength(1);
    expect(rejects).toMatchObject([{ location: 'conflict.csv:3', column: 'vendor', reason: 'hardwareVendor "Rockwell Automation" differs from "Siemens" on line 2, a row of the same asset (name:plc)' }]);
  });
});

describe('CSV source: encodings, delimiters and line numbers', () => {
  it('reads a tab-separated UTF-16 file with BOM (Excel "Unicode text")', async () => {
    const text = 'Name\tMAC\tLocation\r\nPLC-Zürich\t00:1b:1b:00:00:01\tHalle 3 – Süd\r\n';
    const file = tempFile('unicode.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const { records } = await readAll(source(file));
    expect(records.map((r) => [r.asset.name, r.asset.location])).toEqual([['PLC-Zürich', 'Halle 3 – Süd']]);
  });

  it('refuses a Windows-1252 file read as UTF-8, and reads it with encoding set', async () => {
    const file = tempFile('ansi.csv', Buffer.from('name;location\nplc-1;Z\xfcrich\n', 'latin1'));
    const error = await refusal(source(file));
    expect(error.code).toBe('CSV_NOT_CSV');
    expect(error.message).toMatch(/ansi\.csv is not UTF-8 text .*save it as "CSV UTF-8" or set encoding/);
    // Located as the user finds it in an editor: the line, and the byte within it.
    expect(error.message).toContain('(line 2, byte 8 of the line: "plc-1;Z" then 0xfc)');
    const { records } = await readAll(source(file, { encoding: 'windows-1252' }));
    expect(records[0]!.asset.location).toBe('Zürich');
  });

  it('locates invalid UTF-8 by line far into a file, past the first chunk read, after valid multi-byte text', async () => {
    const lines = ['name;location', ...Array.from({ length: 30_000 }, (_, i) => `plc-${i};Halle 3 – Süd`)];
    const file = tempFile('late.csv', Buffer.concat([Buffer.from(`${lines.join('\n')}\n`, 'utf8'), Buffer.from('plc-x;M\xfcnchen\n', 'latin1')]));
    const error = await refusal(source(file));
    expect(error.message).toContain(`(line ${lines.length + 1}, byte 8 of the line: "plc-x;M" then 0xfc)`);
  });

  it('counts lines right across CR LF inside quoted cells and skipped empty lines', async () => {
    const file = tempFile('lines.csv', 'name,description,mac\r\na,"one\r\ntwo\r\nthree",00:1b:1b:00:00:01\r\n\r\nb,x,zz\r\nc,"x\ny",00:1b:1b:00:00:03\r\nd,y,yy\r\n');
    const { records, rejects } = await readAll(source(file));
    expect(records.map((r) => r.location)).toEqual(['lines.csv:2', 'lines.csv:7']);
    expect(rejects.map((r) => r.location)).toEqual(['lines.csv:6', 'lines.csv:9']);
  });

  it('reads files whose lines end in CR alone (old Mac exports), and counts blank lines and rows of empty cells', async () => {
    const file = tempFile('cr.csv', 'name;mac\rplc-1;00:1b:1b:00:00:01\r\r;\r"plc\r2";00:1b:1b:00:00:02\rplc-3;zz\r');
    const { records, rejects } = await readAll(source(file));
    expect(records.map((r) => [r.asset.name, r.location])).toEqual([
      ['plc-1', 'cr.csv:2'],
      ['plc\r2', 'cr.csv:5'],
    ]);
    expect(rejects.map((r) => r.location)).toEqual(['cr.csv:7']);
  });

  it('refuses a file where an unclosed quote swallows the rest, without reading it all into one row', async () => {
    const rows = ['name,mac,description', 'plc-0,00:1b:1b:00:00:01,"never closed'];
    for (let i = 0; i < 60000; i += 1) rows.push(`plc-${i},00:1b:1b:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},a long description of the device`);
    const error = await refusal(source(tempFile('swallowed.csv', rows.join('\n'))));
    expect(error.code).toBe('CSV_MALFORMED');
    expect(error.message).toBe('swallowed.csv:2: not valid CSV: the row starting on this line is longer than 1000000 characters (a quoted field that is never closed?)');
  });

  it('closes the file after check() and after a read abandoned half way', async () => {
    const openFiles = (): number => readdirSync('/proc/self/fd').length;
    const rows = ['name,mac,ip'];
    for (let i = 0; i < 20000; i += 1) rows.push(`device-${i},00:1b:1b:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},10.1.${i >> 8}.${(i & 255) || 1}`);
    // Larger than one read chunk, so the file is still open when the reader stops.
    const src = source(tempFile('open-files.csv', rows.join('\n')), {}, 100);
    const before = openFiles();
    for (let i = 0; i < 40; i += 1) await src.check();
    for (let i = 0; i < 40; i += 1) {
      for await (const batch of src.read({ mode: 'full' })) {
        expect(batch.records.length + batch.rejects.length).toBeGreaterThan(0);
        break;
      }
    }
    expect(openFiles()).toBeLessThanOrEqual(before + 2);
  });

  it('streams a large file in batches', async () => {
    const rows = ['name,mac,ip'];
    for (let i = 0; i < 5000; i += 1) rows.push(`dev-${i},00:1b:1b:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},10.0.${i >> 8}.${i & 255 || 1}`);
    const { records, batches } = await readAll(source(tempFile('big.csv', rows.join('\n')), {}, 700));
    expect(records).toHaveLength(5000);
    expect(batches.length).toBeGreaterThanOrEqual(8);
    expect(batches.every((b) => b.watermark === batches[0]!.watermark)).toBe(true);
  });
});

describe('CSV source: files refused as a whole', () => {
  it.each([
    ['workbook.xlsx', Buffer.from('PK\u0003\u0004\u0014\u0000\u0006\u0000', 'latin1'), 'CSV_NOT_CSV', /workbook\.xlsx is not a CSV file: it is a ZIP archive \(an Excel \.xlsx workbook\?\)/],
    ['binary.csv', Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x0a, 0x00, 0x01, 0x02]), 'CSV_NOT_CSV', /contains NUL characters/],
    ['empty.csv', '', 'CSV_NOT_CSV', /empty.csv is empty: no header line/],
    ['export.json', '{"devices": [{"name": "plc-1"}]}\n', 'CSV_NO_IDENTITY_COLUMN', /export\.json has none of the identity columns .*its first line is "\{\\"devices\\": \[\{\\"name\\": \\"plc-1\\"\}\]\}"/],
    ['unclosed.csv', 'name,mac\nplc-1,00:1b:1b:00:00:01\n"plc-2,00:1b:1b:00:00:02\n', 'CSV_MALFORMED', /^unclosed\.csv:3: not valid CSV: a quoted field opened on this line is never closed$/],
    ['stray-quote.csv', 'name,mac\nplc-1,00:1b:1b:00:00:01\n\n"plc "2",00:1b:1b:00:00:02\n', 'CSV_MALFORMED', /^stray-quote\.csv:4: not valid CSV: a quoted field is followed by text before the next delimiter/],
  ])('refuses %s', async (name, content, code, message) => {
    const error = await refusal(source(tempFile(name, content)));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses a header without a configured column, naming it and showing the header', async () => {
    const file = tempFile('cols.csv', 'name,mac\nplc,00:1b:1b:00:00:01\n');
    const error = await refusal(source(file, { columns: { ip: 'IPv4 Adresse' }, attributes: { Zone: 'Zone' } }));
    expect(error.code).toBe('CSV_COLUMN_MISSING');
    expect(error.message).toBe('cols.csv: the header has no column "IPv4 Adresse" (configured in columns.ip), "Zone" (configured in attributes.Zone); the header is "name", "mac"');
  });

  it('says when the file is not there, and check() refuses what read() would', async () => {
    const missing = source('/nonexistent/assets.csv');
    await expect(missing.check()).rejects.toMatchObject({ code: 'CSV_UNREADABLE', message: 'cannot read CSV file /nonexistent/assets.csv: no such file' });
    await expect(source(tempFile('x.csv', 'foo,bar\n1,2\n')).check()).rejects.toMatchObject({ code: 'CSV_NO_IDENTITY_COLUMN' });
    await expect(source(path.join(fixtures, 'excel-semicolon.csv')).check()).resolves.toMatchObject({ warnings: [] });
  });
});
