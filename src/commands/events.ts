import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import {
  countEvents,
  emitEvent,
  exportEvents,
  findEventType,
  listEvents,
  parseSeverity,
  purgeEvents,
  resolveRetention,
  severityNames,
  siemRecord,
  type EngineEvent,
  type EventFilter,
} from '../sync/events/index.js';
import { parsePositiveInt, runCommand } from './context.js';
import { printable } from '../terminal.js';

interface EventsOptions {
  since?: string;
  until?: string;
  severity?: string;
  type?: string[];
  limit?: number;
  export?: string;
  json?: boolean;
}

export function registerEventsCommands(program: Command): void {
  program
    .command('events')
    .description("the engine's own events (catalogue: docs/events.md); `events purge` deletes those past their storage term")
    .argument('[action]', 'purge: delete events older than their storage term (audit records are never purged)')
    .option('--since <time>', 'events at or after TIME: an ISO date / time, or an age such as 30m, 24h, 7d')
    .option('--until <time>', 'events before TIME (same forms)')
    .option('--severity <level>', 'this level and the more severe ones: critical, functional-failure, warning, info')
    .option('--type <type...>', 'only these event types (numeric id or code, e.g. 9202 or KSYNC_CONFLICT_FOUND)')
    .option('--limit <n>', 'at most N events (default 100 when listing; no limit when exporting)', parsePositiveInt('--limit'))
    .option('--export <file>', 'write the matching events to FILE as JSON lines (oldest first), for a SIEM')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, action: string | undefined, options: EventsOptions) => {
        if (action !== undefined && action !== 'purge') throw new UsageError(`events: unknown action ${JSON.stringify(action)}; the only action is "purge"`);
        const now = new Date();
        if (action === 'purge') {
          const stray = (['since', 'until', 'severity', 'type', 'limit', 'export'] as const).filter((o) => options[o] !== undefined);
          if (stray.length > 0) throw new UsageError(`events purge takes no ${stray.map((o) => `--${o}`).join(', ')}: it deletes by each type's storage term (events.retention)`);
          const config = await ctx.config();
          const retention = resolveRetention(config.events.retention);
          const db = await ctx.database();
          const result = await purgeEvents(db, retention, now);
          if (result.deleted > 0) await emitEvent(db, 'KSYNC_EVENTS_PURGED', { deleted: result.deleted, byType: result.byType }, { message: `${result.deleted} event(s) past their storage term deleted` });
          const lines = result.deleted === 0 ? ['no events past their storage term'] : [`deleted ${result.deleted} event(s) past their storage term:`, ...Object.entries(result.byType).map(([code, n]) => `  ${code.padEnd(28)} ${n}`)];
          return { summary: { deleted: result.deleted, byType: result.byType }, text: lines.join('\n') };
        }

        const filter = eventFilter(options, now);
        const db = await ctx.database();
        if (options.export) {
          const file = path.resolve(options.export);
          const temp = `${file}.${process.pid}.tmp`;
          const out = createWriteStream(temp, { encoding: 'utf8' });
          let exported: number;
          try {
            exported = await exportEvents(db, out, filter, { ...(options.limit === undefined ? {} : { limit: options.limit }), site: (await ctx.config()).site?.name ?? 'default' });
            out.end();
            await finished(out);
            await rename(temp, file);
          } catch (error) {
            out.destroy();
            await rm(temp, { force: true });
            throw error;
          }
          return { summary: { exported, file }, text: `exported ${exported} event(s) to ${file} (JSON lines)` };
        }

        const limit = options.limit ?? 100;
        const [events, total] = await Promise.all([listEvents(db, filter, limit), countEvents(db, filter)]);
        const text = events.length === 0 ? 'no events' : [...events.map(formatEvent), ...(total > events.length ? [`(${events.length} of ${total} shown; --limit N for more)`] : [])].join('\n');
        const site = (await ctx.config()).site?.name ?? 'default';
        return { summary: { site, total, shown: events.length, events: events.map((e) => siemRecord(e, site)) }, text };
      }),
    );
}

function eventFilter(options: EventsOptions, now: Date): EventFilter {
  const filter: EventFilter = {};
  if (options.since) filter.since = parseTime('--since', options.since, now);
  if (options.until) filter.until = parseTime('--until', options.until, now);
  if (options.severity) {
    const severity = parseSeverity(options.severity);
    if (!severity) throw new UsageError(`--severity must be critical, functional-failure, warning or info; found ${JSON.stringify(options.severity)}`);
    filter.severity = severity;
  }
  if (options.type) {
    filter.types = options.type.map((t) => {
      const found = findEventType(t);
      if (!found) throw new UsageError(`--type: no engine event type has the id or code ${JSON.stringify(t)} (see docs/events.md)`);
      return found.id;
    });
  }
  return filter;
}

/** An ISO date / time, or an age before now such as `30m`, `24h`, `7d`, `2w`. */
export function parseTime(option: string, text: string, now: Date): Date {
  const age = /^(\d+)\s*(m|min|h|d|w)$/i.exec(text.trim());
  if (age) {
    const unit = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[age[2]!.toLowerCase() as 'm' | 'min' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - Number(age[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const date = new Date(text.trim());
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new UsageError(`${option} must be an ISO date / time (2026-05-01, 2026-05-01T10:00:00Z) or an age such as 30m, 24h, 7d; found ${JSON.stringify(text)}`);
}

function formatEvent(event: EngineEvent): string {
  const at = event.at.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  const run = event.runId === null ? '' : `  run ${event.runId}`;
  return `${at}  ${severityNames[event.severity].padEnd(18)}  ${String(event.typeId)} ${event.code.padEnd(28)}  ${printable(event.message ?? '')}${run}`;
}

