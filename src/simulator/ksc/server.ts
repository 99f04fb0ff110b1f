import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { klstdCodes, klstdMessages, type KlstdError } from '../../adapters/ksc/errors.js';
import { decodeParams, decodeValue, encodeParams, encodeValue, KscLong, type KscInput, type KscParams, type KscWire } from '../../adapters/ksc/params.js';
import { compileFilter, filterAttributes, FilterSyntaxError, parseFilter, type FilterPredicate } from './filter.js';
import {
  hostAttributeNames,
  hostToAttributes,
  inventoryAttributeNames,
  inventoryRows,
  longAttributes,
  newHost,
  type SimCall,
  type SimCommand,
  type SimEvent,
  type SimHost,
  type SimHostInput,
  type SimResultSet,
  type SimSession,
  type SimSubscription,
} from './state.js';

export interface KscUser {
  user: string;
  password: string;
  /** KSC internal user (`internal="1"`) rather than a domain account. */
  internal?: boolean;
}

/** Behaviour knobs; all can be changed while the simulator runs (admin endpoint `POST /settings`). */
export interface KscSimulatorSettings {
  /** nPeriod returned by Subscribe and Retrieve. */
  pollPeriodMs: number;
  /** The period actually enforced (STDE_UNAVAIL when polled sooner); defaults to pollPeriodMs. */
  enforcedPeriodMs: number | null;
  /** Slack for timer jitter in the period check. */
  pollToleranceMs: number;
  /** Events per Retrieve; more waiting means PxgRetVal false. */
  maxEventsPerRetrieve: number;
  /** A session unused for this long is forgotten (403 afterwards). */
  sessionIdleMs: number;
  /** Delay before each answer, to make overlapping calls likely. */
  latencyMs: number;
  /** HTTP status of PxgError answers (KSC's own client expects them with 200). */
  pxgErrorStatus: number;
  /** Subscriptions per session (STDE_TOOBIG beyond). */
  maxSubscriptionsPerSession: number;
}

export const defaultSettings: KscSimulatorSettings = {
  pollPeriodMs: 1_000,
  enforcedPeriodMs: null,
  pollToleranceMs: 5,
  maxEventsPerRetrieve: 100,
  sessionIdleMs: 30 * 60_000,
  latencyMs: 0,
  pxgErrorStatus: 200,
  maxSubscriptionsPerSession: 32,
};

/** A planned failure: the next `count` calls of `method` get HTTP `status` (or a dropped connection). */
export interface FailureInjection {
  method: string;
  count: number;
  status?: number;
  drop?: boolean;
}

class Pxg extends Error {
  constructor(
    readonly klstd: KlstdError,
    message?: string,
  ) {
    super(message ?? klstdMessages[klstd] ?? klstd);
  }
}

const backendCommandEvent = 'KLSRV_EV_PROD_BACKEND_CMD';
const commandErrorIds = new Set(['ERR_NO_BACKEND', 'ERR_NOT_SUPPORTED', 'ERR_UNKNOWN_TOKEN', 'ERR_EXPIRED_TOKEN']);
const maxCallLog = 20_000;

type Handler = (session: SimSession, args: Record<string, unknown>) => Record<string, KscWire> | Promise<Record<string, KscWire>>;

/** The simulated Administration Server: state and the Open API methods. */
export class KscSimulatorCore {
  readonly settings: KscSimulatorSettings;
  readonly hosts = new Map<string, SimHost>();
  readonly commands = new Map<string, SimCommand>();
  readonly sessions = new Map<string, SimSession>();
  readonly resultSets = new Map<string, SimResultSet>();
  readonly calls: SimCall[] = [];
  readonly failures: FailureInjection[] = [];
  readonly stats = { logins: 0, failedLogins: 0, unavailable: 0, released: 0, maxConcurrentPerConnection: 0, subscriptionsRefused: 0 };
  private readonly started = performance.now();
  private readonly inFlight = new WeakMap<Socket, number>();
  private seq = 0;
  /** Hardware inventory rows, rebuilt when the hosts change. */
  private inventoryCache: { size: number; rows: Record<string, unknown>[] } | null = null;
  private subscriptionSeq = 0;
  private hostCount = 0;

  constructor(
    private readonly users: readonly KscUser[],
    private readonly tokens: readonly string[],
    settings: Partial<KscSimulatorSettings> = {},
    readonly serverVersion = '15.1.0.20748',
  ) {
    this.settings = { ...defaultSettings, ...settings };
  }

  // ------------------------------------------------------------------ state changes (admin)

  addHosts(inputs: readonly SimHostInput[], replace = false): SimHost[] {
    this.inventoryCache = null;
    if (replace) this.hosts.clear();
    const added = inputs.map((input) => newHost(input, this.hostCount++));
    for (const host of added) this.hosts.set(host.id, host);
    return added;
  }

  /** A backend command, as an administrator or a KSC plugin would issue it. */
  addCommand(input: { name: string; params?: Record<string, KscInput>; productName: string; productVersion: string }): SimCommand {
    const command: SimCommand = {
      id: randomUUID(),
      name: input.name,
      productName: input.productName,
      productVersion: input.productVersion,
      params: encodeParams(input.params ?? {}),
      status: 'pending',
      result: null,
      error: null,
      payloadRead: false,
      delivered: false,
      createdAt: new Date(),
      answeredAt: null,
    };
    this.commands.set(command.id, command);
    this.deliverCommand(command);
    return command;
  }

  /** Raises an event of any type; subscribers of that type whose filter matches get it. Returns how many. */
  raiseEvent(type: string, params: Record<string, KscInput> = {}): number {
    const event: SimEvent = { seq: ++this.seq, type, params: encodeParams(params), birthTime: new Date() };
    let delivered = 0;
    for (const subscription of this.allSubscriptions()) {
      if (subscription.event === type && filterMatches(subscription.filter, decodeParams(event.params))) {
        subscription.queue.push(event);
        delivered += 1;
      }
    }
    return delivered;
  }

  /** Forgets every session now (as a KSC restart or session timeout would). */
  expireSessions(): number {
    const n = this.sessions.size;
    this.sessions.clear();
    return n;
  }

  failNext(injection: FailureInjection): void {
    this.failures.push({ ...injection });
  }

  subscriptionsSummary(): { session: string; id: number; event: string; filter: unknown; queued: number }[] {
    return [...this.sessions.values()].flatMap((s) => [...s.subscriptions.values()].map((sub) => ({ session: s.id.slice(0, 8), id: sub.id, event: sub.event, filter: sub.filter, queued: sub.queue.length })));
  }

  openResultSets(): number {
    this.expireResultSets();
    return this.resultSets.size;
  }

  // ------------------------------------------------------------------ HTTP

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket;
    const concurrent = (this.inFlight.get(socket) ?? 0) + 1;
    this.inFlight.set(socket, concurrent);
    this.stats.maxConcurrentPerConnection = Math.max(this.stats.maxConcurrentPerConnection, concurrent);
    const url = new URL(req.url ?? '/', 'https://ksc');
    const method = url.pathname.startsWith('/api/v1.0/') ? url.pathname.slice('/api/v1.0/'.length) : '';
    let status = 500;
    let error: string | undefined;
    let extra: Pick<SimCall, 'allRetrieved' | 'events'> = {};
    try {
      const body = await readBody(req);
      if (this.settings.latencyMs > 0) await sleep(this.settings.latencyMs);
      const failure = this.takeFailure(method);
      if (failure?.drop) {
        status = 0;
        socket.destroy();
        return;
      }
      if (failure) {
        status = failure.status ?? 503;
        return send(res, status, { message: 'injected failure' });
      }
      if (req.method !== 'POST' || !method) {
        status = 404;
        return send(res, 404, { message: 'POST /api/v1.0/Class.Method expected' });
      }
      const contentType = req.headers['content-type'];
      if (contentType !== undefined && !contentType.toLowerCase().startsWith('application/json')) {
        status = 400;
        return send(res, 400, { message: `Content-Type must be application/json; found ${contentType}` });
      }
      if (method === 'login' || method === 'Session.StartSession') {
        const user = this.authenticate(req.headers.authorization);
        if (!user) {
          this.stats.failedLogins += 1;
          status = 401;
          res.setHeader('WWW-Authenticate', 'KSCBasic');
          return send(res, 401, {});
        }
        this.stats.logins += 1;
        const session = this.newSession(user);
        status = 200;
        if (method === 'login') {
          res.setHeader('Set-Cookie', `KSCSession=${session.id}; Path=/; Secure; HttpOnly`);
          return send(res, 200, {});
        }
        return send(res, 200, { PxgRetVal: session.id });
      }
      const session = this.sessionOf(req);
      if (session === undefined) {
        status = 401;
        return send(res, 401, {});
      }
      if (session === null) {
        status = 403;
        return send(res, 403, {});
      }
      let args: unknown;
      try {
        args = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        status = 400;
        return send(res, 400, { message: 'the request body is not JSON' });
      }
      if (args === null || typeof args !== 'object' || Array.isArray(args)) {
        status = 400;
        return send(res, 400, { message: 'the request body must be a JSON object of named arguments' });
      }
      const handler = this.methods[method];
      if (!handler) {
        status = 404;
        return send(res, 404, { message: `no method ${method}` });
      }
      try {
        const out = await handler(session, args as Record<string, unknown>);
        status = 200;
        if (method === 'ConEvents.Retrieve') extra = { allRetrieved: out.PxgRetVal === true, events: Array.isArray(out.pEvents) ? out.pEvents.length : 0 };
        return send(res, 200, out);
      } catch (e) {
        if (!(e instanceof Pxg)) throw e;
        status = this.settings.pxgErrorStatus;
        error = e.klstd;
        if (e.klstd === 'STDE_UNAVAIL') this.stats.unavailable += 1;
        return send(res, status, { PxgError: { code: klstdCodes[e.klstd], subcode: 0, module: 'KLSTD', file: 'simulator', line: 0, message: e.message } });
      }
    } catch (e) {
      status = 500;
      send(res, 500, { message: e instanceof Error ? e.message : String(e) });
    } finally {
      this.inFlight.set(socket, (this.inFlight.get(socket) ?? 1) - 1);
      this.calls.push({ seq: this.calls.length + 1, method: method || url.pathname, at: Math.round(performance.now() - this.started), status, ...(error ? { error } : {}), ...extra });
      if (this.calls.length > maxCallLog) this.calls.splice(0, this.calls.length - maxCallLog);
    }
  }

  // ------------------------------------------------------------------ sessions

  private authenticate(header: string | undefined): string | null {
    if (!header) return null;
    const token = /^KSCT\s+(.+)$/.exec(header);
    if (token) return this.tokens.includes(token[1]!.trim()) ? 'token' : null;
    const basic = /^KSCBasic\s+(.*)$/.exec(header);
    if (!basic) return null;
    const fields = new Map<string, string>();
    for (const m of basic[1]!.matchAll(/(\w+)="([^"]*)"/g)) fields.set(m[1]!, m[2]!);
    const b64 = (v: string | undefined): string | null => {
      if (v === undefined || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return null;
      return Buffer.from(v, 'base64').toString('utf8');
    };
    const user = b64(fields.get('user'));
    const password = b64(fields.get('pass'));
    const internal = fields.get('internal') === '1';
    const found = this.users.find((u) => u.user === user && u.password === password && (u.internal ?? true) === internal);
    return found ? found.user : null;
  }

  private newSession(user: string): SimSession {
    const now = performance.now();
    const session: SimSession = { id: `nsid${randomUUID().replace(/-/g, '')}`, user, createdAt: now, lastUsedAt: now, subscriptions: new Map(), periodStartedAt: now };
    this.sessions.set(session.id, session);
    return session;
  }

  /** undefined: no session presented (401); null: presented but unknown or expired (403). */
  private sessionOf(req: IncomingMessage): SimSession | null | undefined {
    const header = req.headers['x-ksc-session'];
    const cookie = /(?:^|;\s*)KSCSession=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const id = (Array.isArray(header) ? header[0] : header) ?? cookie;
    if (!id) return undefined;
    const session = this.sessions.get(id);
    const now = performance.now();
    if (!session || now - session.lastUsedAt > this.settings.sessionIdleMs) {
      this.sessions.delete(id);
      return null;
    }
    session.lastUsedAt = now;
    return session;
  }

  private takeFailure(method: string): FailureInjection | undefined {
    const index = this.failures.findIndex((f) => f.method === method && f.count > 0);
    if (index === -1) return undefined;
    const failure = this.failures[index]!;
    failure.count -= 1;
    if (failure.count === 0) this.failures.splice(index, 1);
    return failure;
  }

  private allSubscriptions(): SimSubscription[] {
    return [...this.sessions.values()].flatMap((s) => [...s.subscriptions.values()]);
  }

  private deliverCommand(command: SimCommand): void {
    const event: SimEvent = {
      seq: ++this.seq,
      type: backendCommandEvent,
      params: encodeParams({ CMD_ID: command.id, CMD_PROD_NAME: command.productName, CMD_PROD_VERSION: command.productVersion }),
      birthTime: command.createdAt,
    };
    for (const subscription of this.allSubscriptions()) {
      if (subscription.event !== backendCommandEvent) continue;
      if (subscription.filter.CMD_PROD_NAME !== command.productName || subscription.filter.CMD_PROD_VERSION !== command.productVersion) continue;
      subscription.queue.push(event);
      command.delivered = true;
    }
  }

  private inventory(): Record<string, unknown>[] {
    if (this.inventoryCache?.size !== this.hosts.size) this.inventoryCache = { size: this.hosts.size, rows: inventoryRows(this.hosts.values()) };
    return this.inventoryCache.rows;
  }

  private expireResultSets(): void {
    const now = performance.now();
    for (const [id, set] of this.resultSets) if (set.expiresAt < now) this.resultSets.delete(id);
  }

  private resultSet(session: SimSession, id: unknown, kind: SimResultSet['kind']): SimResultSet {
    this.expireResultSets();
    const set = typeof id === 'string' ? this.resultSets.get(id) : undefined;
    if (!set || set.kind !== kind || set.sessionId !== session.id) throw new Pxg('STDE_NOTFOUND', `result-set ${JSON.stringify(id)} not found`);
    return set;
  }

  // ------------------------------------------------------------------ Open API methods

  private readonly methods: Record<string, Handler> = {
    'Session.EndSession': (session) => {
      this.sessions.delete(session.id);
      return {};
    },
    'Session.Ping': () => ({}),

    'HostGroup.GetStaticInfo': (_session, args) => {
      const wanted = stringArray(args.pValues, 'pValues');
      const all: Record<string, KscInput> = {
        KLADMSRV_SERVER_VERSION_ID: this.serverVersion,
        KLADMSRV_PRODUCT_FULL_VERSION: this.serverVersion,
        KLADMSRV_PRODUCT_NAME: 'Kaspersky Security Center (simulator)',
        KLADMSRV_VSID: 0,
      };
      return { PxgRetVal: { type: 'params', value: encodeParams(Object.fromEntries(Object.entries(all).filter(([k]) => wanted.includes(k)))) } };
    },

    'HostGroup.FindHosts': (session, args) => {
      const fields = stringArray(args.vecFieldsToReturn, 'vecFieldsToReturn');
      for (const f of fields) if (!hostAttributeNames.has(f)) throw new Pxg('STDE_BADPARAM', `unknown host attribute ${f} in vecFieldsToReturn`);
      const lifetime = integer(args.lMaxLifeTime, 'lMaxLifeTime');
      if (lifetime <= 0 || lifetime > 7200) throw new Pxg('STDE_BADPARAM', `lMaxLifeTime must be 1..7200 seconds; found ${lifetime}`);
      const filter = this.parseFilterArg(args.wstrFilter, hostAttributeNames);
      const order = orderArg(args.vecFieldsToOrder, hostAttributeNames);
      const pParams = args.pParams === undefined ? {} : decodeParams(args.pParams);
      if (pParams.KLGRP_FIND_FROM_CUR_VS_ONLY !== undefined && typeof pParams.KLGRP_FIND_FROM_CUR_VS_ONLY !== 'boolean') throw new Pxg('STDE_BADPARAM', 'pParams.KLGRP_FIND_FROM_CUR_VS_ONLY must be a boolean');
      const records = [...this.hosts.values()].map(hostToAttributes).filter(filter);
      sortRecords(records, order);
      const set = this.addResultSet(session, 'chunk', records.map((r) => project(r, fields)), lifetime);
      return { PxgRetVal: records.length, strAccessor: set.id };
    },
    'ChunkAccessor.GetItemsCount': (session, args) => ({ PxgRetVal: this.resultSet(session, args.strAccessor, 'chunk').items.length }),
    'ChunkAccessor.GetItemsChunk': (session, args) => {
      const set = this.resultSet(session, args.strAccessor, 'chunk');
      const start = integer(args.nStart, 'nStart');
      const count = integer(args.nCount, 'nCount');
      if (start < 0 || count < 0) throw new Pxg('STDE_BADPARAM', 'nStart and nCount must not be negative');
      const items = set.items.slice(start, start + count);
      return { PxgRetVal: items.length, pChunk: { KLCSP_ITERATOR_ARRAY: items.map((value) => ({ type: 'params', value })) } };
    },
    'ChunkAccessor.Release': (session, args) => {
      const set = this.resultSet(session, args.strAccessor, 'chunk');
      this.resultSets.delete(set.id);
      this.stats.released += 1;
      return {};
    },

    'SrvView.ResetIterator': (session, args) => {
      const view = typeof args.wstrViewName === 'string' ? args.wstrViewName : '';
      if (view !== 'HWInvStorageSrvViewName') throw new Pxg('STDE_NOTFOUND', `srvview ${JSON.stringify(view)} is not simulated`);
      const fields = stringArray(args.vecFieldsToReturn, 'vecFieldsToReturn');
      for (const f of fields) if (!inventoryAttributeNames.has(f)) throw new Pxg('STDE_BADPARAM', `unknown attribute ${f} of ${view}`);
      const lifetime = integer(args.lifetimeSec, 'lifetimeSec');
      if (lifetime <= 0 || lifetime > 7200) throw new Pxg('STDE_BADPARAM', `lifetimeSec must be 1..7200 seconds; found ${lifetime}`);
      const filter = this.parseFilterArg(args.wstrFilter, inventoryAttributeNames);
      const rows = this.inventory().filter(filter);
      sortRecords(rows, orderArg(args.vecFieldsToOrder, inventoryAttributeNames));
      const set = this.addResultSet(session, 'srvview', rows.map((r) => project(r, fields)), lifetime);
      return { wstrIteratorId: set.id };
    },
    'SrvView.GetRecordCount': (session, args) => ({ PxgRetVal: this.resultSet(session, args.wstrIteratorId, 'srvview').items.length }),
    'SrvView.GetRecordRange': (session, args) => {
      const set = this.resultSet(session, args.wstrIteratorId, 'srvview');
      const start = integer(args.nStart, 'nStart');
      const end = integer(args.nEnd, 'nEnd');
      if (start < 0 || end < start) throw new Pxg('STDE_BADPARAM', `bad range [${start}, ${end})`);
      return { pRecords: { KLCSP_ITERATOR_ARRAY: set.items.slice(start, end).map((value) => ({ type: 'params', value })) } };
    },
    'SrvView.ReleaseIterator': (session, args) => {
      const set = this.resultSet(session, args.wstrIteratorId, 'srvview');
      this.resultSets.delete(set.id);
      this.stats.released += 1;
      return {};
    },

    'ConEvents.Subscribe': (session, args) => {
      const event = typeof args.wstrEvent === 'string' ? args.wstrEvent : '';
      if (!event) throw new Pxg('STDE_BADPARAM', 'wstrEvent is required');
      const filter = args.pFilter === undefined ? {} : decodeParams(args.pFilter);
      if (event === backendCommandEvent) {
        const name = filter.CMD_PROD_NAME;
        const version = filter.CMD_PROD_VERSION;
        if (typeof name !== 'string' || name === '' || typeof version !== 'string' || version === '') {
          this.stats.subscriptionsRefused += 1;
          throw new Pxg('STDE_BADPARAM', 'subscription to "KLSRV_EV_PROD_BACKEND_CMD" must contain a filter with non-empty values for "CMD_PROD_NAME" and "CMD_PROD_VERSION"');
        }
      }
      if (session.subscriptions.size >= this.settings.maxSubscriptionsPerSession) throw new Pxg('STDE_TOOBIG', 'too many subscriptions for one session');
      const subscription: SimSubscription = { id: ++this.subscriptionSeq, event, filter, queue: [], createdAt: new Date() };
      session.subscriptions.set(subscription.id, subscription);
      session.periodStartedAt = performance.now();
      if (event === backendCommandEvent) {
        // Commands nobody has taken yet wait for the first console that subscribes.
        for (const command of this.commands.values()) {
          if (command.delivered || command.status !== 'pending') continue;
          if (command.productName !== filter.CMD_PROD_NAME || command.productVersion !== filter.CMD_PROD_VERSION) continue;
          subscription.queue.push({ seq: ++this.seq, type: backendCommandEvent, params: encodeParams({ CMD_ID: command.id, CMD_PROD_NAME: command.productName, CMD_PROD_VERSION: command.productVersion }), birthTime: command.createdAt });
          command.delivered = true;
        }
      }
      return { PxgRetVal: { type: 'long', value: subscription.id }, nPeriod: this.settings.pollPeriodMs };
    },
    'ConEvents.UnSubscribe': (session, args) => {
      const id = integer(args.nSubsId, 'nSubsId');
      if (!session.subscriptions.delete(id)) throw new Pxg('STDE_NOTFOUND', `subscription ${id} not found`);
      return {};
    },
    'ConEvents.Retrieve': (session) => {
      if (session.subscriptions.size === 0) throw new Pxg('STDE_NOTFOUND', 'subscription was not found');
      const now = performance.now();
      const enforced = this.settings.enforcedPeriodMs ?? this.settings.pollPeriodMs;
      if (now - session.periodStartedAt < enforced - this.settings.pollToleranceMs) throw new Pxg('STDE_UNAVAIL', 'period of polling is too small; use the recommended period of polling');
      const queued = [...session.subscriptions.values()].flatMap((s) => s.queue.map((e) => ({ s, e }))).sort((a, b) => a.e.seq - b.e.seq);
      const taken = queued.slice(0, this.settings.maxEventsPerRetrieve);
      for (const { s, e } of taken) s.queue.splice(s.queue.indexOf(e), 1);
      const all = taken.length === queued.length;
      if (all) session.periodStartedAt = now;
      const events = taken.map(({ e }) => ({
        type: 'params',
        value: {
          KLSRV_CON_EVENT_TYPE: e.type,
          KLSRV_CON_EVENT_PARAMS: { type: 'params', value: e.params },
          KLSRV_CON_EVENT_BIRTH_TIME: encodeValue(e.birthTime),
          KLSRV_CON_EVENT_LIFE_TIME: 86_400,
        },
      }));
      return { PxgRetVal: all, pEvents: events, nPeriod: this.settings.pollPeriodMs };
    },
    'ConEvents.IsServiceConsoleAvailable': (_session, args) => {
      const name = args.wstrProdName;
      const version = args.wstrProdVersion;
      const available = this.allSubscriptions().some((s) => s.event === backendCommandEvent && s.filter.CMD_PROD_NAME === name && s.filter.CMD_PROD_VERSION === version);
      return { PxgRetVal: available };
    },

    'ServiceNwcCommandProvider.GetCommandPayload': (_session, args) => {
      const command = this.pendingCommand(args.wstrCommandId);
      command.payloadRead = true;
      return {
        pParams: encodeParams({ CMD_NAME: command.name, CMD_PROD_NAME: command.productName, CMD_PROD_VERSION: command.productVersion, CMD_PARAMS: decodeParams(command.params) }),
      };
    },
    'ServiceNwcCommandProvider.SetCommandResult': (_session, args) => {
      const command = this.pendingCommand(args.wstrCommandId);
      if (args.pResult === null || typeof args.pResult !== 'object' || Array.isArray(args.pResult)) throw new Pxg('STDE_BADPARAM', 'pResult must be a params container');
      command.status = 'result';
      command.result = decodeParams(args.pResult);
      command.answeredAt = new Date();
      return {};
    },
    'ServiceNwcCommandProvider.SetCommandError': (_session, args) => {
      const command = this.pendingCommand(args.wstrCommandId);
      if (args.pError === null || typeof args.pError !== 'object' || Array.isArray(args.pError)) throw new Pxg('STDE_BADPARAM', 'pError must be a params container');
      const error = decodeParams(args.pError);
      if (typeof error.CMD_ERR_ORIGINATOR_ID !== 'string') throw new Pxg('STDE_BADPARAM', 'pError.CMD_ERR_ORIGINATOR_ID (string) is required');
      if (typeof error.CMD_ERR_DESCR !== 'string') throw new Pxg('STDE_BADPARAM', 'pError.CMD_ERR_DESCR (string) is required');
      if (error.CMD_ERR_STR_ID !== undefined && (typeof error.CMD_ERR_STR_ID !== 'string' || !commandErrorIds.has(error.CMD_ERR_STR_ID))) throw new Pxg('STDE_BADPARAM', `pError.CMD_ERR_STR_ID ${JSON.stringify(error.CMD_ERR_STR_ID)} is not a known error id`);
      if (error.CMD_ERR_ID !== undefined && !Number.isInteger(error.CMD_ERR_ID)) throw new Pxg('STDE_BADPARAM', 'pError.CMD_ERR_ID must be an integer');
      // The optional fields of the document's error container, typed as it types them.
      for (const name of ['CMD_ERR_LOC_DESCR', 'CMD_ERR_FNAME'] as const) {
        if (error[name] !== undefined && typeof error[name] !== 'string') throw new Pxg('STDE_BADPARAM', `pError.${name} must be a string`);
      }
      if (error.CMD_ERR_LNUMBER !== undefined && !Number.isInteger(error.CMD_ERR_LNUMBER)) throw new Pxg('STDE_BADPARAM', 'pError.CMD_ERR_LNUMBER must be an integer');
      command.status = 'error';
      command.error = error;
      command.answeredAt = new Date();
      return {};
    },
  };

  private pendingCommand(id: unknown): SimCommand {
    const command = typeof id === 'string' ? this.commands.get(id) : undefined;
    if (!command) throw new Pxg('STDE_NOTFOUND', `command ${JSON.stringify(id)} not found`);
    if (command.status !== 'pending') throw new Pxg('STDE_NOTFOUND', `command ${command.id} was already answered`);
    return command;
  }

  private parseFilterArg(value: unknown, known: ReadonlySet<string>): FilterPredicate {
    if (value !== undefined && typeof value !== 'string') throw new Pxg('STDE_BADPARAM', 'the filter must be a string');
    try {
      const filter = parseFilter(value ?? '');
      for (const attribute of filterAttributes(filter)) if (!known.has(attribute)) throw new Pxg('STDE_BADPARAM', `unknown attribute ${attribute} in the filter`);
      return compileFilter(filter);
    } catch (e) {
      if (e instanceof FilterSyntaxError) throw new Pxg('STDE_BADPARAM', `bad filter: ${e.message}`);
      throw e;
    }
  }

  private addResultSet(session: SimSession, kind: SimResultSet['kind'], items: Record<string, KscWire>[], lifetimeSeconds: number): SimResultSet {
    const set: SimResultSet = { id: randomUUID(), kind, sessionId: session.id, items, expiresAt: performance.now() + lifetimeSeconds * 1000 };
    this.resultSets.set(set.id, set);
    return set;
  }
}

function filterMatches(filter: KscParams, params: KscParams): boolean {
  return Object.entries(filter).every(([k, v]) => params[k] === v);
}

function stringArray(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Pxg('STDE_BADPARAM', `${name} must be an array of strings`);
  return value as string[];
}

function integer(value: unknown, name: string): number {
  const decoded = decodeValue(value);
  if (typeof decoded !== 'number' || !Number.isInteger(decoded)) throw new Pxg('STDE_BADPARAM', `${name} must be an integer`);
  return decoded;
}

function orderArg(value: unknown, known: ReadonlySet<string>): { name: string; asc: boolean }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Pxg('STDE_BADPARAM', 'vecFieldsToOrder must be an array');
  return value.map((item) => {
    const p = decodeValue(item) as KscParams;
    if (typeof p?.Name !== 'string' || !known.has(p.Name)) throw new Pxg('STDE_BADPARAM', `vecFieldsToOrder: unknown attribute ${JSON.stringify(p?.Name)}`);
    return { name: p.Name, asc: p.Asc !== false };
  });
}

function sortRecords(records: Record<string, unknown>[], order: { name: string; asc: boolean }[]): void {
  if (order.length === 0) return;
  const key = (v: unknown): number | string => (v instanceof Date ? v.getTime() : typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : typeof v === 'string' ? v : '');
  records.sort((a, b) => {
    for (const { name, asc } of order) {
      const x = key(a[name]);
      const y = key(b[name]);
      if (x < y) return asc ? -1 : 1;
      if (x > y) return asc ? 1 : -1;
    }
    return 0;
  });
}

/** Only the requested fields, in wire form (paramLong where KSC uses it). */
function project(record: Record<string, unknown>, fields: readonly string[]): Record<string, KscWire> {
  const out: Record<string, KscWire> = {};
  for (const f of fields) {
    const v = record[f];
    if (v === undefined || v === null) continue;
    out[f] = longAttributes.has(f) && typeof v === 'number' ? encodeValue(new KscLong(v)) : encodeValue(v as KscInput);
  }
  return out;
}

async function readBody(req: IncomingMessage, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
