import { createWriteStream } from 'node:fs';
import { chmod, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PlanHeader } from '../../reconcile/plan-schema.js';
import { renderReport, type PlanItems, type ReportFormat } from '../../reconcile/report/index.js';
import { makeDirectory } from '../../private-files.js';

/**
 * Writes a report to a file as it renders (never the whole report in memory), into a temporary file
 * next to it that is renamed into place at the end: a reader never sees half a report, and a failure
 * leaves the previous file as it was. `file` may name a folder: the report goes in as `plan-<id>.<format>`.
 */
export async function writeReportFile(file: string, format: ReportFormat, header: PlanHeader, items: PlanItems): Promise<string> {
  // A folder gets the report under its default name, as `plan` writes it into reportDir.
  const folder = await stat(file).then((s) => s.isDirectory(), () => false);
  const target = path.resolve(folder ? path.join(file, `plan-${header.id}.${format}`) : file);
  await makeDirectory(path.dirname(target), 0o750);
  const temp = `${target}.${process.pid}.tmp`;
  try {
    await pipeline(Readable.from(renderReport(format, header, items)), createWriteStream(temp, { encoding: 'utf8', mode: 0o640 }));
    // Readable by the owner's group, whatever the umask (the CLI runs under 077).
    await chmod(temp, 0o640);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return target;
}

/** Streams a report to stdout (or any writable), honouring back-pressure. A reader that stops early (`| head`) is not an error. */
export async function writeReportStream(out: NodeJS.WritableStream, format: ReportFormat, header: PlanHeader, items: PlanItems): Promise<void> {
  try {
    await pipeline(Readable.from(renderReport(format, header, items)), out, { end: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
  }
}
