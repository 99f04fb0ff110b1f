import ipaddr from 'ipaddr.js';
import type { KscConfig, KscSourceConfig } from '../../config/index.js';
import { ConfigError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { AssetInterface, AssetSource, CanonicalAsset, ReadOptions, RecordReject, SourceBatch, SourceRecord } from '../../model/asset.js';
import { macIdentityProblem, parseMac } from '../../model/mac.js';
import { readChunkAccessor, readSrvView } from './chunks.js';
import { KscClient } from './client.js';
import { KscError } from './errors.js';
import { paramDate, paramNumber, paramString, type KscParams } from './params.js';

/** Host attributes read with `HostGroup.FindHosts` (`name` is the administration group's name). */
export const hostFields = ['KLHST_WKS_HOSTNAME', 'KLHST_WKS_DN', 'KLHST_WKS_IP_LONG', 'KLHST_WKS_FQDN', 'KLHST_WKS_GROUPID', 'name', 'KLHST_WKS_LAST_VISIBLE'] as const;

/** Managed hosts only: the ones in administration groups, not the unassigned devices KSC discovered. */
export const managedHostsFilter = '(KLHST_WKS_FROM_UNASSIGNED = 0)';

/** The hosts a KSC source reads: its filter, else every host (empty filter), or managed hosts only. */
export function hostFilter(source: Pick<KscSourceConfig, 'filter' | 'includeUnassigned'>): string {
  return source.filter ?? (source.includeUnassigned ? '' : managedHostsFilter);
}

/**
 * Where MAC addresses come from: KSC has no MAC attribute on a host; the hardware inventory
 * (`SrvView` "HWInvStorageSrvViewName") has one row per device with its `MAC`. The view and the two
 * field names are KSC's; `HostId` (the `KLHST_WKS_HOSTNAME` of the host a device belongs to) is our
 * reading of the view and is kept here, in one place, so a deployment can correct it.
 */
export const hardwareInventory = { view: 'HWInvStorageSrvViewName', hostField: 'HostId', macField: 'MAC' } as const;

/** KSC keeps a result-set this long after its last use; a read takes one chunk at a time. */
const resultSetLifetimeSeconds = 3600;

/**
 * KSC managed hosts as an asset source: `HostGroup.FindHosts` read through a `ChunkAccessor`, one
 * chunk per batch, each chunk's MACs looked up in the hardware inventory with one query. Every
 * read is full (KSC offers no change feed for hosts). Lowest precedence by default.
 */
export class KscHostSource implements AssetSource {
  readonly kind = 'ksc' as const;
  readonly incremental = false;
  readonly name: string;
  private readonly logger: Logger;

  constructor(
    private readonly source: KscSourceConfig,
    private readonly connect: () => Promise<KscClient>,
    logger?: Logger,
  ) {
    this.name = source.name;
    this.logger = logger ?? silentLogger();
  }

  async check(signal?: AbortSignal): Promise<void> {
    const client = await this.connect();
    try {
      await client.login(signal);
      await client.call('HostGroup.GetStaticInfo', { pValues: ['KLADMSRV_SERVER_VERSION_ID'] }, { signal });
    } finally {
      await client.close();
    }
  }

  async *read(options: ReadOptions): AsyncIterable<SourceBatch> {
    const client = await this.connect();
    try {
      const found = await client.call(
        'HostGroup.FindHosts',
        {
          wstrFilter: hostFilter(this.source),
          vecFieldsToReturn: [...hostFields],
          vecFieldsToOrder: [{ Name: 'KLHST_WKS_HOSTNAME', Asc: true }],
          pParams: { KLGRP_FIND_FROM_CUR_VS_ONLY: true },
          lMaxLifeTime: resultSetLifetimeSeconds,
        },
        { signal: options.signal },
      );
      const accessor = paramString(found.out, 'strAccessor');
      if (!accessor) throw new KscError(`KSC at ${client.host}: HostGroup.FindHosts returned no strAccessor`, { code: 'KSC_BAD_RESPONSE' });
      let offset = 0;
      for await (const hosts of readChunkAccessor(client, accessor, { chunkSize: this.source.chunkSize, signal: options.signal, logger: this.logger })) {
        const macs = await this.inventoryMacs(client, hosts, options.signal);
        yield this.toBatch(hosts, macs, offset);
        offset += hosts.length;
      }
    } finally {
      await client.close();
    }
  }

  /** MACs of the hosts of one chunk, from one hardware inventory query. */
  private async inventoryMacs(client: KscClient, hosts: readonly KscParams[], signal: AbortSignal | undefined): Promise<Map<string, string[]>> {
    const ids = hosts.map((h) => paramString(h, 'KLHST_WKS_HOSTNAME')).filter((id): id is string => Boolean(id));
    const macs = new Map<string, string[]>();
    if (ids.length === 0) return macs;
    const { view, hostField, macField } = hardwareInventory;
    const filter = `(&(${macField} <> "")(|${ids.map((id) => `(${hostField} = ${filterString(id)})`).join('')}))`;
    const reset = await client.call('SrvView.ResetIterator', { wstrViewName: view, wstrFilter: filter, vecFieldsToReturn: [hostField, macField], vecFieldsToOrder: [], pParams: {}, lifetimeSec: resultSetLifetimeSeconds }, { signal });
    const iterator = paramString(reset.out, 'wstrIteratorId');
    if (!iterator) throw new KscError(`KSC at ${client.host}: SrvView.ResetIterator returned no wstrIteratorId`, { code: 'KSC_BAD_RESPONSE' });
    for await (const rows of readSrvView(client, iterator, { chunkSize: 1000, signal, logger: this.logger })) {
      for (const row of rows) {
        const host = paramString(row, hostField);
        const mac = paramString(row, macField);
        if (!host || !mac) continue;
        const list = macs.get(host) ?? [];
        list.push(mac);
        macs.set(host, list);
      }
    }
    return macs;
  }

  private toBatch(hosts: readonly KscParams[], macs: Map<string, string[]>, offset: number): SourceBatch {
    const records: SourceRecord[] = [];
    const rejects: RecordReject[] = [];
    hosts.forEach((host, i) => {
      const outcome = hostToRecord(host, macs, this.source, offset + i);
      if ('reason' in outcome) rejects.push(outcome);
      else records.push(outcome);
    });
    return { records, rejects };
  }
}

/** A KSC host as a source record, or the reason it cannot be one. */
export function hostToRecord(host: KscParams, macsByHost: ReadonlyMap<string, readonly string[]>, source: Pick<KscSourceConfig, 'name' | 'addressSpaces'>, index: number): SourceRecord | RecordReject {
  const hostId = paramString(host, 'KLHST_WKS_HOSTNAME');
  const displayName = paramString(host, 'KLHST_WKS_DN');
  const where = hostId ? `ksc host ${hostId}${displayName ? ` (${displayName})` : ''}` : `ksc host #${index + 1}`;
  const raw = rawHost(host);
  if (!hostId) return { location: where, column: 'KLHST_WKS_HOSTNAME', reason: 'the host has no KLHST_WKS_HOSTNAME (its id in KSC)', raw };

  const notes: string[] = [];
  let ip: string | null = null;
  const ipLong = host.KLHST_WKS_IP_LONG;
  if (ipLong !== undefined && ipLong !== null && ipLong !== 0) {
    const converted = ipFromLong(ipLong);
    if (!converted) return { location: where, column: 'KLHST_WKS_IP_LONG', reason: `expected an IPv4 address as an unsigned 32-bit integer; found ${JSON.stringify(ipLong)}`, raw };
    ip = converted;
  }

  const macs: string[] = [];
  for (const text of macsByHost.get(hostId) ?? []) {
    const parsed = parseMac(text);
    if (!parsed.ok) {
      notes.push(`hardware inventory MAC ignored: ${parsed.reason}`);
      continue;
    }
    const problem = macIdentityProblem(parsed.mac);
    if (problem) {
      notes.push(`hardware inventory MAC ${parsed.mac} not used as identity: ${problem}`);
      continue;
    }
    if (!macs.includes(parsed.mac)) macs.push(parsed.mac);
  }

  const groupId = paramNumber(host, 'KLHST_WKS_GROUPID');
  const mapped = groupId === undefined ? undefined : source.addressSpaces[String(groupId)];
  const addressSpace = mapped === undefined ? {} : { addressSpace: mapped };
  const interfaces: AssetInterface[] = [];
  if (macs.length === 1) interfaces.push({ mac: macs[0]!, ips: ip ? [ip] : [], ...addressSpace });
  else {
    for (const mac of macs) interfaces.push({ mac, ips: [], ...addressSpace });
    if (ip) interfaces.push({ mac: null, ips: [ip], ...addressSpace });
    if (macs.length > 1 && ip) notes.push(`KSC does not say which of the ${macs.length} network adapters holds ${ip}`);
  }

  const asset: CanonicalAsset = { interfaces };
  if (displayName) asset.name = displayName;
  const fqdn = paramString(host, 'KLHST_WKS_FQDN');
  if (fqdn) asset.networkName = fqdn;
  const record: SourceRecord = { externalKey: hostId, raw: { ...raw, ip, macs }, asset, location: where };
  if (notes.length > 0) record.notes = notes;
  return record;
}

/** `KLHST_WKS_IP_LONG` is the IPv4 address as an unsigned 32-bit integer (first octet highest). */
export function ipFromLong(value: unknown): string | null {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) return null;
  return ipaddr.fromByteArray([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]).toString();
}

function rawHost(host: KscParams): Record<string, unknown> {
  const lastVisible = paramDate(host, 'KLHST_WKS_LAST_VISIBLE');
  return {
    KLHST_WKS_HOSTNAME: host.KLHST_WKS_HOSTNAME ?? null,
    KLHST_WKS_DN: host.KLHST_WKS_DN ?? null,
    KLHST_WKS_IP_LONG: host.KLHST_WKS_IP_LONG ?? null,
    KLHST_WKS_FQDN: host.KLHST_WKS_FQDN ?? null,
    KLHST_WKS_GROUPID: host.KLHST_WKS_GROUPID ?? null,
    groupName: host.name ?? null,
    KLHST_WKS_LAST_VISIBLE: lastVisible ? lastVisible.toISOString() : null,
  };
}

/** A string literal of KSC's search filter syntax. */
function filterString(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused here
  if (/[\u0000-\u001f]/.test(value)) throw new KscError(`host id ${JSON.stringify(value)} contains control characters`, { code: 'KSC_BAD_RESPONSE' });
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The KSC managed-hosts source of a `type: ksc` source entry; the connection is the `ksc` section. */
export function createKscSource(source: KscSourceConfig, ksc: KscConfig | undefined, logger: Logger): KscHostSource {
  if (!ksc) throw new ConfigError(`sources: ${source.name} is a ksc source, but the configuration has no ksc section (url, user / password or token)`);
  return new KscHostSource(source, () => KscClient.fromConfig(ksc, logger), logger);
}
