import type { PlanAction, PlanHeader, PlanItem } from '../plan-schema.js';
import { actionLabels, basisText, changeRows, inputsText, isRecognizedUnknown, planTitle, scopeText, settleAdvice, unknownText, type PlanItems } from './display.js';
import { countsInOrder } from '../summary.js';

/**
 * The Markdown report: short enough for a ticket or an e-mail. The counts, then at most a few lines
 * per action (deletes and conflicts first); the full list is in the other formats.
 */

const perAction = 8;
const maxText = 120;
const sections: { action: PlanAction; title: string }[] = [
  { action: 'delete', title: 'Deletes' },
  { action: 'conflict', title: 'Conflicts' },
  { action: 'create', title: 'Creates' },
  { action: 'update', title: 'Updates' },
  { action: 'recognize', title: 'Recognized (the authorized baseline)' },
  { action: 'upload_config', title: 'Configuration uploads' },
  { action: 'archive', title: 'Archives' },
  { action: 'stale', title: 'Stale' },
  { action: 'unknown', title: 'Unknown devices' },
];

/** Text safe in Markdown: one line, no markup, no HTML, at most `max` characters. */
export function mdText(value: string, max = maxText): string {
  const line = value.replace(/[\r\n\t]+/g, ' ');
  const cut = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  // Inline text only ever follows other text, so line-start markup (- + 1.) cannot trigger.
  return cut.replace(/[\\`*_[\]<>#|~&]/g, (c) => `\\${c}`);
}

function itemLine(item: PlanItem): string {
  const who = `${item.deviceName ? `**${mdText(item.deviceName, 60)}**` : '(no name)'}${item.kicsDeviceId !== null ? ` (device ${item.kicsDeviceId})` : ''}`;
  if (item.action === 'update') {
    const diff = changeRows(item)
      .map(([f, b, a]) => `${f}: ${mdText(b, 40)} → ${mdText(a, 40)}`)
      .join('; ');
    return `- ${who}: ${diff}`;
  }
  if (item.action === 'conflict') {
    const settle = item.conflict ? ` To settle it: ${mdText(settleAdvice[item.conflict.kind], 240)}` : '';
    return `- ${who}: *${item.conflict?.kind ?? 'conflict'}*: ${mdText(item.reason ?? '')}.${settle}`;
  }
  if (item.action === 'unknown') return `- ${who}: ${isRecognizedUnknown(item) ? '**' : ''}${mdText(unknownText(item))}${isRecognizedUnknown(item) ? '**' : ''}`;
  return `- ${who}${item.reason ? `: ${mdText(item.reason)}` : ''}`;
}

export async function* renderMarkdown(header: PlanHeader, items: PlanItems): AsyncGenerator<string> {
  const shown = new Map<PlanAction, string[]>();
  for await (const item of items) {
    let list = shown.get(item.action);
    if (!list) shown.set(item.action, (list = []));
    if (list.length < perAction) list.push(itemLine(item));
  }
  const counts = header.summary.counts;
  const lines: string[] = [];
  lines.push(`# ${mdText(planTitle(header))} (${header.status})`, '');
  lines.push(`Created ${mdText(header.createdAt)} · scope: ${mdText(scopeText(header))} · basis: ${mdText(basisText(header))}`, '');
  const order = countsInOrder(counts);
  lines.push(`| ${order.map((c) => actionLabels[c.action]).join(' | ')} |`);
  lines.push(`|${order.map(() => '---:').join('|')}|`);
  lines.push(`| ${order.map((c) => c.count).join(' | ')} |`, '');
  const { stale, rejects } = inputsText(header);
  if (stale.length > 0) lines.push('> **Computed partly from stored data:**', ...stale.map((l) => `> - ${mdText(l, 400)}`), '');
  if (rejects.length > 0) lines.push(...rejects.map((l) => `- ${mdText(l, 400)}`), '');
  if (counts.delete > 0) lines.push(`> **Warning: ${counts.delete} device(s) will be DELETED from KICS** (reconcile.allowDelete is on).`, '');
  for (const { action, title } of sections) {
    const total = counts[action];
    if (total === 0) continue;
    const list = shown.get(action) ?? [];
    lines.push(`## ${title} (${total}${total > list.length ? `, first ${list.length} shown` : ''})`, '', ...list, '');
  }
  if (header.id !== null) lines.push(`Full list: \`kics-sync report --plan ${header.id} --format html\``);
  yield `${lines.join('\n').trimEnd()}\n`;
}
