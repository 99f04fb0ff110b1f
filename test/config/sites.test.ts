import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { chooseSite, inSiteScope, resolveSite, siteNames } from '../../src/config/sites.js';
import { ConfigError, UsageError } from '../../src/errors.js';

const kics = (host: string) => ({ url: `https://${host}:8080`, package: { dir: `./${host}` } });
const base = '/etc/kics-sync';

describe('sites', () => {
  it('a configuration without sites: is the one site default, with its data where it always was', () => {
    const config = parseConfig({ kics: kics('kics'), sources: [{ name: 'cmdb', type: 'csv', path: './cmdb.csv' }] }, { baseDir: base });
    expect(siteNames(config)).toEqual(['default']);
    expect(chooseSite(config, undefined)).toBe('default');
    const site = resolveSite(config, 'default');
    expect(site.location).toEqual({ name: 'default', schema: 'public', dataDir: path.join(base, '.kics-sync') });
    expect(site.config).toBe(config);
    expect(() => chooseSite(config, 'north')).toThrow(UsageError);
  });

  it('a site takes the top-level sections it leaves out, and its own in place of the others', () => {
    const config = parseConfig(
      {
        kics: kics('shared'),
        sync: { maxCreates: 7 },
        schedule: { cron: '0 3 * * *' },
        sources: [{ name: 'cmdb', type: 'csv', path: './cmdb.csv' }],
        sites: [
          { name: 'north', kics: kics('north'), schedule: { cron: '0 1 * * *' } },
          { name: 'south-2', sources: [{ name: 'own', type: 'csv', path: './south/own.csv' }], sync: { maxCreates: 1 } },
        ],
      },
      { baseDir: base },
    );
    expect(siteNames(config)).toEqual(['north', 'south-2']);
    const north = resolveSite(config, 'north');
    expect(north.config.kics?.url).toBe('https://north:8080');
    expect(north.config.kics?.package?.dir).toBe(path.join(base, 'north'));
    expect(north.config.schedule.cron).toBe('0 1 * * *');
    expect(north.config.sync.maxCreates).toBe(7);
    expect(north.config.sources.map((s) => s.name)).toEqual(['cmdb']);
    expect(north.location).toEqual({ name: 'north', schema: 'site_north', dataDir: path.join(base, '.kics-sync', 'sites', 'north') });
    const south = resolveSite(config, 'south-2');
    expect(south.config.kics?.url).toBe('https://shared:8080');
    expect(south.config.sync.maxCreates).toBe(1);
    expect(south.config.schedule.cron).toBe('0 3 * * *');
    // Its own sources replace the shared ones; paths are relative to the configuration file.
    expect(south.config.sources.map((s) => [s.name, s.type === 'csv' && s.path])).toEqual([['own', path.join(base, 'south', 'own.csv')]]);
    expect(south.location.schema).toBe('site_south_2');
  });

  it('with several sites, a command must name one, and hears which exist', () => {
    const config = parseConfig({ sites: [{ name: 'a', kics: kics('a') }, { name: 'b', kics: kics('b') }] }, { baseDir: base });
    expect(() => chooseSite(config, undefined)).toThrow('the configuration has 2 sites (a, b): name one with --site NAME');
    expect(() => chooseSite(config, 'c')).toThrow('--site "c": no such site; the configuration has a, b');
    expect(chooseSite(config, 'b')).toBe('b');
  });

  it('refuses site names that would share a schema, unknown shared sources in a scope, and bad names', () => {
    expect(() => parseConfig({ sites: [{ name: 'plant-a' }, { name: 'plant_a' }] })).toThrow(/sites\[1\]\.name: expected a name different from site "plant-a"/);
    expect(() => parseConfig({ sources: [{ name: 'cmdb', type: 'csv', path: 'x.csv' }], sites: [{ name: 'a', scope: { sources: ['netbox'] } }] })).toThrow(
      /sites\[0\]\.scope\.sources\[0\]: expected the name of a shared source \(top-level sources: cmdb\)/,
    );
    expect(() => parseConfig({ sites: [{ name: 'Plant A' }] })).toThrow(ConfigError);
    expect(() => parseConfig({ sites: [] })).toThrow(ConfigError);
  });

  it('a scope keeps the records of its owners and address spaces, case and type aside', () => {
    const scope = { owners: ['North-Ops'], addressSpaces: [3, 'Cell B'] };
    expect(inSiteScope(scope, { owner: 'north-ops', addressSpaces: ['3'] })).toBe(true);
    expect(inSiteScope(scope, { owner: ' NORTH-OPS ', addressSpaces: [null, 'cell b'] })).toBe(true);
    expect(inSiteScope(scope, { owner: 'south-ops', addressSpaces: [3] })).toBe(false);
    expect(inSiteScope(scope, { owner: null, addressSpaces: [3] })).toBe(false);
    expect(inSiteScope(scope, { owner: 'north-ops', addressSpaces: [] })).toBe(false);
    expect(inSiteScope({ owners: ['x'] }, { owner: 'x', addressSpaces: [] })).toBe(true);
    expect(inSiteScope(undefined, { owner: null, addressSpaces: [] })).toBe(true);
  });

  it('a scope names the shared sources a site reads', () => {
    const config = parseConfig(
      {
        sources: [
          { name: 'cmdb', type: 'csv', path: 'a.csv' },
          { name: 'other', type: 'csv', path: 'b.csv' },
        ],
        sites: [{ name: 'a', scope: { sources: ['other'], owners: ['ops'] } }, { name: 'b' }],
      },
      { baseDir: base },
    );
    expect(resolveSite(config, 'a').config.sources.map((s) => s.name)).toEqual(['other']);
    expect(resolveSite(config, 'a').scope).toEqual({ sources: ['other'], owners: ['ops'] });
    expect(resolveSite(config, 'b').config.sources.map((s) => s.name)).toEqual(['cmdb', 'other']);
  });
});
