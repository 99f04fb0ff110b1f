import pLimit from 'p-limit';
import type { ServicenowSourceConfig } from '../../config/sources.js';
import { parseIp } from '../../model/ip.js';
import { parseMac } from '../../model/mac.js';
import { textOf, type TableQuery, type TableReader, type TableRow } from './table.js';

/**
 * A CI's network identity as ServiceNow's class models keep it apart from the CI (the OT model says
 * not to store MAC or IP on the OT CI; the hardware model says the same for servers): Network Adapter
 * records (`cmdb_ci_network_adapter`: `mac_address`, its own `ip_address`, `cmdb_ci` -> the CI) and
 * IP Address records (`cmdb_ci_ip_address`: `ip_address`, `nic` -> the adapter). Both are read in
 * bulk for a page of CIs, with `IN` lists split to keep each URL bounded (`TableReader.inQueries()`).
 */
export interface NetworkAdapter {
  sysId: string;
  name: string | undefined;
  mac: string | undefined;
  /** The adapter's own IP first, then its IP Address records' in sys_id order (raw text). */
  ips: string[];
}

/** Requests of one page of CIs in flight at once (the REST client keeps 4 connections). */
const parallel = 4;

export class NetworkReader {
  private readonly adapters: ServicenowSourceConfig['networkAdapters'];
  private readonly ipAddresses: ServicenowSourceConfig['ipAddresses'];

  constructor(
    private readonly reader: TableReader,
    config: Pick<ServicenowSourceConfig, 'networkAdapters' | 'ipAddresses'>,
  ) {
    this.adapters = config.networkAdapters;
    this.ipAddresses = config.ipAddresses;
  }

  get enabled(): boolean {
    return this.adapters.enabled;
  }

  /** The adapters of these CIs with their IPs, per CI sys_id, adapters in sys_id order. */
  async forCis(ciIds: readonly string[]): Promise<Map<string, NetworkAdapter[]>> {
    const byCi = new Map<string, NetworkAdapter[]>();
    if (!this.adapters.enabled || ciIds.length === 0) return byCi;
    const { table, ciField, macField, ipField, nameField } = this.adapters;
    const base: TableQuery = { table, clauses: [], fields: [...new Set(['sys_id', ciField, macField, ipField, nameField])], displayValue: 'false' };
    const rows = await this.allOf(this.reader.inQueries(base, ciField, ciIds));
    const bySysId = new Map<string, NetworkAdapter>();
    for (const row of rows) {
      const sysId = textOf(row.sys_id);
      const ci = textOf(row[ciField]);
      if (!sysId || !ci || bySysId.has(sysId)) continue;
      const own = textOf(row[ipField]);
      const adapter: NetworkAdapter = { sysId, name: textOf(row[nameField]), mac: textOf(row[macField]), ips: own ? [own] : [] };
      bySysId.set(sysId, adapter);
      const list = byCi.get(ci);
      if (list) list.push(adapter);
      else byCi.set(ci, [adapter]);
    }
    if (this.ipAddresses.enabled && bySysId.size > 0) {
      const { table: ipTable, adapterField, ipField: recordIpField } = this.ipAddresses;
      const ipBase: TableQuery = { table: ipTable, clauses: [], fields: ['sys_id', adapterField, recordIpField], displayValue: 'false' };
      const records = await this.allOf(this.reader.inQueries(ipBase, adapterField, bySysId.keys()));
      records.sort((a, b) => compare(textOf(a.sys_id), textOf(b.sys_id)));
      for (const record of records) {
        const ip = textOf(record[recordIpField]);
        const adapter = bySysId.get(textOf(record[adapterField]) ?? '');
        if (ip && adapter) adapter.ips.push(ip);
      }
    }
    for (const list of byCi.values()) list.sort((a, b) => compare(a.sysId, b.sysId));
    return byCi;
  }

  /**
   * What changed at or after `since` besides the CIs themselves (an edit of an adapter or an IP Address
   * record does not move the CI's sys_updated_on): the CIs those adapters and IP Address records belong
   * to now, and their MACs and IPs (canonical), by which the CIs that held them before can be found.
   */
  async changedSince(since: string): Promise<{ cis: Set<string>; macs: string[]; ips: string[] }> {
    const cis = new Set<string>();
    const macs = new Set<string>();
    const ips = new Set<string>();
    if (!this.adapters.enabled) return { cis, macs: [], ips: [] };
    const { table, ciField, macField, ipField } = this.adapters;
    const changed = `sys_updated_on>=${since}`;
    for (const row of await this.reader.all({ table, clauses: [changed], fields: ['sys_id', ciField, macField, ipField], displayValue: 'false' })) {
      const ci = textOf(row[ciField]);
      if (ci) cis.add(ci);
      addMac(macs, textOf(row[macField]));
      addIp(ips, textOf(row[ipField]));
    }
    if (this.ipAddresses.enabled) {
      const { table: ipTable, adapterField, ipField: recordIpField } = this.ipAddresses;
      const adapterIds = new Set<string>();
      for (const row of await this.reader.all({ table: ipTable, clauses: [changed], fields: ['sys_id', adapterField, recordIpField], displayValue: 'false' })) {
        const adapter = textOf(row[adapterField]);
        if (adapter) adapterIds.add(adapter);
        addIp(ips, textOf(row[recordIpField]));
      }
      const base: TableQuery = { table, clauses: [], fields: ['sys_id', ciField], displayValue: 'false' };
      for (const row of await this.allOf(this.reader.inQueries(base, 'sys_id', adapterIds))) {
        const ci = textOf(row[ciField]);
        if (ci) cis.add(ci);
      }
    }
    return { cis, macs: [...macs], ips: [...ips] };
  }

  private async allOf(queries: TableQuery[]): Promise<TableRow[]> {
    const limit = pLimit(parallel);
    const results = await Promise.all(queries.map((q) => limit(() => this.reader.all(q))));
    return results.flat();
  }
}

function addMac(into: Set<string>, text: string | undefined): void {
  const parsed = text === undefined ? undefined : parseMac(text);
  if (parsed?.ok) into.add(parsed.mac);
}

function addIp(into: Set<string>, text: string | undefined): void {
  const parsed = text === undefined ? undefined : parseIp(text);
  if (parsed?.ok) into.add(parsed.ip);
}

function compare(a: string | undefined, b: string | undefined): number {
  return (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0;
}
