import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ot, otTables } from '../fixtures/servicenow/ot-model.js';
import { parseJsonOutput, runCli } from '../support/cli.js';
import { startServicenowServer, type ServicenowServer } from '../support/servicenow-server.js';

/** A new user's ServiceNow source on the OT class model, through the built CLI and its embedded database. */
describe('kics-sync sources with a ServiceNow CMDB on the OT class model', () => {
  let dir: string;
  let sn: ServicenowServer;
  const tables = otTables();
  const password = 'e2e-Sn-pass-0123';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-servicenow-'));
    cpSync(inject('pgliteTemplateDir'), path.join(dir, 'data', 'db'), { recursive: true });
    sn = await startServicenowServer({ user: 'kics.sync', password, tables: { ...tables } });
    writeFileSync(
      path.join(dir, 'kics-sync.yaml'),
      ['dataDir: ./data', 'sources:', `  - { name: ot-cmdb, type: servicenow, url: "${sn.url}", user: kics.sync, password: "\${SN_PASSWORD}", ciClass: cmdb_ci_ot, pageSize: 2 }`].join('\n'),
    );
  });

  afterAll(async () => {
    await sn.close();
  });

  const cli = (args: string[]) => runCli(args, { cwd: dir, env: { SN_PASSWORD: password } });

  it('checks the CI, adapter and IP address tables, stages every CI, and an incremental pull after an adapter edit and an IP move equals a full one', async () => {
    const check = await cli(['sources', 'check', '--json']);
    expect(check.code).toBe(0);
    expect(parseJsonOutput(check)).toMatchObject({ ok: true, sources: [{ source: 'ot-cmdb', type: 'servicenow', ok: true }] });

    const first = await cli(['sources', 'pull', '--json']);
    expect(first.code).toBe(0);
    expect(parseJsonOutput(first)).toMatchObject({ ok: true, sources: [{ ok: true, source: 'ot-cmdb', mode: 'full', read: 3, valid: 3, new: 3 }] });

    const later = '2099-01-01 00:00:00';
    Object.assign(tables.cmdb_ci_network_adapter.find((a) => a.sys_id === ot.plcX2)!, { mac_address: '00:1b:1b:3a:00:22', sys_updated_on: later });
    Object.assign(tables.cmdb_ci_ip_address.find((r) => r.sys_id === ot.ipPlcV6)!, { nic: { value: ot.hmiEth0, display_value: 'eth0', table: 'cmdb_ci_network_adapter' }, sys_updated_on: later });

    const incremental = await cli(['sources', 'pull', '--json']);
    expect(incremental.code).toBe(0);
    expect(parseJsonOutput(incremental)).toMatchObject({ ok: true, sources: [{ ok: true, source: 'ot-cmdb', mode: 'incremental', changed: 2, missing: 0 }] });

    const full = await cli(['sources', 'pull', '--full', '--json']);
    expect(full.code).toBe(0);
    expect(parseJsonOutput(full)).toMatchObject({ ok: true, sources: [{ ok: true, source: 'ot-cmdb', mode: 'full', new: 0, changed: 0, unchanged: 3, missing: 0 }] });
  });
});
