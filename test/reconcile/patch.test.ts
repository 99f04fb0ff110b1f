import fc from 'fast-check';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import type { KicsDevice, KicsPatchOperation } from '../../src/model/kics.js';
import { kicsPathPattern, patchOperations } from '../../src/reconcile/patch.js';
import { asset, config, device, plan, record } from './support.js';

/** Applies KICS ops with RFC 6902 semantics (what KICS and its simulator do); throws when a Test fails. */
function applyKicsOps(document: Record<string, unknown>, ops: readonly KicsPatchOperation[]): Record<string, unknown> {
  const rfc = ops.map((o) => ({ op: o.op.toLowerCase(), path: o.path, ...(o.op === 'Remove' ? {} : { value: o.value }) })) as Operation[];
  return jsonpatch.applyPatch(jsonpatch.deepClone(document) as Record<string, unknown>, rfc, true, false).newDocument;
}

const text = fc.option(fc.string({ maxLength: 6 }), { nil: null });
const labels = fc.option(fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'line-1', 'safety', 'x/y', '~0'), { maxLength: 5 }), { nil: null });
const attributes = fc.option(fc.uniqueArray(fc.record({ name: fc.constantFrom('Owner', 'Zone', 'Rack', 'Site'), value: fc.string({ maxLength: 4 }) }, { noNullPrototype: true }), { selector: (a) => a.name, maxLength: 4 }), { nil: null });
const fields = fc.record({
  name: fc.string({ minLength: 1, maxLength: 6 }),
  description: text,
  os: text,
  category: fc.constantFrom('Plc', 'Server', 'HmiPanel'),
  isRouter: fc.boolean(),
  labels,
  userAttributes: attributes,
  status: fc.constantFrom('Unauthorized', 'Recognized', 'Archived'),
}, { noNullPrototype: true });

describe('KICS PATCH operations', () => {
  it('applied to the device before, give exactly the device after; Test guards come first and pass', () => {
    fc.assert(
      fc.property(fields, fields, fc.boolean(), (before, after, appendLabels) => {
        const ops = patchOperations(before, after, { appendLabels });
        const firstChange = ops.findIndex((o) => o.op !== 'Test');
        expect(ops.slice(firstChange === -1 ? ops.length : firstChange).every((o) => o.op !== 'Test')).toBe(true);
        for (const op of ops) expect(op.path).toMatch(kicsPathPattern);
        expect(applyKicsOps(before, ops)).toEqual(after);
      }),
      { numRuns: 2000 },
    );
  });

  it('a device edited in KICS after planning fails a Test (drift) instead of being overwritten', () => {
    fc.assert(
      fc.property(fields, fields, (before, after) => {
        const ops = patchOperations(before, after, { appendLabels: true });
        fc.pre(ops.length > 0);
        const changed = ops.find((o) => o.op === 'Test')!.path.slice(1) as keyof typeof before;
        const edited = { ...before, [changed]: changed === 'isRouter' ? !before.isRouter : ['edited in KICS'] };
        expect(() => applyKicsOps(edited, ops)).toThrow(/Test operation failed/);
      }),
      { numRuns: 500 },
    );
  });

  it('nothing changed: no ops at all', () => {
    fc.assert(
      fc.property(fields, (f) => {
        expect(patchOperations(f, structuredClone(f))).toEqual([]);
      }),
    );
  });

  it('a field KICS omits is set with Add (valid whether the member exists or not) under a Test of null', () => {
    const ops = patchOperations({ description: null }, { description: 'x' });
    expect(ops).toEqual([
      { op: 'Test', path: '/description', value: null },
      { op: 'Add', path: '/description', value: 'x' },
    ]);
    expect(applyKicsOps({ name: 'n' }, ops.slice(1))).toEqual({ name: 'n', description: 'x' });
  });

  it('updates planned by the reconciler turn each device into its target', () => {
    const mac = (i: number) => `00:1b:1b:00:01:${i.toString(16).padStart(2, '0')}`;
    const devices: KicsDevice[] = Array.from({ length: 40 }, (_, i) =>
      device(i + 1, `dev-${i}`, [{ mac: mac(i), ips: [`10.1.1.${i}`], space: 1 }], {
        labels: i % 3 === 0 ? null : ['kics'],
        userAttributes: i % 2 === 0 ? [{ name: 'Zone', value: String(i) }] : [{ name: 'Owner', value: 'x' }],
        description: i % 4 === 0 ? 'old' : null,
      }),
    );
    const records = devices.map((d, i) =>
      record('cmdb', `k${i}`, asset(i % 5 === 0 ? d.name : `renamed-${i}`, [{ mac: mac(i), ips: [`10.1.1.${i}`, `10.1.2.${i}`] }], { labels: ['cmdb'], userAttributes: { Owner: `o${i % 2}` }, description: i % 2 === 0 ? null : 'cmdb text' })),
    );
    const p = plan({ records, devices, config: config({ managedAttributes: ['Owner'] }) });
    expect(p.items.length).toBe(40);
    for (const item of p.items) {
      const d = devices.find((x) => x.id === item.kicsDeviceId)!;
      const result = applyKicsOps(d, item.ops!);
      expect(result).toEqual({ ...d, ...item.after });
    }
  });
});
