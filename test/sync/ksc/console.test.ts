import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { BackendUnreachableError, CommandParamsError, ServiceConsole, type BackendCommand, type BackendCommandHandlers, type ConsoleEvent } from '../../../src/sync/ksc/console.js';
import type { KscEvent } from '../../../src/adapters/ksc/poller.js';
import { claimCommand, markCommandRunning } from '../../../src/sync/ksc/store.js';
import { describeEachEngine } from '../../support/db.js';
import { startSimulator, waitFor, type SimulatorHandle } from '../../adapters/ksc/simulator-handle.js';

type Answer = { status: string; result: Record<string, unknown> | null; error: Record<string, unknown> | null; payloadRead: boolean };

describeEachEngine('KSC service console', (t) => {
  let h: SimulatorHandle;
  beforeAll(async () => {
    h = await startSimulator();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(async () => {
    await t().db.execute('DELETE FROM ksc_command');
    await t().db.execute('DELETE FROM engine_event');
  });

  /** A console over a fresh client; `reported` collects what it reports. */
  function makeConsole(handlers: BackendCommandHandlers = {}, extra: Partial<ConstructorParameters<typeof ServiceConsole>[0]> = {}): { console: ServiceConsole; reported: ConsoleEvent[] } {
    const reported: ConsoleEvent[] = [];
    const console = new ServiceConsole({ client: h.client(), db: t().db, productName: 'kics-sync', productVersion: '1.0', handlers, report: (e) => void reported.push(e), ...extra });
    return { console, reported };
  }

  /** Issues a command in KSC and returns the event a subscribed console would retrieve for it. */
  async function issue(name: string, params: Record<string, unknown> = {}): Promise<{ id: string; event: KscEvent }> {
    const { commandId } = await h.admin<{ commandId: string }>('POST', '/commands', { name, params });
    return { id: commandId, event: { type: 'KLSRV_EV_PROD_BACKEND_CMD', params: { CMD_ID: commandId, CMD_PROD_NAME: 'kics-sync', CMD_PROD_VERSION: '1.0' }, birthTime: new Date(), lifeTimeSeconds: 86400 } };
  }

  const answer = (id: string): Promise<Answer> => h.admin<Answer>('GET', `/commands/${id}`);

  it('answers an unknown command ERR_NOT_SUPPORTED with the document\'s error container, and records it', async () => {
    const { console, reported } = makeConsole();
    const { id, event } = await issue('plan', { owner: 'line-1' });
    console.accept([event]);
    await console.idle();
    const a = await answer(id);
    expect(a.status).toBe('error');
    expect(a.payloadRead).toBe(true);
    const unsupported = 'command "plan" is not supported by kics-sync (no commands are available in this installation)';
    expect(a.error).toEqual({ CMD_ERR_STR_ID: 'ERR_NOT_SUPPORTED', CMD_ERR_ORIGINATOR_ID: 'kics-sync', CMD_ERR_ID: 1, CMD_ERR_DESCR: unsupported, CMD_ERR_LOC_DESCR: unsupported });
    const [row] = await t().db.query<{ name: string; status: string; params: unknown; error: unknown }>('SELECT name, status, params, error FROM ksc_command WHERE id = $1', [id]);
    expect(row).toMatchObject({ name: 'plan', status: 'answered', params: { owner: 'line-1' } });
    expect(reported.map((e) => e.type)).toEqual(['KSYNC_KSC_COMMAND_RECEIVED', 'KSYNC_KSC_COMMAND_FAILED']);
  });

  it('runs a known command with its parameters and posts the handler\'s result', async () => {
    const seen: BackendCommand[] = [];
    const { console } = makeConsole({
      status: async (command) => {
        seen.push(command);
        const planId = command.params.planId as number;
        return { planId, status: 'draft', counts: { create: planId * 2, update: 1 }, large: 5_000_000_000 };
      },
    });
    const { id, event } = await issue('status', { planId: 21 });
    console.accept([event]);
    await console.idle();
    const a = await answer(id);
    expect(a.status).toBe('result');
    expect(a.result).toEqual({ planId: 21, status: 'draft', counts: { create: 42, update: 1 }, large: 5_000_000_000 });
    expect(seen[0]).toMatchObject({ id, name: 'status', actor: `ksc:${id}`, params: { planId: 21 } });
  });

  it('answers ERR_NO_BACKEND when the handler reports KICS unreachable, and other failures with their message', async () => {
    const { console } = makeConsole({
      apply: async () => {
        throw new BackendUnreachableError('connect ECONNREFUSED 10.0.0.1:8080');
      },
      report: async (command) => {
        throw new CommandParamsError(`planId ${JSON.stringify(command.params.planId)} is not a plan`);
      },
    });
    const apply = await issue('apply', { planId: 3 });
    const report = await issue('report', { planId: 'x' });
    console.accept([apply.event, report.event]);
    await console.idle();
    expect((await answer(apply.id)).error).toMatchObject({ CMD_ERR_STR_ID: 'ERR_NO_BACKEND', CMD_ERR_ID: 2, CMD_ERR_DESCR: 'KICS for Networks cannot be reached: connect ECONNREFUSED 10.0.0.1:8080' });
    const reportError = (await answer(report.id)).error!;
    expect(reportError).not.toHaveProperty('CMD_ERR_STR_ID');
    expect(reportError).toMatchObject({ CMD_ERR_ID: 5, CMD_ERR_DESCR: 'planId "x" is not a plan', CMD_ERR_LOC_DESCR: 'planId "x" is not a plan' });
    // Where the error was raised: the optional source file and line of the document's container.
    expect(reportError.CMD_ERR_FNAME).toBe(path.join('test', 'sync', 'ksc', 'console.test.ts'));
    expect(Number.isInteger(reportError.CMD_ERR_LNUMBER) && (reportError.CMD_ERR_LNUMBER as number) > 0).toBe(true);
  });

  it('checks authorization tokens when configured: missing or unknown ERR_UNKNOWN_TOKEN, expired ERR_EXPIRED_TOKEN', async () => {
    const handled: string[] = [];
    const { console } = makeConsole(
      { status: async (c) => (handled.push(c.id), { ok: true }) },
      { tokens: [{ value: 'current-token-1' }, { value: 'old-token-22', expiresAt: new Date('2020-01-01T00:00:00Z') }] },
    );
    const missing = await issue('status', {});
    const unknown = await issue('status', { token: 'guessed-token' });
    const expired = await issue('status', { token: 'old-token-22' });
    const valid = await issue('status', { token: 'current-token-1', planId: 1 });
    console.accept([missing.event, unknown.event, expired.event, valid.event]);
    await console.idle();
    expect((await answer(missing.id)).error).toMatchObject({ CMD_ERR_STR_ID: 'ERR_UNKNOWN_TOKEN' });
    expect((await answer(unknown.id)).error).toMatchObject({ CMD_ERR_STR_ID: 'ERR_UNKNOWN_TOKEN' });
    expect((await answer(expired.id)).error).toMatchObject({ CMD_ERR_STR_ID: 'ERR_EXPIRED_TOKEN', CMD_ERR_DESCR: 'the authorization token expired at 2020-01-01T00:00:00.000Z' });
    expect((await answer(valid.id)).result).toEqual({ ok: true });
    expect(handled).toEqual([valid.id]);
    const stored = await t().db.query<{ params: string }>('SELECT params::text AS params FROM ksc_command');
    expect(stored.map((r) => r.params).join('\n')).not.toMatch(/token/);
  });

  it('handles a command id once, also when KSC delivers it again and after a restart', async () => {
    let runs = 0;
    const handlers: BackendCommandHandlers = { status: async () => ({ run: ++runs }) };
    const first = makeConsole(handlers).console;
    const { id, event } = await issue('status');
    first.accept([event, event]);
    await first.idle();
    first.accept([event]);
    await first.idle();
    const restarted = makeConsole(handlers).console;
    await restarted.resume();
    restarted.accept([event]);
    await restarted.idle();
    expect(runs).toBe(1);
    expect((await answer(id)).result).toEqual({ run: 1 });
  });

  it('keeps an answer it could not post and posts it on the next start, without running the command again', async () => {
    let runs = 0;
    const handlers: BackendCommandHandlers = { status: async () => ({ run: ++runs }) };
    const first = makeConsole(handlers).console;
    const { id, event } = await issue('status');
    await h.admin('POST', '/failures', { method: 'ServiceNwcCommandProvider.SetCommandResult', count: 10, status: 503 });
    first.accept([event]);
    await first.idle();
    h.sim.core.failures.length = 0;
    expect((await answer(id)).status).toBe('pending');
    const [row] = await t().db.query<{ status: string }>('SELECT status FROM ksc_command WHERE id = $1', [id]);
    expect(row!.status).toBe('unanswered');

    const restarted = makeConsole(handlers).console;
    expect(await restarted.resume()).toEqual({ reposted: 1, abandoned: [], collected: [] });
    expect((await answer(id)).result).toEqual({ run: 1 });
    expect(runs).toBe(1);
  });

  it('answers commands still waiting when it stops with an interruption, not by running them', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const { console } = makeConsole({
      apply: async (command) => {
        started.push(command.id);
        await gate;
        return { aborted: command.signal.aborted };
      },
    });
    const running = await issue('apply');
    const waiting = await issue('apply');
    console.accept([running.event, waiting.event]);
    await waitFor(() => started.length === 1, 'the first command to start');
    const stopping = console.stop();
    release();
    await stopping;
    expect((await answer(running.id)).result).toEqual({ aborted: true });
    expect((await answer(waiting.id)).error).toMatchObject({ CMD_ERR_ID: 6, CMD_ERR_DESCR: 'kics-sync stopped before the command could run' });
    expect(started).toEqual([running.id]);
  });

  it('records a command KSC cannot give the payload of as failed, and does not run it', async () => {
    let runs = 0;
    const { console, reported } = makeConsole({ status: async () => ({ run: ++runs }) });
    console.accept([{ type: 'KLSRV_EV_PROD_BACKEND_CMD', params: { CMD_ID: 'unknown-to-ksc', CMD_NAME: 'status' }, birthTime: null, lifeTimeSeconds: null }]);
    await console.idle();
    expect(runs).toBe(0);
    const [row] = await t().db.query<{ status: string; error: { stage: string; message: string } }>('SELECT status, error FROM ksc_command WHERE id = $1', ['unknown-to-ksc']);
    expect(row!.status).toBe('failed');
    expect(row!.error).toMatchObject({ stage: 'GetCommandPayload', message: expect.stringMatching(/not found/) as unknown });
    expect(reported.map((e) => e.type)).toEqual(['KSYNC_KSC_COMMAND_FAILED']);
  });

  it('stops posting an answer KSC refuses (the command was answered meanwhile) and says so', async () => {
    const operator = h.client();
    const { console } = makeConsole({
      status: async (command) => {
        // Someone else answers the command while kics-sync is still working on it.
        await operator.call('ServiceNwcCommandProvider.SetCommandError', { wstrCommandId: command.id, pError: { CMD_ERR_ORIGINATOR_ID: 'operator', CMD_ERR_DESCR: 'cancelled' } });
        return { late: true };
      },
    });
    const { id, event } = await issue('status');
    console.accept([event]);
    await console.idle();
    const [row] = await t().db.query<{ status: string }>('SELECT status FROM ksc_command WHERE id = $1', [id]);
    expect(row!.status).toBe('refused');
    expect((await answer(id)).error).toMatchObject({ CMD_ERR_DESCR: 'cancelled' });
    expect(await restartedResume()).toEqual({ reposted: 0, abandoned: [], collected: [] });
  });

  it('a command a stopped process left running is not run again; one whose work outlived the process gets its answer collected', async () => {
    const lost = await issue('apply', { planId: 4 });
    const outliving = await issue('apply', { planId: 5, site: 'east' });
    // A process claimed both, read them, and died before answering.
    for (const { id } of [lost, outliving]) {
      await claimCommand(t().db, id);
      await markCommandRunning(t().db, id, 'apply', { planId: id === lost.id ? 4 : 5, ...(id === outliving.id ? { site: 'east' } : {}) });
    }
    const called: BackendCommand[] = [];
    const { console } = makeConsole(
      {
        apply: async (command) => {
          called.push(command);
          return { collected: true, planId: command.params.planId as number };
        },
      },
      { outlived: async (command) => command.id === outliving.id },
    );
    expect(await console.resume()).toEqual({ reposted: 0, abandoned: [lost.id], collected: [outliving.id] });
    await console.idle();
    expect(called.map((c) => [c.id, c.params, c.actor])).toEqual([[outliving.id, { planId: 5, site: 'east' }, `ksc:${outliving.id}`]]);
    expect((await answer(outliving.id)).result).toEqual({ collected: true, planId: 5 });
    expect((await answer(lost.id)).status).toBe('pending');
    const rows = await t().db.query<{ id: string; status: string }>('SELECT id, status FROM ksc_command ORDER BY id');
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [lost.id]: 'running', [outliving.id]: 'answered' });
  });

  async function restartedResume(): Promise<{ reposted: number; abandoned: string[]; collected: string[] }> {
    return makeConsole().console.resume();
  }
});
