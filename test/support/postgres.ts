import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** A PostgreSQL server started for tests or the benchmark, in a temporary folder, on loopback. */
export interface ThrowawayPostgres {
  /** Superuser URL of the `postgres` database (with password). */
  adminUrl: string;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  /** Creates an empty database on the server and returns its URL. */
  createDatabase(database: string): Promise<string>;
  port: number;
  password: string;
  stop(): void;
}

/** Where PostgreSQL server binaries are: $PG_BIN, else the newest /usr/lib/postgresql/<n>/bin. */
export function findPostgresBin(): string | null {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv && existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * initdb + pg_ctl start with durability off (fsync, synchronous_commit, full_page_writes), password
 * authentication (scram), listening on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root
 * the server runs as the `postgres` user.
 */
export async function startThrowawayPostgres(bin: string): Promise<ThrowawayPostgres> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-pg-'));
  const data = path.join(root, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = path.join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`);
  const asRoot = process.getuid?.() === 0;
  let run = (cmd: string, args: string[]): void => {
    execFileSync(path.join(bin, cmd), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(root, uid, gid);
    chownSync(pwfile, uid, gid);
    chmodSync(root, 0o700);
    run = (cmd, args) => {
      execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    };
  }
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C']);
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const options = [
      `-p ${port}`,
      `-k ${root}`,
      "-c listen_addresses='127.0.0.1'",
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
      '-c shared_buffers=128MB',
    ].join(' ');
    try {
      run('pg_ctl', ['-D', data, '-o', options, '-l', path.join(root, 'server.log'), '-w', '-t', '60', 'start']);
      break;
    } catch (error) {
      if (attempt >= 3) throw new Error(`could not start PostgreSQL from ${bin}: ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
    }
  }
  const urlFor = (database: string): string => `postgresql://postgres:${password}@127.0.0.1:${port}/${database}`;
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    const args = ['-D', data, '-m', 'immediate', '-w', 'stop'];
    if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' });
    else spawnSync(path.join(bin, 'pg_ctl'), args, { stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', stop);
  const createDatabase = async (database: string): Promise<string> => {
    const admin = new pg.Client({ connectionString: urlFor('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    return urlFor(database);
  };
  return { adminUrl: urlFor('postgres'), urlFor, createDatabase, port, password, stop };
}
