import type { Command } from 'commander';
import { createKicsClient, type KicsClient } from '../adapters/kics/index.js';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { startProgress } from '../progress.js';
import { cleanedText, fallbackText, stageKics, type KicsStageSummary } from '../sync/staging/kics/stage.js';
import { runCommand, type CommandContext } from './context.js';
import { humanDuration } from '../terminal.js';

/** `kics-sync kics check|pull`: prove KICS can be reached with the connector package, and read it into the snapshot. */
export function registerKicsCommands(program: Command): void {
  const kics = program.command('kics').description('the KICS for Networks server: connection check and snapshot reads');

  kics
    .command('check')
    .description('connect to KICS with the connector package, get a token, show the server version, the token expiry and the device count')
    .option('--json', 'print one JSON object with the result')
    .addHelpText('after', '\nExit codes: 0 KICS answered; 2 configuration or package problem; 3 KICS unreachable or refusing the connector.')
    .action(
      runCommand(program, async (ctx) => {
        const client = await openClient(ctx);
        const token = await client.authenticate(ctx.signal);
        const about = await client.about(ctx.signal);
        const devices = await client.countDevices([], ctx.signal);
        const config = await kicsSection(ctx);
        const { connector, pinned } = client.identity;
        const serverCertificate = config.insecure
          ? { verified: false as const }
          : pinned
            ? { verified: true as const, pinned: true, subject: pinned.subject, fingerprint256: pinned.fingerprint256, notAfter: pinned.notAfter.toISOString() }
            : { verified: true as const, pinned: false };
        const expiresIn = Math.max(0, Math.round((token.expiresAt.getTime() - Date.now()) / 1000));
        const summary = {
          kics: { url: client.url, version: about.version, apiVersion: config.apiVersion, components: about.updateableComponents ?? [] },
          token: { expiresAt: token.expiresAt.toISOString(), expiresInSeconds: expiresIn, renewAt: token.renewAt.toISOString() },
          devices,
          connectorCertificate: { subject: connector.subject, issuer: connector.issuer, notAfter: connector.notAfter.toISOString() },
          serverCertificate,
        };
        const serverLine = !serverCertificate.verified
          ? 'NOT verified (kics.insecure is set)'
          : serverCertificate.pinned
            ? `pinned from the package: ${serverCertificate.subject}, SHA-256 ${serverCertificate.fingerprint256}`
            : "verified against the package's CA certificates and the host name (the package names no server certificate to pin)";
        const text = [
          `KICS ${client.url}: version ${about.version} (API ${config.apiVersion})`,
          `connector certificate: ${connector.subject}, valid until ${connector.notAfter.toISOString()}`,
          `server certificate: ${serverLine}`,
          `token: expires ${summary.token.expiresAt} (in ${humanDuration(expiresIn)}); renewed from ${summary.token.renewAt}`,
          `devices: ${devices.toLocaleString('en-US')}`,
        ].join('\n');
        return { summary, text };
      }),
    );

  kics
    .command('pull')
    .description('read KICS into the snapshot: what changed since the last read, or everything with --full (devices gone from KICS are marked missing)')
    .option('--full', 'read every device (the first read always does)')
    .option('--json', 'print one JSON object with the result')
    .addHelpText('after', '\nExit codes: 0 snapshot updated; 2 configuration or package problem; 3 KICS unreachable (the earlier snapshot is kept); 130 interrupted.')
    .action(
      runCommand(program, async (ctx, options: { full?: boolean }) => {
        const client = await openClient(ctx);
        const db = await ctx.database();
        const interactive = !ctx.json && Boolean(process.stderr.isTTY);
        const expected = interactive && options.full ? await client.countDevices([], ctx.signal) : undefined;
        const progress = startProgress('reading KICS', { logger: ctx.logger, interactive, total: expected ?? 0 });
        let done = 0;
        let summary: KicsStageSummary;
        try {
          summary = await stageKics(db, client, {
            mode: options.full ? 'full' : 'incremental',
            logger: ctx.logger,
            signal: ctx.signal,
            ...(expected === undefined ? {} : { expected }),
            onProgress: ({ read }) => {
              if (expected === undefined) progress.setTotal(read);
              progress.increment(read - done);
              done = read;
            },
          });
        } finally {
          progress.stop();
        }
        return { summary: { kics: summary }, text: pullText(summary) };
      }),
    );
}

async function kicsSection(ctx: CommandContext): Promise<NonNullable<Config['kics']>> {
  const config = await ctx.config();
  if (!config.kics) throw new ConfigError('KICS is not configured: add a kics section with url and package (dir, password) to the configuration');
  return config.kics;
}

async function openClient(ctx: CommandContext): Promise<KicsClient> {
  const client = await createKicsClient(await kicsSection(ctx), { logger: ctx.logger });
  ctx.onClose(() => client.close());
  return client;
}

function pullText(s: KicsStageSummary): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  const d = s.devices;
  const changes = [`${n(d.new)} new`, `${n(d.changed)} changed`, `${n(d.unchanged)} unchanged`];
  if (d.reappeared > 0) changes.push(`${n(d.reappeared)} back`);
  if (d.missing > 0) changes.push(`${n(d.missing)} gone from KICS (marked missing)`);
  if (d.archived > 0) changes.push(`${n(d.archived)} newly archived`);
  const statuses = Object.entries(d.byStatus).map(([status, count]) => `${n(count)} ${status}`);
  const spaces = s.addressSpaces;
  const cleaned = cleanedText(s.cleaned);
  return [
    `KICS read (${s.mode}${s.since ? ` since ${s.since}` : ''}) in ${(s.durationMs / 1000).toFixed(1)} s: ${n(d.read)} devices: ${changes.join(', ')}`,
    `snapshot: ${statuses.join(', ') || 'no devices'}${d.missingTotal > 0 ? `; ${n(d.missingTotal)} missing` : ''}; ${n(spaces.read)} address spaces${spaces.new + spaces.changed + spaces.missing > 0 ? ` (${spaces.new} new, ${spaces.changed} changed, ${spaces.missing} gone)` : ''}; generation ${s.generation}`,
    ...(cleaned === null ? [] : [`warning: ${cleaned}`]),
    ...(s.filterFallback ? [`warning: ${fallbackText(s.filterFallback)}`] : []),
  ].join('\n');
}
