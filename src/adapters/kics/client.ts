import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { FormData, type Agent } from 'undici';
import type { KicsConfig } from '../../config/index.js';
import type { Logger } from '../../log.js';
import { parseMac } from '../../model/mac.js';
import type {
  AboutResponse,
  AddressSpace,
  DeviceCreateRequest,
  DeviceEditRequest,
  DeviceProtocol,
  EventRegistration,
  IndustrialConfigMode,
  KicsDevice,
  KicsPatchOperation,
  KicsPatchResult,
  QueryFilter,
  QueryRequest,
  QueryResponse,
} from '../../model/kics.js';
import { KicsApiError, describeEndpoint, outcomeStillUnknown } from './errors.js';
import { deviceFilter } from './filter.js';
import { KicsHttp } from './http.js';
import type { ConnectorTls } from './package.js';
import { pagesById, type Page } from './paging.js';
import type { RouteTable } from './routes.js';
import {
  aboutSchema,
  addressSpaceSchema,
  asAbout,
  asAddressSpace,
  asDevice,
  asPatchResults,
  connectorConfigurationSchema,
  createAnswerSchema,
  deviceSchema,
  eventRegisterAnswerSchema,
  eventSchema,
  industrialConfigAnswerSchema,
  pageSchema,
  patchResultsSchema,
  protocolsSchema,
  type ConnectorConfiguration,
  type IndustrialConfigResult,
  type KicsEvent,
} from './schemas.js';
import type { TokenInfo } from './token.js';

/**
 * The engine's one door to KICS: typed operations over `KicsHttp` (http.ts: tokens, retries, limits,
 * validation). What the engine may call, and how each is kept safe to repeat:
 * - reads and queries, PUT, and a PATCH whose ops start with Test guards are retried on transient failures;
 * - a create is sent once; when its answer is lost, the device is looked up by name, then by MAC, and
 *   what exists is returned (`recovered: true`); only when nothing is there is it sent again (and with
 *   `whatIfDuplicate: Skip` even that second send cannot duplicate a device);
 * - a delete whose answer is lost is checked with a GET (404 = done) before it is sent again;
 * - an upload or an event registration whose answer is lost fails with `outcomeUnknown` for the
 *   caller to decide.
 */

export interface DeviceCreateOutcome {
  /** `Created`, `Skipped`, `Overwritten` as KICS answered; `Found` when the answer was lost and the device was found. */
  status: 'Created' | 'Skipped' | 'Overwritten' | 'Found' | (string & {});
  deviceId: number;
  duplicate?: { deviceId?: number | null | undefined; matchedBy?: string | null | undefined; value?: unknown; addressSpaceId?: number | null | undefined } | null | undefined;
  /** The answer was lost (connection reset, 500, unreadable) and the device was found by name or MAC instead. */
  recovered: boolean;
}

export interface PatchOptions {
  /** Run every op even after one fails (default false: the first failure skips the rest). */
  dontBreakOnFailure?: boolean;
  /** External source identifier, recorded by KICS. */
  sourceId?: number;
  signal?: AbortSignal;
}

export interface PatchOutcome {
  /** One result per op, in order: Succeeded, Failed (with errorMessage) or Skipped. */
  results: (KicsPatchResult & { errorMessage?: string | null })[];
  /** Every op succeeded. */
  ok: boolean;
  /** The first op that failed, with its index. */
  firstFailure: { index: number; op: KicsPatchOperation; errorMessage: string } | null;
  /**
   * The PATCH was sent more than once because an earlier answer was lost: when its Test guards now
   * fail, the earlier attempt may have applied it (compare the device with the intended result).
   */
  resent: boolean;
}

export interface DeleteOutcome {
  /** The answer was lost and a GET found the device gone. */
  recovered: boolean;
}

export interface IterateDevicesOptions {
  /** Only devices whose `lastModified` is after this time. */
  modifiedSince?: Date;
  /** More conditions, ANDed. */
  filter?: QueryFilter;
  pageSize?: number;
  /** Id ranges read side by side (pagesById); more than one gives pages out of id order. */
  streams?: number;
  signal?: AbortSignal | undefined;
}

export interface KicsClientOptions {
  config: KicsConfig;
  routes: RouteTable;
  agent: Agent;
  tls: ConnectorTls;
  logger: Logger;
  now?: () => number;
}

type Device = KicsDevice;

export class KicsClient {
  private readonly http: KicsHttp;
  private readonly retries: number;
  private readonly logger: Logger;

  constructor(private readonly options: KicsClientOptions) {
    const { config } = options;
    this.logger = options.logger;
    this.retries = config.retry.retries;
    this.http = new KicsHttp({
      url: config.url,
      routes: options.routes,
      agent: options.agent,
      tls: options.tls,
      timeoutMs: config.timeoutMs,
      maxInFlight: config.maxInFlight,
      retry: config.retry,
      tokenRefreshMargin: config.tokenRefreshMargin,
      logger: options.logger,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** `https://host:port` of KICS. */
  get url(): string {
    return new URL(this.options.config.url).origin;
  }

  /** The connector identity in use and the pinned server certificate (for `kics check`). */
  get identity(): ConnectorTls {
    return this.options.tls;
  }

  /** Obtains a token now (if none), so that an unusable identity shows before any work. */
  async authenticate(signal?: AbortSignal): Promise<TokenInfo> {
    await this.http.tokens.token(signal);
    return this.http.tokens.info()!;
  }

  /** The current token's times, or null before the first call. Never the token itself. */
  tokenInfo(): TokenInfo | null {
    return this.http.tokens.info();
  }

  async about(signal?: AbortSignal): Promise<AboutResponse> {
    return asAbout((await this.http.call({ route: 'about', schema: aboutSchema, safety: 'repeatable', signal })).value);
  }

  async connectorConfiguration(signal?: AbortSignal): Promise<ConnectorConfiguration> {
    return (await this.http.call({ route: 'connectorConfiguration', schema: connectorConfigurationSchema, safety: 'repeatable', signal })).value;
  }

  /** One page of `devices/query` as asked (filter, sort, offset, limit). */
  async queryDevices(query: QueryRequest = {}, signal?: AbortSignal): Promise<QueryResponse<Device>> {
    const answer = (await this.http.call({ route: 'devicesQuery', json: query, schema: pageSchema(deviceSchema), safety: 'repeatable', signal })).value;
    return { offset: answer.offset ?? query.offset ?? 0, limit: answer.limit ?? query.limit ?? answer.values.length, values: answer.values.map(asDevice) };
  }

  /** Every matching device, page by page (pagesById: sorted by id, `Id > last`, nothing missed or doubled). */
  async *iterateDevices(options: IterateDevicesOptions = {}): AsyncGenerator<Page<Device>> {
    const filter = deviceFilter.and(...(options.filter ?? []), options.modifiedSince ? deviceFilter.gt('LastModified', options.modifiedSince) : null);
    for await (const page of pagesById(this.http, 'devicesQuery', deviceSchema, { filter, pageSize: options.pageSize, streams: options.streams, signal: options.signal })) {
      yield { values: page.values.map(asDevice), serverDate: page.serverDate };
    }
  }

  /**
   * How many devices match: found with `offset` probes of one device each (the answer carries no total),
   * doubling, then halving; about 2 x log2(n) small calls.
   */
  async countDevices(filter: QueryFilter = [], signal?: AbortSignal): Promise<number> {
    const has = async (offset: number): Promise<boolean> => (await this.queryDevices({ filter, sort: [{ column: 'Id', direction: 'Asc' }], offset, limit: 1 }, signal)).values.length > 0;
    if (!(await has(0))) return 0;
    let low = 0; // an item exists at this offset
    let high = 1;
    while (await has(high)) {
      low = high;
      high *= 2;
    }
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await has(mid)) low = mid;
      else high = mid;
    }
    return low + 1;
  }

  async getDevice(id: number, signal?: AbortSignal): Promise<Device> {
    return asDevice((await this.http.call({ route: 'deviceGet', id, schema: deviceSchema, safety: 'repeatable', signal })).value);
  }

  /** The device, or null when KICS answers 404. */
  async findDevice(id: number, signal?: AbortSignal): Promise<Device | null> {
    try {
      return await this.getDevice(id, signal);
    } catch (error) {
      if (error instanceof KicsApiError && error.status === 404) return null;
      throw error;
    }
  }

  /**
   * Devices with exactly this name, or holding one of these MACs (any notation). Asked with `Name` and
   * `MacAddress` filters; the connector API document names no device filter fields, so a KICS may
   * refuse them (400) or ignore them (an unfiltered page). Either way every device is read page by page
   * by Id (the filter its example shows) and matched here: a device that does not have the name or a
   * MAC is never taken for one that does.
   */
  async findDevices(by: { name?: string; macs?: readonly string[] }, signal?: AbortSignal): Promise<Device[]> {
    const wanted = deviceLookup(by);
    try {
      const found = await this.findDevicesByFilter(by, wanted, signal);
      if (found !== 'ignored') return found;
      this.logger.warn('KICS ignored the Name / MacAddress filter (it answered devices without that name or MAC); looking for the device through every device instead');
    } catch (error) {
      if (!(error instanceof KicsApiError && error.endpoint.route === 'devicesQuery' && error.status === 400)) throw error;
      this.logger.warn({ err: error.message }, 'KICS refused the Name / MacAddress filter; looking for the device through every device instead');
    }
    const named: Device[] = [];
    const byMac: Device[] = [];
    for await (const page of this.iterateDevices({ signal })) {
      for (const device of page.values) {
        if (wanted.hasName(device)) named.push(device);
        else if (wanted.hasMac(device)) byMac.push(device);
      }
    }
    return named.length > 0 ? named : byMac;
  }

  /** The filtered queries, or `ignored` when KICS answered a device the filter excludes. */
  private async findDevicesByFilter(by: { name?: string; macs?: readonly string[] }, wanted: DeviceLookup, signal?: AbortSignal): Promise<Device[] | 'ignored'> {
    const found = new Map<number, Device>();
    if (by.name !== undefined) {
      const page = (await this.queryDevices({ filter: [deviceFilter.eq('Name', by.name)], limit: 10 }, signal)).values;
      if (!page.every(wanted.hasName)) return 'ignored';
      for (const d of page) found.set(d.id, d);
    }
    if (found.size === 0 && wanted.macs.size > 0) {
      const page = (await this.queryDevices({ filter: [deviceFilter.isOneOf('MacAddress', [...wanted.macs])], limit: 10 }, signal)).values;
      if (!page.every(wanted.hasMac)) return 'ignored';
      for (const d of page) found.set(d.id, d);
    }
    return [...found.values()];
  }

  /**
   * Creates a device (`whatIfDuplicate` defaults to Skip). Never resent blindly: when the answer is lost
   * the device is looked up by name, then MAC, and returned with `recovered: true` when it exists.
   */
  async createDevice(body: Omit<DeviceCreateRequest, 'whatIfDuplicate' | 'allowProcessControlSettingsLoss'> & Partial<DeviceCreateRequest>, signal?: AbortSignal): Promise<DeviceCreateOutcome> {
    const request: DeviceCreateRequest = { ...body, whatIfDuplicate: body.whatIfDuplicate ?? 'Skip', allowProcessControlSettingsLoss: body.allowProcessControlSettingsLoss ?? false };
    const macs = request.addressInformation.flatMap((i) => (i.macAddress ? [i.macAddress] : []));
    return this.verifiedOnce<DeviceCreateOutcome>('deviceCreate', signal, async () => {
      const answer = (await this.http.call({ route: 'deviceCreate', json: request, schema: createAnswerSchema, safety: 'once', signal })).value;
      return { status: answer.status, deviceId: answer.deviceId, ...(answer.duplicate ? { duplicate: answer.duplicate } : {}), recovered: false };
    }, async () => {
      const existing = await this.findDevices({ name: request.name, macs }, signal);
      const match = existing.find((d) => d.name === request.name) ?? existing[0];
      if (!match) return null;
      this.logger.info({ deviceId: match.id }, 'the answer to a device create was lost; the device exists in KICS');
      return { status: 'Found', deviceId: match.id, recovered: true };
    });
  }

  /** Edits a device (PUT: absent members keep their value, null clears). Answers the device when KICS sends it back. */
  async editDevice(id: number, body: DeviceEditRequest, signal?: AbortSignal): Promise<Device | null> {
    const answer = await this.http.call({ route: 'deviceEdit', id, json: body, schema: deviceSchema.optional(), safety: 'repeatable', signal });
    return answer.value ? asDevice(answer.value) : null;
  }

  /**
   * Applies PATCH ops. With Test guards first the call is repeatable (a repeat after a lost answer finds
   * the guards failing instead of applying twice); otherwise it is sent once.
   */
  async patchDevice(id: number, ops: readonly KicsPatchOperation[], options: PatchOptions = {}): Promise<PatchOutcome> {
    if (ops.length === 0) return { results: [], ok: true, firstFailure: null, resent: false };
    const guarded = ops[0]!.op === 'Test';
    let resent = false;
    const answer = await this.http.call({
      route: 'devicePatch',
      id,
      query: { dontBreakOnFailure: options.dontBreakOnFailure ?? false, sourceId: options.sourceId },
      json: ops,
      contentType: 'application/json-patch+json',
      schema: patchResultsSchema,
      safety: guarded ? 'repeatable' : 'once',
      signal: options.signal,
      onRetry: (error) => {
        if (error.outcomeUnknown) resent = true;
      },
    });
    const results = asPatchResults(answer.value);
    if (results.length !== ops.length) {
      const endpoint = this.http.endpoint('devicePatch', id);
      throw new KicsApiError(`${describeEndpoint(endpoint)}: answered ${results.length} results for ${ops.length} operations; one result per operation was expected`, {
        code: 'KICS_BAD_RESPONSE',
        endpoint,
        status: answer.status,
      });
    }
    const failedAt = results.findIndex((r) => r.result !== 'Succeeded');
    const failed = failedAt >= 0 ? results[failedAt]! : null;
    return {
      results,
      ok: failedAt < 0,
      firstFailure: failed ? { index: failedAt, op: ops[failedAt]!, errorMessage: failed.errorMessage ?? failed.result } : null,
      resent,
    };
  }

  /** Deletes a device; when the answer is lost, a GET decides whether it is gone before anything is resent. */
  async deleteDevice(id: number, signal?: AbortSignal): Promise<DeleteOutcome> {
    return this.verifiedOnce<DeleteOutcome>('deviceDelete', signal, async () => {
      await this.http.call({ route: 'deviceDelete', id, safety: 'once', signal });
      return { recovered: false };
    }, async () => ((await this.findDevice(id, signal)) === null ? { recovered: true } : null));
  }

  /** Uploads an industrial configuration file (multipart: `mode`, `config`). Sent once. */
  async uploadIndustrialConfiguration(id: number, file: { name: string; content: Uint8Array }, mode: IndustrialConfigMode, signal?: AbortSignal): Promise<IndustrialConfigResult> {
    const form = (): FormData => {
      const data = new FormData();
      data.set('mode', mode);
      data.set('config', new Blob([file.content], { type: 'application/octet-stream' }), file.name);
      return data;
    };
    return (await this.http.call({ route: 'deviceIndustrialConfiguration', id, form, schema: industrialConfigAnswerSchema, safety: 'once', signal })).value;
  }

  async deviceProtocols(id: number, signal?: AbortSignal): Promise<DeviceProtocol[]> {
    return (await this.http.call({ route: 'deviceProtocols', id, schema: protocolsSchema, safety: 'repeatable', signal })).value as DeviceProtocol[];
  }

  async *iterateAddressSpaces(signal?: AbortSignal): AsyncGenerator<Page<AddressSpace>> {
    for await (const page of pagesById(this.http, 'addressSpacesQuery', addressSpaceSchema, { signal })) {
      yield { values: page.values.map(asAddressSpace), serverDate: page.serverDate };
    }
  }

  async getAddressSpace(id: number, signal?: AbortSignal): Promise<AddressSpace> {
    return asAddressSpace((await this.http.call({ route: 'addressSpaceGet', id, schema: addressSpaceSchema, safety: 'repeatable', signal })).value);
  }

  /**
   * Registers an event in KICS. Sent once: when the answer is lost, the newest events (`events/query`
   * sorted by `Id`, the document's example) are searched for one with this title, start time and
   * parameters before it is sent again.
   */
  async registerEvent(event: EventRegistration, signal?: AbortSignal): Promise<{ eventId: number | null; recovered: boolean }> {
    return this.verifiedOnce<{ eventId: number | null; recovered: boolean }>('eventRegister', signal, async () => {
      const answer = (await this.http.call({ route: 'eventRegister', json: event, schema: eventRegisterAnswerSchema, safety: 'once', signal })).value;
      if (typeof answer === 'number') return { eventId: answer, recovered: false };
      return { eventId: answer !== null && typeof answer === 'object' ? (answer.eventId ?? null) : null, recovered: false };
    }, async () => {
      const newest = await this.queryEvents({ sort: [{ column: 'Id', direction: 'Desc' }], limit: 1000 }, signal);
      const found = newest.values.find((e) => sameEvent(e, event));
      if (!found) return null;
      this.logger.info({ eventId: found.id }, 'the answer to an event registration was lost; the event is in KICS');
      return { eventId: found.id, recovered: true };
    });
  }

  /** One page of `events/query`. */
  async queryEvents(query: QueryRequest = {}, signal?: AbortSignal): Promise<QueryResponse<KicsEvent>> {
    const answer = (await this.http.call({ route: 'eventsQuery', json: query, schema: pageSchema(eventSchema), safety: 'repeatable', signal })).value;
    return { offset: answer.offset ?? query.offset ?? 0, limit: answer.limit ?? query.limit ?? answer.values.length, values: answer.values };
  }

  /** Every matching event, page by page. */
  iterateEvents(options: { filter?: QueryFilter; pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<Page<KicsEvent>> {
    return pagesById(this.http, 'eventsQuery', eventSchema, options);
  }

  async close(): Promise<void> {
    await this.options.agent.close();
  }

  /**
   * A call that must not happen twice: sent; when its outcome is unknown, `verify` looks at KICS and
   * returns the result if the call took effect, or null, and only then is it sent again.
   */
  private async verifiedOnce<T>(route: 'deviceCreate' | 'deviceDelete' | 'eventRegister', signal: AbortSignal | undefined, send: () => Promise<T>, verify: () => Promise<T | null>): Promise<T> {
    // Once an attempt's answer was lost, every later attempt looks before it sends; a look that fails
    // leaves the outcome unknown (and says so), never a plain failure the next apply would resend.
    let lost: KicsApiError | null = null;
    return pRetry(
      async () => {
        if (lost !== null) {
          // A 429 / 503 that asked for a pause gets it (bounded like any Retry-After) before the look.
          if (lost.retryAfterMs !== undefined) await sleep(Math.min(lost.retryAfterMs, 120_000), undefined, { signal });
          let found: T | null;
          try {
            found = await verify();
          } catch (error) {
            throw outcomeStillUnknown(lost, error);
          }
          if (found !== null) return found;
        }
        try {
          return await send();
        } catch (error) {
          if (!(error instanceof KicsApiError) || !error.outcomeUnknown) throw lost === null ? error : outcomeStillUnknown(lost, error);
          lost = error;
          this.logger.warn({ route, err: error.message }, 'KICS call outcome unknown; checking KICS before sending it again');
          throw error;
        }
      },
      {
        retries: this.retries,
        minTimeout: this.options.config.retry.minTimeoutMs,
        maxTimeout: this.options.config.retry.maxTimeoutMs,
        randomize: true,
        signal,
        // Only the write's own unknown outcome, checked and found not applied; a failed check is final.
        shouldRetry: ({ error }) => error instanceof KicsApiError && error.endpoint.route === route && error.outcomeUnknown,
      },
    );
  }
}

/** An event KICS holds is the one registered: same title, same start (as an instant), same parameters. */
function sameEvent(found: KicsEvent, sent: EventRegistration): boolean {
  if (found.title !== sent.title) return false;
  if (found.startTime == null || Date.parse(found.startTime) !== Date.parse(sent.startTime)) return false;
  const held = new Map((found.params ?? []).map((p) => [p.name, p.value ?? '']));
  const params = Object.entries(sent.params ?? {});
  return held.size === params.length && params.every(([name, value]) => held.get(name) === value);
}

interface DeviceLookup {
  macs: ReadonlySet<string>;
  hasName: (device: Device) => boolean;
  hasMac: (device: Device) => boolean;
}

/** What `findDevices` looks for, as tests on a device. */
function deviceLookup(by: { name?: string; macs?: readonly string[] }): DeviceLookup {
  const macs = new Set((by.macs ?? []).map(canonicalMac).filter((m): m is string => m !== null));
  return {
    macs,
    hasName: (device) => by.name !== undefined && device.name === by.name,
    hasMac: (device) => macs.size > 0 && device.addressInformation.some((nic) => macs.has(canonicalMac(nic.macAddress) ?? '')),
  };
}

/** A MAC in the engine's notation, or null when there is none or it is not a MAC. */
function canonicalMac(mac: string | null | undefined): string | null {
  if (!mac) return null;
  const parsed = parseMac(mac);
  return parsed.ok ? parsed.mac : null;
}
