import { copyFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseJsonOutput, runCli } from '../support/cli.js';
import { generateNetbox, startNetboxServer, type NetboxServer } from '../support/netbox-server.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/csv');

describe('kics-sync sources', () => {
  let dir: string;
  let netbox: NetboxServer;
  const token = 'e2e-netbox-token-0123456789';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-sources-'));
    // An already migrated embedded database, as after `kics-sync db migrate`.
    cpSync(inject('pgliteTemplateDir'), path.join(dir, 'data', 'db'), { recursive: true });
    netbox = await startNetboxServer({ token, data: generateNetbox(25) });
    copyFileSync(path.join(fixtures, 'excel-semicolon.csv'), path.join(dir, 'assets.csv'));
    writeFileSync(
      path.join(dir, 'kics-sync.yaml'),
      [
        'dataDir: ./data',
        'sources:',
        '  - { name: plant-a, type: csv, path: ./assets.csv }',
        `  - { name: netbox, type: netbox, url: "${netbox.url}", token: "\${NETBOX_TOKEN}", pageSize: 10 }`,
        'reconcile:',
        '  influenceMap: { Hoch: BusinessCritical, Mittel: Important }',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await netbox.close();
  });

  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: dir, env: { NETBOX_TOKEN: token, ...env } });

  it('check proves every source can be read', async () => {
    const result = await cli(['sources', 'check', '--json']);
    expect(result.code).toBe(0);
    expect(parseJsonOutput(result)).toMatchObject({ ok: true, sources: [{ source: 'plant-a', type: 'csv', ok: true }, { source: 'netbox', type: 'netbox', ok: true }] });
  });

  it('check shows how a CSV file is read (encoding, delimiter, which column fills which field) and warns when it has no MAC and no IP column', async () => {
    const text = await cli(['sources', 'check', '--source', 'plant-a']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('encoding: UTF-8 (from its byte order mark)');
    expect(text.stdout).toContain('delimiter: ";" (detected from the header line)');
    expect(text.stdout).toContain('mac <- column "MAC Address"');
    expect(text.stdout).toContain('ip <- column "IP Address"');
    expect(text.stdout).toContain('criticality <- column "Criticality"');
    expect(text.stdout).not.toContain('warning');

    writeFileSync(path.join(dir, 'names-only.csv'), 'Asset Tag\tHostname\tLocation\nA1\tplc-1\tHall 1\n', 'latin1');
    writeFileSync(path.join(dir, 'names-only.yaml'), 'dataDir: ./data\nsources:\n  - { name: names, type: csv, path: ./names-only.csv, encoding: windows-1252 }\n');
    const names = await cli(['--config', 'names-only.yaml', 'sources', 'check', '--json']);
    expect(names.code, names.stderr).toBe(0);
    const [found] = (parseJsonOutput(names) as { sources: { details: string[]; warnings: string[] }[] }).sources;
    expect(found!.details).toEqual([
      "encoding: WINDOWS-1252 (no byte order mark: the source's encoding setting, UTF-8 unless set)",
      'delimiter: tab (detected from the header line)',
      'id <- column "Asset Tag"',
      'name <- column "Hostname"',
      'location <- column "Location"',
    ]);
    expect(found!.warnings).toEqual([expect.stringMatching(/^names-only\.csv has neither a MAC nor an IP column/) as string]);
  });

  it('pull stages every source and prints the counts; a second pull finds nothing changed', async () => {
    const first = await cli(['sources', 'pull', '--json']);
    expect(first.code).toBe(0);
    const summary = parseJsonOutput(first);
    expect(summary).toMatchObject({
      ok: true,
      sources: [
        { ok: true, source: 'plant-a', mode: 'full', read: 11, valid: 5, rejected: 6, new: 5, changed: 0, unchanged: 0, missing: 0 },
        { ok: true, source: 'netbox', mode: 'full', read: 25, valid: 25, new: 25 },
      ],
    });
    const rejects = readFileSync(path.join(dir, 'data', 'rejects', 'plant-a.csv'), 'utf8');
    expect(rejects).toContain('reject,assets.csv:6,MAC Address,');

    const second = await cli(['sources', 'pull', '--full']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^source\s+mode\s+read\s+valid\s+rejected\s+new\s+changed\s+unchanged\s+missing$/m);
    expect(second.stdout).toMatch(/^plant-a\s+full\s+11\s+5\s+6\s+0\s+0\s+5\s+0$/m);
    expect(second.stdout).toMatch(/^netbox\s+full\s+25\s+25\s+0\s+0\s+0\s+25\s+0$/m);
    expect(second.stdout).toContain(`plant-a: 6 rejected, 1 notes: see ${path.join(dir, 'data', 'rejects', 'plant-a.csv')}`);
  });

  it('a source that fails does not stop the others; the exit code says something failed', async () => {
    writeFileSync(path.join(dir, 'assets.csv'), Buffer.from('PK\u0003\u0004xlsx', 'latin1'));
    const result = await cli(['sources', 'pull', '--json', '--full']);
    expect(result.code).toBe(1);
    expect(parseJsonOutput(result)).toMatchObject({
      ok: false,
      sources: [
        { ok: false, source: 'plant-a', error: { code: 'CSV_NOT_CSV', message: 'assets.csv is not a CSV file: it is a ZIP archive (an Excel .xlsx workbook?); save it as "CSV UTF-8" first' } },
        { ok: true, source: 'netbox', unchanged: 25 },
      ],
    });
    // And it is an engine event, for whoever watches those rather than this terminal.
    const events = parseJsonOutput(await cli(['events', '--json', '--type', 'KSYNC_SOURCE_UNREACHABLE'])) as { events: { code: string; payload: { source: string } }[] };
    expect(events.events.map((e) => [e.code, e.payload.source])).toEqual([['KSYNC_SOURCE_UNREACHABLE', 'plant-a']]);
    // The earlier staging of plant-a is untouched: the next good read finds all five records unchanged.
    copyFileSync(path.join(fixtures, 'excel-semicolon.csv'), path.join(dir, 'assets.csv'));
    const again = parseJsonOutput(await cli(['sources', 'pull', '--json', '--source', 'plant-a']));
    expect(again).toMatchObject({ ok: true, sources: [{ source: 'plant-a', new: 0, changed: 0, unchanged: 5, generation: 1 }] });
  });

  it('check reports an unreachable source with exit code 3 and never prints the token', async () => {
    const result = await cli(['sources', 'check', '--json', '--source', 'netbox'], { NETBOX_TOKEN: 'wrong-secret-token' });
    expect(result.code).toBe(3);
    expect(parseJsonOutput(result)).toMatchObject({ ok: false, sources: [{ source: 'netbox', ok: false, error: { code: 'SOURCE_AUTH_FAILED' } }] });
    expect(result.stdout + result.stderr).not.toContain('wrong-secret-token');
  });

  it('names the configured sources when asked for one that does not exist', async () => {
    const result = await cli(['sources', 'pull', '--source', 'plant-b']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('kics-sync: no source named "plant-b" in the configuration; configured: plant-a, netbox');
  });
});
