import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

describe('KICS simulator: fault injection and the admin endpoint', () => {
  let t: TestKicsSimulator;
  const about = '/kics/api/v4/about';

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 20 });
  });
  afterEach(async () => {
    await t.admin('DELETE', '/admin/faults');
    await t.admin('PUT', '/admin/latency', { latencyMs: 0 });
  });
  afterAll(async () => {
    await t.close();
  });

  const setFaults = async (settings: unknown) => {
    const answer = await t.admin('PUT', '/admin/faults', settings);
    expect(answer.status, answer.text).toBe(200);
  };

  it('answers 500 and 503 (with Retry-After) in the KICS error shape for the next N calls of a route', async () => {
    await setFaults({ routes: { about: [{ kind: 'error500', times: 2 }], deviceGet: [{ kind: 'error503', retryAfterSeconds: 7, times: 1 }] } });
    const first = await t.call('GET', about);
    expect(first.status).toBe(500);
    expect(first.json).toEqual({ status: 'Error', errors: [{ field: null, path: null, errorMessage: expect.stringContaining('Internal server error') as string }] });
    expect((await t.call('GET', about)).status).toBe(500);
    expect((await t.call('GET', about)).status).toBe(200);
    const id = [...t.sim.store.all()][0]!.id;
    const unavailable = await t.call('GET', `/kics/api/v4/devices/${id}`);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('7');
    expect((await t.call('GET', `/kics/api/v4/devices/${id}`)).status).toBe(200);
    expect((await t.admin('GET', '/admin/faults')).json).toEqual({ latencyMs: 0, global: [], routes: { about: [], deviceGet: [] } });
  });

  it('answers 429 with Retry-After, and a global rule hits token calls too', async () => {
    await setFaults({ global: [{ kind: 'rateLimit', retryAfterSeconds: 3, times: 1 }] });
    const limited = await request(`${t.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: t.agent });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('3');
    await limited.body.dump();
    expect((await t.call('GET', about)).status).toBe(200);
  });

  it('resets the connection mid-answer after doing the work (a create still happens)', async () => {
    await t.admin('POST', '/admin/faults/rules', { route: 'deviceCreate', rule: { kind: 'reset', times: 1 } });
    const before = t.sim.store.size;
    const attempt = t.call('POST', '/kics/api/v4/devices', { body: { whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: false, name: 'Reset victim', addressInformation: [{ ipAddresses: [{ ip: '10.240.0.1' }] }] } });
    await expect(attempt).rejects.toThrow();
    expect(t.sim.store.size).toBe(before + 1);
    // Repeating the create with Skip finds the device the lost answer created.
    const again = await t.call('POST', '/kics/api/v4/devices', { body: { whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: false, name: 'Reset victim', addressInformation: [{ ipAddresses: [{ ip: '10.240.0.1' }] }] } });
    expect(again.json).toMatchObject({ status: 'Skipped', duplicate: { matchedBy: 'Name' } });
  });

  it('truncates an answer: a complete HTTP message whose JSON is cut', async () => {
    await setFaults({ routes: { devicesQuery: [{ kind: 'truncate', times: 1 }] } });
    const cut = await t.call('POST', '/kics/api/v4/devices/query', { body: { limit: 10 } });
    expect(cut.status).toBe(200);
    expect(Number(cut.headers['content-length'])).toBe(Buffer.byteLength(cut.text));
    expect(() => JSON.parse(cut.text) as unknown).toThrow();
    const whole = await t.call('POST', '/kics/api/v4/devices/query', { body: { limit: 10 } });
    expect(Buffer.byteLength(whole.text)).toBeGreaterThan(Buffer.byteLength(cut.text));
    expect(whole.text.startsWith(cut.text)).toBe(true);
  });

  it('adds latency per rule and globally: a client with a shorter timeout gives up', async () => {
    const impatient = new Agent({ connect: { cert: t.identity.cert, key: t.identity.key, ca: t.identity.ca }, headersTimeout: 1_500 });
    try {
      const token = await t.token();
      const call = () => request(`${t.url}${about}`, { dispatcher: impatient, headers: { authorization: `Bearer ${token}` } }).then((r) => r.body.text());
      await setFaults({ routes: { about: [{ kind: 'latency', latencyMs: 5_000, times: 1 }] } });
      await expect(call()).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
      await expect(call()).resolves.toContain('version');
      await t.admin('PUT', '/admin/latency', { latencyMs: 5_000 });
      expect((await t.admin('GET', '/admin/latency')).json).toEqual({ latencyMs: 5_000 });
      await expect(call()).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    } finally {
      await impatient.close();
    }
  });

  it('never fires a rule with probability 0, and a rule with "times" only for that many calls', async () => {
    await setFaults({ global: [{ kind: 'error500', probability: 0 }], routes: { about: [{ kind: 'error503', times: 3 }] } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.call('GET', about)).status);
    expect(statuses).toEqual([503, 503, 503, 200, 200, 200]);
  });

  it('refuses invalid fault settings with the reason, keeping the current ones', async () => {
    await setFaults({ routes: { about: [{ kind: 'error500' }] } });
    for (const bad of [{ global: [{ kind: 'explode' }] }, { routes: { nowhere: [{ kind: 'error500' }] } }, { global: [{ kind: 'error500', probability: 2 }] }, { surprise: true }]) {
      const answer = await t.admin('PUT', '/admin/faults', bad);
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ status: 'Error', errors: [{ errorMessage: expect.any(String) as string }] });
    }
    expect((await t.admin('GET', '/admin/faults')).json).toMatchObject({ routes: { about: [{ kind: 'error500', probability: 1 }] } });
  });

  it('logs every call with method, path, status, time and fault, and never a token', async () => {
    await t.admin('DELETE', '/admin/requests');
    const grant = (await (await request(`${t.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: t.agent })).body.json()) as { access_token: string; refresh_token: string };
    await (await request(`${t.url}/kics/api/auth/v4/token?grant_type=refresh_token&refresh_token=${grant.refresh_token}`, { method: 'POST', dispatcher: t.agent })).body.dump();
    await setFaults({ routes: { about: [{ kind: 'error503', times: 1 }] } });
    await t.call('GET', about, { token: grant.access_token });
    const log = await t.admin('GET', '/admin/requests');
    const entries = (log.json as { entries: { method: string; path: string; route: string; status: number; time: string; durationMs: number; fault: string | null }[] }).entries;
    expect(entries.map((e) => [e.method, e.route, e.status, e.fault])).toEqual([
      ['POST', 'token', 200, null],
      ['POST', 'token', 200, null],
      ['GET', 'about', 503, 'error503'],
    ]);
    expect(entries[1]!.path).toBe('/kics/api/auth/v4/token?grant_type=refresh_token&refresh_token=[redacted]');
    expect(entries[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(log.text).not.toContain(grant.refresh_token);
    expect(log.text).not.toContain(grant.access_token);
    const since = (await t.admin('GET', `/admin/requests?since=${(entries[1] as unknown as { seq: number }).seq}`)).json as { entries: unknown[] };
    expect(since.entries).toHaveLength(1);
  });

  it('shows and changes the store as a KICS operator would (lastModified moves)', async () => {
    const device = [...t.sim.store.all()][3]!;
    const shown = await t.admin('GET', `/admin/devices/${device.id}`);
    expect(shown.json).toEqual(device);
    const changed = await t.admin('PATCH', `/admin/devices/${device.id}`, { description: 'Changed in the KICS UI', securityState: 'Critical' });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ changed: true, device: { description: 'Changed in the KICS UI', securityState: 'Critical' } });
    const viaApi = (await t.call('GET', `/kics/api/v4/devices/${device.id}`)).json as { lastModified: string; description: string };
    expect(viaApi.description).toBe('Changed in the KICS UI');
    expect(viaApi.lastModified > device.lastModified).toBe(true);
    expect((await t.admin('PATCH', `/admin/devices/${device.id}`, { status: 'Lost' })).status).toBe(400);
    expect((await t.admin('PATCH', `/admin/devices/${device.id}`, { colour: 'red' })).status).toBe(400);

    const watermark = [...t.sim.store.all()].map((d) => d.lastModified).sort().at(-1)!;
    const added = await t.admin('POST', '/admin/devices', { name: 'Added by operator', status: 'Recognized', addressInformation: [{ macAddress: '00:80:63:00:00:01', ipAddresses: [{ ip: '10.250.0.1' }] }] });
    expect(added.status).toBe(201);
    const addedId = (added.json as { id: number }).id;
    const newer = await t.call('POST', '/kics/api/v4/devices/query', { body: { filter: [{ field: 'LastModified', condition: '>', value: watermark }] } });
    expect((newer.json as { values: { id: number }[] }).values.map((d) => d.id)).toEqual([addedId]);
    expect((await t.call('GET', `/kics/api/v4/devices/${addedId}`)).json).toMatchObject({ name: 'Added by operator', addressInformation: [{ macAddress: '00:80:63:00:00:01', macAddressSpaceId: 1 }] });
    expect((await t.admin('POST', '/admin/devices', { name: 'Added by operator', addressInformation: [{ ipAddresses: [{ ip: '10.250.0.2' }] }] })).status).toBe(400);
    expect((await t.admin('DELETE', `/admin/devices/${addedId}`)).status).toBe(200);
    expect((await t.call('GET', `/kics/api/v4/devices/${addedId}`)).status).toBe(404);

    const listing = (await t.admin('GET', '/admin/devices?offset=2&limit=3')).json as { counts: { total: number }; values: { id: number }[] };
    expect(listing.values.map((d) => d.id)).toEqual([...t.sim.store.all()].slice(2, 5).map((d) => d.id));
    expect(listing.counts.total).toBe(t.sim.store.size);
    const summary = (await t.admin('GET', '/admin')).json as Record<string, unknown>;
    expect(summary).toMatchObject({ url: t.url, packageDir: t.packageDir, devices: t.sim.store.counts() });
    expect((await t.admin('GET', '/admin/nothing')).status).toBe(404);
  });

  it('listens for the admin endpoint on 127.0.0.1 only, over plain HTTP', () => {
    const url = new URL(t.adminUrl);
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).not.toBe(new URL(t.url).port);
  });
});

describe('KICS simulator: --fault-rate', () => {
  it('answers that share of calls with a mix of faults, deterministically for the seed', async () => {
    const outcomes = async (seed: number) => {
      const t = await startTestKicsSimulator({ devices: 5, faultRate: 0.5, seed });
      const seen: string[] = [];
      try {
        // Token calls are faulted too: get one with the faults switched off, then switch them back on.
        const saved = (await t.admin('GET', '/admin/faults')).json;
        await t.admin('DELETE', '/admin/faults');
        const token = await t.token();
        await t.admin('PUT', '/admin/faults', saved);
        for (let i = 0; i < 80; i++) {
          try {
            const answer = await t.call('GET', '/kics/api/v4/about', { token });
            seen.push(answer.status === 200 && answer.json === undefined ? 'truncated' : String(answer.status));
          } catch {
            seen.push('reset');
          }
        }
      } finally {
        await t.close();
      }
      return seen;
    };
    const first = await outcomes(7);
    const kinds = new Set(first);
    expect(kinds).toEqual(new Set(['200', '500', '503', '429', 'reset', 'truncated']));
    const ok = first.filter((o) => o === '200').length;
    expect(ok).toBeGreaterThan(20);
    expect(ok).toBeLessThan(60);
    expect(await outcomes(7)).toEqual(first);
  });

  it('with rate 1 fails every call, token calls included', async () => {
    const t = await startTestKicsSimulator({ devices: 1, faultRate: 1 });
    try {
      let failures = 0;
      for (let i = 0; i < 10; i++) {
        try {
          const answer = await request(`${t.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: t.agent });
          const text = await answer.body.text();
          let parsed = true;
          try {
            JSON.parse(text);
          } catch {
            parsed = false;
          }
          if (answer.statusCode !== 200 || !parsed) failures++;
        } catch {
          failures++;
        }
      }
      expect(failures).toBe(10);
    } finally {
      await t.close();
    }
  });
});
