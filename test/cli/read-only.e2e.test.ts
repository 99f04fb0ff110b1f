import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../support/cli.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../support/kics-simulator.js';

/**
 * Commands that only read the database need none of the secrets the configuration names: a secret is
 * resolved when a command opens the system it belongs to, and only then is an unset variable an error.
 */
describe('commands that only read the database', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-read-only-'));
  // An already migrated embedded database, as after `kics-sync db migrate`.
  cpSync(inject('pgliteTemplateDir'), path.join(dir, 'data', 'db'), { recursive: true });
  writeFileSync(path.join(dir, 'assets.csv'), 'name;mac;ip\nBoiler PLC;00:1b:1b:00:00:01;10.1.0.1\n');
  let sim: TestKicsSimulator;
  beforeAll(async () => {
    sim = await startTestKicsSimulator({ devices: 5 });
    writeFileSync(
      path.join(dir, 'kics-sync.yaml'),
      [
        'dataDir: ./data',
        'kics:',
        `  url: ${sim.url}`,
        `  package: { dir: "${sim.packageDir}", password: "\${KICS_PACKAGE_PASSWORD}" }`,
        'sources:',
        '  - { name: plant, type: csv, path: ./assets.csv }',
        '  - { name: cmdb, type: netbox, url: "https://netbox.plant.example", token: "${NETBOX_TOKEN}" }',
      ].join('\n'),
    );
    // With the password: a KICS snapshot and a plan to read afterwards.
    const pulled = await runCli(['kics', 'pull'], { cwd: dir, env: { KICS_PACKAGE_PASSWORD: sim.packagePassword } });
    expect(pulled.code, pulled.stderr).toBe(0);
  });
  afterAll(async () => {
    await sim.close();
  });
  // Neither variable is set in these runs.
  const cli = (args: string[]) => runCli(args, { cwd: dir, env: { KICS_PACKAGE_PASSWORD: undefined, NETBOX_TOKEN: undefined } });

  it.each(['plans', 'runs', 'audit', 'events', 'db status'])('%s works without KICS_PACKAGE_PASSWORD or NETBOX_TOKEN', async (command) => {
    const result = await cli(command.split(' '));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/not set/);
  });

  it('report reads a stored plan without them', async () => {
    const planned = await runCli(['plan', '--source', 'plant'], { cwd: dir, env: { KICS_PACKAGE_PASSWORD: sim.packagePassword } });
    expect(planned.code, planned.stderr).toBe(0);
    const id = /^plan (\d+) /m.exec(planned.stdout)![1]!;
    const report = await cli(['report', '--plan', id, '--format', 'md']);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain(`kics-sync plan ${id}`);
  });

  it('a command that opens KICS or the source says which setting needs which variable, with the usage code', async () => {
    const kics = await cli(['kics', 'check']);
    expect(kics.code).toBe(ExitCode.usage);
    expect(kics.stderr).toContain(`${path.join(dir, 'kics-sync.yaml')}: kics.package.password refers to environment variable KICS_PACKAGE_PASSWORD, which is not set`);
    const netbox = await cli(['sources', 'check', '--source', 'cmdb']);
    expect(netbox.stdout + netbox.stderr).toContain('sources[1].token refers to environment variable NETBOX_TOKEN, which is not set');
    expect(netbox.code).not.toBe(ExitCode.ok);
  });
});
