import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { auditFormats, renderAudit, type AuditFormat } from '../sync/audit/export.js';
import { readAudit, type AuditFilter } from '../sync/audit/store.js';
import { parsePositiveInt, runCommand } from './context.js';
import { parseTime } from './events.js';

/** `kics-sync audit`: the append-only record of every write to KICS. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('the audit: one record per write to KICS (who, when, run, plan item, device, operation, request, HTTP status, KICS result, before / after), oldest first')
    .option('--device <id>', 'only writes to this KICS device', parsePositiveInt('--device'))
    .option('--since <time>', 'only records at or after TIME: ISO date / time, or an age such as 30m, 24h, 7d')
    .option('--run <id>', 'only records of this run (kics-sync runs lists them)', parsePositiveInt('--run'))
    .option('--plan <id>', 'only records of this plan', parsePositiveInt('--plan'))
    .option('--format <format>', `json (JSON lines), csv (opens safely in Excel) or text (default: from --out's extension, else text)`)
    .option('--out <file>', 'write to FILE instead of stdout')
    .option('--limit <n>', 'at most N records', parsePositiveInt('--limit'))
    .action(
      runCommand(program, async (ctx, options: { device?: number; since?: string; run?: number; plan?: number; format?: string; out?: string; limit?: number }) => {
        let format: AuditFormat | undefined;
        if (options.format !== undefined) {
          if (!(auditFormats as readonly string[]).includes(options.format)) throw new UsageError(`--format must be one of ${auditFormats.join(', ')}; found ${JSON.stringify(options.format)}`);
          format = options.format as AuditFormat;
        }
        if (format === undefined && options.out) {
          const ext = path.extname(options.out).toLowerCase();
          format = ext === '.csv' ? 'csv' : ext === '.json' || ext === '.jsonl' || ext === '.ndjson' ? 'json' : undefined;
          if (format === undefined) throw new UsageError(`--out ${options.out}: give --format (json, csv or text) or use a .csv / .jsonl / .json extension`);
        }
        format ??= 'text';
        const filter: AuditFilter = {
          deviceId: options.device,
          since: options.since === undefined ? undefined : parseTime('--since', options.since, new Date()),
          runId: options.run,
          planId: options.plan,
        };
        const db = await ctx.database();
        let count = 0;
        const records = (async function* () {
          for await (const record of readAudit(db, filter, options.limit === undefined ? {} : { limit: options.limit })) {
            count += 1;
            yield record;
          }
        })();
        const chunks = Readable.from(renderAudit(format, records, (await ctx.config()).site?.name));
        if (!options.out) {
          await pipeline(chunks, process.stdout, { end: false });
          if (format === 'text' && count === 0) process.stdout.write('no audit records match\n');
          return { summary: { records: count, format } };
        }
        const file = path.resolve(options.out);
        await mkdir(path.dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        try {
          await pipeline(chunks, createWriteStream(temp, { encoding: 'utf8' }));
          await rename(temp, file);
        } catch (error) {
          await rm(temp, { force: true });
          throw error;
        }
        return { summary: { records: count, format, file }, text: `${count} audit record(s) written to ${file} (${format})` };
      }),
    );
}
