import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KicsApiError, createKicsClient, type KicsClient } from '../../../src/adapters/kics/index.js';
import type { FaultSettingsInput, RequestLogEntry } from '../../../src/simulator/kics/index.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';
import { captureLog, clientFor, kicsConfigFor, type CapturedLog } from './support.js';

/** Retries, idempotent writes, tokens and limits, against the simulator's injected faults. */
describe('KICS client under faults', () => {
  let t: TestKicsSimulator;
  let client: KicsClient;
  let log: CapturedLog;
  let seq = 0;

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 120, seed: 'faults' });
    log = captureLog();
    client = await clientFor(t, {}, log.logger);
  });
  afterEach(() => {
    t.sim.faults.clear();
    t.sim.setLatency(0);
  });
  afterAll(async () => {
    await client.close();
    await t.close();
  });

  /** The calls since the last `mark()`. */
  const mark = (): void => {
    seq = t.sim.requests.lastSeq;
  };
  const calls = (route?: string): RequestLogEntry[] => t.sim.requests.list(seq).filter((e) => route === undefined || e.route === route);
  const faults = (settings: FaultSettingsInput): void => {
    t.sim.faults.replace(settings);
  };
  const newDevice = (name: string, n: number) => ({ name, addressInformation: [{ macAddress: `00:1b:1b:7f:00:${n.toString(16).padStart(2, '0')}`, ipAddresses: [{ ip: `10.201.0.${n}` }] }] });

  it('reads through 500, 503, 429 (honouring Retry-After), connection resets and cut-off answers', async () => {
    mark();
    faults({
      routes: {
        devicesQuery: [
          { kind: 'error500', times: 1 },
          { kind: 'error503', times: 1 },
          { kind: 'rateLimit', retryAfterSeconds: 1, times: 1 },
          { kind: 'reset', times: 1 },
          { kind: 'truncate', times: 1 },
        ],
      },
    });
    const ids: number[] = [];
    for await (const page of client.iterateDevices({ pageSize: 50 })) ids.push(...page.values.map((d) => d.id));
    expect(ids).toEqual([...t.sim.store.all()].map((d) => d.id));
    expect(calls('devicesQuery').map((c) => c.fault)).toEqual(['error500', 'error503', 'rateLimit', 'reset', 'truncate', null, null, null]);
    const retries = log.lines.filter((l) => l.msg === 'KICS call failed; retrying' && l.route === 'devicesQuery');
    expect(retries).toHaveLength(5);
    expect(retries.find((l) => typeof l.retryAfterMs === 'number')).toMatchObject({ retryAfterMs: 1000 });
  });

  it('gives up after kics.retry.retries with the last failure and the number of attempts', async () => {
    faults({ routes: { about: [{ kind: 'error500' }] } });
    const error = (await client.about().catch((e: unknown) => e)) as KicsApiError;
    expect(error).toBeInstanceOf(KicsApiError);
    expect(error.code).toBe('KICS_SERVER_ERROR');
    expect(error.status).toBe(500);
    expect(error.message).toBe('KICS about (GET /kics/api/v3/about): answered 500 Internal Server Error: Internal server error (injected by the simulator). (7 attempts)');
  });

  it('does not wait for a Retry-After beyond two minutes: fails at once, saying so', async () => {
    mark();
    faults({ routes: { about: [{ kind: 'rateLimit', retryAfterSeconds: 600 }] } });
    const error = (await client.about().catch((e: unknown) => e)) as KicsApiError;
    expect(error.code).toBe('KICS_RATE_LIMITED');
    expect(error.message).toMatch(/answered 429 Too Many Requests: .*; KICS asks to wait 600 s, longer than the 120 s a call waits$/);
    expect(calls('about')).toHaveLength(1);
  });

  it('a create whose answer is lost after KICS made the device is not sent again: the device is found', async () => {
    for (const [n, kind] of [
      [1, 'reset'],
      [2, 'truncate'],
    ] as const) {
      mark();
      faults({ routes: { deviceCreate: [{ kind, times: 1 }] } });
      const outcome = await client.createDevice(newDevice(`Lost answer ${kind}`, n));
      const made = [...t.sim.store.all()].filter((d) => d.name === `Lost answer ${kind}`);
      expect(made).toHaveLength(1);
      expect(outcome).toEqual({ status: 'Found', deviceId: made[0]!.id, recovered: true });
      expect(calls('deviceCreate')).toHaveLength(1);
      expect(calls('devicesQuery').length).toBeGreaterThan(0);
    }
  });

  it('a create that KICS refused before acting (500, 503, 429) is sent again and made once', async () => {
    mark();
    faults({ routes: { deviceCreate: [{ kind: 'error500', times: 1 }, { kind: 'error503', times: 1 }, { kind: 'rateLimit', retryAfterSeconds: 0, times: 1 }] } });
    const outcome = await client.createDevice(newDevice('Refused twice', 3));
    expect(outcome).toMatchObject({ status: 'Created', recovered: false });
    expect([...t.sim.store.all()].filter((d) => d.name === 'Refused twice')).toHaveLength(1);
    expect(calls('deviceCreate').map((c) => c.status)).toEqual([500, 503, 429, 200]);
  });

  it('a PATCH led by Test guards is repeated after a lost answer, and says so when its guards then fail', async () => {
    const device = await client.createDevice(newDevice('Guarded patch', 4));
    mark();
    faults({ routes: { devicePatch: [{ kind: 'reset', times: 1 }] } });
    const outcome = await client.patchDevice(device.deviceId, [
      { op: 'Test', path: '/description', value: null },
      { op: 'Replace', path: '/description', value: 'patched once' },
    ]);
    // The first send was applied; the repeat finds the guard failing: the caller compares with its target.
    expect(outcome.resent).toBe(true);
    expect(outcome.ok).toBe(false);
    expect(outcome.firstFailure?.index).toBe(0);
    expect(t.sim.store.get(device.deviceId)!.description).toBe('patched once');
    expect(calls('devicePatch')).toHaveLength(2);
  });

  it('a PATCH without guards is sent once: a lost answer is an error with outcomeUnknown, not a second label', async () => {
    const device = await client.createDevice(newDevice('Unguarded patch', 5));
    mark();
    faults({ routes: { devicePatch: [{ kind: 'reset', times: 1 }] } });
    const error = (await client.patchDevice(device.deviceId, [{ op: 'Add', path: '/labels/-', value: 'once' }]).catch((e: unknown) => e)) as KicsApiError;
    expect(error).toBeInstanceOf(KicsApiError);
    expect(error.outcomeUnknown).toBe(true);
    expect(error.message).toMatch(/^KICS devicePatch \(PATCH \/kics\/api\/v4\/devices\/\d+\): the answer \(200\) was cut off/);
    expect(t.sim.store.get(device.deviceId)!.labels).toEqual(['once']);
    expect(calls('devicePatch')).toHaveLength(1);
  });

  it('a delete whose outcome is unknown is checked before it is sent again', async () => {
    const device = await client.createDevice(newDevice('Delete me', 6));
    mark();
    faults({ routes: { deviceDelete: [{ kind: 'error500', times: 1 }] } });
    expect(await client.deleteDevice(device.deviceId)).toEqual({ recovered: false });
    expect(t.sim.store.get(device.deviceId)).toBeUndefined();
    expect(calls().map((c) => `${c.route} ${c.status}`)).toEqual(['deviceDelete 500', 'deviceGet 200', 'deviceDelete 204']);
  });

  it('renews the token ahead of its expiry (kics.tokenRefreshMargin) with the refresh token', async () => {
    let now = Date.now();
    // The client's clock, so that hours pass in an instant; the simulator's tokens live 10 hours.
    const clocked = await createKicsClient(kicsConfigFor(t, { tokenRefreshMargin: 0.25 }), { logger: captureLog().logger, now: () => now });
    mark();
    await clocked.about();
    now += 7 * 3600_000;
    await clocked.about();
    now += 1 * 3600_000; // 8 h of 10: less than 25% left
    await clocked.about();
    expect(calls().map((c) => `${c.route} ${c.status}`)).toEqual(['token 200', 'about 200', 'about 200', 'token 200', 'about 200']);
    expect(calls('token')[1]!.path).toBe('/kics/api/auth/v4/token?grant_type=refresh_token&refresh_token=[redacted]');
    await clocked.close();
  });

  it('renews once when KICS refuses the token (401), and concurrent calls share that renewal', async () => {
    const ids = [...t.sim.store.all()].slice(0, 20).map((d) => d.id);
    await client.getDevice(ids[0]!);
    await t.admin('POST', '/admin/tokens/revoke');
    mark();
    const devices = await Promise.all(ids.map((id) => client.getDevice(id)));
    expect(devices.map((d) => d.id)).toEqual(ids);
    // The refresh token was revoked too: one refused refresh, then one certificate grant, for all 20 calls.
    expect(calls('token').map((c) => `${c.status} ${c.path.split('?')[1]!.split('&')[0]}`)).toEqual(['401 grant_type=refresh_token', '200 grant_type=certificate']);
    expect(calls('deviceGet').filter((c) => c.status === 200)).toHaveLength(20);
  });

  it('keeps at most kics.maxInFlight calls in flight', async () => {
    const ids = [...t.sim.store.all()].slice(0, 12).map((d) => d.id);
    // Counted by the simulator as it handles calls: timestamps in its log have millisecond steps, too coarse to tell two calls apart.
    const maxConcurrent = (): number => t.sim.requests.maxInFlight;
    const narrow = await clientFor(t, { maxInFlight: 2 }, captureLog().logger);
    const wide = await clientFor(t, { maxInFlight: 12 }, captureLog().logger);
    await narrow.authenticate();
    await wide.authenticate();
    t.sim.setLatency(150);
    t.sim.requests.resetMaxInFlight();
    await Promise.all(ids.map((id) => narrow.getDevice(id)));
    expect(maxConcurrent()).toBeLessThanOrEqual(2);
    t.sim.requests.resetMaxInFlight();
    await Promise.all(ids.map((id) => wide.getDevice(id)));
    expect(maxConcurrent()).toBeGreaterThan(2);
    await narrow.close();
    await wide.close();
  });

  it('never logs a token', async () => {
    const token = await t.token();
    expect(log.text()).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    expect(log.text()).not.toContain(token.slice(0, 20));
    expect(log.text()).not.toMatch(/refresh_token=(?!\[redacted\])/);
  });
});
