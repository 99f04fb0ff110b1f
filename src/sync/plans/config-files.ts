import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { errorMessage } from '../../errors.js';
import type { ConfigFileInfo, StagedRecord } from '../../reconcile/types.js';

/**
 * Industrial configuration files named by records: resolved under `reconcile.industrialConfig.root`
 * and hashed, for the reconciler to compare with the last upload. A path that resolves outside the
 * root, lexically or through a symbolic link, is rejected with the reason; so is one that is missing
 * or not a regular file. Nothing outside the root is ever opened.
 */

const inside = (root: string, candidate: string): boolean => {
  const relative = path.relative(root, candidate);
  return relative !== '' && !relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative);
};

/** Every distinct path the records name. */
export function referencedConfigFiles(records: Iterable<StagedRecord>): string[] {
  const paths = new Set<string>();
  for (const r of records) if (r.asset.industrialConfig) paths.add(r.asset.industrialConfig);
  return [...paths];
}

export async function checkConfigFiles(paths: readonly string[], root: string | undefined): Promise<Map<string, ConfigFileInfo>> {
  const result = new Map<string, ConfigFileInfo>();
  if (paths.length === 0) return result;
  if (!root) {
    for (const p of paths) result.set(p, { ok: false, path: p, reason: `industrial configuration ${JSON.stringify(p)} not read: reconcile.industrialConfig.root is not set` });
    return result;
  }
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    const reason = `industrial configuration root ${root} cannot be used: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`;
    for (const p of paths) result.set(p, { ok: false, path: p, reason });
    return result;
  }
  const limit = pLimit(8);
  await Promise.all(paths.map((p) => limit(async () => result.set(p, await checkOne(p, root, realRoot)))));
  return result;
}

async function checkOne(file: string, root: string, realRoot: string): Promise<ConfigFileInfo> {
  const reject = (reason: string): ConfigFileInfo => ({ ok: false, path: file, reason: `industrial configuration ${JSON.stringify(file)} ${reason}` });
  if (file.includes('\0')) return reject('contains a NUL character');
  const candidate = path.resolve(realRoot, file);
  if (!inside(realRoot, candidate)) return reject(`resolves to ${candidate}, outside reconcile.industrialConfig.root (${root})`);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return reject(code === 'ENOENT' ? `does not exist under ${root}` : `cannot be read: ${code ?? errorMessage(error)}`);
  }
  if (!inside(realRoot, real)) return reject(`is a link to ${real}, outside reconcile.industrialConfig.root (${root})`);
  try {
    const info = await stat(real);
    if (!info.isFile()) return reject('is not a regular file');
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(real)) hash.update(chunk as Buffer);
    return { ok: true, path: file, resolvedPath: real, contentHash: hash.digest('hex'), size: info.size };
  } catch (error) {
    return reject(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
}
