import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { runPlanRun } from '../../src/sync/runs/plan-run.js';
import { describeEachEngine } from '../support/db.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../support/kics-simulator.js';
import { captureLog } from '../e2e/plant.js';

/**
 * The connector API document gives address space ids as integers >= 0 (GET /addressSpaces/{id}): a
 * plant whose address space has id 0 is staged, matched and planned like any other.
 */
describeEachEngine('address space 0', (t) => {
  let sim: TestKicsSimulator;
  beforeEach(async () => {
    sim = await startTestKicsSimulator({ devices: 0, addressSpaces: [{ id: 0, name: 'Plant zero', description: null, readOnly: false, rules: [{ id: 1, description: null, vlanType: 'AnyVlanOrNoVlanTagged', subnetType: 'L2AndL3', trafficSource: 'MonitoringPoints', subnets: [{ from: '10.0.0.0/8', to: null }], vlans: [], monitoringPoints: [], eppProxyNodes: null, activePollingConnectors: null }] }] });
  });
  afterEach(async () => {
    await sim.close();
  });

  it('a device in address space 0 is matched to its asset and updated, not created again or put in conflict', async () => {
    const added = await sim.admin('POST', '/admin/devices', { name: 'PLC-ZERO', status: 'Unauthorized', category: 'Plc', description: 'as KICS found it', addressInformation: [{ macAddress: '00:1b:1b:00:00:0a', ipAddresses: [{ ip: '10.0.0.10' }] }] });
    expect(added.status, added.text).toBe(201);
    const id = (added.json as { id: number }).id;
    expect(sim.sim.store.get(id)!.addressInformation[0]!.ipAddresses[0]!.addressSpaceId).toBe(0);
    writeFileSync(path.join(t().dataDir, 'cmdb.csv'), 'name;mac;ip;address space;description\nPLC-ZERO;00:1b:1b:00:00:0a;10.0.0.10;0;Boiler PLC in plant zero\n');
    const config = parseConfig(
      { kics: { url: sim.url, package: { dir: sim.packageDir, password: sim.packagePassword }, retry: { retries: 0 } }, sources: [{ name: 'cmdb', type: 'csv', path: './cmdb.csv' }] },
      { baseDir: t().dataDir, env: {} },
    );
    const { plan } = await runPlanRun(
      { db: t().db, config, dataDir: t().dataDir, logger: captureLog().logger, signal: new AbortController().signal, trigger: 'cli', actor: 'tester' },
      { refresh: 'full' },
    );
    const conflicts = plan.value.items.filter((i) => i.action === 'conflict');
    expect(conflicts.map((c) => c.reason)).toEqual([]);
    expect(plan.plan.summary.counts).toMatchObject({ update: 1, create: 0, conflict: 0 });
    expect(plan.plan.summary.byAddressSpace.find((s) => s.id === 0)).toMatchObject({ name: 'Plant zero' });
    const [item] = plan.value.items.filter((i) => i.action === 'update');
    expect(item).toMatchObject({ kicsDeviceId: id, after: { description: 'Boiler PLC in plant zero' } });
  });
});
