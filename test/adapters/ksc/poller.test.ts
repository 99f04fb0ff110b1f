import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KscPxgError } from '../../../src/adapters/ksc/errors.js';
import { KscEventPoller, failureBackoff, unavailableBackoff, type KscEvent } from '../../../src/adapters/ksc/poller.js';
import { startSimulator, waitFor, type SimulatorHandle } from './simulator-handle.js';

const newDevice = 'KLSRV_EVENT_HOSTS_NEW_DETECTED';

describe('KSC event polling', () => {
  let h: SimulatorHandle;
  beforeAll(async () => {
    h = await startSimulator();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    Object.assign(h.sim.core.settings, { pollPeriodMs: 40, enforcedPeriodMs: null, maxEventsPerRetrieve: 100 });
    h.sim.core.calls.length = 0;
    h.sim.core.stats.unavailable = 0;
  });

  /** Runs a poller until `until` holds, then stops it; returns what it delivered. */
  async function poll(until: (events: KscEvent[]) => boolean, setup?: () => Promise<void>, options: { maxBackoffMs?: number } = {}): Promise<KscEvent[]> {
    const client = h.client();
    const events: KscEvent[] = [];
    const abort = new AbortController();
    const poller = new KscEventPoller(client, [{ event: newDevice, filter: {} }], (batch) => void events.push(...batch), { maxBackoffMs: options.maxBackoffMs ?? 5_000, minBackoffMs: 20 });
    const running = poller.run(abort.signal);
    try {
      await waitFor(() => h.sim.core.subscriptionsSummary().some((s) => s.event === newDevice), 'the subscription');
      await setup?.();
      await waitFor(() => until(events), 'the expected events', 20_000);
    } finally {
      abort.abort();
      await running;
    }
    return events;
  }

  it('refuses a backend-command subscription without non-empty CMD_PROD_NAME and CMD_PROD_VERSION', async () => {
    const client = h.client();
    const refused = h.sim.core.stats.subscriptionsRefused;
    for (const filter of [{}, { CMD_PROD_NAME: 'kics-sync' }, { CMD_PROD_NAME: 'kics-sync', CMD_PROD_VERSION: '' }]) {
      const error = await client.call('ConEvents.Subscribe', { wstrEvent: 'KLSRV_EV_PROD_BACKEND_CMD', pFilter: filter }, { idempotent: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KscPxgError);
      expect((error as KscPxgError).is('STDE_BADPARAM')).toBe(true);
      expect((error as KscPxgError).message).toMatch(/CMD_PROD_NAME.*CMD_PROD_VERSION/);
    }
    expect(h.sim.core.stats.subscriptionsRefused - refused).toBe(3);
    const accepted = await client.call('ConEvents.Subscribe', { wstrEvent: 'KLSRV_EV_PROD_BACKEND_CMD', pFilter: { CMD_PROD_NAME: 'kics-sync', CMD_PROD_VERSION: '1.0' } }, { idempotent: false });
    expect(typeof accepted.retval).toBe('number');
    expect(accepted.out.nPeriod).toBe(40);
  });

  it('polls at the period KSC returns: the strict simulator never has to answer STDE_UNAVAIL', async () => {
    let rounds = 0;
    const delivered = await poll(
      () => {
        rounds = h.sim.core.calls.filter((c) => c.method === 'ConEvents.Retrieve').length;
        return rounds >= 6;
      },
      async () => {
        h.sim.core.raiseEvent(newDevice, { KLHST_WKS_DN: 'NEW-PLC' });
      },
    );
    expect(delivered.map((e) => e.params.KLHST_WKS_DN)).toEqual(['NEW-PLC']);
    expect(delivered[0]!.type).toBe(newDevice);
    expect(delivered[0]!.birthTime).toBeInstanceOf(Date);
    expect(h.sim.core.calls.filter((c) => c.error === 'STDE_UNAVAIL')).toEqual([]);
    // One subscription, made in the session it belongs to: an event arrives once.
    expect(h.sim.core.calls.filter((c) => c.method === 'ConEvents.Subscribe')).toHaveLength(1);
  });

  it('keeps retrieving while more events wait, without waiting a period in between', async () => {
    h.sim.core.settings.maxEventsPerRetrieve = 2;
    const delivered = await poll(
      (events) => events.length >= 5,
      async () => {
        for (let i = 1; i <= 5; i += 1) h.sim.core.raiseEvent(newDevice, { n: i });
      },
    );
    expect(delivered.map((e) => e.params.n)).toEqual([1, 2, 3, 4, 5]);
    const retrieves = h.sim.core.calls.filter((c) => c.method === 'ConEvents.Retrieve' && c.status === 200);
    const burst = retrieves.findIndex((c) => (c.events ?? 0) > 0);
    expect(retrieves.slice(burst, burst + 3).map((c) => [c.events, c.allRetrieved])).toEqual([
      [2, false],
      [2, false],
      [1, true],
    ]);
    expect(h.sim.core.calls.filter((c) => c.error === 'STDE_UNAVAIL')).toEqual([]);
  });

  it('backs off on STDE_UNAVAIL instead of hammering KSC, and still gets the events', async () => {
    // KSC advertises 20 ms but only accepts a poll every 600 ms.
    Object.assign(h.sim.core.settings, { pollPeriodMs: 20, enforcedPeriodMs: 600 });
    const delivered = await poll(
      (events) => events.length >= 1,
      async () => {
        h.sim.core.raiseEvent(newDevice, { KLHST_WKS_DN: 'LATE' });
      },
    );
    expect(delivered).toHaveLength(1);
    const unavailable = h.sim.core.calls.filter((c) => c.error === 'STDE_UNAVAIL').length;
    expect(unavailable).toBeGreaterThan(0);
    // Doubling from 20 ms reaches 600 ms within five refusals; polling at the advertised period would be refused ~30 times.
    expect(unavailable).toBeLessThanOrEqual(6);
  });

  it('subscribes again when KSC forgets the session, and events raised afterwards arrive', async () => {
    const delivered = await poll(
      (events) => events.length >= 1,
      async () => {
        const before = h.sim.core.stats.logins;
        h.sim.core.expireSessions();
        await waitFor(() => h.sim.core.stats.logins > before && h.sim.core.subscriptionsSummary().some((s) => s.event === newDevice), 'a new session with the subscription');
        h.sim.core.raiseEvent(newDevice, { KLHST_WKS_DN: 'AFTER-RELOGIN' });
      },
    );
    expect(delivered.map((e) => e.params.KLHST_WKS_DN)).toEqual(['AFTER-RELOGIN']);
  });

  it('unsubscribes when stopped', async () => {
    await poll(() => true);
    expect(h.sim.core.calls.some((c) => c.method === 'ConEvents.UnSubscribe' && c.status === 200)).toBe(true);
  });
});

describe('back-off arithmetic', () => {
  it('doubles the period per STDE_UNAVAIL in a row, up to the cap', () => {
    expect([1, 2, 3].map((n) => unavailableBackoff(1_000, n, 60_000))).toEqual([2_000, 4_000, 8_000]);
    expect(unavailableBackoff(1_000, 10, 60_000)).toBe(60_000);
  });

  it('doubles from the minimum per other failure, up to the cap', () => {
    expect([1, 2, 3].map((n) => failureBackoff(500, n, 3_000))).toEqual([500, 1_000, 2_000]);
    expect(failureBackoff(500, 5, 3_000)).toBe(3_000);
  });
});
