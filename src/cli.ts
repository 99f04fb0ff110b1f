#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { ExitCode } from './errors.js';
import { privateUmask } from './private-files.js';
import { packageRoot } from './paths.js';
import { parseLogLevel } from './commands/context.js';
import { registerApplyCommands, registerRevertCommand } from './commands/apply.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerConsoleCommands } from './commands/console.js';
import { registerDbCommands } from './commands/db.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerEventsCommands } from './commands/events.js';
import { registerKicsCommands } from './commands/kics.js';
import { registerKscCommands } from './commands/ksc.js';
import { registerPlanCommands } from './commands/plan.js';
import { registerRunsCommand } from './commands/runs.js';
import { registerScheduleCommand } from './commands/schedule.js';
import { registerSimulatorCommand } from './commands/simulator.js';
import { registerSitesCommand, registerWorkerCommand } from './commands/fleet.js';
import { registerSourcesCommands } from './commands/sources.js';
import { registerSyncCommand } from './commands/sync.js';

/** The command line: the one place that parses argv. Each area registers its commands from src/commands/. */
export function buildProgram(): Command {
  const { version } = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('kics-sync')
    .description('Keeps KICS for Networks devices true to the asset inventory (CMDB, CSV, KSC).')
    .version(version, '-V, --version')
    .option('-c, --config <file>', 'configuration file (default: $KICS_SYNC_CONFIG or ./kics-sync.yaml)')
    .option('--data-dir <dir>', 'data directory for the embedded database and reports (default: $KICS_SYNC_DATA_DIR or ./.kics-sync)')
    .option('--site <name>', 'the site (plant) to work on, from the configuration\'s sites: (default: the only one)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default: info)', parseLogLevel)
    .showHelpAfterError()
    .exitOverride();
  registerApplyCommands(program);
  registerRevertCommand(program);
  registerAuditCommand(program);
  registerConsoleCommands(program);
  registerDbCommands(program);
  registerDemoCommand(program);
  registerEventsCommands(program);
  registerKicsCommands(program);
  registerKscCommands(program);
  registerPlanCommands(program);
  registerRunsCommand(program);
  registerScheduleCommand(program);
  registerSimulatorCommand(program);
  registerSitesCommand(program);
  registerSourcesCommands(program);
  registerSyncCommand(program);
  registerWorkerCommand(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // Files this process writes (the embedded database's among them) are its user's alone unless a mode says otherwise.
  process.umask(privateUmask);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return;
    }
    process.stderr.write(`kics-sync: ${(error as Error).message}\n`);
    process.exitCode = (error as { exitCode?: number }).exitCode ?? ExitCode.usage;
  }
}
