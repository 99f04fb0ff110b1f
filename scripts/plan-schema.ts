/**
 * Rewrites the generated JSON Schema block of docs/plan-format.md from the zod schema in
 * src/reconcile/plan-schema.ts. Run after changing the plan format: `npx tsx scripts/plan-schema.ts`
 * (test/reconcile/report.test.ts fails while the document and the code disagree).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/paths.js';
import { planReportJsonSchema } from '../src/reconcile/plan-schema.js';

const file = path.join(packageRoot, 'docs', 'plan-format.md');
const doc = readFileSync(file, 'utf8');
const block = `<!-- schema:begin -->\n\`\`\`json\n${JSON.stringify(planReportJsonSchema(), null, 2)}\n\`\`\`\n<!-- schema:end -->`;
const pattern = /<!-- schema:begin -->[\s\S]*?<!-- schema:end -->/;
if (!pattern.test(doc)) throw new Error(`${file} has no <!-- schema:begin --> ... <!-- schema:end --> block`);
writeFileSync(file, doc.replace(pattern, () => block));
process.stdout.write(`${file}: schema block updated\n`);
