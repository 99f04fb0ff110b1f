import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeReportFile } from '../../../src/sync/plans/report-file.js';
import { asset, plan, record } from '../../reconcile/support.js';

describe('writeReportFile', () => {
  it('writes into a folder it is given under the default name, instead of failing to rename over it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-report-'));
    const value = plan({ records: [record('cmdb', 'k1', asset('PLC-1', [{ mac: '00:1b:1b:00:00:01', ips: ['10.1.0.1'] }]))], devices: [] });
    value.header.id = 12;
    const file = await writeReportFile(dir, 'csv', value.header, value.items);
    expect(file).toBe(path.join(dir, 'plan-12.csv'));
    expect(readFileSync(file, 'utf8')).toContain('PLC-1');
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });
});
