/**
 * Staging benchmark: a CSV export at KICS scale streamed into the database, on each engine.
 *
 *   npx tsx bench/staging.ts [--rows 100000] [--db pglite|postgres|both] [--json FILE]
 *
 * Per engine, on a fresh migrated database: the first full stage (every record new), a re-stage of the
 * same file (nothing changed: no writes at all), and a re-stage where 1% of the rows changed and 1% are
 * gone. Peak RSS shows that the file is streamed, not loaded.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CsvSource } from '../src/adapters/csv/source.js';
import { csvSourceSchema } from '../src/config/sources.js';
import { openDatabase, type Database } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { canonicalAsset, createNormalizer } from '../src/model/normalize.js';
import { stageSource, type StageSummary } from '../src/sync/staging/source/stage.js';
import { findPostgresBin, startThrowawayPostgres } from '../test/support/postgres.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const rows = Number(option('rows', '100000'));
const dbChoice = option('db', 'both');
const jsonFile = option('json', '');
const logger = silentLogger();
const normalizer = createNormalizer();
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024);

/** An inventory export as plants keep them: semicolons, one row per device, a few bad rows. */
function writeCsv(file: string, count: number, variant: 'base' | 'changed'): void {
  const categories = ['PLC', 'HMI', 'Switch', 'Engineering Station', 'Server', 'Router', 'Firewall', 'Historian'];
  const vendors = ['Siemens AG', 'Schneider Electric', 'Rockwell Automation', 'Hirschmann', 'Moxa', 'Phoenix Contact'];
  const lines = ['Asset Tag;Hostname;MAC Address;IP Address;VLAN;Device Type;Manufacturer;Model;Firmware;Criticality;Owner;Location;Labels'];
  for (let i = 0; i < count; i += 1) {
    if (variant === 'changed' && i % 100 === 99) continue; // 1% gone
    const hex = i.toString(16).padStart(8, '0');
    const mac = `0C1B.${hex.slice(0, 4)}.${hex.slice(4)}`; // Cisco dot notation, as switches export it
    const firmware = variant === 'changed' && i % 100 === 0 ? 'V3.1' : 'V2.9';
    lines.push(
      [
        `A-${i}`,
        `dev-${i}`,
        mac,
        `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) || 1}/16`,
        String(10 + (i % 20)),
        categories[i % categories.length],
        vendors[i % vendors.length],
        `M-${i % 37}`,
        firmware,
        ['high', 'medium', 'low'][i % 3],
        `team-${i % 12}`,
        `Hall ${i % 9}`,
        'ot|plant-a',
      ].join(';'),
    );
  }
  writeFileSync(file, `\uFEFF${lines.join('\r\n')}\r\n`);
}

async function run(engine: 'pglite' | 'postgres', url: string | undefined, dataDir: string, files: { base: string; changed: string }): Promise<Record<string, string | number>[]> {
  const db: Database = await openDatabase({ url, dataDir, logger });
  const out: Record<string, string | number>[] = [];
  const stage = async (label: string, file: string): Promise<StageSummary> => {
    const source = new CsvSource(csvSourceSchema.parse({ name: 'plant', type: 'csv', path: file }), { normalizer, logger });
    global.gc?.();
    const summary = await stageSource(db, source, { mode: 'full', logger });
    out.push({ engine, step: label, ms: summary.durationMs, read: summary.read, new: summary.new, changed: summary.changed, unchanged: summary.unchanged, missing: summary.missing, rejected: summary.rejected, rssMiB: mib(process.memoryUsage().rss) });
    return summary;
  };
  try {
    await stage('first full stage', files.base);
    await stage('re-stage, no change', files.base);
    await stage('re-stage, 1% changed + 1% gone', files.changed);
  } finally {
    await db.close();
  }
  return out;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-bench-staging-'));
const files = { base: path.join(dir, 'base.csv'), changed: path.join(dir, 'changed.csv') };
writeCsv(files.base, rows, 'base');
writeCsv(files.changed, rows, 'changed');
process.stdout.write(`CSV: ${rows} rows, ${mib(statSync(files.base).size)} MiB\n`);
await checkNoCopies(files.base);
const results: Record<string, string | number>[] = [];
try {
  if (dbChoice === 'pglite' || dbChoice === 'both') results.push(...(await run('pglite', undefined, path.join(dir, 'pglite'), files)));
  if (dbChoice === 'postgres' || dbChoice === 'both') {
    const bin = findPostgresBin();
    if (!bin) process.stdout.write('PostgreSQL server binaries not found: skipping the postgres engine\n');
    else {
      const server = await startThrowawayPostgres(bin);
      try {
        const url = await server.createDatabase('bench_staging');
        results.push(...(await run('postgres', url, path.join(dir, 'pg'), files)));
      } finally {
        server.stop();
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const keys = [...new Set(results.flatMap((r) => Object.keys(r)))];
const width = keys.map((k) => Math.max(k.length, ...results.map((r) => String(r[k] ?? '').length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padStart(width[i]!)).join('  ');
process.stdout.write(`${line(keys)}\n${results.map((r) => line(keys.map((k) => String(r[k] ?? '')))).join('\n')}\n`);
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ rows, results }, null, 2));

/**
 * What the staging's speed rests on, checked here rather than in unit tests: an asset the CSV source
 * builds is already in canonical form, so canonicalAsset() keeps it as it is (no copy). Removing that
 * shortcut made a CSV staging 33-78% slower (README, Performance). The run fails when it no longer holds.
 */
async function checkNoCopies(file: string): Promise<void> {
  const source = new CsvSource(csvSourceSchema.parse({ name: 'bench', type: 'csv', path: file }), { normalizer, logger });
  let assets = 0;
  let copied = 0;
  for await (const batch of source.read({ mode: 'full' })) {
    for (const record of batch.records) {
      assets += 1;
      if (canonicalAsset(record.asset) !== record.asset) copied += 1;
    }
  }
  process.stdout.write(`canonical form: ${assets - copied} of ${assets} assets kept as the CSV source built them (no copy)\n\n`);
  if (copied > 0) {
    process.stderr.write(`${copied} asset(s) were copied into canonical form: the CSV source no longer builds them in canonical key order\n`);
    process.exitCode = 1;
  }
}
