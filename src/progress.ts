import cliProgress from 'cli-progress';
import type { Logger } from './log.js';
import { terminal } from './terminal.js';

/** Progress of a long step: a bar on a terminal, a log line every few seconds otherwise. */
export interface Progress {
  increment(by?: number): void;
  setTotal(total: number): void;
  stop(): void;
}

export interface ProgressOptions {
  logger: Logger;
  /** A bar only when stderr is a terminal and the command is not printing JSON. */
  interactive?: boolean;
  total?: number;
  /** Seconds between log lines when not interactive. */
  logEverySeconds?: number;
}

export function startProgress(label: string, options: ProgressOptions): Progress {
  const interactive = options.interactive ?? Boolean(process.stderr.isTTY);
  let value = 0;
  let total = options.total ?? 0;
  if (interactive) {
    const bar = new cliProgress.SingleBar(
      { format: `${label.padEnd(24)} {bar} {value}/{total} {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50, forceRedraw: true },
      cliProgress.Presets.shades_classic,
    );
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      forget();
      bar.stop();
    };
    const forget = terminal.addBar({ stop, redraw: () => bar.render() });
    bar.start(total, 0);
    return {
      increment: (by = 1) => bar.increment(by),
      setTotal: (t) => bar.setTotal(t),
      stop,
    };
  }
  const every = (options.logEverySeconds ?? 5) * 1000;
  let last = Date.now();
  return {
    increment(by = 1) {
      value += by;
      if (Date.now() - last >= every) {
        last = Date.now();
        options.logger.info({ step: label, done: value, total: total || undefined }, 'progress');
      }
    },
    setTotal(t) {
      total = t;
    },
    stop() {},
  };
}

/** One progress bar per source, each stopped when the next source starts reporting. */
export interface SourcesProgress {
  report(progress: { source: string; read: number; expected?: number }): void;
  stop(): void;
}

export function startSourcesProgress(options: ProgressOptions): SourcesProgress {
  const bars = new Map<string, { progress: Progress; done: number }>();
  return {
    report({ source, read, expected }) {
      let bar = bars.get(source);
      if (!bar) {
        for (const other of bars.values()) other.progress.stop();
        bar = { progress: startProgress(`reading ${source}`, { ...options, total: expected ?? 0 }), done: 0 };
        bars.set(source, bar);
      }
      if (expected !== undefined) bar.progress.setTotal(Math.max(expected, read));
      bar.progress.increment(read - bar.done);
      bar.done = read;
    },
    stop() {
      for (const bar of bars.values()) bar.progress.stop();
    },
  };
}
