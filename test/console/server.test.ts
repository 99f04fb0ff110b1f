import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildConsole } from '../../src/console/server.js';
import { addUser, createToken, disableUser, verifyPassword, hashPassword } from '../../src/console/users.js';
import { readAudit } from '../../src/sync/audit/store.js';
import { silentLogger } from '../../src/log.js';
import { describeEachEngine } from '../support/db.js';
import { bobsPlan, mixedPlan } from './support.js';

/**
 * The review console's server on loopback, on both databases: sign-in with sessions and CSRF,
 * per-owner access in pages and API, tokens, rate-limited logins, health, readiness and metrics.
 */
describeEachEngine('review console server', (t) => {
  let app: FastifyInstance;
  let base: string;

  beforeEach(async () => {
    app = await buildConsole({ db: t().db, logger: silentLogger(), loginAttemptsPerMinute: 5 });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await app.close();
    await t().db.execute(`TRUNCATE console_user, api_token, plan CASCADE`);
  });

  /** A browser in miniature: keeps the session cookie, sends forms. */
  const browser = () => {
    let cookie = '';
    const call = async (method: 'GET' | 'POST', path: string, form?: Record<string, string>, headers: Record<string, string> = {}) => {
      const answer = await request(`${base}${path}`, {
        method,
        headers: { ...(cookie ? { cookie } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
      });
      const set = answer.headers['set-cookie'];
      for (const c of Array.isArray(set) ? set : set ? [set] : []) cookie = c.split(';')[0]!;
      return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() };
    };
    const csrfOf = (html: string): string => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    return {
      call,
      async login(name: string, password: string) {
        const form = await call('GET', '/login');
        return call('POST', '/login', { _csrf: csrfOf(form.text), name, password });
      },
      csrfOf,
    };
  };

  const plantPlan = (): Promise<number> => mixedPlan(t().db);


  it('hashes passwords with scrypt: the right one verifies, a wrong or short one does not', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'md5$abc')).toBe(false);
    await expect(hashPassword('short')).rejects.toThrow(/at least 12 characters/);
  });

  it('signs in with a session cookie that is HTTP-only and SameSite=Strict; a wrong password is refused; sign-out ends the session', async () => {
    await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: 'bob-password-123' });
    const b = browser();
    expect((await b.call('GET', '/')).status).toBe(302);
    const wrong = await b.login('bob', 'not-the-password');
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Unknown user or wrong password.');
    const ok = await b.login('bob', 'bob-password-123');
    expect(ok.status).toBe(302);
    expect(String(ok.headers['set-cookie'])).toMatch(/HttpOnly/i);
    expect(String(ok.headers['set-cookie'])).toMatch(/SameSite=Strict/i);
    const home = await b.call('GET', '/');
    expect(home.status).toBe(200);
    expect(home.text).toContain('Signed in as bob');
    expect(home.headers['content-security-policy']).toContain("default-src 'self'");
    expect(home.headers['content-security-policy']).toContain("script-src 'self'");
    const out = await b.call('POST', '/logout', { _csrf: b.csrfOf(home.text) });
    expect(out.status).toBe(302);
    expect((await b.call('GET', '/')).status).toBe(302);
  });

  it('refuses a state-changing request without the CSRF token (a cross-site form post)', async () => {
    await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: 'bob-password-123' });
    const b = browser();
    await b.call('GET', '/login');
    const forged = await b.call('POST', '/login', { name: 'bob', password: 'bob-password-123' }, { origin: 'https://evil.example' });
    expect(forged.status).toBe(403);
    expect((await b.call('GET', '/')).status).toBe(302);
  });

  it('rate-limits sign-in attempts', async () => {
    await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: 'bob-password-123' });
    const b = browser();
    const statuses = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await b.login('bob', `guess-number-${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });

  it('an owner sees only their owners\' items, in the page and through the API; another owner\'s item by id is 403; device data shows as text', async () => {
    const planId = await plantPlan();
    await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: 'bob-password-123' });
    await addUser(t().db, { name: 'ada', role: 'admin', owners: [], password: 'ada-password-123' });
    const b = browser();
    await b.login('bob', 'bob-password-123');
    const home = await b.call('GET', '/');
    expect(home.text).toMatch(new RegExp(`Plan ${planId}</a></td><td>draft</td>.*<td>2</td><td>(update 1, create 1|create 1, update 1)`));

    const { token } = await createToken(t().db, 'bob', 'test');
    const api = (path: string, auth = token) => request(`${base}${path}`, { headers: { authorization: `Bearer ${auth}` } });
    const items = await api(`/api/v1/plans/${planId}/items`);
    expect(items.statusCode).toBe(200);
    const body = (await items.body.json()) as { items: { seq: number; owner: string; device_name: string }[] };
    expect(body.items.map((i) => i.seq)).toEqual([1, 2]);
    expect((await api(`/api/v1/plans/${planId}/items/3`)).statusCode).toBe(403);
    const forbidden = await api(`/api/v1/plans/${planId}/items/3`);
    expect(await forbidden.body.text()).not.toContain('HMI-13');
    expect((await api(`/api/v1/plans/${planId}/items?owner=carol`)).statusCode).toBe(403);
    expect((await api(`/api/v1/plans/${planId}/items/1`)).statusCode).toBe(200);
    expect((await api(`/api/v1/plans/${planId}/items`, 'ksk_not-a-token')).statusCode).toBe(401);

    const { token: adminToken } = await createToken(t().db, 'ada', 'test');
    expect((await api(`/api/v1/plans/${planId}/items/3`, adminToken)).statusCode).toBe(200);

    // A disabled user's token and session stop working at once.
    await disableUser(t().db, 'bob');
    expect((await api('/api/v1/me')).statusCode).toBe(401);
    expect((await b.call('GET', '/')).status).toBe(302);
  });

  it('describes /api/v1 in an OpenAPI document; refuses malformed requests with 400 and says why, after authentication', async () => {
    const doc = (await (await request(`${base}/api/v1/openapi.json`)).body.json()) as { openapi: string; paths: Record<string, unknown>; components: { securitySchemes: Record<string, { scheme: string }> } };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/decisions',
      '/api/v1/decisions/{id}/revoke',
      '/api/v1/devices/{id}/audit',
      '/api/v1/me',
      '/api/v1/plans',
      '/api/v1/plans/{id}',
      '/api/v1/plans/{id}/apply',
      '/api/v1/plans/{id}/approve',
      '/api/v1/plans/{id}/items',
      '/api/v1/plans/{id}/items/{seq}',
      '/api/v1/plans/{id}/items/{seq}/approve',
      '/api/v1/plans/{id}/items/{seq}/reject',
      '/api/v1/runs',
      '/api/v1/runs/{id}',
      '/api/v1/sites',
    ]);
    expect(doc.components.securitySchemes.token!.scheme).toBe('bearer');
    await addUser(t().db, { name: 'ada', role: 'admin', owners: [], password: 'ada-password-123' });
    const { token } = await createToken(t().db, 'ada', 'test');
    const bad = await request(`${base}/api/v1/plans/0/items?page=x`, { headers: { authorization: `Bearer ${token}` } });
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { error: string }).error).toMatch(/params\/id must be >= 1/);
    expect((await request(`${base}/api/v1/plans/0/items`)).statusCode).toBe(401);
    const unknownParam = await request(`${base}/api/v1/plans/1/items?page=2&color=red`, { headers: { authorization: `Bearer ${token}` } });
    expect(unknownParam.statusCode).toBe(200);
    const badSort = await request(`${base}/api/v1/plans/1/items?sort=name`, { headers: { authorization: `Bearer ${token}` } });
    expect(badSort.statusCode).toBe(400);
    expect(((await badSort.body.json()) as { error: string }).error).toMatch(/querystring\/sort must be equal to one of the allowed values/);
  });

  it('approves a plan as the user, audited: admins any plan, owners only a plan of their own items, viewers none', async () => {
    const mixed = await plantPlan();
    const own = await bobsPlan(t().db);
    await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: null });
    await addUser(t().db, { name: 'vic', role: 'viewer', owners: [], password: null });
    await addUser(t().db, { name: 'ada', role: 'admin', owners: [], password: null });
    const tokens = { bob: (await createToken(t().db, 'bob', 't')).token, vic: (await createToken(t().db, 'vic', 't')).token, ada: (await createToken(t().db, 'ada', 't')).token };
    const approve = async (who: keyof typeof tokens, planId: number) => {
      const answer = await request(`${base}/api/v1/plans/${planId}/approve`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}` } });
      return { status: answer.statusCode, body: (await answer.body.json()) as Record<string, unknown> };
    };
    expect(await approve('vic', own)).toMatchObject({ status: 403, body: { error: 'viewers cannot approve plans' } });
    const refused = await approve('bob', mixed);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/has 1 item\(s\) of other owners/);
    expect(await approve('bob', own)).toMatchObject({ status: 200, body: { status: 'approved', approvedBy: 'console:bob', changed: true } });
    expect(await approve('bob', own)).toMatchObject({ status: 200, body: { changed: false } });
    expect(await approve('ada', mixed)).toMatchObject({ status: 200, body: { approvedBy: 'console:ada' } });
    expect((await approve('ada', 999_999)).status).toBe(404);
    const [state] = await t().db.query<{ status: string; approved_by: string }>(`SELECT status::text AS status, approved_by FROM plan WHERE id = $1`, [own]);
    expect(state).toEqual({ status: 'approved', approved_by: 'console:bob' });
    const audit = [];
    for await (const r of readAudit(t().db, { planId: own })) audit.push(r);
    expect(audit).toEqual([expect.objectContaining({ actor: 'console:bob', operation: 'approve_plan', outcome: 'applied', before: { status: 'draft' }, after: { status: 'approved' } })]);
  });

  it('escapes what it shows: a device named <script> is text in the page', async () => {
    await plantPlan();
    await addUser(t().db, { name: '<b>eve</b>', role: 'viewer', owners: [], password: 'eve-password-123' });
    const b = browser();
    await b.login('<b>eve</b>', 'eve-password-123');
    const home = await b.call('GET', '/');
    expect(home.text).toContain('Signed in as &lt;b&gt;eve&lt;/b&gt;');
    expect(home.text).not.toContain('<b>eve</b>');
  });

  it('serves /healthz, /readyz (migrations applied) and /metrics in Prometheus format from the database', async () => {
    await plantPlan();
    await t().db.execute(`INSERT INTO sync_run (trigger, actor, mode, status, started_at, finished_at) VALUES ('cli', 'tester', 'plan', 'succeeded', now() - interval '3 seconds', now())`);
    expect((await request(`${base}/healthz`)).statusCode).toBe(200);
    const ready = await request(`${base}/readyz`);
    expect(ready.statusCode).toBe(200);
    expect(await ready.body.json()).toEqual({ status: 'ready' });
    const metrics = await request(`${base}/metrics`);
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    const text = await metrics.body.text();
    expect(text).toMatch(/kics_sync_runs\{mode="plan",status="succeeded"\} \d+/);
    expect(text).toMatch(/kics_sync_last_run_duration_seconds\{mode="plan"\} (2\.9|3(\.0)?)\d*/);
    expect(text).toContain('kics_sync_latest_plan_items{action="update",status="pending"} 2');
    expect(text).toContain('kics_sync_latest_plan_items{action="create",status="pending"} 1');
  });
});
