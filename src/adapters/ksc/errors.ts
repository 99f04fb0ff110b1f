import { ExitCode, KicsSyncError, type KicsSyncErrorOptions } from '../../errors.js';

/**
 * KSC's standard error codes (module `KLSTD`). The order of the enumeration is KSC's own
 * (KlErrors.h: STDE_NOERROR, STDE_SYSTEM, ...); the base value (KLSTDERRSTART) is not published,
 * so it is kept here, in one place, for the client and the simulator to share.
 */
const klstdBase = 1100;
const klstdNames = [
  'STDE_NOERROR',
  'STDE_SYSTEM',
  'STDE_GENERAL',
  'STDE_NOMEMORY',
  'STDE_NOACCESS',
  'STDE_NOINIT',
  'STDE_NOTFOUND',
  'STDE_BADPARAM',
  'STDE_BOUND',
  'STDE_BADHANDLE',
  'STDE_MOREDATA',
  'STDE_TOOBIG',
  'STDE_BADFORMAT',
  'STDE_NOTPERM',
  'STDE_NOFUNC',
  'STDE_UNAVAIL',
  'STDE_FAULT',
  'STDE_TIMEOUT',
] as const;
export type KlstdError = (typeof klstdNames)[number];

export const klstdCodes = Object.fromEntries(klstdNames.map((name, i) => [name, klstdBase + i])) as Record<KlstdError, number>;

/** The KSC messages of those codes (not localised), as the server puts them in `PxgError.message`. */
export const klstdMessages: Partial<Record<KlstdError, string>> = {
  STDE_GENERAL: 'Unspecified error',
  STDE_NOACCESS: 'Access denied',
  STDE_NOTFOUND: 'Object not found',
  STDE_BADPARAM: 'Bad parameter',
  STDE_TOOBIG: 'Object size is too large',
  STDE_NOTPERM: 'Operation is not permitted',
  STDE_NOFUNC: 'Function is not implemented',
  STDE_UNAVAIL: 'Resource is unavailable',
};

/** The `PxgError` container of a failed KSC call. */
export interface PxgErrorBody {
  code: number;
  subcode?: number;
  module?: string;
  file?: string;
  line?: number;
  message?: string;
  locdata?: unknown;
}

export class KscError extends KicsSyncError {
  constructor(message: string, options: Partial<KicsSyncErrorOptions> & { code: string }) {
    super(message, { exitCode: ExitCode.unavailable, ...options });
  }
}

/**
 * A KSC method answered with `PxgError`: the call reached KSC and KSC refused it. Never retried by
 * the client (the same call gets the same answer); the poller handles the two codes that mean
 * "later" (STDE_UNAVAIL) and "subscribe again" (STDE_NOTFOUND).
 */
export class KscPxgError extends KscError {
  readonly method: string;
  readonly pxg: PxgErrorBody;

  constructor(method: string, pxg: PxgErrorBody) {
    const name = klstdName(pxg);
    const what = pxg.message ?? (name ? klstdMessages[name] : undefined) ?? 'no message';
    const where = [pxg.module, name ?? `code ${pxg.code}`, pxg.subcode ? `subcode ${pxg.subcode}` : undefined].filter(Boolean).join(' ');
    super(`KSC refused ${method}: ${what} (${where})`, {
      code: 'KSC_CALL_REFUSED',
      exitCode: ExitCode.failed,
      details: { method, pxgCode: pxg.code, pxgSubcode: pxg.subcode ?? null, pxgModule: pxg.module ?? null, pxgMessage: pxg.message ?? null },
    });
    this.method = method;
    this.pxg = pxg;
  }

  /** Whether this is the given KLSTD error, e.g. `is('STDE_UNAVAIL')`. */
  is(name: KlstdError): boolean {
    return this.pxg.code === klstdCodes[name];
  }
}

function klstdName(pxg: PxgErrorBody): KlstdError | undefined {
  if (pxg.module !== undefined && pxg.module !== 'KLSTD') return undefined;
  const index = pxg.code - klstdBase;
  return index >= 0 && index < klstdNames.length ? klstdNames[index] : undefined;
}

/** Reads a `PxgError` body, tolerating absent optional members; null when the body is not one. */
export function parsePxgError(body: unknown): PxgErrorBody | null {
  if (body === null || typeof body !== 'object' || !('PxgError' in body)) return null;
  const raw = body.PxgError;
  if (raw === null || typeof raw !== 'object') return { code: 0, message: String(raw) };
  const r = raw as Record<string, unknown>;
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined);
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const out: PxgErrorBody = { code: num(r.code) ?? 0 };
  const subcode = num(r.subcode);
  if (subcode !== undefined) out.subcode = subcode;
  const module = str(r.module);
  if (module !== undefined) out.module = module;
  const file = str(r.file);
  if (file !== undefined) out.file = file;
  const line = num(r.line);
  if (line !== undefined) out.line = line;
  const message = str(r.message);
  if (message !== undefined) out.message = message;
  if (r.locdata !== undefined) out.locdata = r.locdata;
  return out;
}
