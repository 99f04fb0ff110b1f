import { escapeHtml } from '../reconcile/report/html.js';
import type { ConsoleUser } from './users.js';

/**
 * The console's HTML: server-rendered pages with no script and no inline style (the CSP allows
 * neither), every shown value escaped with `escapeHtml()`. Forms carry the session's CSRF token.
 */

export { escapeHtml };
export const h = escapeHtml;

/** A page: the navigation for a signed-in user, no script, no external resource. `refresh`: seconds until the page reloads itself. */
export function page(title: string, body: string, options: { user?: ConsoleUser | null; csrf?: string; refresh?: number } = {}): string {
  const nav = options.user
    ? `<nav><a href="/">Plans</a> <a href="/decisions">Decisions</a> <a href="/runs">Runs</a> ${options.user.role === 'owner' ? '' : '<a href="/fleet">Fleet</a> '}<span class="who">Signed in as ${h(options.user.name)} (${options.user.role}${options.user.role === 'owner' ? `: ${h(options.user.owners.join(', '))}` : ''}).</span>${
        options.csrf ? ` ${postButton('/logout', options.csrf, 'Sign out')}` : ''
      }</nav>`
    : '';
  const refresh = options.refresh ? `<meta http-equiv="refresh" content="${options.refresh}">` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">${refresh}<title>${h(title)} - kics-sync</title><link rel="stylesheet" href="/console.css"></head><body>${nav}<h1>${h(title)}</h1>${body}</body></html>`;
}

export function csrfField(token: string): string {
  return `<input type="hidden" name="_csrf" value="${h(token)}">`;
}

/** A form of one button posting to `action`, with the CSRF token and hidden fields. */
export function postButton(action: string, csrf: string, label: string, fields: Record<string, string | number> = {}): string {
  const hidden = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${h(k)}" value="${h(String(v))}">`)
    .join('');
  return `<form class="inline" method="post" action="${h(action)}">${csrfField(csrf)}${hidden}<button type="submit">${h(label)}</button></form>`;
}

export function table(head: readonly string[], rows: readonly string[][], empty = 'Nothing here.'): string {
  const body = rows.length === 0 ? `<tr><td colspan="${head.length}">${h(empty)}</td></tr>` : rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head.map((c) => `<th>${h(c)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table>`;
}

/** A horizontal bar chart as SVG (attributes, not styles: the CSP forbids inline style). */
export function barChart(rows: readonly { label: string; value: number }[], title: string): string {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowHeight = 18;
  const bars = rows
    .map((r, i) => {
      const width = Math.round((r.value / max) * 300);
      const y = i * rowHeight;
      return `<text x="0" y="${y + 13}">${h(r.label)}</text><rect x="130" y="${y + 3}" width="${width}" height="12"></rect><text x="${136 + width}" y="${y + 13}">${r.value}</text>`;
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="${h(title)}" width="520" height="${rows.length * rowHeight + 4}" viewBox="0 0 520 ${rows.length * rowHeight + 4}"><title>${h(title)}</title>${bars}</svg>`;
}

/** A value as it reads in a cell: JSON for objects, '' for null. */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function errorPage(title: string, message: string, user: ConsoleUser | null, back = '/'): string {
  return page(title, `<p class="error" role="alert">${h(message)}</p><p><a href="${h(back)}">Back</a></p>`, { user });
}

export function loginPage(csrf: string, error: string | null, sso: { label: string } | null = null): string {
  return page(
    'Sign in',
    `${error ? `<p class="error" role="alert">${h(error)}</p>` : ''}${sso ? `<p><a href="/auth/oidc">${h(sso.label)}</a></p>` : ''}<form method="post" action="/login">
${csrfField(csrf)}
<label>User <input name="name" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`,
  );
}

export const stylesheet = `body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2733}
nav{margin-bottom:1rem}nav a{margin-right:1rem}.who{color:#56606b;margin-right:.5rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #c9d1da;padding:.3rem .5rem;text-align:left;vertical-align:top}
label{display:block;margin:.5rem 0}.error{color:#a4161a}form.inline{display:inline}
.filters label{display:inline-block;margin-right:1rem}.held{color:#8a5a00}
.chart rect{fill:#3d6b99}.chart text{font-size:12px;fill:#1d2733}
pre{white-space:pre-wrap;word-break:break-all;background:#f4f6f8;padding:.5rem}textarea{width:30rem;height:4rem}`;
