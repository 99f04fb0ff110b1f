/**
 * Console benchmark: the review console's API over a stored 100,000-item plan on PostgreSQL.
 *
 *   npx tsx bench/console.ts [--items 100000] [--rounds 7] [--json FILE]
 *
 * A throwaway PostgreSQL server, migrated; one plan of N items spread over 50 owners, 4 address
 * spaces and the plan's actions (and N staged KICS devices, N source records for the metrics); the
 * console served on loopback. Timed per request, from the client, median of the rounds after one warm-up:
 * the plan's first page of items (an admin), a filtered page (one owner, one action), an owner's page
 * of their own items, through the API and as the plan page (HTML, with its summary counts), and `/metrics`. Targets: 300 ms for the pages, 100 ms for the metrics.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { request } from 'undici';
import { buildConsole } from '../src/console/server.js';
import { addUser, createToken } from '../src/console/users.js';
import { openDatabase } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { findPostgresBin, startThrowawayPostgres } from '../test/support/postgres.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const items = Number(option('items', '100000'));
const rounds = Number(option('rounds', '7'));
const jsonFile = option('json', '');

const bin = findPostgresBin();
if (!bin) throw new Error('no PostgreSQL server binaries (set PG_BIN)');
const server = await startThrowawayPostgres(bin);
try {
  const url = await server.createDatabase('bench_console');
  const db = await openDatabase({ url, dataDir: os.tmpdir(), logger: silentLogger() });
  try {
    await db.execute(`INSERT INTO plan (status, scope) VALUES ('draft', '{}')`);
    await db.execute(
      `INSERT INTO plan_item (plan_id, seq, action, status, kics_device_id, device_name, address_space_id, owner, reason, before, after)
       SELECT 1, g, (ARRAY['update','create','recognize','conflict','upload_config','archive'])[1 + g % 6]::plan_action, 'pending',
              CASE WHEN g % 6 = 1 THEN NULL ELSE g END, 'device-' || g, 1 + g % 4, 'owner-' || (g % 50),
              'description from cmdb', jsonb_build_object('description', 'was ' || g), jsonb_build_object('description', 'is ' || g)
         FROM generate_series(1, $1::int) g`,
      [items],
    );
    await db.execute(`INSERT INTO source (name, kind, last_success_at, updated_at) VALUES ('cmdb', 'csv', now(), now()), ('kics', 'kics', now(), now())`);
    await db.execute(
      `INSERT INTO kics_device (id, name, status, raw, content_hash) SELECT g, 'device-' || g, 'Recognized', '{}'::json, md5(g::text) FROM generate_series(1, $1::int) g`,
      [items],
    );
    await db.execute(
      `INSERT INTO source_record (source_id, external_key, raw, normalized, content_hash) SELECT 1, 'r' || g, '{}'::jsonb, '{}'::jsonb, md5(g::text) FROM generate_series(1, $1::int) g`,
      [items],
    );
    await db.execute('ANALYZE');
    await addUser(db, { name: 'ada', role: 'admin', owners: [], password: null });
    await addUser(db, { name: 'olga', role: 'owner', owners: ['owner-7'], password: null });
    const adminToken = (await createToken(db, 'ada', 'bench')).token;
    const ownerToken = (await createToken(db, 'olga', 'bench')).token;

    const app = await buildConsole({ db, logger: silentLogger() });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const time = async (path: string, token?: string): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i <= rounds; i += 1) {
        const start = performance.now();
        const answer = await request(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
        await answer.body.arrayBuffer();
        if (answer.statusCode !== 200) throw new Error(`${path}: ${answer.statusCode}`);
        if (i > 0) samples.push(performance.now() - start);
      }
      samples.sort((a, b) => a - b);
      return Math.round(samples[Math.floor(samples.length / 2)]! * 10) / 10;
    };
    const rows = [
      { request: 'first page of items (admin)', target_ms: 300, median_ms: await time('/api/v1/plans/1/items', adminToken) },
      { request: 'filtered page: one owner, one action (admin)', target_ms: 300, median_ms: await time('/api/v1/plans/1/items?owner=owner-7&action=update', adminToken) },
      { request: "an owner's first page of their items", target_ms: 300, median_ms: await time('/api/v1/plans/1/items', ownerToken) },
      { request: 'a page deep in the plan (page 1,500, admin)', target_ms: 300, median_ms: await time('/api/v1/plans/1/items?page=1500', adminToken) },
      { request: 'plans list (owner)', target_ms: 300, median_ms: await time('/api/v1/plans', ownerToken) },
      { request: 'plan page, first page of items (admin, HTML)', target_ms: 300, median_ms: await time('/plans/1', adminToken) },
      { request: 'plan page, one owner, one action (admin, HTML)', target_ms: 300, median_ms: await time('/plans/1?owner=owner-7&action=update', adminToken) },
      { request: "plan page, an owner's own items (HTML)", target_ms: 300, median_ms: await time('/plans/1', ownerToken) },
      { request: 'plan page, text search (admin, HTML)', target_ms: 300, median_ms: await time('/plans/1?q=device-4242', adminToken) },
      { request: 'one item (owner, HTML)', target_ms: 300, median_ms: await time('/plans/1/items/7', ownerToken) },
      { request: 'plans list (admin, HTML)', target_ms: 300, median_ms: await time('/', adminToken) },
      { request: '/metrics', target_ms: 100, median_ms: await time('/metrics') },
    ];
    await app.close();
    process.stdout.write(`Console on PostgreSQL, a plan of ${items} items, median of ${rounds} requests after a warm-up\n`);
    for (const r of rows) process.stdout.write(`${r.request.padEnd(48)} ${String(r.median_ms).padStart(8)} ms  (target ${r.target_ms} ms)${r.median_ms > r.target_ms ? '  OVER' : ''}\n`);
    if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ node: process.version, cpus: os.cpus().length, items, rounds, results: rows }, null, 2)}\n`);
  } finally {
    await db.close();
  }
} finally {
  server.stop();
}
