import { ExitCode, KicsSyncError, type KicsSyncErrorOptions } from '../errors.js';

/**
 * A source could not be read: unreachable, refused the credentials, answered something unexpected, or
 * (CSV) the file is not a usable CSV at all. Codes are stable:
 * SOURCE_UNREACHABLE, SOURCE_TIMEOUT, SOURCE_TLS, SOURCE_AUTH_FAILED, SOURCE_NOT_FOUND, SOURCE_RATE_LIMITED,
 * SOURCE_SERVER_ERROR, SOURCE_HTTP_ERROR, SOURCE_BAD_RESPONSE, CSV_UNREADABLE, CSV_NOT_CSV, CSV_NO_IDENTITY_COLUMN,
 * CSV_COLUMN_MISSING, CSV_MALFORMED.
 */
export class SourceError extends KicsSyncError {
  constructor(message: string, options: Partial<KicsSyncErrorOptions> & { code: string }) {
    super(message, { exitCode: ExitCode.unavailable, ...options });
  }
}

/** A URL safe to show: no user info, and a query cut short (it can be long, never secret in our sources). */
export function displayUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    const text = u.toString();
    return text.length > 300 ? `${text.slice(0, 300)}...` : text;
  } catch {
    return '(invalid URL)';
  }
}
