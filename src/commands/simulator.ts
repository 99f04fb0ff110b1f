import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { startKicsSimulator } from '../simulator/kics/index.js';
import { defaultKscUser, generateHosts, startKscSimulator } from '../simulator/ksc/index.js';
import { createRandom } from '../simulator/random.js';
import { runCommand, type CommandContext } from './context.js';

/** Options of `kics-sync simulator`. */
interface SimulatorOptions {
  system: string;
  host: string;
  port: number;
  adminPort: number;
  devices: number;
  seed: string;
  stateDir?: string;
  packagePassword?: string;
  fromFile?: string;
  tokenTtl?: number;
  latencyMs: number;
  faultRate: number;
  strict?: boolean;
}

function integerOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}; found ${JSON.stringify(value)}`);
    return n;
  };
}

function probability(value: string): number {
  const p = Number(value);
  if (value.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) throw new UsageError(`--fault-rate must be a number from 0 to 1; found ${JSON.stringify(value)}`);
  return p;
}

/** Waits for SIGINT / SIGTERM (the command context turns them into an abort). */
function untilInterrupted(ctx: CommandContext): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Each simulated system: starts it, prints the ready line, serves until interrupted. */
const systems: Record<string, (ctx: CommandContext, options: SimulatorOptions) => Promise<void>> = {
  async kics(ctx, options) {
    const sim = await startKicsSimulator({
      host: options.host,
      port: options.port,
      adminPort: options.adminPort,
      devices: options.devices,
      seed: /^-?\d+$/.test(options.seed) ? Number(options.seed) : options.seed,
      stateDir: options.stateDir,
      packagePassword: options.packagePassword ?? ctx.env.KICS_SIMULATOR_PACKAGE_PASSWORD,
      fromFile: options.fromFile,
      tokenTtlSeconds: options.tokenTtl,
      latencyMs: options.latencyMs,
      faultRate: options.faultRate,
      strict: options.strict ?? false,
      logger: ctx.logger,
    });
    process.stdout.write(`${JSON.stringify({ event: 'ready', url: sim.url, adminUrl: sim.adminUrl, packageDir: sim.packageDir })}\n`);
    await untilInterrupted(ctx);
    await sim.close();
  },
  async ksc(ctx, options) {
    if (options.faultRate > 0 || options.fromFile || options.tokenTtl !== undefined || options.strict) throw new UsageError('--fault-rate, --from-file, --token-ttl and --strict are KICS simulator options; the KSC simulator injects failures through its admin endpoint (docs/ksc.md)');
    const stateDir = options.stateDir ?? (await mkdtemp(path.join(os.tmpdir(), 'kics-sync-ksc-simulator-')));
    const sim = await startKscSimulator({
      stateDir,
      host: options.host,
      port: options.port,
      adminPort: options.adminPort,
      hosts: generateHosts(options.devices, createRandom(/^-?\d+$/.test(options.seed) ? Number(options.seed) : options.seed)),
      settings: { latencyMs: options.latencyMs },
    });
    process.stdout.write(`${JSON.stringify({ event: 'ready', system: 'ksc', url: sim.url, adminUrl: sim.adminUrl, caFile: sim.caFile, user: defaultKscUser.user })}\n`);
    await untilInterrupted(ctx);
    await sim.close();
    if (!options.stateDir) await rm(stateDir, { recursive: true, force: true });
  },
};

export function registerSimulatorCommand(program: Command): void {
  program
    .command('simulator')
    .description('run a faithful stand-in server for tests and demos: KICS for Networks (HTTPS connector API with mutual TLS, admin endpoint, fault injection; docs/kics-simulator.md) or Kaspersky Security Center (--system ksc: Open API over HTTPS, admin endpoint; docs/ksc.md)')
    .option('--system <name>', `the system to simulate: ${Object.keys(systems).join(', ')}`, 'kics')
    .option('--host <host>', 'address the API listens on', '127.0.0.1')
    .option('--port <port>', 'API port (0 picks a free one)', integerOption('--port', 0, 65_535), 0)
    .option('--admin-port <port>', 'admin endpoint port on 127.0.0.1 (0 picks a free one)', integerOption('--admin-port', 0, 65_535), 0)
    .option('--devices <n>', 'generated devices (KSC: managed hosts)', integerOption('--devices', 0, 200_000), 100)
    .option('--seed <seed>', 'seed of the generated data (number or text)', '1')
    .option('--state-dir <dir>', 'folder for the certificates and the communication data package (default: a temporary folder, removed on exit)')
    .option('--package-password <password>', 'password of certificates.pfx (default: $KICS_SIMULATOR_PACKAGE_PASSWORD, else "kics-simulator")')
    .option('--from-file <file>', 'load devices from a JSON file instead of generating them')
    .option('--token-ttl <seconds>', 'access token lifetime (default 36000)', integerOption('--token-ttl', 1))
    .option('--latency-ms <ms>', 'latency added to every API call', integerOption('--latency-ms', 0, 600_000), 0)
    .option('--strict', 'KICS: answer only what the connector API document defines; refuse the rest with 400 (docs/kics-simulator.md)')
    .option('--fault-rate <p>', 'share of API calls (token calls included) answered with a random fault', probability, 0)
    .action(
      runCommand(program, async (ctx, opts: SimulatorOptions) => {
        const run = systems[opts.system];
        if (!run) throw new UsageError(`--system must be one of ${Object.keys(systems).join(', ')}; found ${JSON.stringify(opts.system)}`);
        await run(ctx, opts);
        return { summary: { system: opts.system, stopped: true } };
      }),
    );
}
