import { Writable } from 'node:stream';

/** Text from devices, sources, KICS or KSC reaches the terminal without control characters. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed here
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/** A duration for people: seconds below two minutes, minutes below two hours, then hours and minutes. */
export function humanDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * What this process shows on a terminal besides its results: progress bars, one transient status
 * line ("opening the database ...") and log lines. One owner for the bottom line of the screen, so a
 * log line is written above a bar instead of into it, and nothing is left drawing once the result
 * is printed.
 */
class Terminal {
  private readonly bars = new Set<{ stop(): void; redraw(): void }>();
  private status: string | null = null;

  /** A stream for log lines: each clears the bottom line first, then the bar or status is drawn again. */
  stream(out: NodeJS.WriteStream): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.clearLine(out);
        out.write(chunk);
        this.redraw(out);
        callback();
      },
    });
  }

  /** Registers a progress bar; the returned function unregisters it. */
  addBar(bar: { stop(): void; redraw(): void }): () => void {
    this.hideStatus();
    this.bars.add(bar);
    return () => this.bars.delete(bar);
  }

  /**
   * Shows `text` as a status line on stderr while `work` runs (on a terminal only), erased when it
   * settles: a command that waits says what it waits for from the start.
   */
  async while<T>(text: string, work: Promise<T>, show = Boolean(process.stderr.isTTY)): Promise<T> {
    if (!show || this.status !== null) return work;
    this.status = text;
    process.stderr.write(`${text}\r`);
    try {
      return await work;
    } finally {
      this.hideStatus();
    }
  }

  /** Stops every bar and erases the status line: called before a command prints its result. */
  settle(): void {
    for (const bar of [...this.bars]) bar.stop();
    this.bars.clear();
    this.hideStatus();
  }

  private hideStatus(): void {
    if (this.status === null) return;
    this.status = null;
    this.clearLine(process.stderr);
  }

  private clearLine(out: NodeJS.WriteStream): void {
    if (out.isTTY && (this.status !== null || this.bars.size > 0)) out.write('\r\x1b[2K');
  }

  private redraw(out: NodeJS.WriteStream): void {
    if (!out.isTTY) return;
    if (this.status !== null) out.write(`${this.status}\r`);
    for (const bar of this.bars) bar.redraw();
  }
}

export const terminal = new Terminal();
