import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBody, startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

/** `--strict`: the simulator answers only what the connector API document defines and refuses the rest with 400. */

const v4 = '/kics/api/v4';
const message = (json: unknown): string => JSON.stringify(json);

describe.each([
  ['strict', true],
  ['default', false],
] as const)('KICS simulator, %s', (_mode, strict) => {
  let t: TestKicsSimulator;
  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 10, strict });
  });
  afterAll(async () => {
    await t.close();
  });

  it('a device filter beyond the document\'s example (Id, Category): refused in strict mode, honoured by default', async () => {
    const answer = await t.call('POST', `${v4}/devices/query`, { body: { query: { filter: [{ field: 'MacAddress', condition: '=', value: '00:1b:1b:00:00:01' }], limit: 10 } } });
    if (strict) {
      expect(answer.status).toBe(400);
      expect(message(answer.json)).toContain('MacAddress');
    } else expect(answer.status).toBe(200);
    const documented = await t.call('POST', `${v4}/devices/query`, { body: { query: { filter: [{ field: 'Id', condition: '>', value: 0 }], limit: 10 } } });
    expect(documented.status).toBe(200);
  });

  it('a duplicate create answers only the document\'s shape in strict mode: status Created and the device id', async () => {
    const first = await t.call('POST', `${v4}/devices`, { body: createBody('Strict PLC', '00:1b:1b:5a:00:01', '10.200.9.1') });
    expect(first.json).toEqual({ status: 'Created', deviceId: expect.any(Number) as number });
    const again = await t.call('POST', `${v4}/devices`, { body: createBody('Strict PLC', '00:1b:1b:5a:00:01', '10.200.9.1') });
    expect(again.status).toBe(200);
    const id = (first.json as { deviceId: number }).deviceId;
    if (strict) expect(again.json).toEqual({ status: 'Created', deviceId: id });
    else expect(again.json).toMatchObject({ status: 'Skipped', deviceId: id, duplicate: expect.any(Object) as object });
  });

  it('DELETE and a numeric influence (not in the document): 400 in strict mode', async () => {
    const created = (await t.call('POST', `${v4}/devices`, { body: createBody('Strict HMI', '00:1b:1b:5a:00:02', '10.200.9.2') })).json as { deviceId: number };
    const numeric = await t.call('POST', `${v4}/devices`, { body: createBody('Strict RTU', '00:1b:1b:5a:00:03', '10.200.9.3', { influence: 2 }) });
    const patched = await t.call('PATCH', `${v4}/devices/${created.deviceId}`, { body: [{ op: 'Replace', path: '/influence', value: 1 }] });
    const deleted = await t.call('DELETE', `${v4}/devices/${created.deviceId}`);
    if (strict) {
      expect([numeric.status, patched.status, deleted.status]).toEqual([400, 400, 400]);
      expect(message(deleted.json)).toContain('not defined by the connector API document');
      expect((await t.call('GET', `${v4}/devices/${created.deviceId}`)).status).toBe(200);
    } else {
      expect(numeric.status).toBe(200);
      expect(patched.status).toBe(200);
      expect(deleted.status).toBe(204);
    }
  });
});
