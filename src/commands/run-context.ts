import type { RunTrigger } from '../sync/runs/store.js';
import type { RunContext } from '../sync/runs/lifecycle.js';
import { startProgress } from '../progress.js';
import type { CommandContext } from './context.js';

/** The run context of a CLI command: its database, config, logger, signal and progress bars. */
export async function runContext(ctx: CommandContext, trigger: RunTrigger, actor: string): Promise<RunContext> {
  const config = await ctx.config();
  const db = await ctx.database();
  const interactive = !ctx.json && Boolean(process.stderr.isTTY);
  return {
    db,
    config,
    dataDir: await ctx.dataDir(),
    logger: ctx.logger,
    signal: ctx.signal,
    trigger,
    actor,
    progress: (label, total) => startProgress(label, { logger: ctx.logger, interactive, total }),
  };
}

