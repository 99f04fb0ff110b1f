import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { terminal } from './terminal.js';

export type Logger = PinoLogger;
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Keys whose values never reach a log line, at any of the depths our log objects use. */
const secretKeys = [
  'password',
  'passphrase',
  'token',
  'secret',
  'authorization',
  'Authorization',
  'access_token',
  'refresh_token',
  'accessToken',
  'refreshToken',
  'cookie',
  'Cookie',
  'key',
];
export const redactPaths = secretKeys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `headers.${k}`, `*.headers.${k}`]);

export interface LoggerOptions {
  /** Default: `warn` for readable output on a terminal (results and warnings, not logs), else `info`. */
  level?: LevelWithSilent;
  /** Human-readable output; defaults to whether stderr is a terminal. */
  pretty?: boolean;
  /** Where log lines go; defaults to stderr (stdout is reserved for results). */
  destination?: NodeJS.WritableStream;
}

/**
 * Logs go to stderr: JSON lines when stderr is not a terminal, readable text when it is. On a
 * terminal each entry is one line, written through `terminal` so that it never lands inside a
 * progress bar, and by default only warnings and errors are shown: the user reads results there.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const wantPretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const level = options.level ?? (wantPretty ? 'warn' : 'info');
  const base = { level, redact: { paths: redactPaths, censor: '[redacted]' }, base: undefined } as const;
  if (wantPretty) {
    const stream = pretty({
      destination: options.destination ?? terminal.stream(process.stderr),
      sync: true,
      singleLine: true,
      colorize: options.destination === undefined && Boolean(process.stderr.isTTY),
      // The error's message goes into the line itself; its stack only at debug level, as JSON.
      messageFormat: (log, messageKey) => withError(log[messageKey], log.err),
      ignore: 'pid,hostname,err',
      translateTime: 'SYS:HH:MM:ss',
    });
    return pino(base, stream);
  }
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino({ ...base, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

function withError(message: unknown, err: unknown): string {
  const text = typeof message === 'string' ? message : '';
  if (err === undefined || err === null) return text;
  const reason = typeof err === 'object' && 'message' in err ? String(err.message) : typeof err === 'string' ? err : JSON.stringify(err);
  return text ? `${text}: ${reason}` : reason;
}

/** A logger that discards everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
