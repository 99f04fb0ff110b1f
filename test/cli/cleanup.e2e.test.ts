import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { killLiveChildren, runCli } from '../support/cli.js';

/**
 * What the hook after each test (test/support/cleanup.ts) relies on: a CLI process a test started and
 * never saw end, as when the test timed out, is killed and waited for.
 */
describe('processes a test leaves behind', () => {
  it('are killed after the test, and nothing else is', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-cleanup-'));
    let child: ChildProcess | undefined;
    let ready!: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    // The simulator runs until it is told to stop: left alone, it would outlive the test.
    const running = runCli(['simulator', '--devices', '1', '--state-dir', stateDir, '--log-level', 'warn'], {
      onSpawn: (spawned) => {
        child = spawned;
        spawned.stdout!.once('data', () => ready());
      },
    });
    await started;
    expect(await killLiveChildren()).toBe(1);
    const ended = await running;
    expect(ended.signal).toBe('SIGKILL');
    expect(child!.exitCode === null && child!.signalCode === 'SIGKILL').toBe(true);
    expect(await killLiveChildren()).toBe(0);
  });
});
