import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { commandSite, kscGroups } from '../../src/fleet/ksc.js';
import { CommandParamsError } from '../../src/sync/ksc/commands.js';

const kics = (host: string) => ({ url: `https://${host}:8080`, package: { dir: `./${host}` } });
const ksc = (host: string, commands: boolean, triggers = false) => ({ url: `https://${host}:13299`, user: 'kics-sync', password: 'secret', commands: { enabled: commands }, triggers: { enabled: triggers } });

describe('KSC in a fleet', () => {
  const config = parseConfig(
    {
      ksc: ksc('company-ksc', true, true),
      sources: [],
      sites: [
        { name: 'north', kics: kics('north') },
        { name: 'south', kics: kics('south') },
        { name: 'lab', kics: kics('lab'), ksc: ksc('lab-ksc', false, true) },
        { name: 'quiet', kics: kics('quiet'), ksc: ksc('company-ksc', false, false) },
      ],
    },
    { baseDir: '/etc/kics-sync' },
  );

  it('one service console per KSC server, serving the sites that use it; commands recorded with its first site', () => {
    const groups = kscGroups(config);
    expect(groups.map((g) => ({ url: g.url, home: g.home.schema, commands: g.commandSites, triggers: g.triggerSites, on: [g.ksc.commands.enabled, g.ksc.triggers.enabled] }))).toEqual([
      { url: 'https://company-ksc:13299', home: 'site_north', commands: ['north', 'south'], triggers: ['north', 'south'], on: [true, true] },
      { url: 'https://lab-ksc:13299', home: 'site_lab', commands: [], triggers: ['lab'], on: [false, true] },
    ]);
  });

  it('a command names its site, or may leave it out when one site takes the commands', () => {
    const [company, lab] = kscGroups(config);
    expect(commandSite(company!, { site: 'south' })).toBe('south');
    expect(() => commandSite(company!, {})).toThrow(new CommandParamsError('this KSC serves the sites north, south: name one in the parameter "site"'));
    // quiet uses the same KSC but takes no commands from it; lab takes its commands from another KSC.
    expect(() => commandSite(company!, { site: 'quiet' })).toThrow(/site "quiet" does not take commands from this KSC \(its sites: north, south\)/);
    expect(() => commandSite(company!, { site: 7 })).toThrow(CommandParamsError);
    expect(() => commandSite(lab!, { site: 'lab' })).toThrow(/does not take commands/);
    expect(commandSite({ commandSites: ['north'] }, {})).toBe('north');
  });
});
