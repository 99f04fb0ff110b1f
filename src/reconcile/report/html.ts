import { createHash } from 'node:crypto';
import type { PlanCounts, PlanHeader, PlanItem } from '../plan-schema.js';
import { countsInOrder } from '../summary.js';
import { actionLabels, assetSideText, basisText, changeRows, deviceSideText, inputsText, isRecognizedUnknown, kicsRows, planTitle, scopeText, settleAdvice, sourcesText, spaceNames, unknownText, type PlanItems, type SpaceNames } from './display.js';

/**
 * The HTML report: one self-contained file (no external scripts, fonts, styles or images) that stays
 * usable at 100,000 items. The items are embedded once as JSON in a `<script type="application/json">`
 * block with every `<` escaped, and a small inline script renders one page of rows at a time, filters
 * and sorts in the browser. Everything a source or KICS supplied reaches the page through
 * `textContent` (client side) or `escapeHtml` (server side), never as markup; a Content-Security-Policy
 * allows no script but the report's own (pinned by its hash).
 */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that can sit inside a <script> element: no `<` (so no `</script>` or `<!--`), no line separators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const colors: Record<keyof PlanCounts, string> = {
  create: '#2e7d32',
  update: '#1565c0',
  upload_config: '#6a1b9a',
  recognize: '#00838f',
  archive: '#8d6e63',
  delete: '#c62828',
  conflict: '#ef6c00',
  unknown: '#546e7a',
  stale: '#9e9d24',
  unchanged: '#bdbdbd',
};

/** The compact row the page works with: display text prepared here, so the script stays small. */
interface HtmlItem {
  s: number;
  a: string;
  st: string;
  id: number | null;
  n: string | null;
  sp: number | null;
  o: string | null;
  src: string;
  r: string | null;
  c: [string, string, string][];
  k?: { kind: string; reason: string; advice: string; assets: string[]; devices: string[] };
  e?: string;
  /** A device in KICS only: what it says instead of a diff, and what KICS holds. */
  u?: { note: string; kics: [string, string][]; recognized: boolean };
}

function htmlItem(item: PlanItem, names: SpaceNames): HtmlItem {
  const row: HtmlItem = {
    s: item.seq,
    a: item.action,
    st: item.status,
    id: item.kicsDeviceId,
    n: item.deviceName,
    sp: item.addressSpaceId,
    o: item.owner,
    src: sourcesText(item),
    r: item.reason,
    c: item.action === 'unknown' ? [] : changeRows(item),
  };
  if (item.action === 'unknown') row.u = { note: unknownText(item), kics: kicsRows(item), recognized: isRecognizedUnknown(item) };
  if (item.conflict) {
    row.k = {
      kind: item.conflict.kind,
      reason: item.conflict.reason,
      advice: settleAdvice[item.conflict.kind],
      assets: item.conflict.assets.map((a) => assetSideText(a, names)),
      devices: item.conflict.devices.map((d) => deviceSideText(d, names)),
    };
  }
  if (item.lastError) row.e = item.lastError;
  return row;
}

const style = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f7f8fa}
body{margin:0 auto;max-width:1400px;padding:16px 24px}
h1{font-size:1.5rem;margin:.2em 0}h2{font-size:1.15rem;margin:1.4em 0 .5em}
.meta{color:#52606d;margin:.2em 0}.status{display:inline-block;padding:2px 8px;border-radius:10px;background:#e4e7eb;font-size:.8rem;vertical-align:middle}
.warning{background:#fff8e1;border:2px solid #ef6c00;color:#7a3e00;padding:8px 16px;border-radius:6px;margin:12px 0}.warning p{margin:.3em 0;font-weight:600}.warning ul,.notice ul{margin:.3em 0}
.notice{background:#eef4fb;border-left:4px solid #1565c0;padding:6px 16px;margin:12px 0}
.danger{background:#fde8e8;border:2px solid #c62828;color:#8a1c1c;padding:12px 16px;border-radius:6px;font-weight:600;margin:12px 0}
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{background:#fff;border-radius:6px;padding:8px 14px;min-width:90px;box-shadow:0 1px 2px rgba(0,0,0,.08);border-top:4px solid var(--c)}
.card b{display:block;font-size:1.4rem}.card span{color:#52606d;font-size:.85rem}
.charts{display:flex;flex-wrap:wrap;gap:24px}.chart{background:#fff;border-radius:6px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.chart svg text{font-size:12px;fill:#1f2933}.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:.8rem;margin-top:6px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;background:var(--c)}
.controls{display:flex;gap:8px;align-items:center;margin:8px 0;flex-wrap:wrap}.controls input{flex:1;min-width:240px;padding:6px 8px;font-size:1rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}th,td{padding:5px 8px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
th{background:#eef1f4;cursor:pointer;user-select:none;white-space:nowrap}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
tbody tr.item{cursor:pointer}tbody tr.item:hover{background:#f0f6ff}td.reason{color:#52606d;max-width:420px;overflow-wrap:anywhere}
.pill{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:.8rem;background:var(--c)}
tr.details td{background:#fafbfc}.diff td,.diff th{border:1px solid #e4e7eb;cursor:auto}.diff td.before{background:#fff1f0;overflow-wrap:anywhere}.diff td.after{background:#effaf0;overflow-wrap:anywhere}
.flag{display:inline-block;margin-left:6px;padding:1px 7px;border-radius:9px;background:#fde8e8;color:#8a1c1c;font-weight:600;font-size:.8rem}.note{color:#52606d}
.sides{display:flex;gap:16px}.sides div{flex:1}.sides ul{margin:.3em 0;padding-left:1.2em}
nav{margin:10px 0;display:flex;gap:8px;align-items:center}
`;

/** The page's script: filter, sort, page and expand rows; text only ever through textContent. */
const client = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('plan-data').textContent);
  var items = data.items, spaces = data.spaces, colors = data.colors, labels = data.labels;
  var pageSize = 100, state = { text: '', action: '', owner: null, key: 'seq', dir: 1, page: 0 }, view = items.slice();
  var tbody = document.querySelector('#items tbody');
  var filter = document.getElementById('filter'), actionFilter = document.getElementById('action-filter');
  var ownerFilter = document.getElementById('owner-filter'), summary = document.getElementById('summary');
  var shown = document.getElementById('shown'), pageText = document.getElementById('page');
  var prev = document.getElementById('prev'), next = document.getElementById('next');
  function spaceName(id) { return id === null ? '' : (spaces[id] || String(id)); }
  function value(item, key) {
    switch (key) {
      case 'seq': return item.s; case 'action': return item.a; case 'status': return item.st;
      case 'device': return item.n || ''; case 'id': return item.id; case 'space': return spaceName(item.sp);
      case 'owner': return item.o || ''; case 'sources': return item.src; default: return item.r || '';
    }
  }
  function haystack(item) {
    if (item.h === undefined) {
      var parts = [labels[item.a], item.st, item.n, item.id, spaceName(item.sp), item.o, item.src, item.r];
      if (item.k) parts.push(item.k.kind, item.k.reason, item.k.assets.join(' '), item.k.devices.join(' '));
      if (item.u) parts.push(item.u.note);
      item.h = parts.join(' ').toLowerCase();
    }
    return item.h;
  }
  function compare(a, b) {
    var x = value(a, state.key), y = value(b, state.key);
    var ex = x === null || x === '', ey = y === null || y === '';
    if (ex || ey) return ex === ey ? a.s - b.s : (ex ? 1 : -1);
    var c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c === 0 ? a.s - b.s : c * state.dir;
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function details(item) {
    var tr = el('tr', null, 'details'), td = el('td');
    td.colSpan = 8;
    if (item.c.length > 0) {
      var t = el('table', null, 'diff'), head = el('tr');
      head.appendChild(el('th', 'field')); head.appendChild(el('th', 'before')); head.appendChild(el('th', 'after'));
      t.appendChild(head);
      item.c.forEach(function (c) {
        var r = el('tr');
        r.appendChild(el('td', c[0])); r.appendChild(el('td', c[1], 'before')); r.appendChild(el('td', c[2], 'after'));
        t.appendChild(r);
      });
      td.appendChild(t);
    }
    if (item.u) {
      td.appendChild(el('p', item.u.note, item.u.recognized ? 'flag' : 'note'));
      var held = el('table', null, 'diff'), top = el('tr');
      top.appendChild(el('th', 'field')); top.appendChild(el('th', 'in KICS'));
      held.appendChild(top);
      item.u.kics.forEach(function (c) {
        var r = el('tr');
        r.appendChild(el('td', c[0])); r.appendChild(el('td', c[1]));
        held.appendChild(r);
      });
      td.appendChild(held);
    }
    if (item.k) {
      td.appendChild(el('p', item.k.kind + ': ' + item.k.reason));
      td.appendChild(el('p', 'To settle it: ' + item.k.advice, 'note'));
      var sides = el('div', null, 'sides');
      [['Sources', item.k.assets], ['KICS', item.k.devices]].forEach(function (side) {
        var box = el('div'), list = el('ul');
        box.appendChild(el('strong', side[0]));
        side[1].forEach(function (line) { list.appendChild(el('li', line)); });
        if (side[1].length === 0) list.appendChild(el('li', '(none)'));
        box.appendChild(list);
        sides.appendChild(box);
      });
      td.appendChild(sides);
    }
    if (item.e) td.appendChild(el('p', 'last error: ' + item.e));
    if (item.c.length === 0 && !item.k && !item.e && !item.u) td.appendChild(el('p', item.r || ''));
    tr.appendChild(td);
    return tr;
  }
  function render() {
    var pages = Math.max(1, Math.ceil(view.length / pageSize));
    if (state.page >= pages) state.page = pages - 1;
    var fragment = document.createDocumentFragment();
    view.slice(state.page * pageSize, (state.page + 1) * pageSize).forEach(function (item) {
      var tr = el('tr', null, 'item');
      tr.setAttribute('data-seq', String(item.s));
      tr.appendChild(el('td', item.s));
      var pill = el('span', labels[item.a], 'pill');
      pill.style.setProperty('--c', colors[item.a]);
      var actionCell = el('td');
      actionCell.appendChild(pill);
      tr.appendChild(actionCell);
      tr.appendChild(el('td', item.n || '', 'device'));
      tr.appendChild(el('td', item.id));
      tr.appendChild(el('td', spaceName(item.sp)));
      tr.appendChild(el('td', item.o));
      tr.appendChild(el('td', item.src));
      var reason = el('td', item.r, 'reason');
      if (item.u && item.u.recognized) reason.appendChild(el('span', 'Recognized, in no source', 'flag'));
      tr.appendChild(reason);
      tr.addEventListener('click', function () {
        var open = tr.nextSibling && tr.nextSibling.className === 'details';
        if (open) tbody.removeChild(tr.nextSibling); else tbody.insertBefore(details(item), tr.nextSibling);
      });
      fragment.appendChild(tr);
    });
    tbody.textContent = '';
    tbody.appendChild(fragment);
    shown.textContent = view.length + ' of ' + items.length + ' items';
    counts();
    pageText.textContent = 'page ' + (state.page + 1) + ' of ' + pages;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }
  function counts() {
    var filtered = state.text !== '' || state.action !== '' || state.owner !== null, tally = {};
    view.forEach(function (item) { tally[item.a] = (tally[item.a] || 0) + 1; });
    Array.prototype.forEach.call(summary.querySelectorAll('.card'), function (card) {
      var action = card.getAttribute('data-action'), number = card.querySelector('b');
      if (action === 'recognized-unknown') number.textContent = String(view.filter(function (item) { return item.u && item.u.recognized; }).length);
      else if (action === 'unchanged') { number.textContent = filtered ? '–' : card.getAttribute('data-total'); card.title = filtered ? 'unchanged devices are not listed as items, so no filter applies to them' : ''; }
      else number.textContent = String(tally[action] || 0);
    });
    summary.setAttribute('data-filtered', filtered ? 'yes' : 'no');
  }
  function refresh() {
    var text = state.text.toLowerCase();
    view = items.filter(function (item) {
      return (!state.action || item.a === state.action) && (state.owner === null || (item.o || '') === state.owner) && (!text || haystack(item).indexOf(text) !== -1);
    });
    view.sort(compare);
    render();
  }
  var timer = null;
  filter.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.text = filter.value; state.page = 0; refresh(); }, 120);
  });
  actionFilter.addEventListener('change', function () { state.action = actionFilter.value; state.page = 0; refresh(); });
  var owners = {};
  items.forEach(function (item) { owners[item.o || ''] = (owners[item.o || ''] || 0) + 1; });
  Object.keys(owners).sort().forEach(function (owner) {
    var option = el('option', (owner || '(no owner)') + ' (' + owners[owner] + ')');
    option.value = owner;
    ownerFilter.appendChild(option);
  });
  ownerFilter.addEventListener('change', function () { state.owner = ownerFilter.selectedIndex === 0 ? null : ownerFilter.value; state.page = 0; refresh(); });
  Array.prototype.forEach.call(document.querySelectorAll('#items th[data-key]'), function (th) {
    th.addEventListener('click', function () {
      var key = th.getAttribute('data-key');
      state.dir = state.key === key ? -state.dir : 1;
      state.key = key;
      Array.prototype.forEach.call(document.querySelectorAll('#items th[data-key]'), function (o) { o.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', state.dir === 1 ? 'ascending' : 'descending');
      refresh();
    });
  });
  prev.addEventListener('click', function () { state.page -= 1; render(); });
  next.addEventListener('click', function () { state.page += 1; render(); });
  refresh();
})();
`;

const scriptHash = createHash('sha256').update(client).digest('base64');

function cards(counts: PlanCounts): string {
  return (
    countsInOrder(counts)
      .map(({ action, count }) => `<div class="card" data-action="${action}" data-total="${count}" style="--c:${colors[action]}"><b>${count}</b><span>${escapeHtml(actionLabels[action])}</span></div>`)
      .join('') +
    // Filled in by the page's script (the items are counted as they stream, after this line is written).
    `<div class="card flagged" data-action="recognized-unknown" style="--c:#b71c1c"><b>…</b><span>Recognized, in no source</span></div>`
  );
}

function legend(actions: (keyof PlanCounts)[]): string {
  return `<div class="legend">${actions.map((a) => `<span style="--c:${colors[a]}"><i></i>${escapeHtml(actionLabels[a])}</span>`).join('')}</div>`;
}

/** Horizontal bars, one per action. */
function actionChart(counts: PlanCounts): string {
  const rows = countsInOrder(counts);
  const max = Math.max(1, ...rows.map((r) => r.count));
  const width = 420;
  const bars = rows
    .map((r, i) => {
      const w = Math.round((r.count / max) * (width - 180));
      const y = i * 22;
      return `<text x="0" y="${y + 14}">${escapeHtml(actionLabels[r.action])}</text><rect x="110" y="${y + 3}" width="${w}" height="15" fill="${colors[r.action]}"><title>${escapeHtml(actionLabels[r.action])}: ${r.count}</title></rect><text x="${114 + w}" y="${y + 14}">${r.count}</text>`;
    })
    .join('');
  return `<svg role="img" aria-label="items by action" width="${width}" height="${rows.length * 22}">${bars}</svg>`;
}

/** One stacked bar per address space, segments per action. */
function spaceChart(header: PlanHeader): string {
  const spaces = header.summary.byAddressSpace;
  if (spaces.length === 0) return '<p class="meta">No items.</p>';
  const actions = countsInOrder(header.summary.counts).map((c) => c.action);
  const totals = spaces.map((s) => actions.reduce((sum, a) => sum + s.counts[a], 0));
  const max = Math.max(1, ...totals);
  const width = 520;
  const barWidth = width - 230;
  const rows = spaces
    .map((space, i) => {
      const y = i * 24;
      let x = 170;
      const segments = actions
        .map((a) => {
          const n = space.counts[a];
          if (n === 0) return '';
          const w = Math.max(1, (n / max) * barWidth);
          const rect = `<rect x="${x.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="16" fill="${colors[a]}"><title>${escapeHtml(`${space.name}: ${n} ${actionLabels[a]}`)}</title></rect>`;
          x += w;
          return rect;
        })
        .join('');
      const label = space.name.length > 24 ? `${space.name.slice(0, 23)}…` : space.name;
      return `<text x="0" y="${y + 16}">${escapeHtml(label)}</text>${segments}<text x="${(x + 4).toFixed(1)}" y="${y + 16}">${totals[i]}</text>`;
    })
    .join('');
  return `<svg role="img" aria-label="items by address space" width="${width}" height="${spaces.length * 24}">${rows}</svg>${legend(actions)}`;
}

/** A banner for inputs the plan could not re-read; a line for rejected records and the time of the data. */
function inputsHtml(header: PlanHeader): string[] {
  const { stale, rejects, readAt } = inputsText(header);
  const lines: string[] = [];
  if (stale.length > 0) lines.push(`<div class="warning" role="alert" id="stale"><p>This plan was computed partly from stored data:</p><ul>${stale.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul></div>`);
  if (rejects.length > 0) lines.push(`<div class="notice" id="rejects"><ul>${rejects.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul></div>`);
  if (readAt.length > 0) lines.push(`<p class="meta">Data read: ${escapeHtml(readAt.join(' · '))}</p>`);
  return lines;
}

/** Without scripts, the page shows the first items as a plain table. */
const noscriptRows = 1000;

function plainRow(item: PlanItem, names: SpaceNames): string {
  const space = item.addressSpaceId === null ? '' : (names.get(item.addressSpaceId) ?? String(item.addressSpaceId));
  const reason = item.action === 'unknown' ? unknownText(item) : item.conflict ? `${item.conflict.kind}: ${item.conflict.reason}` : (item.reason ?? '');
  const cells = [String(item.seq), actionLabels[item.action], item.deviceName ?? '', item.kicsDeviceId === null ? '' : String(item.kicsDeviceId), space, item.owner ?? '', sourcesText(item), reason];
  return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
}

function noscript(rows: string[], total: number): string {
  const shown = total > rows.length ? `the first ${rows.length} of ${total} items (the CSV and JSON reports have them all)` : `${total} items`;
  return `<noscript><section><h2>Items</h2><p class="meta">Scripts are off: ${shown}, in plan order.</p><table><thead><tr><th>#</th><th>action</th><th>device</th><th>KICS id</th><th>address space</th><th>owner</th><th>sources</th><th>reason</th></tr></thead><tbody>${rows.join('')}</tbody></table></section></noscript>`;
}

export async function* renderHtml(header: PlanHeader, items: PlanItems): AsyncGenerator<string> {
  const title = planTitle(header);
  const counts = header.summary.counts;
  const names = spaceNames(header);
  const spaces = Object.fromEntries(names);
  const head = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'">`,
    `<title>${escapeHtml(title)}</title><style>${style}</style></head><body>`,
    `<header><h1>${escapeHtml(title)} <span class="status">${escapeHtml(header.status)}</span></h1>`,
    `<p class="meta">Created ${escapeHtml(header.createdAt)} · scope: ${escapeHtml(scopeText(header))} · basis: ${escapeHtml(basisText(header))}</p>`,
    `<p class="meta">${header.summary.devices} KICS devices; records: ${escapeHtml(Object.entries(header.summary.records).map(([s, n]) => `${s} ${n}`).join(', ') || 'none')}${header.summary.notCreated > 0 ? `; ${header.summary.notCreated} new assets not created (retired, or creates disabled)` : ''}${header.summary.archivedUnmatched > 0 ? `; ${header.summary.archivedUnmatched} archived devices in no source` : ''}</p></header>`,
    ...inputsHtml(header),
    counts.delete > 0 ? `<div class="danger" role="alert">${counts.delete} device(s) will be DELETED from KICS when this plan is applied (reconcile.allowDelete is on).</div>` : '',
    `<section><h2>Summary</h2><div class="cards" id="summary">${cards(counts)}</div></section>`,
    `<section class="charts"><div class="chart"><h2>By action</h2>${actionChart(counts)}</div><div class="chart"><h2>By address space</h2>${spaceChart(header)}</div></section>`,
    '<section id="items"><h2>Items</h2><div class="controls">',
    '<input id="filter" type="search" placeholder="Filter: name, id, owner, source, reason, conflict…" aria-label="filter items">',
    '<select id="owner-filter" aria-label="owner"><option value="">all owners</option></select>',
    `<select id="action-filter" aria-label="action"><option value="">all actions</option>${countsInOrder(counts)
      .filter((c) => c.action !== 'unchanged' && c.count > 0)
      .map((c) => `<option value="${c.action}">${escapeHtml(actionLabels[c.action])} (${c.count})</option>`)
      .join('')}</select><span id="shown"></span></div>`,
    '<table><thead><tr><th data-key="seq">#</th><th data-key="action">action</th><th data-key="device">device</th><th data-key="id">KICS id</th><th data-key="space">address space</th><th data-key="owner">owner</th><th data-key="sources">sources</th><th data-key="reason">reason</th></tr></thead><tbody></tbody></table>',
    '<nav><button id="prev" type="button">‹ previous</button><span id="page"></span><button id="next" type="button">next ›</button></nav></section>',
    `<script type="application/json" id="plan-data">{"spaces":${scriptJson(spaces)},"colors":${scriptJson(colors)},"labels":${scriptJson(actionLabels)},"items":[`,
  ];
  yield head.join('\n');
  let first = true;
  let batch: string[] = [];
  const plain: string[] = [];
  let count = 0;
  for await (const item of items) {
    batch.push(`${first ? '' : ','}${scriptJson(htmlItem(item, names))}`);
    first = false;
    if (count++ < noscriptRows) plain.push(plainRow(item, names));
    if (batch.length >= 500) {
      yield batch.join('\n');
      batch = [];
    }
  }
  if (batch.length > 0) yield batch.join('\n');
  yield `]}</script>\n${noscript(plain, count)}\n<script>${client}</script>\n</body></html>\n`;
}
