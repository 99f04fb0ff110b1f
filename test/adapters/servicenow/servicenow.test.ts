import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServicenowSource, nextLink, servicenowTime } from '../../../src/adapters/servicenow/source.js';
import { SourceError } from '../../../src/adapters/source-error.js';
import { servicenowSourceSchema } from '../../../src/config/sources.js';
import { silentLogger } from '../../../src/log.js';
import type { ReadOptions, RecordReject, SourceBatch, SourceRecord } from '../../../src/model/asset.js';
import { createNormalizer } from '../../../src/model/normalize.js';
import { stageSource } from '../../../src/sync/staging/source/stage.js';
import { describeEachEngine } from '../../support/db.js';
import { snComputer, startServicenowServer, type ServicenowServer, type SnRecord } from '../../support/servicenow-server.js';

const fixture = (): SnRecord[] => JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../fixtures/servicenow/cmdb_ci_hardware.json'), 'utf8')) as SnRecord[];
const logger = silentLogger();
const password = 'S3rvice-N0w!pass';

let servers: ServicenowServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(records: SnRecord[] = fixture()): Promise<ServicenowServer> {
  const s = await startServicenowServer({ user: 'kics.sync', password, token: 'oauth-token-123', tables: { cmdb_ci_hardware: records, cmdb_ci_network_adapter: [], cmdb_ci_ip_address: [] } });
  servers.push(s);
  return s;
}

function source(url: string, extra: Record<string, unknown> = {}): ServicenowSource {
  const config = servicenowSourceSchema.parse({
    name: 'cmdb',
    type: 'servicenow',
    url,
    ...(extra.token ? {} : { user: 'kics.sync', password }),
    ciClass: 'cmdb_ci_hardware',
    pageSize: 2,
    retries: 3,
    fields: { u_criticality: 'criticality' },
    attributes: { u_zone: 'Zone' },
    ...extra,
  });
  return new ServicenowSource(config, { normalizer: createNormalizer(), logger, minRetryDelayMs: 5, maxRetryDelayMs: 20 });
}

async function readAll(src: ServicenowSource, options: ReadOptions = { mode: 'full' }): Promise<{ records: SourceRecord[]; rejects: RecordReject[]; batches: SourceBatch[] }> {
  const batches: SourceBatch[] = [];
  for await (const batch of src.read(options)) batches.push(batch);
  return { records: batches.flatMap((b) => b.records), rejects: batches.flatMap((b) => b.rejects), batches };
}

/** The requests a server got for one table. */
const on = (sn: ServicenowServer, table: string): ServicenowServer['requests'] => sn.requests.filter((r) => r.path === `/api/now/table/${table}`);
const ciPath = '/api/now/table/cmdb_ci_hardware';

async function failure(promise: Promise<unknown>): Promise<SourceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SourceError);
    return error as SourceError;
  }
  throw new Error('no error');
}

describe('ServiceNow source', () => {
  it('reads CIs through the Table API, references by display value, and normalises them', async () => {
    const sn = await server();
    const { records, rejects } = await readAll(source(sn.url));
    expect(records.map((r) => r.externalKey)).toEqual(['0a1b2c3d4e5f60718293a4b5c6d7e801', '0a1b2c3d4e5f60718293a4b5c6d7e802', '0a1b2c3d4e5f60718293a4b5c6d7e803']);
    expect(records[0]!.asset).toEqual({
      name: 'PLC-BOILER-1',
      hardwareModel: 'SIMATIC S7-1516F',
      location: 'Plant A / Boiler house',
      owner: 'Jana Meier',
      hardwareVendor: 'Siemens',
      category: 'Workstation',
      influence: 'BusinessCritical',
      retired: false,
      userAttributes: { Zone: 'Z1' },
      interfaces: [{ mac: '00:1b:1b:aa:01:01', ips: ['10.10.1.11'] }],
    });
    expect(records[0]!.raw).toMatchObject({ manufacturer: { value: 'mfr0a1b2c', display_value: 'Siemens AG' }, install_status: { value: '1', display_value: 'Installed' } });
    expect(records[1]!.asset).toMatchObject({ category: 'Switch', interfaces: [{ mac: '00:80:63:aa:03:01', ips: ['10.99.0.2'] }] });
    expect(records[2]!.asset).toMatchObject({ name: 'old-hmi', retired: true });
    expect(rejects.map(({ location, reason }) => ({ location, reason }))).toEqual([
      {
        location: 'servicenow cmdb_ci_hardware 0a1b2c3d4e5f60718293a4b5c6d7e804 (bad-mac)',
        reason: 'mac_address: "not-a-mac" is not a MAC address (expected six hex octets, e.g. 00:1b:1b:aa:bb:cc)',
      },
      { location: 'servicenow cmdb_ci_hardware 0a1b2c3d4e5f60718293a4b5c6d7e805', reason: 'missing identity: no name, MAC or IP' },
    ]);
    expect(rejects[0]!.raw).toMatchObject({ name: { value: 'bad-mac', display_value: 'bad-mac' } });
    const q = sn.requests[0]!.query;
    expect(q.get('sysparm_display_value')).toBe('all');
    expect(q.get('sysparm_exclude_reference_link')).toBe('true');
    expect(q.get('sysparm_query')).toBe('ORDERBYsys_id');
    expect(q.get('sysparm_fields')!.split(',')).toEqual(expect.arrayContaining(['sys_id', 'sys_updated_on', 'name', 'mac_address', 'ip_address', 'manufacturer', 'model_id', 'location', 'owned_by', 'install_status', 'u_criticality', 'u_zone']));
    expect(sn.requests[0]!.authorization).toBe(`Basic ${Buffer.from(`kics.sync:${password}`).toString('base64')}`);
  });

  it('pages with sysparm_limit / sysparm_offset through the Link header, and knows the total from X-Total-Count', async () => {
    const sn = await server();
    const { batches } = await readAll(source(sn.url));
    expect(on(sn, 'cmdb_ci_hardware').map((r) => [r.query.get('sysparm_limit'), r.query.get('sysparm_offset')])).toEqual([
      ['2', '0'],
      ['2', '2'],
      ['2', '4'],
    ]);
    expect(batches.map((b) => b.expected)).toEqual([5, 5, 5]);
  });

  it('pages by offset when the instance sends no Link header', async () => {
    const many = Array.from({ length: 5 }, (_, i) => snComputer(`sys${String(i).padStart(29, '0')}`, { name: `pc-${i}`, ip: `10.0.0.${i + 1}` }));
    const sn = await server(many);
    const { records } = await readAll(source(sn.url, { pageSize: 10 }));
    expect(records).toHaveLength(5);
    expect(on(sn, 'cmdb_ci_hardware')).toHaveLength(1);
  });

  it('reads incrementally with sys_updated_on, ANDed to the configured query', async () => {
    const sn = await server();
    const { records, batches } = await readAll(source(sn.url, { query: 'install_status=1' }), { mode: 'incremental', since: '2024-03-02 00:00:00' });
    expect(on(sn, 'cmdb_ci_hardware')[0]!.query.get('sysparm_query')).toBe('install_status=1^sys_updated_on>=2024-03-02 00:00:00^ORDERBYsys_id');
    expect(records).toEqual([]);
    expect(batches[0]!.watermark).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const all = await readAll(source(sn.url), { mode: 'incremental', since: '2024-03-02 00:00:00' });
    expect(all.records.map((r) => r.asset.name)).toEqual(['old-hmi']);
    expect(all.rejects).toHaveLength(2);
  });

  it('authenticates with a bearer token', async () => {
    const sn = await server();
    await source(sn.url, { token: 'oauth-token-123' }).check();
    expect(sn.requests[0]!.authorization).toBe('Bearer oauth-token-123');
  });

  it('fails at once on 401 with ServiceNow’s message, never showing the password', async () => {
    const sn = await server();
    const error = await failure(readAll(source(sn.url, { password: 'wrong-password' })));
    expect(error.code).toBe('SOURCE_AUTH_FAILED');
    expect(error.message).toMatch(/answered 401 Unauthorized: User Not Authenticated \(Required to provide Auth information\) \(check the credentials of source cmdb/);
    expect(error.message).not.toMatch(/wrong-password|S3rvice/);
    expect(sn.requests).toHaveLength(1);
  });

  it('refuses an unknown CI class without retrying', async () => {
    const sn = await server();
    const error = await failure(source(sn.url, { ciClass: 'cmdb_ci_nope' }).check());
    expect(error.code).toBe('SOURCE_HTTP_ERROR');
    expect(error.message).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/api\/now\/table\/cmdb_ci_nope\?.* answered 400 Bad Request: Invalid table cmdb_ci_nope$/);
    expect(sn.requests).toHaveLength(1);
  });

  it('retries 429 (after Retry-After) and 500, then gives up with the last error', async () => {
    const sn = await server();
    sn.fail({ status: 429, headers: { 'retry-after': '0' }, after: 2, path: ciPath });
    sn.fail({ status: 500, body: JSON.stringify({ error: { message: 'Transaction cancelled: maximum execution time exceeded', detail: null }, status: 'failure' }), after: 3, path: ciPath });
    const { records } = await readAll(source(sn.url));
    expect(records).toHaveLength(3);
    expect(on(sn, 'cmdb_ci_hardware')).toHaveLength(5);

    sn.fail({ status: 500, times: 10, path: ciPath });
    const error = await failure(readAll(source(sn.url, { retries: 2 })));
    expect(error).toMatchObject({ code: 'SOURCE_SERVER_ERROR', retryable: true });
    expect(error.message).toMatch(/answered 500 Internal Server Error: simulated 500$/);
    expect(on(sn, 'cmdb_ci_hardware')).toHaveLength(8);
  });

  it('says so when the answer is not the Table API’s (a login page behind SSO)', async () => {
    const sn = await server();
    sn.fail({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html><title>Log in | ServiceNow</title></html>' });
    const error = await failure(readAll(source(sn.url)));
    expect(error.code).toBe('SOURCE_BAD_RESPONSE');
    expect(error.message).toMatch(/answered 200 but not with JSON \(Log in \| ServiceNow\)/);
  });

  it('reads the next link from a Link header and formats watermarks as ServiceNow compares them', () => {
    const header = '<https://x.service-now.com/api/now/table/cmdb_ci?sysparm_offset=0&sysparm_limit=2>;rel="first",<https://x.service-now.com/api/now/table/cmdb_ci?sysparm_offset=2&sysparm_limit=2>;rel="next",<https://x.service-now.com/api/now/table/cmdb_ci?sysparm_offset=4&sysparm_limit=2>;rel="last"';
    expect(nextLink(header)).toBe('https://x.service-now.com/api/now/table/cmdb_ci?sysparm_offset=2&sysparm_limit=2');
    expect(nextLink('<https://x/a>;rel="first"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
    expect(servicenowTime(new Date('2024-03-02T09:30:05.123Z'))).toBe('2024-03-02 09:30:05');
  });

  it('needs either a token or a user and password', () => {
    const base = { name: 'x', type: 'servicenow', url: 'https://x.service-now.com' };
    expect(() => servicenowSourceSchema.parse(base)).toThrow(/give either token, or user and password/);
    expect(() => servicenowSourceSchema.parse({ ...base, user: 'u' })).toThrow(/user and password go together/);
    expect(() => servicenowSourceSchema.parse({ ...base, token: 't', user: 'u', password: 'p' })).toThrow(/give either token/);
  });
});

describeEachEngine('ServiceNow staging', (t) => {
  it('stages a full read, then an incremental one that changes one CI and marks nothing missing', async () => {
    const records = fixture();
    const sn = await server(records);
    const first = await stageSource(t().db, source(sn.url), { mode: 'incremental', logger });
    expect(first).toMatchObject({ mode: 'full', read: 5, valid: 3, rejected: 2, new: 3 });
    records[0]!.name = 'PLC-BOILER-1A';
    records[0]!.sys_updated_on = '2099-01-01 00:00:00';
    const second = await stageSource(t().db, source(sn.url), { mode: 'incremental', logger });
    expect(second).toMatchObject({ mode: 'incremental', read: 1, changed: 1, missing: 0, generation: 2 });
    expect(on(sn, 'cmdb_ci_hardware').at(-1)!.query.get('sysparm_query')).toBe(`sys_updated_on>=${first.watermark}^ORDERBYsys_id`);
    expect(await t().db.query(`SELECT name FROM source_record WHERE missing_since IS NULL ORDER BY name`)).toEqual([{ name: 'PLC-BOILER-1A' }, { name: 'core-sw-1' }, { name: 'old-hmi' }]);
  });
});
