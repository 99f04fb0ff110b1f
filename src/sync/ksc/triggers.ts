import { ConfigError, errorMessage } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { toJson } from '../../adapters/ksc/params.js';
import type { KscEvent, KscSubscription } from '../../adapters/ksc/poller.js';

/** KSC event types that can start a plan: numeric id (KSC's event catalogue) -> alphabetic code. */
export const kscTriggerEventTypes: Readonly<Record<number, string>> = {
  4100: 'KLSRV_EVENT_HOSTS_NEW_DETECTED',
  4101: 'KLSRV_EVENT_HOSTS_NEW_REDIRECTED',
  4102: 'KLSRV_EVENT_HOSTS_CONFLICT',
  7710: 'KLNAG_EV_NAC_DEVICE_DISCOVERED',
};

const codeToId = new Map(Object.entries(kscTriggerEventTypes).map(([id, code]) => [code, Number(id)]));

/** The alphabetic codes of configured event types, which may be numeric ids or codes. */
export function resolveTriggerEvents(configured: readonly (number | string)[]): string[] {
  const codes = configured.map((entry, i) => {
    if (typeof entry === 'number' || /^\d+$/.test(entry)) {
      const code = kscTriggerEventTypes[Number(entry)];
      if (!code) throw new ConfigError(`ksc.triggers.events[${i}]: KSC event type ${entry} is not one kics-sync knows (known: ${Object.entries(kscTriggerEventTypes).map(([id, c]) => `${id} ${c}`).join(', ')}); give its alphabetic code instead`);
      return code;
    }
    if (!/^[A-Z][A-Z0-9_]+$/.test(entry)) throw new ConfigError(`ksc.triggers.events[${i}]: expected a KSC event type id (e.g. 4100) or alphabetic code (e.g. KLSRV_EVENT_HOSTS_NEW_DETECTED); found ${JSON.stringify(entry)}`);
    return entry;
  });
  return [...new Set(codes)];
}

/** What started an incremental plan: the KSC events of one debounce window. */
export interface TriggerCause {
  source: 'ksc_event';
  /** How many events arrived in the window. */
  eventCount: number;
  /** The first events of the window (at most `maxEventsRecorded`), as KSC sent them. */
  events: { type: string; typeId: number | null; birthTime: string | null; params: unknown }[];
  /** When the first and the last event of the window reached kics-sync. */
  firstReceivedAt: string;
  lastReceivedAt: string;
}

/** Starts an incremental plan; injected by the sync engine. */
export type StartIncrementalPlan = (cause: TriggerCause) => Promise<unknown>;

export interface KscEventTriggersOptions {
  /** Alphabetic codes of the event types that start a plan. */
  events: readonly string[];
  /** Events within this window after the first one start one plan. */
  debounceMs: number;
  startIncrementalPlan: StartIncrementalPlan;
  /** Told of every plan started, with its cause (the wiring records an engine event). */
  report?: (cause: TriggerCause) => Promise<void> | void;
  logger?: Logger;
  now?: () => Date;
}

const maxEventsRecorded = 20;

/**
 * Event triggers: KSC events that mean "the network changed" (a new device, a device name
 * conflict) start an incremental plan. Events are debounced: the first one opens a window, every
 * event in it joins the same plan, and a plan never starts while the previous one is still running
 * (events arriving meanwhile start the next one).
 */
export class KscEventTriggers {
  private readonly logger: Logger;
  private readonly types: Set<string>;
  private pending: KscEvent[] = [];
  private pendingCount = 0;
  private firstAt: Date | null = null;
  private lastAt: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: KscEventTriggersOptions) {
    this.logger = options.logger ?? silentLogger();
    this.types = new Set(options.events);
  }

  subscriptions(): KscSubscription[] {
    return [...this.types].map((event) => ({ event, filter: {} }));
  }

  accept(events: readonly KscEvent[]): void {
    if (this.stopped) return;
    const now = this.options.now?.() ?? new Date();
    let matched = 0;
    for (const event of events) {
      if (!this.types.has(event.type)) continue;
      matched += 1;
      this.pendingCount += 1;
      if (this.pending.length < maxEventsRecorded) this.pending.push(event);
      this.firstAt ??= now;
      this.lastAt = now;
    }
    if (matched === 0) return;
    this.logger.debug({ events: matched, window: this.pendingCount }, 'KSC trigger events received');
    if (!this.timer && !this.running) this.schedule();
  }

  /** Waits until no plan is being started and none is scheduled. */
  async idle(): Promise<void> {
    while (this.timer || this.running) {
      if (this.running) await this.running;
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops: a window still open is dropped (logged), a plan being started is awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      if (this.pendingCount > 0) this.logger.warn({ events: this.pendingCount }, 'stopping: KSC trigger events of the open window start no plan');
    }
    if (this.running) await this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.fire().finally(() => {
        this.running = null;
        if (this.pendingCount > 0 && !this.stopped) this.schedule();
      });
    }, this.options.debounceMs);
  }

  private async fire(): Promise<void> {
    const batch = this.pending;
    const count = this.pendingCount;
    const firstAt = this.firstAt ?? new Date();
    const lastAt = this.lastAt ?? firstAt;
    this.pending = [];
    this.pendingCount = 0;
    this.firstAt = null;
    this.lastAt = null;
    if (count === 0) return;
    const cause: TriggerCause = {
      source: 'ksc_event',
      eventCount: count,
      events: batch.map((event) => ({
        type: event.type,
        typeId: codeToId.get(event.type) ?? null,
        birthTime: event.birthTime?.toISOString() ?? null,
        params: toJson(event.params),
      })),
      firstReceivedAt: firstAt.toISOString(),
      lastReceivedAt: lastAt.toISOString(),
    };
    this.logger.info({ events: count, types: [...new Set(batch.map((event) => event.type))] }, 'KSC events start an incremental plan');
    try {
      await this.options.report?.(cause);
    } catch (error) {
      this.logger.warn({ err: errorMessage(error) }, 'could not record the trigger event');
    }
    try {
      await this.options.startIncrementalPlan(cause);
    } catch (error) {
      this.logger.error({ err: errorMessage(error) }, 'the incremental plan started by KSC events failed');
    }
  }
}
