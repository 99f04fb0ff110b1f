import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../../log.js';
import { parseEditRequest, writableDeviceFields } from './device-input.js';
import { writableDocument, type SimDevice } from './device.js';
import { addRuleSchema } from './faults.js';
import { SimulatorHttpError, httpError, readBody, validationError } from './http.js';
import { deviceFromDocument } from './loader.js';
import { formatKicsTime, normaliseKicsTime } from './time.js';
import type { KicsSimulator } from './index.js';
import { refuseForeignAdminRequest } from '../admin-guard.js';

/**
 * The admin endpoint: plain HTTP, bound to 127.0.0.1 and refusing any other peer, JSON in and out.
 * Tests and the demo use it to set faults and latency, revoke or expire tokens, read the request
 * log, read the store, and change devices directly as a KICS operator would in the UI (such a
 * change moves `lastModified`). Routes are listed in docs/kics-simulator.md.
 */

type AdminHandler = (req: IncomingMessage, match: RegExpExecArray, url: URL) => Promise<{ status: number; body?: unknown }>;

interface AdminRoute {
  method: string;
  pattern: RegExp;
  handler: AdminHandler;
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req, 64 * 1024 * 1024);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (error) {
    throw httpError(400, `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

function zodFailure(error: z.ZodError): SimulatorHttpError {
  return validationError(error.issues.map((i) => ({ field: typeof i.path[i.path.length - 1] === 'string' ? (i.path[i.path.length - 1] as string) : null, path: i.path.join('.'), errorMessage: i.message })));
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw zodFailure(result.error);
  return result.data;
}

/** Fields an operator may set besides the writable ones (what KICS itself maintains). */
const operatorFields = z.strictObject({
  lastSeen: z.string().nullable().optional(),
  securityState: z.string().optional(),
  group: z.string().nullable().optional(),
  risks: z.array(z.record(z.string(), z.unknown())).optional(),
  attributes: z.array(z.record(z.string(), z.unknown())).optional(),
  epp: z.record(z.string(), z.unknown()).nullable().optional(),
});

const writableKeys = new Set<string>(writableDeviceFields);

export function createAdminServer(sim: KicsSimulator, logger: Logger): http.Server {
  const { store } = sim;
  const routes: AdminRoute[] = [];
  const route = (method: string, path: string, handler: AdminHandler): void => {
    routes.push({ method, pattern: new RegExp(`^${path.replace(/\{id\}/g, '(\\d+)')}/?$`), handler });
  };

  route('GET', '/admin', async () => ({
    status: 200,
    body: {
      url: sim.url,
      adminUrl: sim.adminUrl,
      packageDir: sim.packageDir,
      devices: store.counts(),
      limits: store.limits,
      events: sim.events.list().length,
      addressSpaces: sim.addressSpaces.spaces.length,
      tokens: { ...sim.tokens.counts(), ...sim.tokens.settings },
      faults: sim.faults.get(),
      requests: sim.requests.lastSeq,
    },
  }));

  route('GET', '/admin/faults', async () => ({ status: 200, body: sim.faults.get() }));
  route('PUT', '/admin/faults', async (req) => {
    const body = await jsonBody(req);
    try {
      return { status: 200, body: sim.faults.replace(body ?? {}) };
    } catch (error) {
      if (error instanceof z.ZodError) throw zodFailure(error);
      throw error;
    }
  });
  route('POST', '/admin/faults/rules', async (req) => {
    const { route: name, rule } = parse(addRuleSchema, await jsonBody(req));
    return { status: 200, body: sim.faults.addRule(rule, name) };
  });
  route('DELETE', '/admin/faults', async () => {
    sim.faults.clear();
    return { status: 200, body: sim.faults.get() };
  });

  route('GET', '/admin/latency', async () => ({ status: 200, body: { latencyMs: sim.faults.get().latencyMs } }));
  route('PUT', '/admin/latency', async (req) => {
    const { latencyMs } = parse(z.strictObject({ latencyMs: z.number().int().min(0).max(600_000) }), await jsonBody(req));
    sim.setLatency(latencyMs);
    return { status: 200, body: { latencyMs } };
  });

  route('GET', '/admin/tokens', async () => ({ status: 200, body: { ...sim.tokens.counts(), ...sim.tokens.settings } }));
  route('PUT', '/admin/tokens', async (req) => {
    const settings = parse(z.strictObject({ ttlSeconds: z.number().int().min(1).optional(), refreshTtlSeconds: z.number().int().min(1).optional() }), await jsonBody(req));
    sim.tokens.settings = { ...sim.tokens.settings, ...settings };
    return { status: 200, body: sim.tokens.settings };
  });
  route('POST', '/admin/tokens/revoke', async () => ({ status: 200, body: { revoked: sim.tokens.revokeAll() } }));
  route('POST', '/admin/tokens/expire', async () => ({ status: 200, body: { expired: sim.tokens.expireAll() } }));

  route('GET', '/admin/requests', async (_req, _m, url) => {
    const since = Number(url.searchParams.get('since') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 10_000);
    return { status: 200, body: { lastSeq: sim.requests.lastSeq, entries: sim.requests.list(Number.isFinite(since) ? since : 0, Number.isFinite(limit) ? limit : 10_000) } };
  });
  route('DELETE', '/admin/requests', async () => {
    sim.requests.clear();
    return { status: 200, body: { cleared: true } };
  });

  route('GET', '/admin/devices', async (_req, _m, url) => {
    const offset = Math.max(0, Number(url.searchParams.get('offset') ?? 0) || 0);
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? Number.POSITIVE_INFINITY : Math.max(0, Number(limitParam) || 0);
    const devices: SimDevice[] = [];
    let i = 0;
    for (const device of store.all()) {
      if (i++ < offset) continue;
      if (devices.length >= limit) break;
      devices.push(device);
    }
    return { status: 200, body: { counts: store.counts(), values: devices } };
  });
  route('GET', '/admin/devices/{id}', async (_req, m) => ({ status: 200, body: store.require(Number(m[1])) }));
  route('GET', '/admin/devices/{id}/tags', async (_req, m) => {
    store.require(Number(m[1]));
    return { status: 200, body: [...store.tagsOf(Number(m[1])).values()] };
  });
  route('POST', '/admin/devices', async (req) => {
    const body = await jsonBody(req);
    const device = deviceFromDocument(body, store, 'admin request');
    // An operator's new device is a change like any other: its own lastModified, after every earlier one.
    const has = (member: string): boolean => body !== null && typeof body === 'object' && member in body;
    const now = formatKicsTime(store.clock.now());
    store.load(has('lastModified') ? device : { ...device, lastModified: now, created: has('created') ? device.created : now });
    return { status: 201, body: store.get(device.id) };
  });
  route('PATCH', '/admin/devices/{id}', async (req, m) => {
    const id = Number(m[1]);
    const current = store.require(id);
    const body = await jsonBody(req);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw httpError(400, 'The body must be a JSON object with the members to change.');
    const changes = body as Record<string, unknown>;
    const writable: Record<string, unknown> = {};
    const other: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(changes)) (writableKeys.has(key) ? writable : other)[key] = value;
    const extra = parse(operatorFields, other) as Partial<SimDevice>;
    if (typeof extra.lastSeen === 'string') {
      const lastSeen = normaliseKicsTime(extra.lastSeen);
      if (lastSeen === null) throw httpError(400, `lastSeen must be an ISO 8601 date-time; found ${JSON.stringify(extra.lastSeen)}.`, 'lastSeen', 'lastSeen');
      extra.lastSeen = lastSeen;
    }
    const parsed = parseEditRequest({ ...writableDocument(current), ...writable, allowProcessControlSettingsUpdate: true });
    if (!parsed.ok) throw validationError(parsed.errors);
    const result = store.edit(id, parsed.value.input, { allowProcessControlSettingsChange: true, flagName: '' }, extra);
    return { status: 200, body: { changed: result.changed, device: result.device } };
  });
  route('DELETE', '/admin/devices/{id}', async (_req, m) => ({ status: 200, body: store.delete(Number(m[1])) }));

  route('GET', '/admin/events', async () => ({ status: 200, body: sim.events.list() }));
  route('GET', '/admin/address-spaces', async () => ({ status: 200, body: sim.addressSpaces.spaces }));

  route('POST', '/admin/identities', async (req) => {
    const { kind } = parse(z.strictObject({ kind: z.enum(['valid', 'expired', 'foreign']).default('valid') }), (await jsonBody(req)) ?? {});
    return { status: 200, body: sim.issueClientIdentity(kind) };
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const remote = req.socket.remoteAddress ?? '';
    if (!(remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1')) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'Error', errors: [{ field: null, path: null, errorMessage: 'The admin endpoint answers loopback clients only.' }] }));
      return;
    }
    const refused = refuseForeignAdminRequest(req);
    if (refused) {
      res.writeHead(refused.status, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'Error', errors: [{ field: null, path: null, errorMessage: refused.message }] }));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    let answer: { status: number; body?: unknown };
    try {
      const candidates = routes.filter((r) => r.pattern.test(url.pathname));
      const found = candidates.find((r) => r.method === req.method);
      if (!found) {
        throw candidates.length > 0 ? httpError(405, `${req.method} is not allowed on ${url.pathname}; allowed: ${candidates.map((r) => r.method).join(', ')}.`) : httpError(404, `No admin route ${url.pathname}.`);
      }
      answer = await found.handler(req, found.pattern.exec(url.pathname)!, url);
    } catch (error) {
      if (error instanceof SimulatorHttpError) answer = { status: error.status, body: error.body() };
      else {
        logger.error({ err: error }, 'admin request failed');
        answer = { status: 500, body: { status: 'Error', errors: [{ field: null, path: null, errorMessage: (error as Error).message }] } };
      }
    }
    const payload = answer.body === undefined ? '' : JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  };

  return http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'admin request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
}
