import type { StoredDecision } from '../sync/decisions/store.js';
import { barChart, csrfField, h, page, postButton, table, valueText } from './html.js';
import { pageSize, type AuditRow, type ItemDetail, type ItemFilter, type ItemListRow, type PlanCountsView, type PlanHead, type PlanRow } from './queries.js';
import type { RunRecord } from '../sync/runs/store.js';
import type { SiteStatus } from '../fleet/status.js';
import type { ConsoleUser } from './users.js';

/** The console's pages, rendered from what src/console/queries.ts read; every value escaped. */

export function scopeText(scope: Record<string, unknown>): string {
  const parts = Object.entries(scope).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  return parts.length === 0 ? 'everything' : parts.join('; ');
}

/** How long ago: `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function ageText(at: Date, now: Date = new Date()): string {
  const seconds = Math.max(0, Math.round((now.getTime() - at.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([action, n]) => `${action} ${n}`)
    .join(', ');
}

export function plansPage(user: ConsoleUser, csrf: string, plans: readonly PlanRow[], canRun: boolean): string {
  const rows = plans.map((p) => [
    `<a href="/plans/${p.id}">Plan ${p.id}</a>`,
    h(p.status),
    `${h(p.createdAt.toISOString())} (${ageText(p.createdAt)})`,
    h(scopeText(p.scope)),
    String(p.items),
    h(countsText(p.counts)),
    p.status === 'draft' && user.role !== 'viewer' ? postButton(`/plans/${p.id}/approve`, csrf, `Approve plan ${p.id}`) : h(p.approvedBy ?? ''),
  ]);
  const start = !canRun
    ? ''
    : user.role === 'owner'
      ? `<form method="post" action="/runs/plan">${csrfField(csrf)}<label>Plan the assets of <select name="owner">${user.owners.map((o) => `<option>${h(o)}</option>`).join('')}</select></label><button type="submit">Start a plan</button></form>`
      : user.role === 'admin'
        ? `<form method="post" action="/runs/plan">${csrfField(csrf)}<label>Plan the assets of owner <input name="owner" placeholder="everyone"></label><button type="submit">Start a plan</button></form>`
        : '';
  return page('Plans', `${start}${table(['Plan', 'Status', 'Created (age)', 'Scope', 'Your items', 'By action', 'Approval'], rows, 'No plans yet.')}`, { user, csrf });
}

function query(planId: number, f: ItemFilter, changes: Partial<ItemFilter>): string {
  const merged = { ...f, ...changes };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(merged)) if (v !== undefined && v !== '' && !(k === 'page' && v === 1)) params.set(k, String(v));
  const qs = params.toString();
  return `/plans/${planId}${qs ? `?${qs}` : ''}`;
}

export interface PlanPageOptions {
  user: ConsoleUser;
  csrf: string;
  head: PlanHead;
  counts: PlanCountsView;
  filter: ItemFilter;
  items: readonly ItemListRow[];
  total: number;
  spaceName: (id: number | null) => string;
  canApprove: boolean;
  canApply: boolean;
}

export function planPage(o: PlanPageOptions): string {
  const { head, counts, filter: f, spaceName } = o;
  const actions = Object.entries(counts.byAction).sort(([a], [b]) => (a < b ? -1 : 1));
  const summary = `<p>Status <strong>${h(head.status)}</strong>, created ${h(head.createdAt.toISOString())}, scope ${h(scopeText(head.scope))}${
    head.approvedBy ? `, approved by ${h(head.approvedBy)}` : ''
  }. ${counts.total} item(s) you may see${counts.byStatus.held ? `, ${counts.byStatus.held} held by decision` : ''}.</p>
${o.canApprove && head.status === 'draft' ? postButton(`/plans/${head.id}/approve`, o.csrf, `Approve plan ${head.id}`) : ''}
${o.canApply && head.status === 'approved' ? postButton(`/plans/${head.id}/apply`, o.csrf, `Apply plan ${head.id}`) : ''}
<h2>Summary</h2>
${barChart(actions.map(([label, value]) => ({ label, value })), 'items by action')}
<div class="tables">${table(
    ['Address space', 'Items'],
    counts.bySpace.map((s) => [`<a href="${h(query(head.id, f, { space: s.id ?? undefined, page: 1 }))}">${h(spaceName(s.id))}</a>`, String(s.n)]),
  )}${table(
    ['Owner', 'Items'],
    counts.byOwner.map((s) => [s.owner === null ? '(none)' : `<a href="${h(query(head.id, f, { owner: s.owner, page: 1 }))}">${h(s.owner)}</a>`, String(s.n)]),
  )}</div>`;
  const select = (name: string, values: readonly string[], current: string | undefined): string =>
    `<select name="${name}"><option value="">any</option>${values.map((v) => `<option${v === current ? ' selected' : ''}>${h(v)}</option>`).join('')}</select>`;
  const filters = `<form class="filters" method="get" action="/plans/${head.id}">
<label>Action ${select('action', Object.keys(counts.byAction).sort(), f.action)}</label>
<label>Status ${select('status', Object.keys(counts.byStatus).sort(), f.status)}</label>
<label>Owner <input name="owner" value="${h(f.owner ?? '')}"></label>
<label>Text <input name="q" value="${h(f.q ?? '')}"></label>
${f.space !== undefined ? `<input type="hidden" name="space" value="${f.space}">` : ''}
<label>Sort ${select('sort', ['seq', 'device', 'action', 'owner', 'status'], f.sort)}</label>
<button type="submit">Filter</button></form>`;
  const rows = o.items.map((i) => [
    `<a href="/plans/${head.id}/items/${i.seq}">${i.seq}</a>`,
    h(i.action),
    i.status === 'held' ? `<span class="held">held by decision</span>` : h(i.status) + (i.approved_by ? ` (approved by ${h(i.approved_by)})` : ''),
    h(i.device_name ?? ''),
    i.kics_device_id === null ? '' : `<a href="/devices/${i.kics_device_id}">${i.kics_device_id}</a>`,
    h(spaceName(i.address_space_id)),
    h(i.owner ?? ''),
    h(i.reason ?? ''),
  ]);
  const pages = Math.max(1, Math.ceil(o.total / pageSize));
  const nav = `<p>Page ${f.page} of ${pages} (${o.total} item(s))${f.page > 1 ? ` <a href="${h(query(head.id, f, { page: f.page - 1 }))}">previous</a>` : ''}${
    f.page < pages ? ` <a href="${h(query(head.id, f, { page: f.page + 1 }))}">next</a>` : ''
  }</p>`;
  return page(`Plan ${head.id}`, `${summary}<h2>Items</h2>${filters}${nav}${table(['#', 'Action', 'Status', 'Device', 'KICS id', 'Address space', 'Owner', 'Reason'], rows, 'No items match.')}${nav}`, {
    user: o.user,
    csrf: o.csrf,
  });
}

function interfacesText(interfaces: readonly { mac: string | null; ips: readonly { ip: string }[] }[]): string {
  return interfaces.map((i) => [i.mac, ...i.ips.map((x) => x.ip)].filter(Boolean).join(' ')).join('; ');
}

export interface ItemPageOptions {
  user: ConsoleUser;
  csrf: string;
  head: PlanHead;
  item: ItemDetail;
  /** Why the user may not decide about the item, or null. */
  refusal: string | null;
  spaceName: (id: number | null) => string;
}

export function itemPage(o: ItemPageOptions): string {
  const { item, head, csrf } = o;
  const base = `/plans/${head.id}/items/${item.seq}`;
  const parts: string[] = [];
  parts.push(
    `<p><a href="/plans/${head.id}">Plan ${head.id}</a> (${h(head.status)}). ${h(item.action)}, <strong>${item.status === 'held' ? 'held by decision' : h(item.status)}</strong>; device ${h(item.device_name ?? '')}${
      item.kics_device_id === null ? '' : ` (<a href="/devices/${item.kics_device_id}">KICS ${item.kics_device_id}</a>)`
    }; ${h(o.spaceName(item.address_space_id))}; owner ${h(item.owner ?? '(none)')}.</p>`,
  );
  if (item.reason) parts.push(`<p>Why: ${h(item.reason)}</p>`);
  if (item.decision) parts.push(`<p class="held">Decision ${item.decision.id} (${h(item.decision.kind)}) by ${h(item.decision.by)} at ${h(item.decision.at)}: ${h(item.decision.reason)}</p>`);
  if (item.approved_by) parts.push(`<p>Approved by ${h(item.approved_by)}${item.approved_at ? ` at ${h(item.approved_at.toISOString())}` : ''}.</p>`);
  if (item.last_error) parts.push(`<p class="error">${h(item.last_error)}</p>`);
  if (item.before || item.after) {
    const fields = [...new Set([...Object.keys(item.before ?? {}), ...Object.keys(item.after ?? {})])];
    parts.push(`<h2>Fields</h2>${table(['Field', 'Before', 'After'], fields.map((f) => [h(f), h(valueText(item.before?.[f])), h(valueText(item.after?.[f]))]))}`);
  }
  if (item.ops) parts.push(`<h2>PATCH operations</h2><pre>${h(JSON.stringify(item.ops, null, 2))}</pre>`);
  if (item.request) parts.push(`<h2>Request</h2><pre>${h(JSON.stringify(item.request, null, 2))}</pre>`);
  if (item.conflict) {
    const c = item.conflict;
    parts.push(`<h2>Conflict: ${h(c.kind)}</h2><p>${h(c.reason)}</p>`);
    parts.push(`<h3>Source side</h3>${table(['Source', 'Key', 'Name', 'Owner', 'Interfaces'], c.assets.map((a) => [h(a.source), h(a.key), h(a.name ?? ''), h(a.owner ?? ''), h(interfacesText(a.interfaces))]))}`);
    parts.push(`<h3>KICS side</h3>${table(['Device', 'Name', 'Status', 'Interfaces'], c.devices.map((d) => [`<a href="/devices/${d.id}">${d.id}</a>`, h(d.name), h(d.status ?? ''), h(interfacesText(d.interfaces.map((i) => ({ mac: i.mac, ips: i.ips }))))]))}`);
  }
  const open = ['draft', 'approved'].includes(head.status);
  if (o.refusal) parts.push(`<p>${h(o.refusal)}.</p>`);
  else {
    const reason = `<label>Reason <textarea name="reason" required maxlength="2000"></textarea></label>`;
    if (open && item.status === 'pending') {
      parts.push(`<h2>Decide</h2>${item.approved_by ? '' : postButton(`${base}/approve`, csrf, 'Approve this change')}
<form method="post" action="${base}/reject">${csrfField(csrf)}${reason}<button type="submit">Reject this change</button></form>`);
    }
    if (item.action === 'conflict' && item.conflict) {
      const c = item.conflict;
      if (c.devices.length > 0 && c.assets.length > 0) {
        parts.push(`<h2>Settle: this record is that device</h2><form method="post" action="/decisions">${csrfField(csrf)}
<input type="hidden" name="kind" value="pin"><input type="hidden" name="plan" value="${head.id}"><input type="hidden" name="seq" value="${item.seq}">
<fieldset><legend>Record</legend>${c.assets.map((a, i) => `<label><input type="radio" name="record" value="${i}" required> ${h(a.source)} ${h(a.key)} ${h(a.name ?? '')}</label>`).join('')}</fieldset>
<fieldset><legend>KICS device</legend>${c.devices.map((d) => `<label><input type="radio" name="deviceId" value="${d.id}" required> ${d.id} ${h(d.name)}</label>`).join('')}</fieldset>
${reason}<button type="submit">Pin the match</button></form>`);
      }
      if (new Set(c.assets.map((a) => `${a.source}\u0000${a.key}`)).size > 1) {
        parts.push(`<h2>Settle: these records are one asset</h2><form method="post" action="/decisions">${csrfField(csrf)}
<input type="hidden" name="kind" value="same_asset"><input type="hidden" name="plan" value="${head.id}"><input type="hidden" name="seq" value="${item.seq}">${reason}<button type="submit">Declare one asset</button></form>`);
      }
    }
    if (item.action === 'unknown') {
      parts.push(`<h2>Settle: ignore this device</h2><p>In KICS on purpose, not in the inventory: later plans do not report it.</p><form method="post" action="/decisions">${csrfField(csrf)}
<input type="hidden" name="kind" value="ignore_device"><input type="hidden" name="plan" value="${head.id}"><input type="hidden" name="seq" value="${item.seq}">${reason}<button type="submit">Ignore this device</button></form>`);
    }
  }
  return page(`Plan ${head.id}, item ${item.seq}`, parts.join('\n'), { user: o.user, csrf });
}

export function decisionsPage(user: ConsoleUser, csrf: string, decisions: readonly StoredDecision[]): string {
  const rows = decisions.map((d) => [
    String(d.id),
    h(d.kind),
    h(d.owner ?? '(none)'),
    h(d.actor),
    h(d.createdAt.toISOString()),
    h(d.reason),
    h([d.action, d.deviceId === null ? null : `device ${d.deviceId}`, ...d.sourceKeys.map((k) => `${k.source} ${k.key}`)].filter(Boolean).join('; ')),
    d.planId ? `<a href="/plans/${d.planId}/items/${d.seq}">plan ${d.planId} #${d.seq}</a>` : '',
    d.inForce ? `in force${d.expiresAt ? ` until ${h(d.expiresAt.toISOString())}` : ''}` : h(d.lapsed ?? ''),
    d.revokedAt === null && user.role !== 'viewer' && (user.role === 'admin' || (d.owner !== null && user.owners.includes(d.owner))) ? postButton(`/decisions/${d.id}/revoke`, csrf, `Revoke ${d.id}`) : '',
  ]);
  return page('Decisions', table(['#', 'Kind', 'Owner', 'By', 'When', 'Why', 'About', 'Made on', 'State', ''], rows, 'No decisions yet.'), { user, csrf });
}

export function runsPage(user: ConsoleUser, csrf: string, runs: readonly RunRecord[], title = 'Runs'): string {
  const running = runs.some((r) => r.status === 'running');
  const rows = runs.map((r) => [
    `<a href="/runs/${r.id}">${r.id}</a>`,
    h(r.mode),
    h(r.trigger),
    h(r.actor),
    h(scopeText(r.scope)),
    h(r.status),
    h(r.startedAt.toISOString()),
    r.finishedAt ? `${((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(1)} s` : `running for ${Math.max(0, Math.round((Date.now() - r.startedAt.getTime()) / 1000))} s`,
    r.planIds.length > 0 ? `<a href="/plans/${r.planIds.at(-1)!}">plan ${r.planIds.at(-1)!}</a>` : '',
    h(r.error ?? countsText(Object.fromEntries(Object.entries(r.counts).filter(([, v]) => typeof v === 'number')) as Record<string, number>)),
  ]);
  return page(title, `${running ? '<p>A run is under way: this page reloads every 2 seconds.</p>' : ''}${table(['Run', 'Mode', 'Trigger', 'By', 'Scope', 'Status', 'Started', 'Took', 'Result', 'Counts / error'], rows, 'No runs yet.')}`, {
    user,
    csrf,
    ...(running ? { refresh: 2 } : {}),
  });
}

export function devicePage(user: ConsoleUser, csrf: string, deviceId: number, name: string | null, audit: readonly AuditRow[], decisions: readonly StoredDecision[]): string {
  const rows = audit.map((a) => [
    h(a.at.toISOString()),
    h(a.actor),
    h(a.operation),
    h(a.outcome),
    a.planId ? `<a href="/plans/${a.planId}">${a.planId}</a>` : '',
    `<pre>${h(JSON.stringify(a.before))}</pre>`,
    `<pre>${h(JSON.stringify(a.after))}</pre>`,
  ]);
  const decided = decisions.map((d) => [String(d.id), h(d.kind), h(d.actor), h(d.createdAt.toISOString()), h(d.reason), d.inForce ? 'in force' : h(d.lapsed ?? '')]);
  return page(
    `Device ${deviceId}${name ? ` ${name}` : ''}`,
    `<h2>Changes</h2>${table(['When', 'By', 'Operation', 'Outcome', 'Plan', 'Before', 'After'], rows, 'No change recorded for this device.')}<h2>Decisions</h2>${table(['#', 'Kind', 'By', 'When', 'Why', 'State'], decided, 'No decisions about this device.')}`,
    { user, csrf },
  );
}

/** The fleet: one row per site, the sites that need a look first. */
export function fleetPage(user: ConsoleUser, csrf: string, sites: readonly SiteStatus[]): string {
  const trouble = (s: SiteStatus): boolean => (s.jobs?.dead ?? 0) > 0 || (s.lastRun !== null && ['failed', 'interrupted'].includes(s.lastRun.status));
  const ordered = [...sites].sort((a, b) => Number(trouble(b)) - Number(trouble(a)) || a.name.localeCompare(b.name, 'en'));
  const rows = ordered.map((s) => [
    trouble(s) ? `<strong>${h(s.name)}</strong>` : h(s.name),
    s.lastRun ? `${s.lastRun.id} ${h(s.lastRun.mode)} ${h(s.lastRun.startedAt.toISOString())}` : 'none',
    s.lastRun ? h(s.lastRun.status) : '',
    s.lastRun?.seconds != null ? `${s.lastRun.seconds.toFixed(1)} s` : s.lastRun ? 'going' : '',
    s.nextRun ? h(s.nextRun.toISOString()) : '',
    s.devices === null ? '' : String(s.devices),
    s.openConflicts === null ? '' : String(s.openConflicts),
    s.secondsSinceGoodSync === null ? 'never' : `${s.secondsSinceGoodSync} s`,
    String(s.skippedTicks),
    s.jobs ? `${s.jobs.waiting} / ${s.jobs.running} / ${s.jobs.dead}` : 'no queue',
    h(s.lastRun?.error ?? ''),
  ]);
  return page('Fleet', table(['Site', 'Last run', 'Outcome', 'Took', 'Next run', 'Devices', 'Conflicts', 'Since good sync', 'Skipped ticks (7 d)', 'Jobs waiting / running / dead', 'Error'], rows, 'No sites.'), { user, csrf });
}
