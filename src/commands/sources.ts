import type { Command } from 'commander';
import { createSource, normalizerFor, selectSources } from '../adapters/index.js';
import { sourceTypeNames } from '../config/sources.js';
import { ExitCode, KicsSyncError, UsageError, errorMessage } from '../errors.js';
import { startSourcesProgress } from '../progress.js';
import type { StageOutcome } from '../sync/staging/source/stage.js';
import { emitEvent } from '../sync/events/index.js';
import { sourceReadEvents } from '../sync/runs/lifecycle.js';
import { stageConfiguredSources } from '../sync/staging/sources.js';
import { runCommand } from './context.js';

/** `kics-sync sources check|pull`: prove the sources can be read, and stage them into the database. */
export function registerSourcesCommands(program: Command): void {
  const sources = program.command('sources').description(`the asset sources, by type: ${Object.entries(sourceTypeNames).map(([type, name]) => `${type} (${name})`).join(', ')}`);
  const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

  sources
    .command('check')
    .description('connect to each source and read its first page (or the CSV header); nothing is staged')
    .option('--source <name>', 'only this source (repeatable)', collect)
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, options: { source?: string[] }) => {
        const config = await ctx.config();
        const selected = selectSources(config, options.source);
        if (selected.length === 0) throw new UsageError('no enabled sources in the configuration (sources: [...])');
        const deps = { logger: ctx.logger, normalizer: normalizerFor(config.reconcile), config };
        const results: { source: string; type: string; ok: boolean; durationMs: number; details?: string[]; warnings?: string[]; error?: { code: string; message: string } }[] = [];
        for (const sourceConfig of selected) {
          const started = performance.now();
          try {
            const found = await createSource(sourceConfig, deps).check(ctx.signal);
            results.push({ source: sourceConfig.name, type: sourceConfig.type, ok: true, durationMs: Math.round(performance.now() - started), ...(found ? found : {}) });
          } catch (error) {
            if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
            const code = error instanceof KicsSyncError ? error.code : 'INTERNAL';
            results.push({ source: sourceConfig.name, type: sourceConfig.type, ok: false, durationMs: Math.round(performance.now() - started), error: { code, message: errorMessage(error) } });
          }
        }
        const failed = results.filter((r) => !r.ok).length;
        const lines = results.flatMap((r) => [
          `${r.ok ? 'ok    ' : 'FAILED'}  ${r.source} (${r.type})${r.error ? `: ${r.error.message}` : ''}`,
          ...(r.details ?? []).map((d) => `          ${d}`),
          ...(r.warnings ?? []).map((w) => `warning: ${r.source}: ${w}`),
        ]);
        return { summary: { sources: results }, text: lines.join('\n'), exitCode: failed > 0 ? ExitCode.unavailable : ExitCode.ok };
      }),
    );

  sources
    .command('pull')
    .description('read the sources and stage them (incremental where a source supports it, unless --full)')
    .option('--source <name>', 'only this source (repeatable)', collect)
    .option('--full', 'read everything; records no longer present are marked missing')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, options: { source?: string[]; full?: boolean }) => {
        const config = await ctx.config();
        const selected = selectSources(config, options.source);
        if (selected.length === 0) throw new UsageError('no enabled sources in the configuration (sources: [...])');
        normalizerFor(config.reconcile); // a broken mapping table is a usage error before the database is opened
        const db = await ctx.database();
        const dataDir = await ctx.dataDir();
        const progress = startSourcesProgress({ logger: ctx.logger, interactive: !ctx.json && Boolean(process.stderr.isTTY) });
        const outcomes = await stageConfiguredSources(db, config, {
          sourceNames: selected.map((s) => s.name),
          mode: options.full ? 'full' : 'incremental',
          logger: ctx.logger,
          signal: ctx.signal,
          dataDir,
          onProgress: (p) => progress.report(p),
        }).finally(() => progress.stop());
        for (const event of sourceReadEvents(outcomes)) await emitEvent(db, event.type, event.payload, { message: event.message });
        const failed = outcomes.filter((o) => !o.ok).length;
        return { summary: { sources: outcomes }, text: formatOutcomes(outcomes), exitCode: failed > 0 ? ExitCode.failed : ExitCode.ok };
      }),
    );
}

const columns = ['read', 'valid', 'rejected', 'new', 'changed', 'unchanged', 'missing'] as const;

function formatOutcomes(outcomes: readonly StageOutcome[]): string {
  const nameWidth = Math.max(6, ...outcomes.map((o) => o.source.length));
  const head = `${'source'.padEnd(nameWidth)}  ${'mode'.padEnd(11)}  ${columns.map((c) => c.padStart(9)).join(' ')}`;
  const lines = [head];
  const notes: string[] = [];
  for (const o of outcomes) {
    if (!o.ok) {
      lines.push(`${o.source.padEnd(nameWidth)}  FAILED       ${o.error.message}`);
      continue;
    }
    lines.push(`${o.source.padEnd(nameWidth)}  ${o.mode.padEnd(11)}  ${columns.map((c) => String(o[c]).padStart(9)).join(' ')}`);
    if ((o.rejected > 0 || o.notes > 0) && o.rejectsFile) notes.push(`${o.source}: ${o.rejected} rejected, ${o.notes} notes: see ${o.rejectsFile}`);
  }
  return [...lines, ...notes].join('\n');
}
