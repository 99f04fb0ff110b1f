import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { runKscService, type KscServiceSummary } from '../../../src/sync/ksc/service.js';
import { resolveTriggerEvents, type TriggerCause } from '../../../src/sync/ksc/triggers.js';
import { parseConfig, type KscConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';
import { kscEventSink } from '../../../src/sync/ksc/commands.js';
import { listEvents } from '../../../src/sync/events/index.js';
import { describeEachEngine } from '../../support/db.js';
import { captureLogger, startSimulator, waitFor, type SimulatorHandle } from '../../adapters/ksc/simulator-handle.js';

describeEachEngine('KSC service: commands and event triggers through the poll loop', (t) => {
  let h: SimulatorHandle;
  beforeAll(async () => {
    h = await startSimulator({ settings: { pollPeriodMs: 30 } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(async () => {
    await t().db.execute('DELETE FROM engine_event');
  });

  function kscConfig(extra: Record<string, unknown>): KscConfig {
    return parseConfig({ ksc: { url: h.sim.url, user: 'kics-sync', password: 'kics-sync-simulator', internalUser: true, ca: h.sim.caFile, ...extra } }, { env: {} }).ksc!;
  }

  /** Runs the service until `body` is done, then stops it the way SIGTERM does. */
  async function serve(config: KscConfig, body: (summary: KscServiceSummary) => Promise<void>, startIncrementalPlan?: (cause: TriggerCause) => Promise<unknown>): Promise<void> {
    const abort = new AbortController();
    let ready!: (s: KscServiceSummary) => void;
    const readyPromise = new Promise<KscServiceSummary>((resolve) => (ready = resolve));
    const { logger } = captureLogger();
    const running = runKscService({ config, db: t().db, logger, handlers: {}, startIncrementalPlan, report: kscEventSink(t().db), client: h.client() }, abort.signal, ready);
    try {
      const summary = await Promise.race([readyPromise, running]);
      await waitFor(() => h.sim.core.subscriptionsSummary().length >= summary.subscriptions.length, 'the subscriptions');
      await body(summary);
    } finally {
      abort.abort();
      await running;
    }
  }

  it('an injected 4100 event (with others in the window) starts exactly one incremental plan, recording the events', async () => {
    const causes: TriggerCause[] = [];
    await serve(
      kscConfig({ triggers: { enabled: true, debounceSeconds: 0.4 } }),
      async (summary) => {
        expect(summary.subscriptions.map((s) => s.event)).toEqual(['KLSRV_EVENT_HOSTS_NEW_DETECTED', 'KLNAG_EV_NAC_DEVICE_DISCOVERED', 'KLSRV_EVENT_HOSTS_CONFLICT']);
        await h.admin('POST', '/events', { type: 4100, params: { KLHST_WKS_DN: 'NEW-PLC-7', KLHST_WKS_IP_LONG: 167772210 } });
        await h.admin('POST', '/events', { type: 4100, params: { KLHST_WKS_DN: 'NEW-PLC-8' } });
        await h.admin('POST', '/events', { type: 7710, params: { mac: '00:1b:1b:00:00:08' } });
        await h.admin('POST', '/events', { type: 'KLSRV_EVENT_HOSTS_NEW_REDIRECTED', params: {} });
        await waitFor(() => causes.length === 1, 'the incremental plan');
        // A quiet window later: still exactly one plan.
        await new Promise((resolve) => setTimeout(resolve, 600));
      },
      async (cause) => void causes.push(cause),
    );
    expect(causes).toHaveLength(1);
    const cause = causes[0]!;
    expect(cause.eventCount).toBe(3);
    expect(cause.events.map((e) => [e.typeId, e.type])).toEqual([
      [4100, 'KLSRV_EVENT_HOSTS_NEW_DETECTED'],
      [4100, 'KLSRV_EVENT_HOSTS_NEW_DETECTED'],
      [7710, 'KLNAG_EV_NAC_DEVICE_DISCOVERED'],
    ]);
    expect(cause.events[0]!.params).toEqual({ KLHST_WKS_DN: 'NEW-PLC-7', KLHST_WKS_IP_LONG: 167772210 });
    const [recorded] = await listEvents(t().db, { types: ['KSYNC_KSC_TRIGGER_FIRED'] });
    expect(recorded).toMatchObject({ typeId: 9306, severity: 'info', message: '3 KSC event(s) started an incremental plan', payload: { eventCount: 3, source: 'ksc_event' } });
  });

  it('events after a plan started start the next one, never two at once', async () => {
    const causes: TriggerCause[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    await serve(
      kscConfig({ triggers: { enabled: true, events: ['KLSRV_EVENT_HOSTS_CONFLICT'], debounceSeconds: 0 } }),
      async () => {
        await h.admin('POST', '/events', { type: 4102, params: { n: 1 } });
        await waitFor(() => causes.length === 1, 'the first plan');
        await h.admin('POST', '/events', { type: 4102, params: { n: 2 } });
        await h.admin('POST', '/events', { type: 4102, params: { n: 3 } });
        await waitFor(() => causes.reduce((n, c) => n + c.eventCount, 0) === 3, 'all three events planned');
      },
      async (cause) => {
        concurrent += 1;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        causes.push(cause);
        await new Promise((resolve) => setTimeout(resolve, 150));
        concurrent -= 1;
      },
    );
    expect(maxConcurrent).toBe(1);
    expect(causes.flatMap((c) => c.events.map((e) => (e.params as { n: number }).n))).toEqual([1, 2, 3]);
  });

  it('answers a backend command through the real poll loop, and stores the engine events', async () => {
    await serve(kscConfig({ commands: { enabled: true } }), async () => {
      const { commandId } = await h.admin<{ commandId: string }>('POST', '/commands', { name: 'report', params: { planId: 4 } });
      const answered = await waitFor(async () => {
        const c = await h.admin<{ status: string; error: Record<string, unknown> | null }>('GET', `/commands/${commandId}`);
        return c.status !== 'pending' ? c : null;
      }, 'the answer');
      expect(answered.error).toMatchObject({ CMD_ERR_STR_ID: 'ERR_NOT_SUPPORTED', CMD_ERR_ORIGINATOR_ID: 'kics-sync' });
    });
    const events = await listEvents(t().db, { types: ['KSYNC_KSC_COMMAND_RECEIVED', 'KSYNC_KSC_COMMAND_FAILED'] });
    expect(events.map((e) => e.code).sort()).toEqual(['KSYNC_KSC_COMMAND_FAILED', 'KSYNC_KSC_COMMAND_RECEIVED']);
    expect(events.find((e) => e.code === 'KSYNC_KSC_COMMAND_FAILED')!.message).toMatch(/KSC command report failed with ERR_NOT_SUPPORTED/);
  });

  it('records one KSC-unreachable event per outage, and keeps serving when KSC answers again', async () => {
    await serve(kscConfig({ commands: { enabled: true }, polling: { minBackoffMs: 20 } }), async () => {
      await h.admin('POST', '/failures', { method: 'ConEvents.Retrieve', count: 4, drop: true });
      await waitFor(() => h.sim.core.failures.length === 0, 'the four failed polls');
      const { commandId } = await h.admin<{ commandId: string }>('POST', '/commands', { name: 'status' });
      await waitFor(async () => (await h.admin<{ status: string }>('GET', `/commands/${commandId}`)).status !== 'pending', 'the answer after the outage');
    });
    const outages = await listEvents(t().db, { types: ['KSYNC_KSC_UNREACHABLE'] });
    expect(outages).toHaveLength(1);
    expect(outages[0]!.message).toMatch(/^KSC at 127\.0\.0\.1:\d+ is unreachable/);
  });

  it('refuses to serve nothing: triggers configured without incremental planning, and no commands', async () => {
    const abort = new AbortController();
    const run = runKscService({ config: kscConfig({ triggers: { enabled: true } }), db: t().db, logger: captureLogger().logger, handlers: {}, report: kscEventSink(t().db), client: h.client() }, abort.signal);
    await expect(run).rejects.toThrow(ConfigError);
    await expect(run).rejects.toThrow(/no incremental planning to start, and ksc\.commands is not enabled/);
  });

  it('does not subscribe to trigger events when there is no incremental planning to start', async () => {
    await serve(kscConfig({ commands: { enabled: true }, triggers: { enabled: true } }), async (summary) => {
      expect(summary.triggers).toBe(false);
      expect(summary.subscriptions.map((s) => s.event)).toEqual(['KLSRV_EV_PROD_BACKEND_CMD']);
    });
  });
});

it('resolves trigger event types given by id or code, and names the bad one', () => {
  expect(resolveTriggerEvents([4100, '7710', 'KLSRV_EVENT_HOSTS_CONFLICT', 4100])).toEqual(['KLSRV_EVENT_HOSTS_NEW_DETECTED', 'KLNAG_EV_NAC_DEVICE_DISCOVERED', 'KLSRV_EVENT_HOSTS_CONFLICT']);
  expect(() => resolveTriggerEvents([4100, 9999])).toThrow(ConfigError);
  expect(() => resolveTriggerEvents([4100, 9999])).toThrow(/ksc\.triggers\.events\[1\]: KSC event type 9999/);
  expect(() => resolveTriggerEvents(['new device'])).toThrow(/found "new device"/);
});
