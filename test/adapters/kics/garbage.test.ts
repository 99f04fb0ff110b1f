import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KicsApiError, createKicsClient, type KicsClient } from '../../../src/adapters/kics/index.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';
import { captureLog, kicsConfigFor, simulatorServerIdentity, startLoopbackKics, tokenAnswer, type LoopbackHandler, type LoopbackServer } from './support.js';

/**
 * Answers that are not what KICS should send (a proxy's HTML page, JSON cut short, wrong shapes), from
 * a loopback server holding the simulator's own server certificate, so that the package's pin holds and
 * only the answers are wrong.
 */
describe('KICS client and answers that are garbage', () => {
  let t: TestKicsSimulator;
  let server: LoopbackServer;
  let client: KicsClient;
  let answer: LoopbackHandler = () => ({ status: 404, body: '' });

  const device = (id: number, extra: Record<string, unknown> = {}) => ({
    id,
    name: `D-${id}`,
    status: 'Recognized',
    category: 'Plc',
    lastModified: '2026-03-01T10:16:11.123',
    addressInformation: [{ networkInterfaceId: 1, macAddress: '00:1b:1b:00:00:01', macAddressSpaceId: 1, ipAddresses: [{ id: 1, ip: '10.0.0.1', addressSpaceId: 1 }] }],
    ...extra,
  });

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 1 });
    server = await startLoopbackKics(simulatorServerIdentity(t), (req) => (req.path.startsWith('/kics/api/auth/') ? { status: 200, body: tokenAnswer() } : answer(req)));
    client = await createKicsClient(kicsConfigFor({ ...t, url: server.url }, { retry: { retries: 2, minTimeoutMs: 5, maxTimeoutMs: 10 } }), { logger: captureLog().logger });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
    await t.close();
  });

  const failure = async (call: () => Promise<unknown>): Promise<KicsApiError> => {
    const error = await call().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KicsApiError);
    return error as KicsApiError;
  };
  const callsTo = (prefix: string): number => server.requests.filter((r) => r.path.startsWith(prefix)).length;

  it('an HTML page instead of JSON: one clear error naming the endpoint and the page, not retried', async () => {
    answer = () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html><head><title>Proxy login required</title></head><body>...</body></html>' });
    const before = callsTo('/kics/api/v3/about');
    const error = await failure(() => client.about());
    expect(error.code).toBe('KICS_BAD_RESPONSE');
    expect(error.message).toBe('KICS about (GET /kics/api/v3/about): answered 200 with text/html instead of JSON ("Proxy login required"); is kics.url the KICS API and not a web page or a proxy\'s?');
    expect(callsTo('/kics/api/v3/about') - before).toBe(1);
  });

  it('JSON cut short: retried, then a clear error', async () => {
    answer = () => ({ status: 200, body: '{"offset":0,"limit":1000,"values":[{"id":1,"na' });
    const error = await failure(() => client.queryDevices());
    expect(error.code).toBe('KICS_BAD_RESPONSE');
    expect(error.message).toMatch(/^KICS devicesQuery \(POST \/kics\/api\/v4\/devices\/query\): answered 200 with JSON that is cut off or malformed \(.*JSON.*, 46 characters\) \(3 attempts\)$/);
  });

  it('a device without a member the engine uses, or with a wrong type: the endpoint and the field are named', async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ offset: 0, limit: 1000, values: [device(1), { ...device(2), name: undefined }, { ...device(3), addressInformation: [{ ipAddresses: [{ ip: 10 }] }] }] }) });
    const error = await failure(async () => {
      for await (const _page of client.iterateDevices()) void _page;
    });
    expect(error.message).toBe(
      'KICS devicesQuery (POST /kics/api/v4/devices/query): answered 200 with an unexpected shape: values[1].name: missing (expected string); values[2].addressInformation[0].ipAddresses[0].ip: expected string, received number',
    );
    answer = () => ({ status: 200, body: JSON.stringify(device(4, { lastModified: 'yesterday' })) });
    expect((await failure(() => client.getDevice(4))).message).toBe('KICS deviceGet (GET /kics/api/v4/devices/4): answered 200 with an unexpected shape: lastModified: expected an ISO 8601 date-time');
  });

  it('members it does not know are kept; influence given as a number becomes its name', async () => {
    answer = () => ({ status: 200, body: JSON.stringify(device(5, { influence: 2, futureMember: { nested: true }, risks: [{ id: 1 }] })) });
    const got = await client.getDevice(5);
    expect(got.influence).toBe('BusinessCritical');
    expect(got.futureMember).toEqual({ nested: true });
    expect(got.risks).toEqual([{ id: 1 }]);
  });

  it('a page that ignores the Id order is refused instead of looping', async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ offset: 0, limit: 2, values: [device(9), device(3)] }) });
    const error = await failure(async () => {
      for await (const _page of client.iterateDevices({ pageSize: 2 })) void _page;
    });
    expect(error.message).toBe('KICS devicesQuery (POST /kics/api/v4/devices/query): values[1] has id 3 after id 9; a page sorted by Id from the first id was expected');
  });

  it('a PATCH answer without one result per operation is refused', async () => {
    answer = () => ({ status: 200, body: JSON.stringify([{ result: 'Succeeded', op: 'Test', path: '/name', value: 'x' }]) });
    const error = await failure(() =>
      client.patchDevice(7, [
        { op: 'Test', path: '/name', value: 'x' },
        { op: 'Replace', path: '/name', value: 'y' },
      ]),
    );
    expect(error.message).toBe('KICS devicePatch (PATCH /kics/api/v4/devices/7): answered 1 results for 2 operations; one result per operation was expected');
  });

  it("a proxy's error page (502 in plain text) is shown in short, and retried as a server error", async () => {
    answer = () => ({ status: 502, headers: { 'content-type': 'text/plain' }, body: 'Bad gateway: upstream KICS did not answer' });
    const error = await failure(() => client.about());
    expect(error.code).toBe('KICS_SERVER_ERROR');
    expect(error.message).toBe('KICS about (GET /kics/api/v3/about): answered 502 Bad Gateway: "Bad gateway: upstream KICS did not answer" (3 attempts)');
  });

  it('a token answer of the wrong shape names the missing member', async () => {
    const broken = await startLoopbackKics(simulatorServerIdentity(t), () => ({ status: 200, body: JSON.stringify({ token_type: 'bearer', expires_in: 60 }) }));
    try {
      const other = await createKicsClient(kicsConfigFor({ ...t, url: broken.url }), { logger: captureLog().logger });
      const error = await failure(() => other.about());
      expect(error.message).toBe('KICS token (POST /kics/api/auth/v4/token): answered 200 with an unexpected shape: access_token: missing (expected string)');
      await other.close();
    } finally {
      await broken.close();
    }
  });
});
