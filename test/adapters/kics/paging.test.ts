import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceFilter, type KicsClient } from '../../../src/adapters/kics/index.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';
import { clientFor } from './support.js';

/** Paging a query endpoint while KICS changes underneath: the `offset` semantics measured, and why pages are keyed by id. */
describe('KICS paging', () => {
  let t: TestKicsSimulator;
  let client: KicsClient;

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 3000, seed: 'paging' });
    client = await clientFor(t);
  });
  afterAll(async () => {
    await client.close();
    await t.close();
  });

  const storeIds = (): number[] => [...t.sim.store.all()].map((d) => d.id).sort((a, b) => a - b);
  let added = 0;
  const addDevice = async (): Promise<number> => {
    added += 1;
    const answer = await t.admin('POST', '/admin/devices', { name: `Added during read ${added}`, status: 'Recognized', category: 'Plc', addressInformation: [{ ipAddresses: [{ ip: `10.222.${added >> 8}.${added & 255}` }] }] });
    expect(answer.status, answer.text).toBe(201);
    return (answer.json as { id: number }).id;
  };

  it('offset n answers the match with 0-based index n first: "not including" the n-th counted from 1', async () => {
    const sort = [{ column: 'Id', direction: 'Asc' as const }];
    const ids = storeIds();
    expect((await client.queryDevices({ sort, offset: 0, limit: 3 })).values.map((d) => d.id)).toEqual(ids.slice(0, 3));
    expect((await client.queryDevices({ sort, offset: 1, limit: 2 })).values.map((d) => d.id)).toEqual(ids.slice(1, 3));
    const page = await client.queryDevices({ sort, offset: 200, limit: 1 });
    expect(page).toMatchObject({ offset: 200, limit: 1 });
    expect(page.values[0]!.id).toBe(ids[200]);
  });

  it('offset paging misses a device when one before the position is deleted; id paging does not', async () => {
    const sort = [{ column: 'Id', direction: 'Asc' as const }];
    const byOffset: number[] = [];
    const byId: number[] = [];
    for (let offset = 0; ; offset += 500) {
      const page = await client.queryDevices({ sort, offset, limit: 500 });
      byOffset.push(...page.values.map((d) => d.id));
      if (page.values.length < 500) break;
    }
    // While nothing changes, offset pages join without gaps or repeats.
    expect(byOffset).toEqual(storeIds());

    // The same two ways again, with the first device deleted after the first page.
    const before = storeIds();
    const victim = before[0]!;
    byOffset.length = 0;
    for (let offset = 0; ; offset += 500) {
      const page = await client.queryDevices({ sort, offset, limit: 500 });
      byOffset.push(...page.values.map((d) => d.id));
      if (offset === 0) await t.admin('DELETE', `/admin/devices/${victim}`);
      if (page.values.length < 500) break;
    }
    const expected = before.filter((id) => id !== victim);
    const missedByOffset = expected.filter((id) => !byOffset.includes(id));
    expect(missedByOffset).toEqual([before[500]]);

    const second = storeIds()[0]!;
    let first = true;
    for await (const page of client.iterateDevices({ pageSize: 500 })) {
      byId.push(...page.values.map((d) => d.id));
      if (first) await t.admin('DELETE', `/admin/devices/${second}`);
      first = false;
    }
    expect(byId.filter((id) => id !== second)).toEqual(expected.filter((id) => id !== second));
  });

  it('pages through thousands of devices while devices are added, changed and deleted: each survivor read once, changes ahead seen', async () => {
    const start = storeIds();
    const seen = new Map<number, number>();
    const changedAhead = new Map<number, string>();
    const deletedAhead = new Set<number>();
    const addedIds: number[] = [];
    let lastId = 0;
    let round = 0;
    for await (const page of client.iterateDevices({ pageSize: 250 })) {
      for (const d of page.values) {
        seen.set(d.id, (seen.get(d.id) ?? 0) + 1);
        if (changedAhead.has(d.id)) expect(d.description).toBe(changedAhead.get(d.id));
      }
      lastId = page.values.at(-1)!.id;
      round += 1;
      // Behind the reader, ahead of it, and new devices, between every two pages. "Ahead" skips the next
      // page: the client has already asked for it (a change there is caught by the next incremental read).
      const ahead = storeIds()
        .filter((id) => id > lastId)
        .slice(250);
      if (ahead.length > 10) {
        const change = ahead[round % ahead.length]!;
        const description = `changed in round ${round}`;
        expect((await t.admin('PATCH', `/admin/devices/${change}`, { description })).status).toBe(200);
        changedAhead.set(change, description);
        const gone = ahead.at(-1 - round)!;
        if (!changedAhead.has(gone)) {
          await t.admin('DELETE', `/admin/devices/${gone}`);
          deletedAhead.add(gone);
        }
      }
      const behind = storeIds().filter((id) => id < lastId);
      await t.admin('PATCH', `/admin/devices/${behind[round]!}`, { description: `changed behind in round ${round}` });
      addedIds.push(await addDevice());
    }
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const survivors = start.filter((id) => t.sim.store.get(id) !== undefined);
    expect(survivors.filter((id) => !seen.has(id))).toEqual([]);
    expect([...deletedAhead].filter((id) => seen.has(id))).toEqual([]);
    expect(deletedAhead.size).toBeGreaterThan(5);
    expect(changedAhead.size).toBeGreaterThan(5);
    // New devices get higher ids: all but those created after the last page was read are seen.
    expect(addedIds.filter((id) => !seen.has(id))).toEqual(addedIds.filter((id) => id > lastId));
    expect(addedIds.filter((id) => seen.has(id)).length).toBeGreaterThan(5);
  });

  it('reads id ranges side by side (streams): every device once, new ones in the open-ended last range', async () => {
    const seen: number[] = [];
    let pages = 0;
    let newId = 0;
    for await (const page of client.iterateDevices({ pageSize: 200, streams: 4 })) {
      seen.push(...page.values.map((d) => d.id));
      pages += 1;
      if (pages === 2) newId = await addDevice();
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(storeIds());
    expect(seen).toContain(newId);
    // Four ranges: the first query per range asked for ids above the range's start.
    const firstQueries = t.sim.requests.list(t.sim.requests.lastSeq - pages - 1).filter((e) => e.route === 'devicesQuery');
    expect(firstQueries.length).toBe(pages + 1);
  });

  it('combines its Id > cursor with the caller\'s filter', async () => {
    const expected = [...t.sim.store.all()].filter((d) => d.status === 'Archived').map((d) => d.id);
    const got: number[] = [];
    for await (const page of client.iterateDevices({ filter: [deviceFilter.eq('Status', 'Archived')], pageSize: 17 })) got.push(...page.values.map((d) => d.id));
    expect(got).toEqual(expected);
  });
});
