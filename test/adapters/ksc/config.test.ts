import { describe, expect, it } from 'vitest';
import { kscCredentials } from '../../../src/adapters/ksc/client.js';
import { createKscSource } from '../../../src/adapters/ksc/source.js';
import { parseConfig, type KscSourceConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';

const ksc = (extra: Record<string, unknown>) => parseConfig({ ksc: { url: 'https://ksc.plant.local:13299', ...extra } }, { env: { KSC_PW: 'from-env' }, baseDir: '/etc/kics-sync' }).ksc!;

describe('ksc configuration', () => {
  it('has the documented defaults and resolves ksc.ca against the config folder', () => {
    const config = ksc({ user: 'svc', password: '${KSC_PW}', ca: 'ksc-ca.pem' });
    expect(config).toMatchObject({
      internalUser: false,
      insecure: false,
      timeoutMs: 30_000,
      retry: { retries: 4, minTimeoutMs: 200, maxTimeoutMs: 10_000 },
      polling: { minBackoffMs: 1_000, maxBackoffMs: 60_000 },
      commands: { enabled: false, productName: 'kics-sync', productVersion: '1.0', tokens: [] },
      triggers: { enabled: false, events: [4100, 7710, 4102], debounceSeconds: 60 },
      ca: '/etc/kics-sync/ksc-ca.pem',
    });
    expect(kscCredentials(config)).toEqual({ kind: 'basic', user: 'svc', password: 'from-env', domain: undefined, internal: false });
    expect(kscCredentials(ksc({ token: 'ksct-abc' }))).toEqual({ kind: 'token', token: 'ksct-abc' });
  });

  it('refuses a plain-http URL, a missing login, a short token and a bad expiry, naming the key', () => {
    expect(() => ksc({ url: 'http://ksc:13299', user: 'a', password: 'b' })).toThrow(/ksc\.url: expected an https:\/\/ URL/);
    expect(() => ksc({})).toThrow(/ksc\.user: expected ksc\.user and ksc\.password, or ksc\.token, are required/);
    expect(() => ksc({ token: 't', commands: { tokens: [{ token: 'short' }] } })).toThrow(/ksc\.commands\.tokens\[0\]\.token: expected a token of at least 8 characters, found \[redacted\]/);
    expect(() => ksc({ token: 't', commands: { tokens: [{ token: 'long-enough', expiresAt: 'tomorrow' }] } })).toThrow(/ksc\.commands\.tokens\[0\]\.expiresAt/);
  });

  it('a ksc source needs the ksc section, and says so', () => {
    const config = parseConfig({ sources: [{ name: 'ksc-hosts', type: 'ksc' }] }, { env: {} });
    expect(() => createKscSource(config.sources[0] as KscSourceConfig, config.ksc, silentLogger())).toThrow(/sources: ksc-hosts is a ksc source, but the configuration has no ksc section/);
  });
});
