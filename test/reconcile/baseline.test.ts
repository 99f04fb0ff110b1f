import { describe, expect, it } from 'vitest';
import { reconcileConfigSchema } from '../../src/config/reconcile.js';
import { renderReportText } from '../../src/reconcile/report/index.js';
import { asset, config, device, itemsOf, now, plan, record } from './support.js';

/** The authorized baseline: devices the asset register confirms become Recognized; returning assets are restored. */

const mac = '00:1b:1b:00:00:01';
const plc = (fields = {}) => asset('plc-1', [{ mac, ips: ['10.1.0.5'] }], { category: 'Plc', influence: 'Normal', ...fields });
const kicsPlc = (status: 'Unauthorized' | 'Recognized' | 'Archived', fields = {}) =>
  device(7, 'plc-1', [{ mac, ips: ['10.1.0.5'], space: 1 }], { status, userAttributes: [{ name: 'Criticality', value: 'Normal' }], ...fields });

describe('status: the authorized baseline', () => {
  it('a device the CMDB confirms goes from Unauthorized to Recognized, as an item of its own guarded by a Test', () => {
    const p = plan({ records: [record('cmdb', 'a', plc())], devices: [kicsPlc('Unauthorized')] });
    expect(p.header.summary.counts).toMatchObject({ recognize: 1, update: 0, unchanged: 0 });
    const [item] = itemsOf(p, 'recognize');
    expect(item).toMatchObject({ kicsDeviceId: 7, status: 'pending', before: { status: 'Unauthorized' }, after: { status: 'Recognized' } });
    expect(item!.ops).toEqual([
      { op: 'Test', path: '/status', value: 'Unauthorized' },
      { op: 'Replace', path: '/status', value: 'Recognized' },
    ]);
    expect(item!.reason).toBe('cmdb "a" confirms the asset: authorized');
  });

  it('a field change and the status change are two items of one device', () => {
    const p = plan({ records: [record('cmdb', 'a', plc({ description: 'boiler 2' }))], devices: [kicsPlc('Unauthorized')] });
    expect(itemsOf(p, 'update').map((i) => i.after)).toEqual([{ description: 'boiler 2' }]);
    expect(itemsOf(p, 'recognize').map((i) => i.kicsDeviceId)).toEqual([7]);
  });

  it('an archived device whose asset is listed again is restored to Recognized', () => {
    const p = plan({ records: [record('cmdb', 'a', plc())], devices: [kicsPlc('Archived')] });
    const [item] = itemsOf(p, 'recognize');
    expect(item).toMatchObject({ before: { status: 'Archived' }, after: { status: 'Recognized' } });
    expect(item!.reason).toContain('restored from Archived');
  });

  it('leaves Recognized devices, retired assets, stale records and sources without precedence for status alone', () => {
    expect(plan({ records: [record('cmdb', 'a', plc())], devices: [kicsPlc('Recognized')] }).header.summary.counts).toMatchObject({ recognize: 0, unchanged: 1 });
    const retired = plan({ records: [record('cmdb', 'a', plc({ retired: true }))], devices: [kicsPlc('Archived')] });
    expect(itemsOf(retired, 'recognize')).toEqual([]);
    const stale = plan({
      records: [record('cmdb', 'a', plc(), new Date(now.getTime() - 30 * 86_400_000))],
      devices: [kicsPlc('Unauthorized')],
      sources: [{ name: 'cmdb', staleAfterDays: 7 }],
    });
    expect(stale.header.summary.counts).toMatchObject({ recognize: 0, stale: 1 });
    const notOwner = plan({ records: [record('csv', 'a', plc())], devices: [kicsPlc('Unauthorized')], config: config({ precedence: { status: ['cmdb'] } }) });
    expect(itemsOf(notOwner, 'recognize')).toEqual([]);
  });

  it('follows reconcile.status', () => {
    const status = (s: object) => reconcileConfigSchema.parse({ status: s });
    const off = plan({ records: [record('cmdb', 'a', plc())], devices: [kicsPlc('Unauthorized')], config: status({ recognizeConfirmed: false }) });
    expect(itemsOf(off, 'recognize')).toEqual([]);
    const keepArchived = plan({ records: [record('cmdb', 'a', plc())], devices: [kicsPlc('Archived')], config: status({ restoreArchived: false }) });
    expect(itemsOf(keepArchived, 'recognize')).toEqual([]);
    expect(off.header.options.status).toEqual({ recognizeConfirmed: false, restoreArchived: true, createAs: 'Recognized' });
  });

  it('creates devices Recognized, or as reconcile.status.createAs says', () => {
    const created = plan({ records: [record('cmdb', 'n', plc())], devices: [] });
    expect(itemsOf(created, 'create')[0]!.request).toMatchObject({ status: 'Recognized' });
    const unauthorized = plan({ records: [record('cmdb', 'n', plc())], devices: [], config: reconcileConfigSchema.parse({ status: { createAs: 'Unauthorized' } }) });
    expect(itemsOf(unauthorized, 'create')[0]!.request).toMatchObject({ status: 'Unauthorized' });
  });

  it('the Markdown report lists the devices that become authorized in a section of their own', async () => {
    const p = plan({ records: [record('cmdb', 'a', plc())], devices: [kicsPlc('Unauthorized')] });
    const md = await renderReportText('md', p.header, p.items);
    expect(md).toMatch(/## Recognized \(the authorized baseline\)[\s\S]*plc-1/);
  });
});

describe('user attributes a KICS operator can use', () => {
  it('by default the owner, location and criticality reach KICS; other attributes stay as they are', () => {
    const p = plan({
      records: [record('cmdb', 'a', plc({ owner: 'water team', location: 'hall 3', influence: 'BusinessCritical' }))],
      devices: [kicsPlc('Recognized', { userAttributes: [{ name: 'Rack', value: 'R4' }, { name: 'Criticality', value: 'Normal' }] })],
    });
    const [update] = itemsOf(p, 'update');
    expect(update!.after!.userAttributes).toEqual([
      { name: 'Rack', value: 'R4' },
      { name: 'Criticality', value: 'BusinessCritical' },
      { name: 'Owner', value: 'water team' },
      { name: 'Location', value: 'hall 3' },
    ]);
  });

  it('an empty list manages none', () => {
    const p = plan({ records: [record('cmdb', 'a', plc({ owner: 'water team' }))], devices: [kicsPlc('Recognized', { userAttributes: [] })], config: config({ managedAttributes: [] }) });
    expect(p.header.summary.counts).toMatchObject({ update: 0, unchanged: 1 });
  });
});
