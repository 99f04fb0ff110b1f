import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * What kics-sync writes holds raw asset data (the embedded database, rejects files): readable by its
 * own user only, as PostgreSQL keeps its data directory (umask 077, folders 0700, files 0600).
 */
export const privateDirMode = 0o700;
export const privateFileMode = 0o600;
export const privateUmask = 0o077;

/**
 * `mkdir -p` that always ends. Node's `mkdir(..., { recursive: true })` loops forever (at full CPU,
 * deaf to signals) when a parent exists but refuses a child with ENOENT, as `/proc/self` does; here a
 * second ENOENT after the parent exists is an error. A path that exists but is no folder is ENOTDIR.
 */
export async function makeDirectory(dir: string, mode = privateDirMode): Promise<void> {
  try {
    await mkdir(dir, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', path: dir });
    }
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    await makeDirectory(parent, mode);
    await mkdir(dir, { mode });
  }
}

/** A folder only its owner can enter, made if missing and tightened if it exists (e.g. made by an earlier version). */
export async function makePrivateDirectory(dir: string): Promise<void> {
  await makeDirectory(dir, privateDirMode);
  await chmod(dir, privateDirMode);
}
