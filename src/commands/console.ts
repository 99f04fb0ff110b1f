import { once } from 'node:events';
import type { Command } from 'commander';
import { serveConsole } from '../console/start.js';
import { addUser, consoleRoles, createToken, disableUser, listUsers, type ConsoleRole, type ConsoleUser } from '../console/users.js';
import { UsageError } from '../errors.js';
import { runCommand } from './context.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65535) throw new UsageError(`--port must be 0..65535; found ${JSON.stringify(value)}`);
  return n;
}

/** Reads a password from stdin (one line): never from the command line, where `ps` shows it. */
async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin reads the password from a pipe: echo "$PASSWORD" | kics-sync users add ...');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function userJson(u: ConsoleUser): Record<string, unknown> {
  return { name: u.name, role: u.role, owners: u.owners, createdAt: u.createdAt.toISOString(), disabled: u.disabledAt !== null, password: u.hasPassword };
}

/** `kics-sync serve` and `kics-sync users`: the review console and its accounts. */
export function registerConsoleCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the review console (plans, login, API under /api/v1, /metrics, /healthz, /readyz) until SIGTERM / SIGINT')
    .option('--host <host>', 'address to bind (default console.host, else 127.0.0.1)')
    .option('--port <port>', 'port (default console.port, else 8080; 0 picks a free one)', parsePort)
    .action(
      runCommand(program, async (ctx, options: { host?: string; port?: number }) => {
        const db = await ctx.database();
        const served = await serveConsole({ db, config: await ctx.config(), dataDir: await ctx.dataDir(), logger: ctx.logger, host: options.host, port: options.port });
        const address = served.address;
        process.stderr.write(`review console at ${address} (stop with Ctrl-C)\n`);
        if (!ctx.signal.aborted) await once(ctx.signal, 'abort');
        await served.close();
        return { summary: { address }, text: 'review console stopped' };
      }),
    );

  const users = program.command('users').description('accounts of the review console');
  users
    .command('add <name>')
    .description('add a user: --role admin | owner | viewer; an owner names the owners whose items they decide')
    .requiredOption('--role <role>', `one of ${consoleRoles.join(', ')}`)
    .option('--owner <owner...>', 'owner names (as the sources write them); repeat for several')
    .option('--password-stdin', 'read the password from stdin (at least 12 characters)')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, name: string, options: { role: string; owner?: string[]; passwordStdin?: boolean }) => {
        if (!(consoleRoles as readonly string[]).includes(options.role)) throw new UsageError(`--role must be one of ${consoleRoles.join(', ')}; found ${JSON.stringify(options.role)}`);
        const password = options.passwordStdin ? await passwordFromStdin() : null;
        const user = await addUser(await ctx.database(), { name, role: options.role as ConsoleRole, owners: options.owner ?? [], password });
        return { summary: { user: userJson(user) }, text: `user ${user.name} added (${user.role}${user.owners.length ? `: ${user.owners.join(', ')}` : ''})${password === null ? '; no password: give one with --password-stdin to sign in' : ''}` };
      }),
    );
  users
    .command('list')
    .description('the users, their roles and owners')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx) => {
        const list = await listUsers(await ctx.database());
        return {
          summary: { users: list.map(userJson) },
          text: list.length === 0 ? 'no users yet: kics-sync users add NAME --role admin --password-stdin' : list.map((u) => `${u.name.padEnd(20)} ${u.role.padEnd(6)} ${u.disabledAt ? 'disabled' : 'active  '} ${u.owners.join(', ')}`).join('\n'),
        };
      }),
    );
  users
    .command('disable <name>')
    .description('disable a user: their sessions and API tokens stop working at once')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, name: string) => {
        const user = await disableUser(await ctx.database(), name);
        return { summary: { user: userJson(user) }, text: `user ${user.name} disabled` };
      }),
    );
  users
    .command('token <name>')
    .description('create an API token for a user (Authorization: Bearer <token> on /api/v1); shown once')
    .option('--label <label>', 'what the token is for', 'automation')
    .option('--json', 'print one JSON object with the result')
    .action(
      runCommand(program, async (ctx, name: string, options: { label: string }) => {
        const { token, user } = await createToken(await ctx.database(), name, options.label);
        return { summary: { user: user.name, label: options.label, token }, text: `API token for ${user.name} (shown once, keep it secret):\n${token}` };
      }),
    );
}
