import { ExitCode, KicsSyncError, type KicsSyncErrorOptions } from '../../errors.js';
import type { KicsRouteName } from './routes.js';

/** One item of a KICS error answer (`{"status": "Error", "errors": [{field, path, errorMessage}]}`). */
export interface KicsErrorItem {
  field: string | null;
  path: string | null;
  errorMessage: string;
}

/** The endpoint of a call, as errors and logs name it: route name, method and path (never the query string, never a token). */
export interface KicsEndpoint {
  route: KicsRouteName;
  method: string;
  path: string;
}

export function describeEndpoint(endpoint: KicsEndpoint): string {
  return `KICS ${endpoint.route} (${endpoint.method} ${endpoint.path})`;
}

/**
 * The stable codes of a failed KICS call. Whoever decides by a code (an apply stopping, the events
 * of a failed run) names it through `KicsErrorCode`, so a code that is not thrown here fails to compile.
 */
export const kicsErrorCodes = [
  'KICS_UNREACHABLE',
  'KICS_TIMEOUT',
  'KICS_TLS_UNTRUSTED',
  'KICS_TLS_PIN_MISMATCH',
  'KICS_TLS_CLIENT_REFUSED',
  'KICS_AUTH_FAILED',
  'KICS_FORBIDDEN',
  'KICS_NOT_FOUND',
  'KICS_VALIDATION',
  'KICS_CONFLICT',
  'KICS_PAYLOAD_TOO_LARGE',
  'KICS_RATE_LIMITED',
  'KICS_SERVER_ERROR',
  'KICS_HTTP_ERROR',
  'KICS_BAD_RESPONSE',
] as const;
export type KicsErrorCode = (typeof kicsErrorCodes)[number];

/** The codes of an unusable communication data package (or PEM files). */
export const kicsPackageErrorCodes = ['KICS_PACKAGE_FILE_MISSING', 'KICS_PACKAGE_PASSWORD', 'KICS_PACKAGE_INVALID', 'KICS_CERT_EXPIRED', 'KICS_CERT_NOT_YET_VALID'] as const;
export type KicsPackageErrorCode = (typeof kicsPackageErrorCodes)[number];

export interface KicsApiErrorOptions extends Partial<KicsSyncErrorOptions> {
  code: KicsErrorCode;
  endpoint: KicsEndpoint;
  /** HTTP status of the answer; null when there was none (network, TLS, timeout). */
  status?: number | null;
  /** KICS's own error items, when the answer carried them. */
  errors?: KicsErrorItem[];
  /**
   * The call may have taken effect without us seeing its answer (connection lost after sending, a
   * 500, an unreadable 2xx). Calls that are not safe to repeat are then verified, never resent blindly.
   */
  outcomeUnknown?: boolean;
  /** How long the server asked to wait before the next attempt (429 / 503 `Retry-After`). */
  retryAfterMs?: number;
}

/** A KICS call failed; `code` is one of `kicsErrorCodes`. */
export class KicsApiError extends KicsSyncError {
  declare readonly code: KicsErrorCode;
  readonly status: number | null;
  readonly endpoint: KicsEndpoint;
  readonly errors: KicsErrorItem[];
  readonly outcomeUnknown: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: KicsApiErrorOptions) {
    const { endpoint, status = null, errors = [], outcomeUnknown = false, retryAfterMs, details, ...rest } = options;
    super(message, {
      exitCode: ExitCode.unavailable,
      ...rest,
      details: { route: endpoint.route, method: endpoint.method, path: endpoint.path, status, ...(errors.length > 0 ? { errors } : {}), ...(outcomeUnknown ? { outcomeUnknown } : {}), ...details },
    });
    this.status = status;
    this.endpoint = endpoint;
    this.errors = errors;
    this.outcomeUnknown = outcomeUnknown;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The error of a write whose outcome stays unknown: `lost` is an attempt whose answer never came (the
 * write may have been applied); `then` is what ended the call afterwards (a later attempt's error, or a
 * failed check of whether it landed). The next apply looks before it sends again.
 */
export function outcomeStillUnknown(lost: KicsApiError, then: unknown): KicsApiError {
  const after = then instanceof Error ? then.message : String(then);
  return new KicsApiError(`${after}; an earlier attempt's answer was lost (${lost.message}), so it may have been applied`, {
    code: then instanceof KicsApiError ? then.code : lost.code,
    endpoint: lost.endpoint,
    status: then instanceof KicsApiError ? then.status : lost.status,
    errors: then instanceof KicsApiError ? then.errors : [],
    outcomeUnknown: true,
    retryable: true,
    cause: then,
  });
}

/**
 * The connector's communication data package (or its PEM files) cannot be used: a file is missing, the
 * password does not open it, a certificate is not valid now, the files do not belong together.
 */
export class KicsPackageError extends KicsSyncError {
  declare readonly code: KicsPackageErrorCode;

  constructor(message: string, options: Partial<KicsSyncErrorOptions> & { code: KicsPackageErrorCode }) {
    super(message, { exitCode: ExitCode.usage, ...options });
  }
}

/** KICS's error items from an answer body, tolerating any shape (null when there are none). */
export function kicsErrorItems(body: unknown): KicsErrorItem[] {
  if (body === null || typeof body !== 'object') return [];
  const errors = (body as { errors?: unknown }).errors;
  const items: KicsErrorItem[] = [];
  if (Array.isArray(errors)) {
    for (const e of errors) {
      if (e === null || typeof e !== 'object') continue;
      const r = e as Record<string, unknown>;
      const text = typeof r.errorMessage === 'string' ? r.errorMessage : typeof r.message === 'string' ? r.message : null;
      if (text === null) continue;
      items.push({ field: typeof r.field === 'string' ? r.field : null, path: typeof r.path === 'string' ? r.path : null, errorMessage: text });
    }
  }
  // `POST events` answers a top-level errorMessage; the token endpoint answers OAuth's error / error_description.
  const top = body as { errorMessage?: unknown; error?: unknown; error_description?: unknown };
  if (items.length === 0 && typeof top.errorMessage === 'string') items.push({ field: null, path: null, errorMessage: top.errorMessage });
  if (items.length === 0 && typeof top.error === 'string') {
    items.push({ field: null, path: null, errorMessage: typeof top.error_description === 'string' ? `${top.error}: ${top.error_description}` : top.error });
  }
  return items;
}

/** `path: message; path: message` of KICS error items, at most `max` of them. */
export function describeErrorItems(items: readonly KicsErrorItem[], max = 5): string {
  const shown = items.slice(0, max).map((e) => {
    const where = e.path ?? e.field;
    return where ? `${where}: ${e.errorMessage}` : e.errorMessage;
  });
  if (items.length > max) shown.push(`... ${items.length - max} more`);
  return shown.join('; ');
}
