import type { IncomingMessage } from 'node:http';
import { KicsSyncError } from '../../errors.js';

/** One item of a KICS error answer. */
export interface KicsErrorItem {
  field: string | null;
  path: string | null;
  errorMessage: string;
}

/**
 * An answer other than success, thrown by a handler and turned into the KICS error shape
 * `{"status": "Error", "errors": [{field, path, errorMessage}]}` with its HTTP status.
 */
export class SimulatorHttpError extends KicsSyncError {
  constructor(
    readonly status: number,
    readonly errors: KicsErrorItem[],
    readonly headers: Record<string, string> = {},
    /** Extra top-level members of the answer (e.g. `errorMessage` of the event registration). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(errors.map((e) => (e.path ? `${e.path}: ${e.errorMessage}` : e.errorMessage)).join('; ') || `HTTP ${status}`, {
      code: `SIM_HTTP_${status}`,
      details: { status },
    });
  }

  body(): Record<string, unknown> {
    return { status: 'Error', errors: this.errors, ...this.extra };
  }
}

/** A single-message error. */
export function httpError(status: number, errorMessage: string, field: string | null = null, path: string | null = null, headers: Record<string, string> = {}): SimulatorHttpError {
  return new SimulatorHttpError(status, [{ field, path, errorMessage }], headers);
}

/** 400 with the validation errors collected so far. */
export function validationError(errors: KicsErrorItem[]): SimulatorHttpError {
  return new SimulatorHttpError(400, errors);
}

/** Content types the API reads as JSON (a public client sends `application/json-patch+json`). */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type === 'text/json' || /^application\/[\w.-]+\+json$/.test(type);
}

/** Reads a request body up to `limit` bytes; beyond that the answer is 413. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw httpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw httpError(413, `request body exceeds the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The JSON body of a request: 415 for another content type, 400 (with the position) for invalid JSON. */
export async function readJsonBody(req: IncomingMessage, limit: number, options: { required: boolean }): Promise<unknown> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) {
    if (options.required) throw httpError(400, 'A non-empty request body is required.', null, '$');
    return undefined;
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    throw httpError(415, `Unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}: send application/json or application/json-patch+json.`);
  }
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (error) {
    throw httpError(400, `The request body is not valid JSON: ${(error as Error).message}`, null, '$');
  }
}

/** Parses a boolean query parameter the way ASP.NET binds it (`true` / `false`, any case); undefined when absent. */
export function booleanParam(params: URLSearchParams, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw httpError(400, `The value ${JSON.stringify(value)} is not valid for ${name}: expected true or false.`, name, name);
}
