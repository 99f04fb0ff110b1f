import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

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
  level?: LevelWithSilent;
  /** Human-readable output; defaults to whether stderr is a terminal. */
  pretty?: boolean;
  /** Where log lines go; defaults to stderr (stdout is reserved for results). */
  destination?: NodeJS.WritableStream;
}

/** Logs go to stderr: JSON lines when stderr is not a terminal, readable text when it is. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const base = { level, redact: { paths: redactPaths, censor: '[redacted]' }, base: undefined } as const;
  const wantPretty = options.pretty ?? Boolean(process.stderr.isTTY);
  if (wantPretty) {
    const stream = pretty({
      destination: options.destination ?? 2,
      sync: true,
      colorize: options.destination === undefined && Boolean(process.stderr.isTTY),
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss',
    });
    return pino(base, stream);
  }
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino({ ...base, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** A logger that discards everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
