import type { Command } from 'commander';
import { applyMigrations, migrationStatus, readMigrations } from '../db/migrate.js';
import { runCommand } from './context.js';

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('the database: migrations and status');

  db.command('migrate')
    .description('apply pending migrations (also done automatically by every command that needs the database)')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx) => {
        const database = await ctx.database({ migrate: false });
        const applied = await applyMigrations(database, ctx.logger);
        const status = await migrationStatus(database, await readMigrations());
        return {
          summary: { database: database.location, engine: database.engine, applied, current: status.applied.map((m) => m.name) },
          text: applied.length > 0 ? `${database.location}: applied ${applied.join(', ')}` : `${database.location}: up to date (${status.applied.length} migrations applied)`,
        };
      }),
    );

  db.command('status')
    .description('which database, which migrations are applied, which are pending')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx) => {
        const database = await ctx.database({ migrate: false });
        const status = await migrationStatus(database, await readMigrations());
        const lines = [`database: ${database.location} (${database.engine})`, `applied:  ${status.applied.length === 0 ? 'none' : ''}`];
        for (const m of status.applied) lines.push(`  ${m.name}  ${m.finishedAt?.toISOString() ?? ''}`);
        lines.push(`pending:  ${status.pending.length === 0 ? 'none' : status.pending.join(', ')}`);
        if (status.failed.length > 0) lines.push(`failed:   ${status.failed.join(', ')}`);
        if (status.modified.length > 0) lines.push(`modified since applied: ${status.modified.join(', ')}`);
        if (status.unknown.length > 0) lines.push(`applied but unknown to this version: ${status.unknown.join(', ')}`);
        return {
          summary: {
            database: database.location,
            engine: database.engine,
            applied: status.applied.map((m) => ({ name: m.name, finishedAt: m.finishedAt })),
            pending: status.pending,
            failed: status.failed,
            modified: status.modified,
            unknown: status.unknown,
          },
          text: lines.join('\n'),
        };
      }),
    );
}
