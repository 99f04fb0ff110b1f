import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { pino, type LevelWithSilent } from 'pino';
import { ExitCode, KicsSyncError, errorMessage } from '../../../errors.js';
import { createLogger, type Logger } from '../../../log.js';

/**
 * What the staging threads (sources staged beside KICS on PostgreSQL) share: how a thread is started, and how its log lines reach the main
 * thread's logger.
 */

/**
 * The young generation of a staging thread, in MiB (V8 splits it into two semi-spaces and a large-object
 * space of a third each). A staging allocates about 1 GiB of short-lived objects per 100,000 CSV rows;
 * with Node's default (16 MiB semi-spaces) a tenth of the thread's time went to scavenges that copied
 * each batch still in hand. With 64 MiB semi-spaces the same read and preparation took 2.1-2.4 s instead
 * of 3.0-3.3 s (README, Performance). The space is committed only as the thread's allocation needs it.
 */
export const threadYoungGenerationMb = 192;

/**
 * A worker running `module` (a name in this folder, without extension): the compiled module next to
 * this one; when this module runs from its TypeScript source (tests, tsx), a bootstrap that registers
 * tsx in the thread first (a loader given to the main thread does not reach a worker on Node 20).
 */
export function startThread(module: string, workerData: unknown): Worker {
  const here = import.meta.url;
  const resourceLimits = { maxYoungGenerationSizeMb: threadYoungGenerationMb };
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${module}.js`, here), { workerData, resourceLimits });
  const entry = new URL(`./${module}.ts`, here).href;
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}

/** In a thread: a logger (the project's, with its redaction) whose JSON lines are handed to `post`. */
export function threadLogger(level: string, post: (line: string) => void): Logger {
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      post(chunk.toString());
      done();
    },
  });
  return createLogger({ level: level as LevelWithSilent, pretty: false, destination: lines });
}

/** Why a thread's job failed, as it crosses to the main thread. */
export interface ThreadFailure {
  message: string;
  code: string;
  exitCode: number;
  retryable: boolean;
  /** The thread was told to stop (its signal aborted). */
  aborted: boolean;
}

/** In a thread: `error` as a ThreadFailure (its code, exit code and retryability when it is a KicsSyncError). */
export function threadFailure(error: unknown, aborted: boolean): ThreadFailure {
  const e = error instanceof KicsSyncError ? error : null;
  return { message: errorMessage(error), code: e?.code ?? 'INTERNAL', exitCode: e?.exitCode ?? ExitCode.failed, retryable: e?.retryable ?? false, aborted };
}

/** In the main thread: the error to throw for a ThreadFailure; stopped by the caller's signal, its reason, as an inline run would throw it. */
export function errorFromThread(failure: ThreadFailure, signal: AbortSignal | undefined): Error {
  const reason: unknown = failure.aborted && signal?.aborted ? signal.reason : undefined;
  if (reason instanceof Error) return reason;
  return new KicsSyncError(failure.message, { code: failure.code, exitCode: failure.exitCode as ExitCode, retryable: failure.retryable });
}

/** A thread's log line, written again through the main thread's logger (its level, format and redaction). */
export function relog(logger: Logger, line: string): void {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const { level, time: _time, msg, ...fields } = record;
  const label = pino.levels.labels[Number(level)] as 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | undefined;
  if (label) logger[label](fields, typeof msg === 'string' ? msg : '');
}
