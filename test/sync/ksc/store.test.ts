import { beforeEach, expect, it } from 'vitest';
import {
  abandonedCommands,
  claimCommand,
  linkCommandRun,
  loadCommand,
  markAnswerPosted,
  markCommandRunning,
  recordCommandUnreadable,
  storeAnswer,
  unansweredCommands,
} from '../../../src/sync/ksc/store.js';
import { describeEachEngine } from '../../support/db.js';

describeEachEngine('ksc_command store', (t) => {
  beforeEach(async () => {
    await t().db.execute('DELETE FROM ksc_command');
  });

  it('claims a command id once: a second delivery finds it claimed', async () => {
    const { db } = t();
    expect(await claimCommand(db, 'cmd-1')).toBe(true);
    expect(await claimCommand(db, 'cmd-1')).toBe(false);
    expect(await loadCommand(db, 'cmd-1')).toEqual({ id: 'cmd-1', status: 'received', result: null, error: null });
    expect(await loadCommand(db, 'never-seen')).toBeUndefined();
  });

  it('keeps a command through running, its stored answer and KSC taking it', async () => {
    const { db } = t();
    await claimCommand(db, 'cmd-2');
    await markCommandRunning(db, 'cmd-2', 'status', { planId: 3 });
    const [running] = await db.query<{ name: string; params: unknown; status: string; finished_at: Date | null }>('SELECT name, params, status, finished_at FROM ksc_command WHERE id = $1', ['cmd-2']);
    expect(running).toEqual({ name: 'status', params: { planId: 3 }, status: 'running', finished_at: null });
    expect(await abandonedCommands(db)).toEqual(['cmd-2']);

    await storeAnswer(db, 'cmd-2', { result: { planId: { type: 'long', value: 3 } } });
    expect(await loadCommand(db, 'cmd-2')).toEqual({ id: 'cmd-2', status: 'unanswered', result: { planId: { type: 'long', value: 3 } }, error: null });
    expect(await unansweredCommands(db)).toEqual([{ id: 'cmd-2', result: { planId: { type: 'long', value: 3 } }, error: null }]);
    expect(await abandonedCommands(db)).toEqual([]);

    await markAnswerPosted(db, 'cmd-2', 'answered');
    expect((await loadCommand(db, 'cmd-2'))?.status).toBe('answered');
    expect(await unansweredCommands(db)).toEqual([]);
  });

  it('stores an error answer, a refused answer, an unreadable command and the run a command caused', async () => {
    const { db } = t();
    for (const id of ['cmd-3', 'cmd-4', 'cmd-5']) await claimCommand(db, id);
    const container = { CMD_ERR_STR_ID: 'ERR_NOT_SUPPORTED', CMD_ERR_ORIGINATOR_ID: 'kics-sync', CMD_ERR_ID: 1, CMD_ERR_DESCR: 'no' };
    await storeAnswer(db, 'cmd-3', { error: container });
    expect(await loadCommand(db, 'cmd-3')).toEqual({ id: 'cmd-3', status: 'unanswered', result: null, error: container });
    await markAnswerPosted(db, 'cmd-3', 'refused');
    expect((await loadCommand(db, 'cmd-3'))?.status).toBe('refused');

    await recordCommandUnreadable(db, 'cmd-4', { stage: 'GetCommandPayload', message: 'gone' });
    const [unreadable] = await db.query<{ status: string; error: unknown; finished: boolean }>('SELECT status, error, finished_at IS NOT NULL AS finished FROM ksc_command WHERE id = $1', ['cmd-4']);
    expect(unreadable).toEqual({ status: 'failed', error: { stage: 'GetCommandPayload', message: 'gone' }, finished: true });

    await linkCommandRun(db, 'cmd-5', 42);
    const [linked] = await db.query<{ run_id: number }>('SELECT run_id FROM ksc_command WHERE id = $1', ['cmd-5']);
    expect(linked?.run_id).toBe(42);
    expect(await abandonedCommands(db)).toEqual(['cmd-5']);
  });
});
