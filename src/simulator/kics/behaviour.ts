import { httpError } from './http.js';

/**
 * Where the connector API document is silent, what the simulator does. The document's device query
 * names no filter fields; its one example filters on `Id` and `Category`. By default the simulator
 * filters on every device field (invented, for tests and the demo); a real KICS may refuse such a
 * filter (400) or ignore it. Tests switch the behaviour to check that the engine copes either way.
 */
export type UndocumentedFilters = 'honour' | 'refuse' | 'ignore';

/**
 * How a PATCH whose Test op failed is answered. The document shows one result per op (`results`, the
 * default and strict mode's answer); a real KICS might instead refuse the whole PATCH with an HTTP
 * error (RFC 6902 makes a failed test fail the whole document) or end the list at the failed op
 * (`stop`). Invented alternatives, for tests.
 */
export type FailedTestAnswer = 'results' | 'stop' | 400 | 409 | 412;

export interface SimulatorBehaviour {
  /** Device query filters on fields the document does not show. */
  undocumentedDeviceFilters: UndocumentedFilters;
  /** How a failed Test guard is answered (ignored in strict mode: results, as the document shows). */
  failedTest: FailedTestAnswer;
  /**
   * Answer only what the document defines (`kics-sync simulator --strict`): device filters beyond its
   * example refused (400); a create answers `{ status: "Created", deviceId }` and nothing else, also
   * for a duplicate (the document shows no other answer); the DELETE route and numeric `influence`
   * values (the document defines neither) refused with 400.
   */
  strict: boolean;
}

/** The 400 a strict simulator answers for what the document does not define. */
export function notDefined(what: string): Error {
  return httpError(400, `${what} is not defined by the connector API document (the simulator runs with --strict).`);
}

/** Strict mode: a write body's `influence` must be one of the enum's names (the document gives no numbers). */
export function checkStrictBody(body: unknown, behaviour: SimulatorBehaviour): void {
  if (!behaviour.strict || body === null || typeof body !== 'object') return;
  if (typeof (body as { influence?: unknown }).influence === 'number') throw notDefined('A numeric influence');
}

/** Device filter fields the document's `devices/query` example uses. */
export const documentedDeviceFilterFields: ReadonlySet<string> = new Set(['Id', 'Category']);

/** The query as this behaviour lets it through: refused with 400, or its undocumented conditions dropped. */
export function applyDeviceFilterBehaviour(body: unknown, behaviour: SimulatorBehaviour): unknown {
  const mode = behaviour.strict ? 'refuse' : behaviour.undocumentedDeviceFilters;
  if (mode === 'honour' || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const record = body as Record<string, unknown>;
  const nested = record.query !== null && typeof record.query === 'object' && !Array.isArray(record.query);
  const query = (nested ? record.query : record) as Record<string, unknown>;
  if (!Array.isArray(query.filter)) return body;
  const undocumented = (condition: unknown): boolean => {
    const field = (condition as { field?: unknown } | null)?.field;
    return typeof field === 'string' && !documentedDeviceFilterFields.has(field);
  };
  const found = (query.filter as unknown[]).flat().find(undocumented) as { field: string } | undefined;
  if (found === undefined) return body;
  if (mode === 'refuse') {
    throw httpError(400, `Filtering devices by ${JSON.stringify(found.field)} is not supported.`, 'field', 'filter');
  }
  const kept = (query.filter as unknown[])
    .map((c) => (Array.isArray(c) ? c.filter((x) => !undocumented(x)) : c))
    .filter((c) => (Array.isArray(c) ? c.length > 0 : !undocumented(c)));
  const filtered = { ...query, filter: kept };
  return nested ? { ...record, query: filtered } : filtered;
}
