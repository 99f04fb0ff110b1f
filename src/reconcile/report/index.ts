import type { PlanHeader } from '../plan-schema.js';
import { renderCsv } from './csv.js';
import type { PlanItems } from './display.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';

/** Plan reports: pure functions from a plan (header + items) to text chunks. */

export const reportFormats = ['html', 'json', 'md', 'csv'] as const;
export type ReportFormat = (typeof reportFormats)[number];

const renderers: Record<ReportFormat, (header: PlanHeader, items: PlanItems) => AsyncGenerator<string>> = {
  html: renderHtml,
  json: renderJson,
  md: renderMarkdown,
  csv: renderCsv,
};

/** The report as a stream of text chunks (items are consumed once, in order). */
export function renderReport(format: ReportFormat, header: PlanHeader, items: PlanItems): AsyncGenerator<string> {
  return renderers[format](header, items);
}

/** The report as one string (small plans, tests). */
export async function renderReportText(format: ReportFormat, header: PlanHeader, items: PlanItems): Promise<string> {
  let text = '';
  for await (const chunk of renderReport(format, header, items)) text += chunk;
  return text;
}

/** The format a file name implies (`.html`, `.htm`, `.json`, `.md`, `.csv`), or undefined. */
export function formatOfFile(file: string): ReportFormat | undefined {
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  if (ext === 'htm' || ext === 'html') return 'html';
  if (ext === 'markdown') return 'md';
  return (reportFormats as readonly string[]).includes(ext ?? '') ? (ext as ReportFormat) : undefined;
}

export { renderCsv, renderHtml, renderJson, renderMarkdown };
export type { PlanItems };
