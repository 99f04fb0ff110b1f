import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { commandSite, kscGroups, queuedCommandHandlers } from '../../src/fleet/ksc.js';
import type { JobQueue, KscCommandJob, KscCommandOutput } from '../../src/fleet/queue.js';
import { silentLogger } from '../../src/log.js';
import { BackendUnreachableError, CommandParamsError, type BackendCommand } from '../../src/sync/ksc/commands.js';
import { handlerErrorContainer, type CommandErrorContainer } from '../../src/sync/ksc/console.js';

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

describe('KSC commands as jobs', () => {
  it("sites' commands run side by side, one site's one after the other; the job's output is the answer", async () => {
    const sent: string[] = [];
    const release = new Map<string, (output: KscCommandOutput) => void>();
    const queue = {
      sendCommand: async (job: KscCommandJob): Promise<string> => {
        sent.push(`${job.site}:${job.commandId}`);
        return `job-${job.commandId}`;
      },
      settled: (_queue: string, id: string) => new Promise((resolve) => release.set(id, (output) => resolve({ id, state: 'completed', output }))),
    } as unknown as JobQueue;
    const handlers = queuedCommandHandlers({ url: 'https://ksc', ksc: {} as never, home: {} as never, commandSites: ['north', 'east'], triggerSites: [] }, queue, async () => ({}) as never, silentLogger());
    const command = (id: string, site: string): BackendCommand => ({ id, name: 'status', productName: 'p', productVersion: '1', params: { site }, actor: `ksc:${id}`, signal: new AbortController().signal });
    const answers = [handlers.status!(command('n1', 'north')), handlers.status!(command('n2', 'north')), handlers.status!(command('e1', 'east'))];
    await vi.waitFor(() => expect(sent).toEqual(['north:n1', 'east:e1']));
    release.get('job-e1')!({ result: { status: 'applied', startedAt: { $date: '2026-12-05T01:02:03.000Z' } } });
    await expect(answers[2]).resolves.toEqual({ site: 'east', status: 'applied', startedAt: new Date('2026-12-05T01:02:03.000Z') });
    expect(sent).toEqual(['north:n1', 'east:e1']);
    // The worker made the answer where the error was raised; the console answers it as it is.
    const answered = async (answer: Promise<unknown>): Promise<CommandErrorContainer> => handlerErrorContainer(await answer.then(() => null, (error: unknown) => error));
    const noBackend = handlerErrorContainer(new BackendUnreachableError('connect ECONNREFUSED'));
    release.get('job-n1')!({ error: noBackend });
    expect(await answered(answers[0]!)).toEqual({ ...noBackend, CMD_ERR_STR_ID: 'ERR_NO_BACKEND' });
    await vi.waitFor(() => expect(sent).toEqual(['north:n1', 'east:e1', 'north:n2']));
    const badParams = handlerErrorContainer(new CommandParamsError('runId must be a positive integer'));
    release.get('job-n2')!({ error: badParams });
    expect(await answered(answers[1]!)).toEqual({ ...badParams, CMD_ERR_ID: 5, CMD_ERR_DESCR: 'runId must be a positive integer' });
  });
});
