import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, requireSettings } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { examplesDir } from '../../src/paths.js';

const kics = { url: 'https://kics.example:8080', package: { dir: './connector', password: 'pw' } };

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-config-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('configuration', () => {
  it('runs on defaults when there is no file', async () => {
    const { config, file } = await loadConfig({ cwd: mkdtempSync(path.join(os.tmpdir(), 'kics-sync-nocfg-')), env: {} });
    expect(file).toBeNull();
    expect(config.database.url).toBeUndefined();
    expect(config.dataDir).toMatch(/\.kics-sync$/);
    expect(config.schedule).toEqual({ cron: '0 2 * * *', timezone: 'UTC' });
    expect(config.reconcile.whatIfDuplicate).toBe('Skip');
    expect(config.sync.maxChangeShare).toBe(0.2);
  });

  it('loads the shipped example, with secrets from the environment and paths relative to the file', async () => {
    const env = { KICS_PACKAGE_PASSWORD: 'pkg-secret', NETBOX_TOKEN: 'nb-token', SERVICENOW_PASSWORD: 'sn-pass' };
    const { config } = await loadConfig({ file: path.join(examplesDir, 'kics-sync.yaml'), env });
    expect(config.kics?.package).toEqual({ dir: path.join(examplesDir, 'connector'), password: 'pkg-secret' });
    expect(config.kics?.apiVersion).toBe('v4');
    expect(config.sources.map((s) => s.name)).toEqual(['plant-a', 'netbox', 'servicenow']);
    const csv = config.sources[0]!;
    expect(csv.type === 'csv' && csv.path).toBe(path.join(examplesDir, 'assets.csv'));
    const netbox = config.sources[1]!;
    expect(netbox.type === 'netbox' && netbox.token).toBe('nb-token');
  });

  it('names the environment variable and the key when a secret is not set, once the setting is used', async () => {
    const file = path.join(examplesDir, 'kics-sync.yaml');
    // Loading does not need it: a command that only reads the database never uses it.
    const { config } = await loadConfig({ file, env: { NETBOX_TOKEN: 'x', SERVICENOW_PASSWORD: 'y' } });
    expect(() => requireSettings(config.sources)).not.toThrow();
    expect(() => requireSettings(config.kics)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: kics\\.package\\.password refers to environment variable KICS_PACKAGE_PASSWORD, which is not set$`));
    // A setting whose check refuses the missing value is reported as unset at once.
    expect(() => parseConfig({ kics: { ...kics, url: '${KICS_URL}' } }, { env: {}, deferUnset: true })).toThrow(/kics\.url refers to environment variable KICS_URL, which is not set/);
  });

  it('says what was expected in words, not in the validator\'s: a date and time, a bound, a number too large to hold', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-config-'));
    const file = path.join(dir, 'kics-sync.yaml');
    writeFileSync(file, ['sync:', '  maxChangeShare: 1e309', '  maxCreates: -1', 'ksc:', '  url: https://ksc.plant.example', '  user: u', '  password: p', '  commands:', '    tokens:', '      - { token: abcdefghij, expiresAt: "next tuesday" }'].join('\n'));
    const error = await loadConfig({ file, env: {} }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('sync.maxChangeShare: expected a finite number, found Infinity (beyond what a number can hold)');
    expect(message).toContain('sync.maxCreates: expected a number of at least 0, found -1');
    expect(message).toContain('ksc.commands.tokens[0].expiresAt: expected an ISO 8601 date and time with its offset, such as 2027-01-31T08:00:00Z, found "next tuesday"');
    expect(message).not.toMatch(/expected (Invalid|Too)/);
  });

  it('names the key path, what was expected and what was found', () => {
    const error = (() => {
      try {
        parseConfig({ kics: { ...kics, apiVersion: 4 }, sources: [{ name: 'a', type: 'csv', path: 'x.csv', delimiter: '|' }], sync: { maxChangeShare: 'lots' } }, { env: {} });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('no error');
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('kics.apiVersion: expected string, found 4');
    expect(error.message).toContain('sources[0].delimiter: expected one of ",", ";", "\\t", found "|"');
    expect(error.message).toContain('sync.maxChangeShare: expected number, found "lots"');
  });

  it('rejects unknown keys and unknown source types', () => {
    expect(() => parseConfig({ kics: { ...kics, urll: 'x' } }, { env: {} })).toThrow(/kics: unknown key "urll"/);
    expect(() => parseConfig({ sources: [{ name: 'x', type: 'excel', path: 'a' }] }, { env: {} })).toThrow(/sources\[0\]\.type: expected type one of \["csv","netbox","servicenow","ksc"\]/);
  });

  it('never shows a secret it found in an invalid value', () => {
    expect(() => parseConfig({ kics: { ...kics, package: { dir: 'x', password: 12345 } } }, { env: {} })).toThrow(/kics\.package\.password: expected string, found \[redacted\]/);
    const interpolated = () => parseConfig({ kics: { ...kics, url: '${KICS_URL}' } }, { env: { KICS_URL: 'not a url secret-value' } });
    expect(interpolated).toThrow(/kics\.url: .*found \[redacted\]/);
    expect(interpolated).not.toThrow(/secret-value/);
  });

  it('requires an https KICS URL and either the package or PEM files', () => {
    expect(() => parseConfig({ kics: { ...kics, url: 'http://kics.example' } }, { env: {} })).toThrow(/kics\.url/);
    expect(() => parseConfig({ kics: { url: 'https://kics.example' } }, { env: {} })).toThrow(/kics\.package or kics\.pem is required/);
  });

  it('rejects duplicate source names and the reserved name "kics"', () => {
    expect(() => parseConfig({ sources: [{ name: 'a', type: 'csv', path: 'x' }, { name: 'a', type: 'csv', path: 'y' }] }, { env: {} })).toThrow(/source names must be unique/);
    expect(() => parseConfig({ sources: [{ name: 'kics', type: 'csv', path: 'x' }] }, { env: {} })).toThrow(/reserved/);
  });

  it('reports a YAML syntax error with file, line and column', async () => {
    const file = tempFile('bad.yaml', 'kics:\n  url: https://x\n   package: [\n');
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: not valid YAML`));
  });

  it('refuses a YAML alias bomb as a configuration error naming the file (exit 2)', async () => {
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let i = 1; i < 10; i += 1) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const file = tempFile('bomb.yaml', `${levels.join('\n')}\n`);
    const error = await loadConfig({ file, env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as ConfigError).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not usable YAML: .*alias`, 'i'));
  });

  it('puts a secret in verbatim, even one that looks like YAML, without changing the document', async () => {
    const file = tempFile('k.yaml', 'kics:\n  url: https://kics.example\n  package: { dir: ./c, password: ${PW} }\n');
    const secret = 'a}b: c #d\n- e, "f"';
    const { config } = await loadConfig({ file, env: { PW: secret } });
    expect(config.kics?.package).toEqual({ dir: path.join(path.dirname(file), 'c'), password: secret });
  });

  it('keeps a literal ${ written as $${', () => {
    const config = parseConfig({ sources: [{ name: 'a', type: 'csv', path: 'files/$${weird}.csv' }] }, { env: {}, baseDir: '/base' });
    const source = config.sources[0]!;
    expect(source.type === 'csv' && source.path).toBe('/base/files/${weird}.csv');
  });

  it('fails clearly when an explicitly named file does not exist', async () => {
    await expect(loadConfig({ file: '/nonexistent/kics-sync.yaml', env: {} })).rejects.toThrow('cannot read config file /nonexistent/kics-sync.yaml: no such file');
  });
});
