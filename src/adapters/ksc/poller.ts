import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { KscClient } from './client.js';
import { KscPxgError } from './errors.js';
import { paramDate, paramNumber, paramParams, paramString, type KscInput, type KscParams } from './params.js';

/** One `ConEvents.Subscribe`: an event type (alphabetic code) and its filter. */
export interface KscSubscription {
  event: string;
  filter: Record<string, KscInput>;
}

/** An event as `ConEvents.Retrieve` delivers it. */
export interface KscEvent {
  /** `KLSRV_CON_EVENT_TYPE`, e.g. `KLSRV_EV_PROD_BACKEND_CMD`. */
  type: string;
  /** `KLSRV_CON_EVENT_PARAMS`. */
  params: KscParams;
  /** `KLSRV_CON_EVENT_BIRTH_TIME` (UTC). */
  birthTime: Date | null;
  /** `KLSRV_CON_EVENT_LIFE_TIME` in seconds. */
  lifeTimeSeconds: number | null;
}

export interface KscEventPollerOptions {
  logger?: Logger;
  /** First delay after a failure other than STDE_UNAVAIL (network, KSC down); doubles per failure. */
  minBackoffMs?: number;
  /** Upper bound of every back-off. */
  maxBackoffMs?: number;
  /** How long to stay idle when KSC answers a polling period of 0 ("do not poll") before subscribing again. */
  idleMs?: number;
  /** Told when KSC stops and starts answering, once per change (not per failed poll). */
  onReachability?: (reachable: boolean, error?: unknown) => void;
}

/**
 * Event polling as KSC prescribes it ("Event polling usage"): subscribe, wait the period KSC
 * returned, then call `ConEvents.Retrieve` repeatedly until it says all events are retrieved, hand
 * them over, and wait the newly returned period. Polling faster than the period gets
 * `STDE_UNAVAIL`, answered here with a doubling back-off; a lost subscription (`STDE_NOTFOUND`, or a
 * new KSC session, which forgets subscriptions) is made again.
 */
export class KscEventPoller {
  private readonly logger: Logger;
  private readonly subscriptionIds: number[] = [];
  private subscribedGeneration = -1;
  private periodMs = 0;
  private reachable = true;

  constructor(
    private readonly client: KscClient,
    private readonly subscriptions: readonly KscSubscription[],
    private readonly onEvents: (events: KscEvent[]) => Promise<void> | void,
    private readonly options: KscEventPollerOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger();
  }

  /** Polls until `signal` aborts, then unsubscribes. Failures are retried, never thrown. */
  async run(signal: AbortSignal): Promise<void> {
    let unavailableStreak = 0;
    let failureStreak = 0;
    try {
      while (!signal.aborted) {
        let delay: number;
        try {
          if (this.subscriptionIds.length === 0 || this.subscribedGeneration !== this.client.sessionGeneration) {
            await this.subscribe(signal);
            delay = this.periodMs;
          } else if (this.periodMs === 0) {
            // KSC says: do not poll. Stay idle, then subscribe again.
            await this.unsubscribe();
            delay = this.options.idleMs ?? 60_000;
          } else {
            await this.drain(signal);
            delay = this.periodMs;
          }
          unavailableStreak = 0;
          failureStreak = 0;
          this.setReachable(true);
        } catch (error) {
          if (signal.aborted) break;
          if (error instanceof KscPxgError && error.is('STDE_UNAVAIL')) {
            unavailableStreak += 1;
            delay = unavailableBackoff(this.periodMs, unavailableStreak, this.maxBackoffMs);
            this.logger.warn({ periodMs: this.periodMs, backoffMs: delay }, 'KSC says events are polled too often (STDE_UNAVAIL); backing off');
          } else if (error instanceof KscPxgError && error.is('STDE_NOTFOUND') && error.method === 'ConEvents.Retrieve') {
            this.logger.info('KSC no longer knows the event subscription; subscribing again');
            this.subscriptionIds.length = 0;
            delay = 0;
          } else {
            failureStreak += 1;
            delay = failureBackoff(this.options.minBackoffMs ?? 1_000, failureStreak, this.maxBackoffMs);
            this.setReachable(false, error);
            this.logger.debug({ err: errorMessage(error), retryInMs: delay }, 'KSC event polling failed');
          }
        }
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          break;
        }
      }
    } finally {
      await this.unsubscribe();
    }
  }

  /** The period KSC asked for, in ms (0 before the first subscription). */
  get pollingPeriodMs(): number {
    return this.periodMs;
  }

  private get maxBackoffMs(): number {
    return this.options.maxBackoffMs ?? 60_000;
  }

  private async subscribe(signal: AbortSignal): Promise<void> {
    // Log in first: the subscriptions belong to the session they are made in.
    await this.client.login(signal);
    if (this.subscriptionIds.length > 0 && this.subscribedGeneration === this.client.sessionGeneration) await this.unsubscribe();
    this.subscriptionIds.length = 0;
    const generation = this.client.sessionGeneration;
    let period = 0;
    for (const subscription of this.subscriptions) {
      // Not idempotent: a repeated Subscribe would create a second subscription. Not cut short by a stop
      // either: KSC may have made the subscription already, and only its answer gives the id to unsubscribe.
      const result = await this.client.call('ConEvents.Subscribe', { wstrEvent: subscription.event, pFilter: subscription.filter }, { idempotent: false });
      if (typeof result.retval === 'number') this.subscriptionIds.push(result.retval);
      const nPeriod = paramNumber(result.out, 'nPeriod') ?? 0;
      period = period === 0 ? nPeriod : Math.min(period, nPeriod || period);
    }
    // A login during the calls above means KSC already forgot the first subscriptions.
    this.subscribedGeneration = generation === this.client.sessionGeneration ? generation : -1;
    this.periodMs = period;
    this.logger.info({ events: this.subscriptions.map((s) => s.event), periodMs: period }, 'subscribed to KSC events');
  }

  /** Retrieve until KSC says everything is retrieved, handing each batch over as it comes. */
  private async drain(signal: AbortSignal): Promise<void> {
    for (let round = 0; !signal.aborted; round += 1) {
      const result = await this.client.call('ConEvents.Retrieve', {}, { idempotent: false, signal });
      const period = paramNumber(result.out, 'nPeriod');
      if (period !== undefined) this.periodMs = period;
      const events = toEvents(result.out.pEvents);
      if (events.length > 0) {
        try {
          await this.onEvents(events);
        } catch (error) {
          // The consumer records its own failures; one bad batch must not stop the polling.
          this.logger.error({ err: errorMessage(error), events: events.length }, 'handling KSC events failed');
        }
      }
      // "Call ConEvents::Retrieve iteratively until it returns true" (KSC, Event polling usage).
      if (result.retval !== false) return;
    }
  }

  private async unsubscribe(): Promise<void> {
    const ids = this.subscriptionIds.splice(0);
    for (const id of ids) {
      try {
        await this.client.call('ConEvents.UnSubscribe', { nSubsId: id }, { signal: AbortSignal.timeout(5_000) });
      } catch (error) {
        this.logger.debug({ subscription: id, err: errorMessage(error) }, 'could not unsubscribe from KSC events');
      }
    }
  }

  private setReachable(reachable: boolean, error?: unknown): void {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    if (reachable) this.logger.info({ ksc: this.client.host }, 'KSC answers again');
    else this.logger.warn({ ksc: this.client.host, err: errorMessage(error) }, 'KSC is unreachable; event polling continues with back-off');
    this.options.onReachability?.(reachable, error);
  }
}

/** Delay after the n-th STDE_UNAVAIL in a row: the period doubled n times, capped. */
export function unavailableBackoff(periodMs: number, streak: number, maxMs: number): number {
  const base = Math.max(periodMs, 100);
  return Math.min(maxMs, base * 2 ** Math.min(streak, 20));
}

/** Delay after the n-th other failure in a row: exponential from `minMs`, capped. */
export function failureBackoff(minMs: number, streak: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(streak - 1, 20));
}

function toEvents(value: unknown): KscEvent[] {
  if (!Array.isArray(value)) return [];
  const events: KscEvent[] = [];
  for (const item of value as unknown[]) {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof Date) continue;
    const params = item as KscParams;
    const type = paramString(params, 'KLSRV_CON_EVENT_TYPE');
    if (!type) continue;
    events.push({
      type,
      params: paramParams(params, 'KLSRV_CON_EVENT_PARAMS') ?? {},
      birthTime: paramDate(params, 'KLSRV_CON_EVENT_BIRTH_TIME') ?? null,
      lifeTimeSeconds: paramNumber(params, 'KLSRV_CON_EVENT_LIFE_TIME') ?? null,
    });
  }
  return events;
}
