import { randomBytes } from 'node:crypto';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySecureSession from '@fastify/secure-session';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify';
import type { Database } from '../db/database.js';
import type { Sql } from '../db/sql.js';
import { migrationStatus, readMigrations } from '../db/migrate.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { siteStatusJson, type SiteStatus } from '../fleet/status.js';
import { listDecisions } from '../sync/decisions/store.js';
import { decideRefusal, maySee, ownerFilter, wholePlanRefusal } from './access.js';
import { approveItem, approveWholePlan, decideConflict, rejectItem, revoke, type Answer, type ConflictDecisionRequest } from './decide.js';
import { errorPage, loginPage, stylesheet } from './html.js';
import { consoleMetrics } from './metrics.js';
import { decisionsPage, devicePage, fleetPage, itemPage, planPage, plansPage, runsPage } from './pages.js';
import { deviceAudit, deviceOwner, itemDetail, itemsPage, itemSorts, pageSize, planCounts, planHead, plansFor, runsFor, runView, type PlanHead } from './queries.js';
import { ConsoleRuns, type ConsoleRunsOptions } from './runs.js';
import { mapClaimValues, OidcLogin, type OidcConfig, type OidcStart } from './oidc.js';
import { findUser, upsertOidcUser, userById, userByToken, verifyPassword, type ConsoleUser } from './users.js';

/**
 * The review console's HTTP server (Fastify): login with a password (scrypt) into a session kept in an
 * encrypted, HTTP-only, SameSite=Strict cookie (@fastify/secure-session, its key kept in the database
 * so that every process serving the console agrees), CSRF tokens on every state-changing request made
 * with a session (@fastify/csrf-protection), login attempts rate-limited (@fastify/rate-limit), a strict
 * CSP and the other Helmet headers. Automation uses `Authorization: Bearer <token>` on `/api/v1`.
 * Who may do what is decided in src/console/access.ts; what a decision does in src/console/decide.ts.
 * Operators get `/metrics`, `/healthz`, `/readyz`.
 */

export interface ConsoleOptions {
  db: Database;
  logger: Logger;
  /** Set when served over TLS: the session cookie is then `Secure`. */
  secureCookies?: boolean;
  /** PEM certificate (with chain) and key: served over HTTPS. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Login attempts per client address per minute. */
  loginAttemptsPerMinute?: number;
  /** Days a rejected change stays held (0: until revoked or its records change). */
  holdDays?: number;
  /** What starting plans and applies from the console needs; without it they are refused (503). */
  runs?: ConsoleRunsOptions;
  /** OpenID Connect sign-in beside local users. */
  oidc?: OidcConfig;
  /** The fleet's state (src/fleet/status.ts): the fleet page, `/api/v1/sites` and the per-site series of `/metrics`. */
  fleet?: () => Promise<SiteStatus[]>;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: ConsoleUser | null;
    /** Authenticated by an API token (no cookie: no CSRF token needed). */
    viaToken: boolean;
  }
  interface FastifyInstance {
    /** The runs started from this console (tests wait on them). */
    consoleRuns: ConsoleRuns | null;
  }
}

declare module '@fastify/secure-session' {
  interface SessionData {
    userId: number;
    /** PKCE verifier, state and nonce of an OpenID Connect sign-in under way. */
    oidc: OidcStart['checks'];
  }
}

export { maySee };

/** The session key: 32 random bytes, made by the first process that needs it and shared through the database. */
async function sessionKey(db: Sql): Promise<Buffer> {
  await db.execute(`INSERT INTO console_setting (name, value) VALUES ('session_key', $1) ON CONFLICT (name) DO NOTHING`, [randomBytes(32)]);
  const [row] = await db.query<{ value: Buffer | Uint8Array }>(`SELECT value FROM console_setting WHERE name = 'session_key'`);
  return Buffer.from(row!.value);
}

export async function buildConsole(options: ConsoleOptions): Promise<FastifyInstance> {
  const { db } = options;
  const holdDays = options.holdDays ?? 90;
  // On close every connection is ended: a browser keeps idle and preconnected sockets open, which would hold a stop for minutes.
  const app = (options.https
    ? Fastify({ logger: false, trustProxy: false, bodyLimit: 1024 * 1024, forceCloseConnections: true, https: options.https })
    : Fastify({ logger: false, trustProxy: false, bodyLimit: 1024 * 1024, forceCloseConnections: true })) as unknown as FastifyInstance;
  app.decorateRequest('user', null);
  app.decorateRequest('viaToken', false);
  const runs = options.runs ? new ConsoleRuns(db, options.logger, options.runs) : null;
  app.decorate('consoleRuns', runs);
  app.addHook('onClose', async () => runs?.close());
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
    cookie: { path: '/', httpOnly: true, sameSite: 'strict', secure: options.secureCookies ?? Boolean(options.https), maxAge: 12 * 3600 },
  });
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/secure-session' });
  await app.register(fastifyRateLimit, { global: false });
  // The OpenAPI document of /api/v1, made from the routes' own schemas (which also validate requests).
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'kics-sync review console API', version: 'v1', description: 'Plans, their items, decisions and runs, as the signed-in user or the API token\'s user may see them. A request made with a session cookie instead of a token carries the CSRF token in the csrf-token header.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'kics-sync users token NAME' } } },
      security: [{ token: [] }],
    },
    hideUntagged: true,
  });
  const metrics = consoleMetrics(db, options.fleet);
  // The CSRF check of every state-changing form (a cross-site post carries no token: 403).
  const csrf = app.csrfProtection.bind(app);
  // An API write: a token needs no CSRF token (no cookie is involved); a session does.
  const apiWrite = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (request.viaToken) done();
    else csrf(request, reply, done);
  };

  // Who is asking: a bearer token (API), or the session of a user still enabled.
  app.addHook('onRequest', async (request) => {
    const auth = request.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      request.user = await userByToken(db, auth.slice('Bearer '.length).trim());
      request.viaToken = request.user !== null;
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
    return request.url.startsWith('/api/') ? reply.code(status).send({ error: message }) : reply.code(status).type('text/html').send(errorPage('Error', message, request.user));
  });

  const requireUser = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.user) return;
    if (request.url.startsWith('/api/')) await reply.code(401).send({ error: 'sign in or send an API token (Authorization: Bearer ...)' });
    else await reply.redirect('/login');
  };
  /** An answer as JSON (API) or, for a form, a redirect on success and a page saying why otherwise. */
  const answerJson = (reply: FastifyReply, a: Answer): FastifyReply => reply.code(a.status).send(a.body);
  const answerForm = (request: FastifyRequest, reply: FastifyReply, a: Answer, next: string): FastifyReply =>
    a.status < 300 ? reply.redirect(next) : reply.code(a.status).type('text/html').send(errorPage('Not done', String(a.body.error), request.user, next));
  const noRuns: Answer = { status: 503, body: { error: 'this console was started without a configuration to run with: start it with kics-sync serve' } };
  const spaceNames = (head: PlanHead) => {
    const names = new Map((head.summary.byAddressSpace ?? []).map((s) => [s.id, s.name]));
    return (id: number | null): string => (id === null ? 'no address space' : (names.get(id) ?? `address space ${id}`));
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
  const oidc = options.oidc ? new OidcLogin(options.oidc, options.logger) : null;
  const sso = oidc ? { label: oidc.options.label } : null;
  app.get('/login', async (_request, reply) => reply.type('text/html').send(loginPage(reply.generateCsrf(), null, sso)));
  // OpenID Connect: to the provider with PKCE, state and nonce kept in the session; back to /auth/callback.
  app.get('/auth/oidc', async (request, reply) => {
    if (!oidc) return reply.code(404).type('text/html').send(errorPage('Not found', 'single sign-on is not configured (console.oidc)', null, '/login'));
    try {
      const started = await oidc.start();
      request.session.set('oidc', started.checks);
      return await reply.redirect(started.url);
    } catch (error) {
      options.logger.error({ err: errorMessage(error) }, 'OIDC provider unreachable');
      return reply.code(502).type('text/html').send(errorPage('Sign-in unavailable', 'the single sign-on provider cannot be reached; try again later or sign in with a local account', null, '/login'));
    }
  });
  app.get('/auth/callback', async (request, reply) => {
    const checks = request.session.get('oidc');
    if (!oidc || !checks) return reply.code(400).type('text/html').send(errorPage('Sign-in expired', 'this sign-in was not started here or has expired: start it again', null, '/login'));
    request.session.set('oidc', undefined);
    let identity;
    try {
      identity = await oidc.finish(request.url, checks);
    } catch (error) {
      options.logger.warn({ err: errorMessage(error) }, 'OIDC sign-in refused');
      return reply.code(401).type('text/html').send(errorPage('Sign-in failed', `the single sign-on answer was refused: ${errorMessage(error)}`, null, '/login'));
    }
    const mapped = mapClaimValues(identity.values, oidc.options.map);
    if (!mapped) {
      options.logger.warn({ user: identity.name.slice(0, 200), claim: oidc.options.claim }, 'OIDC sign-in refused: no mapped claim value');
      return reply
        .code(403)
        .type('text/html')
        .send(errorPage('Not allowed', `${identity.name} signed in, but none of their ${oidc.options.claim} maps to an owner or a role in kics-sync (console.oidc.map): ask an admin`, null, '/login'));
    }
    const user = await upsertOidcUser(db, { subject: identity.subject, name: identity.name, ...mapped });
    if (typeof user === 'string') return reply.code(403).type('text/html').send(errorPage('Not allowed', user, null, '/login'));
    request.session.regenerate();
    request.session.set('userId', user.id);
    return reply.redirect('/');
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
        return reply.code(401).type('text/html').send(loginPage(reply.generateCsrf(), 'Unknown user or wrong password.', sso));
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

  // ---------------------------------------------------------------- pages
  app.get('/', { onRequest: requireUser }, async (request, reply) => {
    const html = plansPage(request.user!, reply.generateCsrf(), await plansFor(db, request.user!), runs !== null);
    return reply.type('text/html').send(html);
  });
  app.get<{ Params: { id: number }; Querystring: PlanQuery }>('/plans/:id', { onRequest: requireUser, schema: { params: planParams, querystring: itemsQuery } }, async (request, reply) => {
    const user = request.user!;
    const head = await planHead(db, request.params.id);
    if (!head) return reply.code(404).type('text/html').send(errorPage('Not found', `no plan ${request.params.id}`, user));
    const filter = filterOf(request.query);
    if (filter.owner !== undefined && !maySee(user, filter.owner)) return reply.code(403).type('text/html').send(errorPage('Not allowed', "you may not see that owner's items", user));
    const [counts, { items, total }] = [await planCounts(db, user, head.id), await itemsPage(db, user, head.id, filter)];
    const whole = user.role === 'viewer' ? 'viewer' : await wholePlanRefusal(db, user, head.id, head.scope);
    const html = planPage({ user, csrf: reply.generateCsrf(), head, counts, filter, items, total, spaceName: spaceNames(head), canApprove: whole === null, canApply: whole === null && runs !== null });
    return reply.type('text/html').send(html);
  });
  app.get<{ Params: { id: number; seq: number } }>('/plans/:id/items/:seq', { onRequest: requireUser, schema: { params: itemParams } }, async (request, reply) => {
    const user = request.user!;
    const head = await planHead(db, request.params.id);
    const item = head ? await itemDetail(db, head.id, request.params.seq) : null;
    if (!head || !item) return reply.code(404).type('text/html').send(errorPage('Not found', `plan ${request.params.id} has no item ${request.params.seq}`, user));
    if (!maySee(user, item.owner)) return reply.code(403).type('text/html').send(errorPage('Not allowed', 'this item belongs to another owner', user));
    return reply.type('text/html').send(itemPage({ user, csrf: reply.generateCsrf(), head, item, refusal: decideRefusal(user, item.owner), spaceName: spaceNames(head) }));
  });
  app.get('/decisions', { onRequest: requireUser }, async (request, reply) => {
    const decisions = await listDecisions(db, { now: new Date(), owners: ownerFilter(request.user!), limit: 500 });
    return reply.type('text/html').send(decisionsPage(request.user!, reply.generateCsrf(), decisions));
  });
  app.get('/runs', { onRequest: requireUser }, async (request, reply) => reply.type('text/html').send(runsPage(request.user!, reply.generateCsrf(), await runsFor(db, request.user!))));
  app.get<{ Params: { id: number } }>('/runs/:id', { onRequest: requireUser, schema: { params: planParams } }, async (request, reply) => {
    const [run] = await runsFor(db, request.user!, request.params.id);
    if (!run) return reply.code(404).type('text/html').send(errorPage('Not found', `no run ${request.params.id} you may see`, request.user));
    return reply.type('text/html').send(runsPage(request.user!, reply.generateCsrf(), [run], `Run ${run.id}`));
  });
  app.get('/fleet', { onRequest: requireUser }, async (request, reply) => {
    const user = request.user!;
    if (!options.fleet) return reply.code(404).type('text/html').send(errorPage('Not found', 'this console shows no fleet', user));
    if (user.role === 'owner') return reply.code(403).type('text/html').send(errorPage('Not allowed', 'the fleet page is for admins and viewers', user));
    return reply.type('text/html').send(fleetPage(user, reply.generateCsrf(), await options.fleet()));
  });
  app.get<{ Params: { id: number } }>('/devices/:id', { onRequest: requireUser, schema: { params: planParams } }, async (request, reply) => {
    const user = request.user!;
    const device = await deviceOwner(db, request.params.id);
    if (!device.known) return reply.code(404).type('text/html').send(errorPage('Not found', `no device ${request.params.id}`, user));
    if (!maySee(user, device.owner)) return reply.code(403).type('text/html').send(errorPage('Not allowed', 'this device belongs to another owner', user));
    const [audit, decisions] = [await deviceAudit(db, request.params.id), await listDecisions(db, { now: new Date(), deviceId: request.params.id, limit: 100 })];
    return reply.type('text/html').send(devicePage(user, reply.generateCsrf(), request.params.id, device.name, audit, decisions));
  });

  // ---------------------------------------------------------------- forms (session + CSRF token)
  const form = { onRequest: requireUser, preHandler: csrf };
  app.post<{ Params: { id: number } }>('/plans/:id/approve', { ...form, schema: { params: planParams } }, async (request, reply) =>
    answerForm(request, reply, await approveWholePlan(db, request.user!, request.params.id), `/plans/${request.params.id}`),
  );
  app.post<{ Params: { id: number } }>('/plans/:id/apply', { ...form, schema: { params: planParams } }, async (request, reply) => {
    const a = runs ? await runs.apply(request.user!, request.params.id) : noRuns;
    return answerForm(request, reply, a, a.status === 202 ? `/runs/${String(a.body.run)}` : `/plans/${request.params.id}`);
  });
  app.post<{ Params: { id: number; seq: number } }>('/plans/:id/items/:seq/approve', { ...form, schema: { params: itemParams } }, async (request, reply) =>
    answerForm(request, reply, await approveItem(db, request.user!, request.params.id, request.params.seq), `/plans/${request.params.id}/items/${request.params.seq}`),
  );
  app.post<{ Params: { id: number; seq: number }; Body: { reason?: string } }>('/plans/:id/items/:seq/reject', { ...form, schema: { params: itemParams } }, async (request, reply) =>
    answerForm(request, reply, await rejectItem(db, request.user!, request.params.id, request.params.seq, String(request.body?.reason ?? ''), holdDays), `/plans/${request.params.id}/items/${request.params.seq}`),
  );
  app.post<{ Body: Record<string, string> }>('/decisions', form, async (request, reply) => {
    const body = request.body ?? {};
    const planId = Number(body.plan);
    const seq = Number(body.seq);
    const back = `/plans/${planId}/items/${seq}`;
    if (!Number.isInteger(planId) || !Number.isInteger(seq) || planId < 1 || seq < 1) return answerForm(request, reply, { status: 400, body: { error: 'plan and seq must be item numbers' } }, '/');
    const kind = body.kind as ConflictDecisionRequest['kind'];
    if (!['pin', 'same_asset', 'ignore_device'].includes(kind)) return answerForm(request, reply, { status: 400, body: { error: 'kind must be pin, same_asset or ignore_device' } }, back);
    let pin: { source?: string; key?: string; deviceId?: number } = {};
    if (kind === 'pin') {
      const item = await itemDetail(db, planId, seq);
      const asset = item?.conflict?.assets[Number(body.record)];
      pin = { ...(asset ? { source: asset.source, key: asset.key } : {}), deviceId: Number(body.deviceId) };
    }
    return answerForm(request, reply, await decideConflict(db, request.user!, { kind, plan: planId, seq, reason: String(body.reason ?? ''), ...pin }), '/decisions');
  });
  app.post<{ Params: { id: number } }>('/decisions/:id/revoke', { ...form, schema: { params: planParams } }, async (request, reply) =>
    answerForm(request, reply, await revoke(db, request.user!, request.params.id), '/decisions'),
  );
  app.post<{ Body: { owner?: string } }>('/runs/plan', form, async (request, reply) => {
    const owner = String(request.body?.owner ?? '').trim();
    const a = runs ? await runs.plan(request.user!, owner === '' ? null : owner) : noRuns;
    return answerForm(request, reply, a, a.status === 202 ? `/runs/${String(a.body.run)}` : '/');
  });

  // ---------------------------------------------------------------- API
  const api = { onRequest: requireUser };
  const apiPost = { onRequest: requireUser, preHandler: apiWrite };
  app.get('/api/v1/openapi.json', async () => app.swagger());
  app.get('/api/v1/me', { ...api, schema: { tags: ['api'], summary: 'The user the request is made as', response: { 200: meSchema } } }, async (request) => {
    const u = request.user!;
    return { name: u.name, role: u.role, owners: u.owners };
  });
  app.get('/api/v1/plans', { ...api, schema: { tags: ['api'], summary: 'The newest 50 plans, with the counts of the items the user may see', response: { 200: plansSchema } } }, async (request) => ({
    plans: (await plansFor(db, request.user!)).map((p) => ({ id: p.id, status: p.status, createdAt: p.createdAt.toISOString(), scope: p.scope, items: p.items, counts: p.counts })),
  }));
  app.get<{ Params: { id: number } }>('/api/v1/plans/:id', { ...api, schema: { tags: ['api'], summary: "A plan's state and its counts over the items the user may see (by action, status, address space, owner)", params: planParams } }, async (request, reply) => {
    const head = await planHead(db, request.params.id);
    if (!head) return reply.code(404).send({ error: `no plan ${request.params.id}` });
    return { id: head.id, status: head.status, createdAt: head.createdAt.toISOString(), scope: head.scope, approvedBy: head.approvedBy, counts: await planCounts(db, request.user!, head.id) };
  });
  app.get<{ Params: { id: number }; Querystring: PlanQuery }>(
    '/api/v1/plans/:id/items',
    { ...api, schema: { tags: ['api'], summary: 'Items of a plan the user may see, 50 per page: filter by action, status, owner, address space, text; sort', params: planParams, querystring: itemsQuery } },
    async (request, reply) => {
      const filter = filterOf(request.query);
      if (filter.owner !== undefined && !maySee(request.user!, filter.owner)) return reply.code(403).send({ error: "you may not see that owner's items" });
      const { items, total } = await itemsPage(db, request.user!, request.params.id, filter);
      return { plan: request.params.id, page: filter.page, pageSize, total, items };
    },
  );
  app.get<{ Params: { id: number; seq: number } }>(
    '/api/v1/plans/:id/items/:seq',
    { ...api, schema: { tags: ['api'], summary: "One item with its before / after values, PATCH operations, conflict and decision; 403 for another owner's", params: itemParams } },
    async (request, reply) => {
      const item = await itemDetail(db, request.params.id, request.params.seq);
      if (!item) return reply.code(404).send({ error: `plan ${request.params.id} has no item ${request.params.seq}` });
      if (!maySee(request.user!, item.owner)) return reply.code(403).send({ error: 'this item belongs to another owner' });
      const { id: _id, ...shown } = item;
      return shown;
    },
  );
  app.post<{ Params: { id: number } }>('/api/v1/plans/:id/approve', { ...apiPost, schema: { tags: ['api'], summary: 'Approve a draft plan as the user (audited); owners only a plan of their own items', params: planParams } }, async (request, reply) =>
    answerJson(reply, await approveWholePlan(db, request.user!, request.params.id)),
  );
  app.post<{ Params: { id: number } }>('/api/v1/plans/:id/apply', { ...apiPost, schema: { tags: ['api'], summary: 'Apply an approved plan (202 with the run id); owners only a plan of their own items', params: planParams } }, async (request, reply) =>
    answerJson(reply, runs ? await runs.apply(request.user!, request.params.id) : noRuns),
  );
  app.post<{ Params: { id: number; seq: number } }>('/api/v1/plans/:id/items/:seq/approve', { ...apiPost, schema: { tags: ['api'], summary: 'Approve one pending change (audited); the plan is approved once all are', params: itemParams } }, async (request, reply) =>
    answerJson(reply, await approveItem(db, request.user!, request.params.id, request.params.seq)),
  );
  app.post<{ Params: { id: number; seq: number }; Body: { reason: string } }>(
    '/api/v1/plans/:id/items/:seq/reject',
    { ...apiPost, schema: { tags: ['api'], summary: 'Reject one pending change with a reason: held now and in later plans (audited)', params: itemParams, body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } } } } },
    async (request, reply) => answerJson(reply, await rejectItem(db, request.user!, request.params.id, request.params.seq, request.body.reason, holdDays)),
  );
  app.get<{ Querystring: { inForce?: boolean; page: number } }>(
    '/api/v1/decisions',
    { ...api, schema: { tags: ['api'], summary: 'Decisions the user may see, newest first, 50 per page', querystring: { type: 'object', additionalProperties: false, properties: { inForce: { type: 'boolean' }, page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 } } } } },
    async (request) => ({
      decisions: await listDecisions(db, { now: new Date(), owners: ownerFilter(request.user!), inForce: request.query.inForce ?? false, limit: pageSize, offset: (request.query.page - 1) * pageSize }),
    }),
  );
  app.post<{ Body: ConflictDecisionRequest }>(
    '/api/v1/decisions',
    { ...apiPost, schema: { tags: ['api'], summary: 'Settle a conflict (pin, same_asset) or ignore a device in no source (ignore_device), from a plan item; later plans follow it', body: decisionBody } },
    async (request, reply) => answerJson(reply, await decideConflict(db, request.user!, request.body)),
  );
  app.post<{ Params: { id: number } }>('/api/v1/decisions/:id/revoke', { ...apiPost, schema: { tags: ['api'], summary: 'Revoke a decision (audited)', params: planParams } }, async (request, reply) =>
    answerJson(reply, await revoke(db, request.user!, request.params.id)),
  );
  app.get('/api/v1/sites', { ...api, schema: { tags: ['api'], summary: 'Every site: last run, next run, devices, open conflicts, time since the last good sync, jobs (admins and viewers)' } }, async (request, reply) => {
    if (!options.fleet) return reply.code(404).send({ error: 'this console shows no fleet' });
    if (request.user!.role === 'owner') return reply.code(403).send({ error: 'the fleet is for admins and viewers' });
    return { sites: (await options.fleet()).map(siteStatusJson) };
  });
  app.get('/api/v1/runs', { ...api, schema: { tags: ['api'], summary: 'The newest 50 runs the user may see' } }, async (request) => ({ runs: (await runsFor(db, request.user!)).map(runView) }));
  app.get<{ Params: { id: number } }>('/api/v1/runs/:id', { ...api, schema: { tags: ['api'], summary: 'One run: status, counts, its plan', params: planParams } }, async (request, reply) => {
    const [run] = await runsFor(db, request.user!, request.params.id);
    return run ? runView(run) : reply.code(404).send({ error: `no run ${request.params.id} you may see` });
  });
  app.post<{ Body: { owner?: string } }>(
    '/api/v1/runs',
    { ...apiPost, schema: { tags: ['api'], summary: "Start a plan of one owner's assets (202 with the run id; an admin may leave owner out to plan everything)", body: { type: 'object', additionalProperties: false, properties: { owner: { type: 'string', minLength: 1, maxLength: 4096 } } } } },
    async (request, reply) => answerJson(reply, runs ? await runs.plan(request.user!, request.body?.owner ?? null) : noRuns),
  );
  app.get<{ Params: { id: number } }>('/api/v1/devices/:id/audit', { ...api, schema: { tags: ['api'], summary: 'Who changed what on a device, newest first; 403 for another owner\'s device', params: planParams } }, async (request, reply) => {
    const device = await deviceOwner(db, request.params.id);
    if (!device.known) return reply.code(404).send({ error: `no device ${request.params.id}` });
    if (!maySee(request.user!, device.owner)) return reply.code(403).send({ error: 'this device belongs to another owner' });
    return { device: request.params.id, name: device.name, audit: await deviceAudit(db, request.params.id) };
  });
  return app;
}

interface PlanQuery {
  page: number;
  action?: string;
  owner?: string;
  space?: number;
  status?: string;
  q?: string;
  sort?: string;
}

function filterOf(q: PlanQuery): { page: number; action?: string; owner?: string; space?: number; status?: string; q?: string; sort?: string } {
  const blank = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  return {
    page: q.page,
    ...(blank(q.action) ? { action: q.action } : {}),
    ...(blank(q.owner) ? { owner: q.owner } : {}),
    ...(q.space !== undefined ? { space: q.space } : {}),
    ...(blank(q.status) ? { status: q.status } : {}),
    ...(blank(q.q) ? { q: q.q } : {}),
    ...(blank(q.sort) ? { sort: q.sort } : {}),
  };
}

const planParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } } } as const;
const itemParams = { type: 'object', required: ['id', 'seq'], properties: { id: planParams.properties.id, seq: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } } } as const;
const itemsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 },
    action: { type: 'string', maxLength: 40 },
    status: { type: 'string', maxLength: 40 },
    owner: { type: 'string', maxLength: 4096 },
    space: { type: 'integer', minimum: 0, maximum: 2_147_483_647 },
    q: { type: 'string', maxLength: 200 },
    sort: { type: 'string', enum: ['', ...Object.keys(itemSorts)] },
  },
} as const;
const decisionBody = {
  type: 'object',
  required: ['kind', 'plan', 'seq', 'reason'],
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: ['pin', 'same_asset', 'ignore_device'] },
    plan: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
    seq: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
    reason: { type: 'string', minLength: 1, maxLength: 2000 },
    source: { type: 'string', maxLength: 4096, description: 'pin: the record, one of the conflict\'s assets' },
    key: { type: 'string', maxLength: 4096 },
    deviceId: { type: 'integer', minimum: 1, description: 'pin: the KICS device, one of the conflict\'s devices' },
  },
} as const;
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


