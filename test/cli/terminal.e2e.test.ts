import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoSimulator } from '../../src/commands/demo.js';
import { ExitCode } from '../../src/errors.js';
import { sourceConfigSchema } from '../../src/config/sources.js';
import { runCli, runCliOnTerminal } from '../support/cli.js';

/** What a user at a terminal sees: results, progress and warnings; not log dumps. */
describe('on a terminal', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-terminal-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'demo');

  it('the demo shows what it waits for, its progress and its summary, and no log lines', async () => {
    const result = await runCliOnTerminal(['demo', '--dir', dir], { cwd: root });
    expect(result.code, result.stdout).toBe(0);
    const screen = result.screen;
    // No INFO blocks (fingerprints, watermarks, timings): those are for --log-level info.
    expect(screen.filter((line) => /\bINFO\b|^\s+\w+: /.test(line)), screen.join('\n')).toEqual([]);
    // It said it was opening the database while it waited for it.
    expect(screen.some((line) => line.startsWith(`opening a new embedded database in ${dir}`))).toBe(true);
    // The headline counts the plant the simulator started with, not the devices after the creates.
    const headline = screen.findIndex((line) => line.startsWith('kics-sync demo: '));
    expect(screen[headline]).toContain(`a simulated KICS with ${demoSimulator.devices} devices`);
    // The summary is whole and last: nothing was drawn into it or after it.
    const summary = screen.slice(headline);
    expect(summary[1]).toMatch(/^1\. plan 1: \d+ create, \d+ update/);
    expect(summary[3]).toMatch(/^2\. apply: \d+ applied, 0 skipped, 0 drifted, 0 failed \(plan applied\)$/);
    expect(summary[4]).toMatch(/^3\. plan 2 again: nothing left to change/);
    expect(summary.at(-1)).toBe(`  kics-sync --data-dir ${dir} events`);
    expect(summary.every((line) => !/[░█]/.test(line))).toBe(true);
  });

  it('a warning is one line, shown before the summary, and the summary stays whole', async () => {
    const config = path.join(root, 'kics-sync.yaml');
    writeFileSync(config, `sources:\n  - { name: cmdb, type: csv, path: ${JSON.stringify(path.join(root, 'gone.csv'))} }\n`);
    const result = await runCliOnTerminal(['--config', config, '--data-dir', dir, 'plan'], { cwd: root });
    expect(result.code, result.stdout).toBe(ExitCode.failed);
    const screen = result.screen;
    const warnings = screen.filter((line) => /\b(WARN|ERROR)\b/.test(line));
    expect(warnings.length, screen.join('\n')).toBeGreaterThan(0);
    expect(warnings.some((line) => line.includes('cmdb'))).toBe(true);
    // One line each: no indented continuation lines of a multi-line log entry.
    expect(screen.filter((line) => /^\s{4}\w+: /.test(line))).toEqual([]);
    const summaryStart = screen.findIndex((line) => /^plan \d+/.test(line));
    expect(summaryStart, screen.join('\n')).toBeGreaterThan(-1);
    const lastWarning = screen.findLastIndex((line) => /\b(WARN|ERROR)\b/.test(line));
    expect(lastWarning).toBeLessThan(summaryStart);
  });

  it('sources --help names every source type the configuration accepts', async () => {
    const result = await runCli(['sources', '--help']);
    expect(result.code).toBe(0);
    const help = result.stdout.replace(/\s+/g, ' ');
    const types = sourceConfigSchema.options.map((option) => option.shape.type.value);
    expect(types.length).toBeGreaterThan(3);
    for (const type of types) expect(help).toContain(`${type} (`);
  });
});
