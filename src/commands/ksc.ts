import type { Command } from 'commander';
import { KscClient } from '../adapters/ksc/client.js';
import { backendCommandEvent } from '../sync/ksc/console.js';
import { paramString } from '../adapters/ksc/params.js';
import { runKscService, type KscServiceSummary } from '../sync/ksc/service.js';
import { resolveTriggerEvents } from '../sync/ksc/triggers.js';
import type { KscConfig } from '../config/index.js';
import { ConfigError, ExitCode } from '../errors.js';
import { backendCommandHandlers, incrementalPlanStarter, kscEventSink } from '../sync/ksc/commands.js';
import { runCommand, type CommandContext } from './context.js';

export function registerKscCommands(program: Command): void {
  const ksc = program.command('ksc').description('Kaspersky Security Center: backend commands (kics-sync as a service console) and event triggers');

  ksc
    .command('check')
    .description('log in to KSC, show its version and what `ksc serve` would subscribe to')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx) => {
        const config = await kscSection(ctx);
        const client = await KscClient.fromConfig(config, ctx.logger);
        try {
          await client.login(ctx.signal);
          const info = await client.call('HostGroup.GetStaticInfo', { pValues: ['KLADMSRV_SERVER_VERSION_ID', 'KLADMSRV_PRODUCT_NAME'] }, { signal: ctx.signal });
          const values = info.retval !== null && typeof info.retval === 'object' ? (info.retval as Record<string, never>) : {};
          const version = paramString(values, 'KLADMSRV_SERVER_VERSION_ID') ?? 'unknown';
          const consoleAvailable = await client.call('ConEvents.IsServiceConsoleAvailable', { wstrProdName: config.commands.productName, wstrProdVersion: config.commands.productVersion }, { signal: ctx.signal });
          const handlers = Object.keys(backendCommandHandlers(ctx)).sort();
          const triggerEvents = resolveTriggerEvents(config.triggers.events);
          const planner = incrementalPlanStarter(ctx) !== undefined;
          const subscriptions = [
            ...(config.commands.enabled ? [{ event: backendCommandEvent, filter: { CMD_PROD_NAME: config.commands.productName, CMD_PROD_VERSION: config.commands.productVersion } }] : []),
            ...(config.triggers.enabled && planner ? triggerEvents.map((event) => ({ event, filter: {} })) : []),
          ];
          const lines = [
            `KSC ${client.host}: logged in, server version ${version}`,
            `backend commands: ${config.commands.enabled ? `on, for ${config.commands.productName} ${config.commands.productVersion}` : 'off (ksc.commands.enabled)'}; commands kics-sync runs: ${handlers.length ? handlers.join(', ') : 'none yet (every command is answered ERR_NOT_SUPPORTED)'}`,
            `authorization tokens: ${config.commands.tokens.length === 0 ? 'not checked' : `${config.commands.tokens.length} configured`}`,
            `event triggers: ${!config.triggers.enabled ? 'off (ksc.triggers.enabled)' : planner ? `on, ${triggerEvents.join(', ')}, debounce ${config.triggers.debounceSeconds} s` : 'configured, but this installation has no incremental planning to start'}`,
            `a service console for this product is ${consoleAvailable.retval === true ? 'already subscribed' : 'not subscribed now'}`,
            'ksc serve would subscribe to:',
            ...(subscriptions.length ? subscriptions.map((s) => `  ConEvents.Subscribe ${s.event} ${JSON.stringify(s.filter)}`) : ['  nothing']),
          ];
          return {
            summary: { ksc: client.host, version, commands: config.commands.enabled, handlers, tokensChecked: config.commands.tokens.length > 0, triggers: config.triggers.enabled && planner, triggerEvents, serviceConsoleSubscribed: consoleAvailable.retval === true, subscriptions },
            text: lines.join('\n'),
          };
        } finally {
          await client.close();
        }
      }),
    );

  ksc
    .command('serve')
    .description('run the service console for KSC backend commands and the KSC event triggers until SIGTERM / SIGINT')
    .option('--json', 'print one JSON object when it stops')
    .action(
      runCommand(program, async (ctx) => {
        const config = await kscSection(ctx);
        if (!config.commands.enabled && !config.triggers.enabled) throw new ConfigError('ksc serve has nothing to do: set ksc.commands.enabled and / or ksc.triggers.enabled');
        const db = await ctx.database();
        const summary: KscServiceSummary = await runKscService(
          { config, db, logger: ctx.logger, handlers: backendCommandHandlers(ctx), startIncrementalPlan: incrementalPlanStarter(ctx), report: kscEventSink(db) },
          ctx.signal,
          (ready) => ctx.logger.info({ ksc: ready.ksc, subscriptions: ready.subscriptions.map((s) => s.event), reposted: ready.reposted, abandoned: ready.abandoned.length }, 'ksc serve: running; stop with SIGTERM'),
        );
        return { summary: { ...summary }, text: `ksc serve stopped (${summary.ksc})`, exitCode: ExitCode.ok };
      }),
    );
}

async function kscSection(ctx: CommandContext): Promise<KscConfig> {
  const config = await ctx.config();
  if (!config.ksc) throw new ConfigError('the configuration has no ksc section (ksc.url and ksc.user / ksc.password or ksc.token)');
  return config.ksc;
}
