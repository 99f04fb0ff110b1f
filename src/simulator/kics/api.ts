import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AboutResponse, AddressSpace } from '../../model/kics.js';
import type { AddressSpaceRegistry } from './address-spaces.js';
import type { TokenService } from './auth.js';
import { parseCreateRequest, parseEditRequest } from './device-input.js';
import type { SimDevice } from './device.js';
import type { EventStore, SimEvent } from './events.js';
import { applyDeviceFilterBehaviour, checkStrictBody, notDefined, type SimulatorBehaviour } from './behaviour.js';
import { addressSpaceFields, deviceFields, eventFields } from './fields.js';
import { SimulatorHttpError, booleanParam, httpError, readJsonBody, validationError } from './http.js';
import { applyIndustrialConfiguration, readIndustrialConfigUpload } from './industrial-config.js';
import { applyPatch, parsePatchBody, patchedInput } from './patch.js';
import { arraySource, compileQuery, runQuery, type QuerySource } from './query.js';
import type { KicsRouteName, RouteMatch } from './routes.js';
import type { DeviceStore, DuplicateMatch } from './store.js';

/** What the handlers work on. */
export interface ApiState {
  store: DeviceStore;
  events: EventStore;
  addressSpaces: AddressSpaceRegistry;
  tokens: TokenService;
  about: AboutResponse;
  connectorConfiguration: Record<string, unknown>;
  /** What it does where the document is silent (src/simulator/kics/behaviour.ts). */
  behaviour: SimulatorBehaviour;
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HandlerContext {
  req: IncomingMessage;
  url: URL;
  route: RouteMatch;
  state: ApiState;
}

type Handler = (ctx: HandlerContext) => Promise<Answer>;

/** JSON bodies up to 16 MiB (a create or a query is a few KiB). */
const jsonLimit = 16 * 1024 * 1024;

const ok = (body: unknown): Answer => ({ status: 200, body });

function deviceSource(store: DeviceStore): QuerySource<SimDevice> {
  return {
    *scan(range, direction) {
      const ids = store.orderedIds();
      const start = store.lowerBound(range.lo);
      if (direction === 'asc') {
        for (let i = start; i < ids.length && ids[i]! <= range.hi; i++) yield store.get(ids[i]!)!;
      } else {
        let end = store.lowerBound(range.hi + 1) - 1;
        for (; end >= start; end--) yield store.get(ids[end]!)!;
      }
    },
  };
}

function requireId(ctx: HandlerContext): number {
  return ctx.route.id!;
}

function duplicateOf(match: DuplicateMatch): Record<string, unknown> {
  return { deviceId: match.deviceId, matchedBy: match.matchedBy, value: match.value, ...(match.addressSpaceId !== undefined ? { addressSpaceId: match.addressSpaceId } : {}) };
}

/** The token endpoint: OAuth-style answers (the parameters are in the query string, no body). */
export function handleToken(ctx: HandlerContext): Answer {
  const socket = ctx.req.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
  if (!socket.authorized || !peer || !peer.subject) {
    return { status: 401, body: { error: 'invalid_client', error_description: 'A client certificate issued by this server is required.' } };
  }
  const grantType = ctx.url.searchParams.get('grant_type');
  const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };
  if (grantType === 'certificate') {
    return { status: 200, body: ctx.state.tokens.issue(`CN=${String(peer.subject.CN ?? '')};serial=${peer.serialNumber}`), headers: noStore };
  }
  if (grantType === 'refresh_token') {
    const token = ctx.url.searchParams.get('refresh_token');
    if (!token) return { status: 400, body: { error: 'invalid_request', error_description: 'refresh_token is required with grant_type=refresh_token.' } };
    const result = ctx.state.tokens.refreshWith(token);
    if ('reason' in result) return { status: 401, body: { error: 'invalid_grant', error_description: result.reason }, headers: noStore };
    return { status: 200, body: result.grant, headers: noStore };
  }
  return {
    status: 400,
    body: { error: grantType ? 'unsupported_grant_type' : 'invalid_request', error_description: `grant_type must be certificate or refresh_token; found ${JSON.stringify(grantType)}.` },
  };
}

export const handlers: Record<Exclude<KicsRouteName, 'token'>, Handler> = {
  async about(ctx) {
    return ok(ctx.state.about);
  },

  async connectorConfiguration(ctx) {
    return ok(ctx.state.connectorConfiguration);
  },

  async devicesQuery(ctx) {
    const body = applyDeviceFilterBehaviour(await readJsonBody(ctx.req, jsonLimit, { required: false }), ctx.state.behaviour);
    const query = compileQuery(body, deviceFields);
    return ok(runQuery(deviceSource(ctx.state.store), query));
  },

  async deviceGet(ctx) {
    return ok(ctx.state.store.require(requireId(ctx)));
  },

  async deviceCreate(ctx) {
    const body = await readJsonBody(ctx.req, jsonLimit, { required: true });
    checkStrictBody(body, ctx.state.behaviour);
    const parsed = parseCreateRequest(body);
    if (!parsed.ok) throw validationError(parsed.errors);
    const { input, whatIfDuplicate, allowProcessControlSettingsLoss } = parsed.value;
    const { store } = ctx.state;
    const matches = store.findDuplicates(input);
    if (matches.length === 0) return ok({ status: 'Created', deviceId: store.create(input).id });
    const first = matches[0]!;
    const strict = ctx.state.behaviour.strict;
    if (whatIfDuplicate === 'Skip') return ok(strict ? { status: 'Created', deviceId: first.deviceId } : { status: 'Skipped', deviceId: first.deviceId, duplicate: duplicateOf(first) });
    const targets = [...new Set(matches.map((m) => m.deviceId))];
    if (targets.length > 1) {
      throw new SimulatorHttpError(409, [
        { field: null, path: null, errorMessage: `The device matches ${targets.length} different devices (${targets.join(', ')}); Overwrite needs exactly one.` },
        ...matches.map((m) => ({ field: m.matchedBy === 'Name' ? 'name' : m.matchedBy === 'MacAddress' ? 'macAddress' : 'ip', path: null, errorMessage: `${m.matchedBy} ${m.value} belongs to device ${m.deviceId}.` })),
      ]);
    }
    const result = store.edit(first.deviceId, input, { allowProcessControlSettingsChange: allowProcessControlSettingsLoss, flagName: 'allowProcessControlSettingsLoss' });
    return ok(strict ? { status: 'Created', deviceId: result.device.id } : { status: 'Overwritten', deviceId: result.device.id, duplicate: duplicateOf(first) });
  },

  async deviceEdit(ctx) {
    const id = requireId(ctx);
    ctx.state.store.require(id);
    const body = await readJsonBody(ctx.req, jsonLimit, { required: true });
    checkStrictBody(body, ctx.state.behaviour);
    const parsed = parseEditRequest(body);
    if (!parsed.ok) throw validationError(parsed.errors);
    const result = ctx.state.store.edit(id, parsed.value.input, { allowProcessControlSettingsChange: parsed.value.allowProcessControlSettingsUpdate, flagName: 'allowProcessControlSettingsUpdate' });
    return ok(result.device);
  },

  async devicePatch(ctx) {
    const id = requireId(ctx);
    const dontBreakOnFailure = booleanParam(ctx.url.searchParams, 'dontBreakOnFailure') ?? false;
    const sourceId = ctx.url.searchParams.get('sourceId');
    if (sourceId !== null && !/^-?\d{1,18}$/.test(sourceId)) throw httpError(400, `The value ${JSON.stringify(sourceId)} is not valid for sourceId: expected an integer.`, 'sourceId', 'sourceId');
    const device = ctx.state.store.require(id);
    const ops = parsePatchBody(await readJsonBody(ctx.req, jsonLimit, { required: true }));
    if (ctx.state.behaviour.strict && ops.some((op) => op.path.toLowerCase() === '/influence' && typeof op.value === 'number')) throw notDefined('A numeric influence');
    const { results, document, changed } = applyPatch(device, ops, dontBreakOnFailure);
    const failedTest = ctx.state.behaviour.strict ? 'results' : ctx.state.behaviour.failedTest;
    const testFailedAt = results.findIndex((r) => r.op === 'Test' && r.result === 'Failed');
    if (testFailedAt >= 0 && typeof failedTest === 'number') {
      // The whole PATCH refused: nothing of it is kept.
      throw httpError(failedTest, `Test failed at ${results[testFailedAt]!.path}: ${results[testFailedAt]!.errorMessage ?? 'the value differs'}`, null, results[testFailedAt]!.path);
    }
    if (changed) {
      ctx.state.store.edit(id, patchedInput(document), { allowProcessControlSettingsChange: false, flagName: 'allowProcessControlSettingsUpdate (PUT)' });
    }
    return ok(testFailedAt >= 0 && failedTest === 'stop' ? results.slice(0, testFailedAt + 1) : results);
  },

  async deviceDelete(ctx) {
    if (ctx.state.behaviour.strict) throw notDefined('Deleting a device');
    ctx.state.store.delete(requireId(ctx));
    return { status: 204 };
  },

  async deviceIndustrialConfiguration(ctx) {
    const device = ctx.state.store.require(requireId(ctx));
    const { mode, config } = await readIndustrialConfigUpload(ctx.req);
    return ok(applyIndustrialConfiguration(ctx.state.store, device, mode, config));
  },

  async deviceProtocols(ctx) {
    const device = ctx.state.store.require(requireId(ctx));
    return ok(device.processControlSettings?.protocols ?? []);
  },

  async addressSpacesQuery(ctx) {
    const body = await readJsonBody(ctx.req, jsonLimit, { required: false });
    const query = compileQuery(body, addressSpaceFields);
    const sorted = [...ctx.state.addressSpaces.spaces].sort((a, b) => a.id - b.id);
    return ok(runQuery(arraySource<AddressSpace>(() => sorted, (s) => s.id), query));
  },

  async addressSpaceGet(ctx) {
    const space = ctx.state.addressSpaces.get(requireId(ctx));
    if (!space) throw httpError(404, `Address space with id ${requireId(ctx)} was not found.`, 'id', 'id');
    return ok(space);
  },

  async eventsQuery(ctx) {
    const body = await readJsonBody(ctx.req, jsonLimit, { required: false });
    const query = compileQuery(body, eventFields);
    return ok(runQuery(arraySource<SimEvent>(() => ctx.state.events.list(), (e) => e.id), query));
  },

  async eventGet(ctx) {
    const event = ctx.state.events.get(requireId(ctx));
    if (!event) throw httpError(404, `Event with id ${requireId(ctx)} was not found.`, 'id', 'id');
    return ok(event);
  },

  async eventRegister(ctx) {
    const body = await readJsonBody(ctx.req, jsonLimit, { required: true });
    const event = ctx.state.events.register(body);
    return ok({ status: 'Created', eventId: event.id });
  },
};
