import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { planReportJsonSchema, planReportSchema, type PlanValue } from '../../src/reconcile/plan-schema.js';
import { renderReportText } from '../../src/reconcile/report/index.js';
import { mdText } from '../../src/reconcile/report/markdown.js';
import { asset, config, device, plan, record } from './support.js';

const mac = (i: number): string => `00:1b:1b:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

/** A plan with every action, conflicts, uploads, deletes, and text that tries to break out of each format. */
function richPlan(): PlanValue {
  const p = plan({
    records: [
      record('cmdb', 'xss', asset('<script>alert(1)</script>', [{ mac: mac(1), ips: ['10.1.0.1'] }], { description: '</script><img src=x onerror=alert(2)>' })),
      record('cmdb', 'formula', asset('=HYPERLINK("http://evil","x")', [{ mac: mac(2), ips: ['10.1.0.2'] }], { owner: '+cmd|/c calc', labels: ['@SUM(A1)'] })),
      record('cmdb', 'upd', asset('renamed **bold** | pipe', [{ mac: mac(3) }], { description: '-2+3' })),
      record('cmdb', 'split', asset('split', [{ mac: mac(4), ips: ['10.1.0.5'] }])),
      record('cmdb', 'retired', asset('old', [{ mac: mac(6) }], { retired: true })),
      record('cmdb', 'cfg', asset('with-config', [{ mac: mac(7) }], { industrialConfig: 'plc.xml' })),
    ],
    devices: [
      device(3, 'upd', [{ mac: mac(3), ips: ['10.1.0.3'], space: 1 }]),
      device(4, 'by-mac', [{ mac: mac(4), ips: ['10.1.0.4'], space: 1 }]),
      device(5, 'by-ip', [{ ips: ['10.1.0.5'], space: 1 }]),
      device(6, 'old', [{ mac: mac(6), ips: ['10.1.0.6'], space: 1 }]),
      device(7, 'with-config', [{ mac: mac(7), ips: ['10.1.0.7'], space: 1 }]),
      device(8, '\tunknown\r\n=1+1', [{ ips: ['10.2.0.8'], space: 2 }]),
    ],
    config: config({ allowDelete: true }),
    configFiles: new Map([['plc.xml', { ok: true, path: 'plc.xml', resolvedPath: '/cfg/plc.xml', contentHash: 'ab'.repeat(32), size: 3 }]]),
  });
  p.header.id = 42;
  return p;
}

/** A validator of the published schema, checking formats such as date-time too. */
function schemaValidator(allErrors: boolean) {
  const ajv = new Ajv2020({ strict: false, allErrors });
  addFormats.default(ajv);
  return ajv.compile(planReportJsonSchema());
}

describe('JSON report', () => {
  it('validates against the published JSON Schema (docs/plan-format.md) and round-trips', async () => {
    const value = richPlan();
    expect(new Set(value.items.map((i) => i.action))).toEqual(new Set(['create', 'update', 'upload_config', 'delete', 'conflict', 'unknown']));
    const text = await renderReportText('json', value.header, value.items);
    const json: unknown = JSON.parse(text);
    const validate = schemaValidator(true);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    expect(planReportSchema.parse(json)).toEqual({ schemaVersion: 1, plan: value.header, items: value.items });
  });

  it('the JSON Schema fails output that breaks the contract', () => {
    const validate = schemaValidator(false);
    const value = richPlan();
    const bad = JSON.parse(JSON.stringify({ schemaVersion: 1, plan: value.header, items: value.items })) as { items: { ops: { op: string; path: string }[] | null }[] };
    bad.items.find((i) => i.ops)!.ops![0]!.path = '/userAttributes/0/value~1';
    expect(validate(bad)).toBe(false);
  });

  it('the schema printed in docs/plan-format.md is the one the code generates', () => {
    const doc = readFileSync(path.join(packageRoot, 'docs', 'plan-format.md'), 'utf8');
    const block = /<!-- schema:begin -->\s*```json\n([\s\S]*?)```\s*<!-- schema:end -->/.exec(doc);
    expect(block, 'docs/plan-format.md has a generated schema block (npx tsx scripts/plan-schema.ts)').not.toBeNull();
    expect(JSON.parse(block![1]!)).toEqual(planReportJsonSchema());
  });
});

describe('CSV report', () => {
  it('one row per item, and no cell a spreadsheet would run as a formula', async () => {
    const value = richPlan();
    const text = await renderReportText('csv', value.header, value.items);
    const rows = parse<Record<string, string>>(text, { columns: true, relax_column_count: false });
    expect(rows.length).toBe(value.items.length);
    for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/);
    const formula = rows.find((r) => r.device_name!.includes('HYPERLINK'))!;
    expect(formula.device_name).toBe(`'=HYPERLINK("http://evil","x")`);
    expect(formula.owner).toBe(`'+cmd|/c calc`);
    expect(rows.find((r) => r.action === 'unknown')!.device_name).toBe("'\tunknown\r\n=1+1");
    const update = rows.find((r) => r.action === 'update')!;
    expect(update.changes).toBe('name: upd -> renamed **bold** | pipe\ndescription: (empty) -> -2+3');
  });
});

describe('Markdown report', () => {
  it('is short enough for a ticket whatever the plan size, and says how to get the rest', async () => {
    const records = Array.from({ length: 2000 }, (_, i) => record('cmdb', `k${i}`, asset(`new-${i}`, [{ mac: mac(i + 100), ips: [`10.1.${(i >> 8) & 0xff}.${i & 0xff}`] }])));
    const value = plan({ records, devices: [] });
    value.header.id = 7;
    const text = await renderReportText('md', value.header, value.items);
    const lines = text.split('\n');
    expect(lines.length).toBeLessThan(40);
    expect(text).toContain('## Creates (2000, first 8 shown)');
    expect(text).toContain('`kics-sync report --plan 7 --format html`');
  });

  it('puts deletes first and loudly, and escapes markup in names', async () => {
    const value = richPlan();
    const text = await renderReportText('md', value.header, value.items);
    expect(text).toMatch(/> \*\*Warning: 1 device\(s\) will be DELETED from KICS\*\*/);
    expect(text.indexOf('## Deletes')).toBeLessThan(text.indexOf('## Conflicts'));
    expect(text).not.toContain('<script>');
    expect(text).toContain('\\<script\\>alert(1)\\</script\\>');
    expect(text).toContain('renamed \\*\\*bold\\*\\* \\| pipe');
    expect(mdText('a'.repeat(300)).length).toBe(120);
  });

  it('says how to settle each conflict, and shows devices in no source as unchanged, the Recognized ones in bold', async () => {
    const value = richPlan();
    const text = await renderReportText('md', value.header, value.items);
    const conflicts = text.split('\n').filter((l) => l.includes('*mac_ip_split*'));
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toContain('To settle it: The asset\'s MAC is on one KICS device and its IP on another');
    const unknown = text.slice(text.indexOf('## Unknown devices'));
    expect(unknown).toContain('(device 8): **no change: in KICS only, and Recognized there although no source knows it**');
    expect(unknown).not.toContain('in KICS, in no source');
  });
});

describe('HTML report (markup)', () => {
  it('is one self-contained file: no external resources, only its own hashed script runs', async () => {
    const value = richPlan();
    const html = await renderReportText('html', value.header, value.items);
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/https?:\/\/(?!evil)/);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/=]+'"/);
    const data = /<script type="application\/json" id="plan-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(data).not.toContain('<');
    const parsed = JSON.parse(data) as { items: { n: string }[] };
    expect(parsed.items.map((i) => i.n)).toContain('<script>alert(1)</script>');
    expect(html.split('<script').length - 1).toBe(2);
    expect(html).toContain('1 device(s) will be DELETED from KICS');
  });
});
