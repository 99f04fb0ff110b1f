import { planSchemaVersion, type PlanHeader } from '../plan-schema.js';
import type { PlanItems } from './display.js';

/**
 * The JSON report: `{ schemaVersion, plan, items }` (schema: docs/plan-format.md), streamed one item
 * per line so 100,000 items never sit in one string.
 */
export async function* renderJson(header: PlanHeader, items: PlanItems): AsyncGenerator<string> {
  yield `{"schemaVersion":${planSchemaVersion},"plan":${JSON.stringify(header)},"items":[`;
  let first = true;
  let batch: string[] = [];
  for await (const item of items) {
    batch.push(`${first ? '' : ','}\n${JSON.stringify(item)}`);
    first = false;
    if (batch.length >= 500) {
      yield batch.join('');
      batch = [];
    }
  }
  if (batch.length > 0) yield batch.join('');
  yield '\n]}\n';
}
