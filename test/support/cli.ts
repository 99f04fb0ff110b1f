import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';

export const binPath = path.join(packageRoot, 'bin', 'kics-sync.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Called with the child once started (e.g. to kill it mid-run). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs the built `kics-sync` executable exactly as a user would (npm test builds it first). */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(path.join(packageRoot, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it)');
  return collect(process.execPath, [binPath, ...args], cliEnv(options), options);
}

/** The environment of a CLI run: the caller's, without the variables that would point it elsewhere. */
function cliEnv(options: CliOptions, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KICS_SYNC_CONFIG: undefined, DATABASE_URL: undefined, KICS_SYNC_DATA_DIR: undefined, ...extra, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** CLI processes still running: a test that timed out must not leave them (or the database locks they hold) behind. */
const live = new Set<ChildProcess>();

/** Kills every CLI process a test started and did not see end (test/support/cleanup.ts, after each test). */
export async function killLiveChildren(): Promise<number> {
  const left = [...live];
  await Promise.all(
    left.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  return left.length;
}

/** Spawns a process and collects what it prints, killing it past `timeoutMs` (a hang guard). */
function collect(command: string, args: string[], env: NodeJS.ProcessEnv, options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? packageRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      live.delete(child);
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    options.onSpawn?.(child);
  });
}

/** The single JSON object a `--json` command prints on stdout. */
export function parseJsonOutput(result: CliResult): Record<string, unknown> {
  const lines = result.stdout.trim().split('\n').filter(Boolean);
  if (lines.length !== 1) throw new Error(`expected exactly one JSON line on stdout, got ${lines.length}:\n${result.stdout}\nstderr:\n${result.stderr}`);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/**
 * Runs the built `kics-sync` on a pseudo-terminal (util-linux `script`), as a user at a shell sees
 * it: stdout and stderr both on the terminal, progress bars and colours on. `screen` is what was
 * shown, with the terminal's control sequences taken out and each carriage return starting a line
 * again (a bar redrawn in place leaves each of its states on a line of its own).
 */
export async function runCliOnTerminal(args: string[], options: CliOptions = {}): Promise<CliResult & { screen: string[] }> {
  const command = [process.execPath, binPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = await collect('script', ['--quiet', '--return', '--command', command, '/dev/null'], cliEnv(options, { COLUMNS: '120' }), options);
  // eslint-disable-next-line no-control-regex
  const plain = result.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');
  const screen = plain.split(/\r\n|\n|\r/).map((line) => line.trimEnd()).filter((line) => line !== '');
  return { ...result, screen };
}
