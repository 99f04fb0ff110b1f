/**
 * CSV read benchmark: a 100,000-row export (semicolons, Cisco-dot MACs, one row in ten with a quoted
 * two-line cell) read and prepared by the CSV source alone, no database: the parser and the row
 * builder, measured as a whole process (take turns with another checkout to compare).
 *
 *   npx tsx bench/csv-read.ts [--rows 100000]
 */
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CsvSource } from '../src/adapters/csv/source.js';
import { csvSourceSchema } from '../src/config/sources.js';
import { silentLogger } from '../src/log.js';
import { createNormalizer } from '../src/model/normalize.js';

const at = process.argv.indexOf('--rows');
const rows = at >= 0 ? Number(process.argv[at + 1]) : 100_000;
const file = path.join(os.tmpdir(), `kics-sync-csv-read-${rows}.csv`);
if (!existsSync(file)) {
  const categories = ['PLC', 'HMI', 'Switch', 'Engineering Station', 'Server', 'Router', 'Firewall', 'Historian'];
  const vendors = ['Siemens AG', 'Schneider Electric', 'Rockwell Automation', 'Hirschmann', 'Moxa', 'Phoenix Contact'];
  const lines = ['Asset Tag;Hostname;MAC Address;IP Address;VLAN;Device Type;Manufacturer;Model;Firmware;Criticality;Owner;Location;Labels;Description'];
  for (let i = 0; i < rows; i += 1) {
    const hex = i.toString(16).padStart(8, '0');
    const description = i % 10 === 0 ? '"two\r\nlines; ""quoted"""' : 'plain';
    lines.push([`A-${i}`, `dev-${i}`, `0C1B.${hex.slice(0, 4)}.${hex.slice(4)}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) || 1}`, String(10 + (i % 20)), categories[i % 8], vendors[i % 6], `M-${i % 37}`, 'V2.9', ['high', 'medium', 'low'][i % 3], `team-${i % 12}`, `Hall ${i % 9}`, 'ot|plant-a', description].join(';'));
  }
  writeFileSync(file, `\uFEFF${lines.join('\r\n')}\r\n`);
}
const source = new CsvSource(csvSourceSchema.parse({ name: 'bench', type: 'csv', path: file }), { normalizer: createNormalizer(), logger: silentLogger() });
const started = performance.now();
let records = 0;
let rejects = 0;
for await (const batch of source.read({ mode: 'full' })) {
  records += batch.records.length;
  rejects += batch.rejects.length;
}
process.stdout.write(`${records} records, ${rejects} rejects read in ${Math.round(performance.now() - started)} ms\n`);
