import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFileInfo } from '../../../src/reconcile/types.js';
import { checkConfigFiles, referencedConfigFiles } from '../../../src/sync/plans/config-files.js';
import { asset, record } from '../../reconcile/support.js';

/** The reason a file was rejected (fails the test when it was accepted). */
function rejection(files: Map<string, ConfigFileInfo>, file: string): string {
  const info = files.get(file);
  if (!info || info.ok) throw new Error(`${file} was not rejected: ${JSON.stringify(info)}`);
  return info.reason;
}

describe('industrial configuration files', () => {
  let dir: string;
  let root: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-cfg-'));
    root = path.join(dir, 'configs');
    mkdirSync(path.join(root, 'line-1'), { recursive: true });
    writeFileSync(path.join(root, 'line-1', 'plc-1.xml'), '<config>one</config>');
    writeFileSync(path.join(dir, 'secret.txt'), 'outside');
    symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'escape.xml'));
    symlinkSync(path.join(root, 'line-1', 'plc-1.xml'), path.join(root, 'alias.xml'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes a file under the root', async () => {
    const files = await checkConfigFiles(['line-1/plc-1.xml', 'alias.xml'], root);
    const sha = createHash('sha256').update('<config>one</config>').digest('hex');
    expect(files.get('line-1/plc-1.xml')).toEqual({ ok: true, path: 'line-1/plc-1.xml', resolvedPath: path.join(root, 'line-1', 'plc-1.xml'), contentHash: sha, size: 20 });
    expect(files.get('alias.xml')).toMatchObject({ ok: true, contentHash: sha });
  });

  it('rejects whatever resolves outside the root, with the reason: .., absolute paths, symbolic links', async () => {
    const files = await checkConfigFiles(['../secret.txt', path.join(dir, 'secret.txt'), 'escape.xml', 'line-1/../../secret.txt'], root);
    expect(rejection(files, '../secret.txt')).toMatch(/resolves to .*secret\.txt, outside reconcile\.industrialConfig\.root/);
    expect(rejection(files, path.join(dir, 'secret.txt'))).toMatch(/outside reconcile\.industrialConfig\.root/);
    expect(rejection(files, 'escape.xml')).toMatch(/is a link to .*secret\.txt, outside/);
    expect(files.get('line-1/../../secret.txt')).toMatchObject({ ok: false });
  });

  it('rejects missing files, folders and the root itself', async () => {
    const files = await checkConfigFiles(['nope.xml', 'line-1', '.'], root);
    expect(rejection(files, 'nope.xml')).toMatch(/does not exist under/);
    expect(rejection(files, 'line-1')).toMatch(/is not a regular file/);
    expect(files.get('.')).toMatchObject({ ok: false });
  });

  it('reads nothing when no root is configured, and says so', async () => {
    const files = await checkConfigFiles(['line-1/plc-1.xml'], undefined);
    expect(rejection(files, 'line-1/plc-1.xml')).toMatch(/reconcile\.industrialConfig\.root is not set/);
  });

  it('lists each referenced path once', () => {
    const records = [record('a', '1', asset('x', [], { industrialConfig: 'a.xml' })), record('b', '2', asset('y', [], { industrialConfig: 'a.xml' })), record('b', '3', asset('z', []))];
    expect(referencedConfigFiles(records)).toEqual(['a.xml']);
  });
});
