import { randomBytes } from 'node:crypto';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySecureSession from '@fastify/secure-session';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import type { Sql } from '../db/sql.js';
import { migrationStatus, readMigrations } from '../db/migrate.js';
import { KicsSyncError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { escapeHtml } from '../reconcile/report/html.js';
import { approvePlan } from '../sync/apply/plan-state.js';
import { insertAuditRecord } from '../sync/audit/store.js';
import { consoleMetrics } from './metrics.js';
import { findUser, userById, userByToken, verifyPassword, type ConsoleUser } from './users.js';

/**
 * The review console's HTTP server (Fastify): login with a password (scrypt) into a session kept in an
 * encrypted, HTTP-only, SameSite=Strict cookie (@fastify/secure-session, its key kept in the database
 * so that every process serving the console agrees), CSRF tokens on every state-changing form
 * (@fastify/csrf-protection), login attempts rate-limited (@fastify/rate-limit), a strict CSP and the
 * other Helmet headers. Automation uses `Authorization: Bearer <token>` (`kics-sync users token`) on
 * `/api/v1`. Owners see only what belongs to one of their owner names: asking for another owner's
 * item gets 403, never the data. Operators get `/metrics`, `/healthz`, `/readyz`.
 */

export interface ConsoleOptions {
  db: Database;
  logger: Logger;
  /** Set when served over TLS: the session cookie is then `Secure`. */
  secureCookies?: boolean;
  /** Login attempts per client address per minute. */
  loginAttemptsPerMinute?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: ConsoleUser | null;
  }
}

declare module '@fastify/secure-session' {
  interface SessionData {
    userId: number;
  }
}

const pageSize = 50;

/** The session key: 32 random bytes, made by the first process that needs it and shared through the database. */
async function sessionKey(db: Sql): Promise<Buffer> {
  await db.execute(`INSERT INTO console_setting (name, value) VALUES ('session_key', $1) ON CONFLICT (name) DO NOTHING`, [randomBytes(32)]);
  const [row] = await db.query<{ value: Buffer | Uint8Array }>(`SELECT value FROM console_setting WHERE name = 'session_key'`);
  return Buffer.from(row!.value);
}

/** Whether the user may see (and, unless a viewer, decide) items of this owner. */
export function maySee(user: ConsoleUser, owner: string | null): boolean {
  if (user.role === 'admin' || user.role === 'viewer') return true;
  return owner !== null && user.owners.includes(owner);
}

export async function buildConsole(options: ConsoleOptions): Promise<FastifyInstance> {
  const { db } = options;
  // On close every connection is ended: a browser keeps idle and preconnected sockets open, which would hold a stop for minutes.
  const app = Fastify({ logger: false, trustProxy: false, bodyLimit: 1024 * 1024, forceCloseConnections: true });
  app.decorateRequest('user', null);
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], objectSrc: ["'none'"] },
    },
  });
  await app.register(fastifyFormbody);
  await app.register(fastifySecureSession, {
    key: await sessionKey(db),
    cookieName: 'kics-sync-session',
    cookie: { path: '/', httpOnly: true, sameSite: 'strict', secure: options.secureCookies ?? false, maxAge: 12 * 3600 },
  });
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/secure-session' });
  await app.register(fastifyRateLimit, { global: false });
  // The OpenAPI document of /api/v1, made from the routes' own schemas (which also validate requests).
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'kics-sync review console API', version: 'v1', description: 'Plans and their items, as the signed-in user or the API token\'s user may see them.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'kics-sync users token NAME' } } },
      security: [{ token: [] }],
    },
    hideUntagged: true,
  });
  const metrics = consoleMetrics(db);
  // The CSRF check of every state-changing form (a cross-site post carries no token: 403).
  const csrf = app.csrfProtection.bind(app);

  // Who is asking: a bearer token (API), or the session of a user still enabled.
  app.addHook('onRequest', async (request) => {
    const auth = request.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      request.user = await userByToken(db, auth.slice('Bearer '.length).trim());
      return;
    }
    const id = request.session.get('userId');
    if (typeof id === 'number') {
      const user = await userById(db, id);
      request.user = user && !user.disabledAt ? user : null;
    }
  });
  app.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) options.logger.error({ err: errorMessage(error), url: request.url }, 'console request failed');
    const message = status >= 500 ? 'internal error' : error.message;
    return request.url.startsWith('/api/') ? reply.code(status).send({ error: message }) : reply.code(status).type('text/html').send(page('Error', `<p class="error">${escapeHtml(message)}</p>`));
  });

  const requireUser = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.user) return;
    if (request.url.startsWith('/api/')) await reply.code(401).send({ error: 'sign in or send an API token (Authorization: Bearer ...)' });
    else await reply.redirect('/login');
  };

  // ---------------------------------------------------------------- operations
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      const status = await migrationStatus(db, await readMigrations());
      if (status.pending.length > 0 || status.failed.length > 0) {
        return await reply.code(503).send({ status: 'not ready', reason: `migrations not applied: ${[...status.failed, ...status.pending].join(', ')} (run kics-sync db migrate)` });
      }
      return { status: 'ready' };
    } catch (error) {
      return reply.code(503).send({ status: 'not ready', reason: `database unreachable: ${errorMessage(error)}` });
    }
  });
  app.get('/console.css', async (_request, reply) => reply.type('text/css').header('cache-control', 'max-age=3600').send(stylesheet));
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  // ---------------------------------------------------------------- login
  app.get('/login', async (request, reply) => {
    const token = reply.generateCsrf();
    return reply.type('text/html').send(loginPage(token, null));
  });
  app.post<{ Body: { name?: string; password?: string; _csrf?: string } }>(
    '/login',
    { preHandler: csrf, config: { rateLimit: { max: options.loginAttemptsPerMinute ?? 10, timeWindow: 60_000 } } },
    async (request, reply) => {
      const name = String(request.body?.name ?? '');
      const password = String(request.body?.password ?? '');
      const user = name === '' ? null : await findUser(db, name);
      const ok = user !== null && !user.disabledAt && user.passwordHash !== null && (await verifyPassword(password, user.passwordHash));
      if (!ok) {
        options.logger.warn({ user: name.slice(0, 200) }, 'console login refused');
        return reply.code(401).type('text/html').send(loginPage(reply.generateCsrf(), 'Unknown user or wrong password.'));
      }
      request.session.regenerate();
      request.session.set('userId', user.id);
      return reply.redirect('/');
    },
  );
  app.post('/logout', { preHandler: csrf }, async (request, reply) => {
    request.session.delete();
    return reply.redirect('/login');
  });

  // ---------------------------------------------------------------- plans
  app.get('/', { onRequest: requireUser }, async (request, reply) => {
    const plans = await plansFor(db, request.user!);
    const csrfToken = reply.generateCsrf();
    const rows = plans
      .map((p) => {
        const action =
          p.status === 'draft' && request.user!.role !== 'viewer'
            ? `<form method="post" action="/plans/${p.id}/approve"><input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}"><button type="submit">Approve plan ${p.id}</button></form>`
            : '';
        return `<tr><td>${p.id}</td><td>${escapeHtml(p.status)}</td><td>${escapeHtml(p.createdAt.toISOString())}</td><td>${escapeHtml(scopeText(p.scope))}</td><td>${p.items}</td><td>${escapeHtml(countsText(p.counts))}</td><td>${action}</td></tr>`;
      })
      .join('');
    const body = `<p>Signed in as ${escapeHtml(request.user!.name)} (${request.user!.role}${request.user!.role === 'owner' ? `: ${escapeHtml(request.user!.owners.join(', '))}` : ''}).</p>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}"><button type="submit">Sign out</button></form>
<h2>Plans</h2>
<table><thead><tr><th>Plan</th><th>Status</th><th>Created</th><th>Scope</th><th>Your items</th><th>By action</th><th></th></tr></thead><tbody>${rows || '<tr><td colspan="7">No plans yet.</td></tr>'}</tbody></table>`;
    return reply.type('text/html').send(page('Plans', body));
  });

  app.get('/api/v1/openapi.json', async () => app.swagger());
  app.get('/api/v1/me', { onRequest: requireUser, schema: { tags: ['api'], summary: 'The user the request is made as', response: { 200: meSchema } } }, async (request) => {
    const u = request.user!;
    return { name: u.name, role: u.role, owners: u.owners };
  });
  app.get('/api/v1/plans', { onRequest: requireUser, schema: { tags: ['api'], summary: 'The newest 50 plans, with the counts of the items the user may see', response: { 200: plansSchema } } }, async (request) => ({ plans: (await plansFor(db, request.user!)).map((p) => ({ ...p, createdAt: p.createdAt.toISOString() })) }));
  app.get<{ Params: { id: number }; Querystring: { page: number; action?: string; owner?: string } }>(
    '/api/v1/plans/:id/items',
    {
      onRequest: requireUser,
      schema: {
        tags: ['api'],
        summary: 'Items of a plan the user may see, 50 per page, in plan order',
        params: planParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 }, action: { type: 'string', maxLength: 40 }, owner: { type: 'string', maxLength: 4096 } },
        },
      },
    },
    async (request, reply) => {
      const planId = request.params.id;
      const pageNo = request.query.page;
      const user = request.user!;
      const owners = user.role === 'owner' ? user.owners : null;
      if (request.query.owner !== undefined && owners !== null && !owners.includes(request.query.owner)) return reply.code(403).send({ error: 'you may not see that owner\'s items' });
      const items = await db.query<{ seq: number; action: string; status: string; kics_device_id: number | null; device_name: string | null; owner: string | null; reason: string | null }>(
        `SELECT seq, action::text AS action, status::text AS status, kics_device_id, device_name, owner, reason FROM plan_item
          WHERE plan_id = $1 AND ($2::text[] IS NULL OR owner = ANY($2::text[])) AND ($3::text IS NULL OR action::text = $3) AND ($4::text IS NULL OR owner = $4)
          ORDER BY seq LIMIT $5 OFFSET $6`,
        [planId, owners, request.query.action ?? null, request.query.owner ?? null, pageSize, (pageNo - 1) * pageSize],
      );
      return { plan: planId, page: pageNo, pageSize, items };
    },
  );
  app.get<{ Params: { id: number; seq: number } }>(
    '/api/v1/plans/:id/items/:seq',
    {
      onRequest: requireUser,
      schema: {
        tags: ['api'],
        summary: "One item with its before / after values, PATCH operations and conflict; 403 for another owner's",
        params: { type: 'object', required: ['id', 'seq'], properties: { id: planParams.properties.id, seq: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } } },
      },
    },
    async (request, reply) => {
      const planId = request.params.id;
      const seq = request.params.seq;
      const [item] = await db.query<Record<string, unknown> & { owner: string | null }>(
        `SELECT seq, action::text AS action, status::text AS status, kics_device_id, device_name, owner, reason, before, after, ops, conflict FROM plan_item WHERE plan_id = $1 AND seq = $2`,
        [planId, seq],
      );
      if (!item) return reply.code(404).send({ error: `plan ${planId} has no item ${seq}` });
      if (!maySee(request.user!, item.owner)) return reply.code(403).send({ error: 'this item belongs to another owner' });
      return item;
    },
  );

  // ---------------------------------------------------------------- decisions
  /** Approves a plan as the user, audited; refused (403) unless the user may approve it all. */
  const approve = async (user: ConsoleUser, planId: number): Promise<{ status: number; body: Record<string, unknown> }> => {
    const [plan] = await db.query<{ scope: Record<string, unknown> }>(`SELECT scope FROM plan WHERE id = $1`, [planId]);
    if (!plan) return { status: 404, body: { error: `no plan ${planId}` } };
    const refusal = await mayApprove(db, user, planId, plan.scope);
    if (refusal) return { status: 403, body: { error: refusal } };
    try {
      const { header, changed } = await approvePlan(db, planId, consoleActor(user));
      if (changed) {
        await insertAuditRecord(db, {
          actor: consoleActor(user),
          runId: null,
          planId,
          planItemId: null,
          deviceId: null,
          operation: 'approve_plan',
          request: { via: 'console', user: user.name, role: user.role },
          httpStatus: null,
          outcome: 'applied',
          kicsResult: null,
          before: { status: 'draft' },
          after: { status: 'approved' },
        });
      }
      return { status: 200, body: { plan: planId, status: header.status, approvedBy: header.approvedBy, approvedAt: header.approvedAt, changed } };
    } catch (error) {
      if (error instanceof KicsSyncError) return { status: 409, body: { error: error.message } };
      throw error;
    }
  };
  app.post<{ Params: { id: number } }>(
    '/api/v1/plans/:id/approve',
    { onRequest: requireUser, schema: { tags: ['api'], summary: 'Approve a draft plan as the user (audited); owners only plans scoped to one of their owners', params: planParams } },
    async (request, reply) => {
      const answer = await approve(request.user!, request.params.id);
      return reply.code(answer.status).send(answer.body);
    },
  );
  app.post<{ Params: { id: number } }>('/plans/:id/approve', { onRequest: requireUser, preHandler: csrf, schema: { params: planParams } }, async (request, reply) => {
    const answer = await approve(request.user!, request.params.id);
    if (answer.status !== 200) return reply.code(answer.status).type('text/html').send(page('Not approved', `<p class="error" role="alert">${escapeHtml(String(answer.body.error))}</p><p><a href="/">Back to the plans</a></p>`));
    return reply.redirect('/');
  });
  return app;
}

/** How a console user appears as an actor in plans and the audit. */
export function consoleActor(user: ConsoleUser): string {
  return `console:${user.name}`;
}

/**
 * Why the user may not approve the plan as a whole, or null when they may: admins approve any plan,
 * viewers none, owners a plan whose every item belongs to one of their owners.
 */
async function mayApprove(db: Sql, user: ConsoleUser, planId: number, scope: Record<string, unknown>): Promise<string | null> {
  if (user.role === 'admin') return null;
  if (user.role === 'viewer') return 'viewers cannot approve plans';
  const [others] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM plan_item WHERE plan_id = $1 AND (owner IS NULL OR NOT (owner = ANY($2::text[])))`, [planId, user.owners]);
  if ((others?.n ?? 0) > 0) {
    return `plan ${planId}${typeof scope.owner === 'string' ? '' : ' is not scoped to your owners and'} has ${others!.n} item(s) of other owners (or of none): an owner approves only a plan of their own items (kics-sync plan --owner)`;
  }
  return null;
}

interface PlanRow {
  id: number;
  status: string;
  createdAt: Date;
  scope: Record<string, unknown>;
  /** Items the user may see. */
  items: number;
  counts: Record<string, number>;
}

/** The newest plans, each with the counts of the items this user may see (an owner: their owners' only). */
async function plansFor(db: Sql, user: ConsoleUser): Promise<PlanRow[]> {
  const owners = user.role === 'owner' ? user.owners : null;
  const rows = await db.query<{ id: number; status: string; created_at: Date; scope: Record<string, unknown>; counts: Record<string, number> | null }>(
    `SELECT p.id, p.status::text AS status, p.created_at, p.scope,
            (SELECT jsonb_object_agg(action, n) FROM (SELECT action::text AS action, count(*)::int AS n FROM plan_item i
                WHERE i.plan_id = p.id AND ($1::text[] IS NULL OR i.owner = ANY($1::text[])) GROUP BY 1) c) AS counts
       FROM plan p ORDER BY p.id DESC LIMIT 50`,
    [owners],
  );
  return rows.map((r) => {
    const counts = r.counts ?? {};
    return { id: r.id, status: r.status, createdAt: r.created_at, scope: r.scope, items: Object.values(counts).reduce((a, b) => a + b, 0), counts };
  });
}

const planParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } } } as const;
const meSchema = { type: 'object', properties: { name: { type: 'string' }, role: { type: 'string', enum: ['admin', 'owner', 'viewer'] }, owners: { type: 'array', items: { type: 'string' } } } } as const;
const plansSchema = {
  type: 'object',
  properties: {
    plans: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          status: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          scope: { type: 'object', additionalProperties: true },
          items: { type: 'integer', description: 'items the user may see' },
          counts: { type: 'object', additionalProperties: { type: 'integer' } },
        },
      },
    },
  },
} as const;

function scopeText(scope: Record<string, unknown>): string {
  const parts = Object.entries(scope).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  return parts.length === 0 ? 'everything' : parts.join('; ');
}

function countsText(counts: Record<string, number>): string {
  return Object.entries(counts).map(([action, n]) => `${action} ${n}`).join(', ');
}

/** A page: no script, no external resource; the stylesheet is inline-free (CSP style-src 'self'). */
function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} - kics-sync</title><link rel="stylesheet" href="/console.css"></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function loginPage(csrf: string, error: string | null): string {
  return page(
    'Sign in',
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
<label>User <input name="name" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`,
  );
}

const stylesheet = `body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2733}
table{border-collapse:collapse}td,th{border:1px solid #c9d1da;padding:.3rem .5rem;text-align:left}
label{display:block;margin:.5rem 0}.error{color:#a4161a}`;
