/** One API call as the admin endpoint shows it. Never a token: the query string's secrets are masked. */
export interface RequestLogEntry {
  seq: number;
  time: string;
  method: string;
  path: string;
  route: string | null;
  status: number;
  durationMs: number;
  /** The injected fault, if any. */
  fault: string | null;
  /** The `sourceId` of a PATCH, when given. */
  sourceId?: number;
  /**
   * A connection closed after the TLS handshake because its client certificate did not verify:
   * Node's reason (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`...). Such an entry has
   * method `TLS`, no path and status 0 (no HTTP answer).
   */
  refused?: string;
}

const secretParams = /([?&](?:refresh_token|access_token|token|password)=)[^&]*/gi;

/** The path and query of a request with secret parameters masked. */
export function loggablePath(url: string): string {
  return url.replace(secretParams, '$1[redacted]');
}

/** The last `capacity` calls (a few more between trims), oldest first. */
export class RequestLog {
  private readonly entries: RequestLogEntry[] = [];
  private seq = 0;
  private inFlight = 0;
  /** The most API calls handled at once since the last `resetMaxInFlight()`, counted by the server itself. */
  maxInFlight = 0;

  /** A call's handling begins (the server calls it); `done` when its answer is written. */
  begin(): () => void {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight -= 1;
    };
  }

  resetMaxInFlight(): void {
    this.maxInFlight = this.inFlight;
  }

  constructor(private readonly capacity = 10_000) {}

  add(entry: Omit<RequestLogEntry, 'seq'>): RequestLogEntry {
    const full = { seq: ++this.seq, ...entry };
    this.entries.push(full);
    // Trimmed in batches, so a long run does not shift the whole log on every call.
    if (this.entries.length > this.capacity + Math.ceil(this.capacity / 10)) this.entries.splice(0, this.entries.length - this.capacity);
    return full;
  }

  /** Entries after `since` (a seq), at most `limit`. */
  list(since = 0, limit = this.capacity): RequestLogEntry[] {
    const out: RequestLogEntry[] = [];
    for (const e of this.entries) {
      if (e.seq <= since) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  clear(): void {
    this.entries.length = 0;
  }

  get lastSeq(): number {
    return this.seq;
  }
}
