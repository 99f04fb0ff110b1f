import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJson, type KscInput } from '../../adapters/ksc/params.js';
import type { KscSimulatorCore, KscSimulatorSettings, FailureInjection } from './server.js';
import type { SimCommand, SimHostInput } from './state.js';
import { refuseForeignAdminRequest } from '../admin-guard.js';

/**
 * The simulator's admin endpoint (plain HTTP, loopback only): what a KSC administrator or a KSC
 * plugin would do, and what a test wants to read back.
 *
 *   POST /commands        {name, params?, productName?, productVersion?} -> {commandId, delivered}
 *   GET  /commands        every command with its status, result or error
 *   GET  /commands/:id    one command
 *   POST /events          {type, params?} -> {delivered}          (type: alphabetic code or numeric id)
 *   POST /hosts           {hosts: [...], replace?} -> {hosts}
 *   GET  /hosts           the hosts
 *   POST /sessions/expire -> {expired}
 *   POST /settings        partial settings -> settings
 *   POST /failures        {method, count, status? | drop?}
 *   GET  /stats           counters, subscriptions, open result-sets
 *   GET  /calls           the call log (method, time, status, PxgError name)
 */
export function adminHandler(core: KscSimulatorCore, defaults: { productName: string; productVersion: string }): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const remote = req.socket.remoteAddress ?? '';
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(remote)) return send(res, 403, { error: 'the admin endpoint answers loopback clients only' });
    const refused = refuseForeignAdminRequest(req);
    if (refused) return send(res, refused.status, { error: refused.message });
    const url = new URL(req.url ?? '/', 'http://admin');
    const parts = url.pathname.split('/').filter(Boolean);
    try {
      const body = req.method === 'POST' ? await readJson(req) : {};
      const route = `${req.method} /${parts[0] ?? ''}${parts.length > 1 ? '/:id' : ''}`;
      switch (route) {
        case 'POST /commands': {
          const name = body.name;
          if (typeof name !== 'string' || name === '') return send(res, 400, { error: 'name (string) is required' });
          const command = core.addCommand({
            name,
            params: (body.params ?? {}) as Record<string, KscInput>,
            productName: typeof body.productName === 'string' ? body.productName : defaults.productName,
            productVersion: typeof body.productVersion === 'string' ? body.productVersion : defaults.productVersion,
          });
          return send(res, 201, { commandId: command.id, delivered: command.delivered });
        }
        case 'GET /commands':
          return send(res, 200, { commands: [...core.commands.values()].map(commandView) });
        case 'GET /commands/:id': {
          const command = core.commands.get(decodeURIComponent(parts[1]!));
          return command ? send(res, 200, commandView(command)) : send(res, 404, { error: 'no such command' });
        }
        case 'POST /events': {
          const type = eventCode(body.type);
          if (!type) return send(res, 400, { error: 'type (an event code such as KLSRV_EVENT_HOSTS_NEW_DETECTED, or its id such as 4100) is required' });
          return send(res, 201, { type, delivered: core.raiseEvent(type, (body.params ?? {}) as Record<string, KscInput>) });
        }
        case 'POST /hosts': {
          if (!Array.isArray(body.hosts)) return send(res, 400, { error: 'hosts (array) is required' });
          const added = core.addHosts(body.hosts as SimHostInput[], body.replace === true);
          return send(res, 201, { added: added.length, hosts: core.hosts.size });
        }
        case 'GET /hosts':
          return send(res, 200, { hosts: [...core.hosts.values()] });
        case 'POST /sessions/:id':
          if (parts[1] !== 'expire') break;
          return send(res, 200, { expired: core.expireSessions() });
        case 'POST /settings': {
          for (const [key, value] of Object.entries(body)) {
            if (!(key in core.settings)) return send(res, 400, { error: `unknown setting ${key}` });
            (core.settings as unknown as Record<string, unknown>)[key] = value;
          }
          return send(res, 200, core.settings satisfies KscSimulatorSettings);
        }
        case 'POST /failures': {
          if (typeof body.method !== 'string') return send(res, 400, { error: 'method (string) is required' });
          core.failNext({ method: body.method, count: typeof body.count === 'number' ? body.count : 1, ...(typeof body.status === 'number' ? { status: body.status } : {}), ...(body.drop === true ? { drop: true } : {}) } satisfies FailureInjection);
          return send(res, 201, { pending: core.failures.length });
        }
        case 'GET /stats':
          return send(res, 200, { ...core.stats, sessions: core.sessions.size, subscriptions: core.subscriptionsSummary(), openResultSets: core.openResultSets(), hosts: core.hosts.size, commands: core.commands.size });
        case 'GET /calls':
          return send(res, 200, { calls: core.calls });
      }
      return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    } catch (error) {
      return send(res, 400, { error: error instanceof Error ? error.message : String(error) });
    }
  };
}

/** The KSC event ids the admin endpoint accepts as shorthand. */
const eventIds: Record<string, string> = {
  '4100': 'KLSRV_EVENT_HOSTS_NEW_DETECTED',
  '4101': 'KLSRV_EVENT_HOSTS_NEW_REDIRECTED',
  '4102': 'KLSRV_EVENT_HOSTS_CONFLICT',
  '7710': 'KLNAG_EV_NAC_DEVICE_DISCOVERED',
};

function eventCode(value: unknown): string | null {
  if (typeof value === 'number') return eventIds[String(value)] ?? null;
  if (typeof value !== 'string' || value === '') return null;
  return eventIds[value] ?? value;
}

function commandView(command: SimCommand): Record<string, unknown> {
  return {
    id: command.id,
    name: command.name,
    productName: command.productName,
    productVersion: command.productVersion,
    status: command.status,
    delivered: command.delivered,
    payloadRead: command.payloadRead,
    result: command.result ? toJson(command.result) : null,
    error: command.error ? toJson(command.error) : null,
    createdAt: command.createdAt.toISOString(),
    answeredAt: command.answeredAt?.toISOString() ?? null,
  };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('the body must be a JSON object');
  return value as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
