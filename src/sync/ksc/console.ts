import { createHash, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import pLimit from 'p-limit';
import type { Database } from '../../db/database.js';
import { KicsSyncError, errorMessage } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { packageRoot } from '../../paths.js';
import type { KicsErrorCode } from '../../adapters/kics/index.js';
import type { KscClient } from '../../adapters/ksc/client.js';
import { KscPxgError } from '../../adapters/ksc/errors.js';
import { encodeParams, paramParams, paramString, toJson, type KscInput, type KscParams } from '../../adapters/ksc/params.js';
import type { KscEvent, KscSubscription } from '../../adapters/ksc/poller.js';
import {
  abandonedCommands,
  claimCommand,
  commandRequest,
  loadCommand,
  markAnswerPosted,
  markCommandRunning,
  recordCommandUnreadable,
  storeAnswer,
  unansweredCommands,
  type StoredAnswer,
} from './store.js';

/** The event through which KSC hands product backend commands to a service console. */
export const backendCommandEvent = 'KLSRV_EV_PROD_BACKEND_CMD';

/** The error ids of the KSC document ("List of common known errors"); the only field KSC reads. */
export type CommandErrorId = 'ERR_NO_BACKEND' | 'ERR_NOT_SUPPORTED' | 'ERR_UNKNOWN_TOKEN' | 'ERR_EXPIRED_TOKEN';

/** A backend command as a handler receives it. */
export interface BackendCommand {
  /** `CMD_ID`: unique per command; each is handled at most once. */
  id: string;
  /** `CMD_NAME`. */
  name: string;
  productName: string;
  productVersion: string;
  /** `CMD_PARAMS`, decoded (datetimes as Date); the authorization token is removed. */
  params: KscParams;
  /** The audit actor of whatever the command does: `ksc:<CMD_ID>`. */
  actor: string;
  /** Aborted when the service console stops. */
  signal: AbortSignal;
}

/** Runs one command and returns its result container (plain values, arrays, nested objects). */
export type BackendCommandHandler = (command: BackendCommand) => Promise<Record<string, KscInput>>;
export type BackendCommandHandlers = Readonly<Record<string, BackendCommandHandler>>;

/**
 * Thrown by a handler when KICS (the product backend) cannot be reached; answered to KSC as
 * `ERR_NO_BACKEND`. A `KicsSyncError` with code `KICS_UNREACHABLE` means the same.
 */
export class BackendUnreachableError extends KicsSyncError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'KICS_UNREACHABLE' satisfies KicsErrorCode, retryable: true, ...options });
  }
}

/** Thrown by a handler for parameters it cannot use; answered with the message, no error id. */
export class CommandParamsError extends KicsSyncError {
  constructor(message: string) {
    super(message, { code: 'KSC_COMMAND_PARAMS' });
  }
}

/**
 * Thrown by a handler whose answer was made elsewhere (a fleet's worker, src/fleet/ksc.ts): the
 * error container is answered as it is.
 */
export class AnsweredCommandError extends KicsSyncError {
  constructor(readonly container: CommandErrorContainer) {
    super(container.CMD_ERR_DESCR, { code: 'KSC_COMMAND_FAILED' });
  }
}

/** An authorization token a command must carry (`CMD_PARAMS.token`). */
export interface CommandToken {
  value: string;
  /** After this instant the token is expired. */
  expiresAt?: Date | undefined;
}

/** Engine events the console reports (the wiring stores them in the event catalogue). */
export type ConsoleEvent =
  | { type: 'KSYNC_KSC_COMMAND_RECEIVED'; payload: { commandId: string; command: string } }
  | { type: 'KSYNC_KSC_COMMAND_FAILED'; payload: { commandId: string; command: string; errorId: CommandErrorId | null; description: string } };

export interface ServiceConsoleOptions {
  client: KscClient;
  db: Database;
  productName: string;
  productVersion: string;
  handlers: BackendCommandHandlers;
  /** When non-empty, every command must carry one of these in `CMD_PARAMS.token`. */
  tokens?: readonly CommandToken[];
  logger?: Logger;
  report?: (event: ConsoleEvent) => Promise<void> | void;
  /** Commands run at once (default 1: a plan and an apply never overlap). */
  concurrency?: number | undefined;
  /**
   * Whether the work of a command a stopped process claimed and never answered went on without that
   * process (a fleet's job, src/fleet/ksc.ts): its handler is then called again to collect the answer,
   * and must not do the work twice. Without it, or when it says no, such a command is not run again.
   */
  outlived?: ((command: BackendCommand) => Promise<boolean>) | undefined;
  now?: () => Date;
}

/** What `CMD_ERR_ORIGINATOR_ID` says: who produced the error. */
const originator = 'kics-sync';

/** Stable `CMD_ERR_ID`s, for command initiators that want a number. */
const errorNumbers: Record<CommandErrorId | 'FAILED' | 'INTERRUPTED' | 'BAD_PARAMS', number> = {
  ERR_NOT_SUPPORTED: 1,
  ERR_NO_BACKEND: 2,
  ERR_UNKNOWN_TOKEN: 3,
  ERR_EXPIRED_TOKEN: 4,
  BAD_PARAMS: 5,
  INTERRUPTED: 6,
  FAILED: 100,
};

/** The command error container of the KSC document. */
export interface CommandErrorContainer {
  CMD_ERR_STR_ID?: CommandErrorId;
  CMD_ERR_ORIGINATOR_ID: string;
  CMD_ERR_ID: number;
  CMD_ERR_DESCR: string;
  /** Localized description: kics-sync speaks English only, so the description again. */
  CMD_ERR_LOC_DESCR: string;
  /** Where in kics-sync the error was raised (its source file, relative to the package), when an error object says. */
  CMD_ERR_FNAME?: string;
  CMD_ERR_LNUMBER?: number;
}

type Answer = { kind: 'result'; result: Record<string, KscInput> } | { kind: 'error'; error: CommandErrorContainer };

/**
 * kics-sync as a KSC "service console": for each `KLSRV_EV_PROD_BACKEND_CMD` event it claims the
 * command id in `ksc_command` (so a command is run once, also across restarts and duplicate
 * deliveries), reads the command with `ServiceNwcCommandProvider.GetCommandPayload`, checks the
 * token, dispatches by name to the injected handlers and answers with `SetCommandResult` or
 * `SetCommandError`. The answer is stored before it is posted, so an answer that could not be
 * posted is posted again later rather than the command being run again.
 *
 * The statuses a command goes through are those of `ksc_command` (`store.ts`).
 */
export class ServiceConsole {
  private readonly logger: Logger;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly options: ServiceConsoleOptions) {
    this.logger = options.logger ?? silentLogger();
    this.limit = pLimit(options.concurrency ?? 1);
  }

  /** The subscription KSC requires: the backend-command event filtered on product name and version. */
  subscription(): KscSubscription {
    return { event: backendCommandEvent, filter: { CMD_PROD_NAME: this.options.productName, CMD_PROD_VERSION: this.options.productVersion } };
  }

  /** The command names that have a handler. */
  get commandNames(): string[] {
    return Object.keys(this.options.handlers).sort();
  }

  /** Takes the backend-command events of a batch; each command runs in the background, in order. */
  accept(events: readonly KscEvent[]): void {
    for (const event of events) {
      if (event.type !== backendCommandEvent) continue;
      const id = paramString(event.params, 'CMD_ID');
      if (!id) {
        this.logger.warn({ params: Object.keys(event.params) }, 'KSC backend command event without CMD_ID; ignored');
        continue;
      }
      this.track(this.limit(() => this.handle(id, event.params)), id);
    }
  }

  /** Keeps a command's task among those `idle()` and `stop()` wait for. */
  private track(work: Promise<void>, id: string): void {
    const task = work.catch((error: unknown) => {
      this.logger.error({ commandId: id, err: errorMessage(error) }, 'KSC backend command could not be handled');
    });
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
  }

  /** Waits for the commands in progress. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /**
   * Stops: commands still waiting are answered "interrupted", running ones are aborted through
   * their signal and answered when their handler returns.
   */
  async stop(): Promise<void> {
    this.abort.abort(new KicsSyncError('the service console is stopping', { code: 'INTERRUPTED' }));
    await this.idle();
  }

  /**
   * Posts answers that were stored but could not be posted (KSC was unreachable), and reports
   * commands a previous process claimed but never finished: those are not run again, unless their
   * work outlived the process (`outlived`), whose answer is then collected and posted.
   */
  async resume(): Promise<{ reposted: number; abandoned: string[]; collected: string[] }> {
    const { db } = this.options;
    let reposted = 0;
    for (const stored of await unansweredCommands(db)) {
      if (await this.post(stored.id, storedAnswer(stored))) reposted += 1;
    }
    const abandoned: string[] = [];
    const collected: string[] = [];
    for (const id of await abandonedCommands(db)) {
      const request = await commandRequest(db, id);
      const command = request?.name ? this.commandOf(id, request.name, (request.params ?? {}) as KscParams) : null;
      if (command && this.options.outlived && (await this.options.outlived(command))) {
        collected.push(id);
        this.track(this.limit(async () => this.finish(id, command.name, await this.callHandler(command))), id);
      } else abandoned.push(id);
    }
    if (abandoned.length > 0) {
      this.logger.warn({ commands: abandoned }, 'KSC backend commands were interrupted by a stop of a previous kics-sync process and were never answered; they are not run again');
    }
    if (collected.length > 0) this.logger.info({ commands: collected }, 'KSC backend commands a previous kics-sync process left unanswered went on without it; their answers are collected');
    return { reposted, abandoned, collected };
  }

  private async handle(id: string, eventParams: KscParams): Promise<void> {
    const { db } = this.options;
    if (!(await claimCommand(db, id))) {
      const row = await loadCommand(db, id);
      if (row?.status === 'unanswered') {
        await this.post(id, storedAnswer(row));
      } else {
        this.logger.info({ commandId: id, status: row?.status }, 'KSC backend command delivered again; already handled, not run twice');
      }
      return;
    }

    if (this.abort.signal.aborted) {
      await this.finish(id, null, { kind: 'error', error: errorContainer('INTERRUPTED', 'kics-sync stopped before the command could run') });
      return;
    }

    let command: KscParams;
    try {
      const payload = await this.options.client.call('ServiceNwcCommandProvider.GetCommandPayload', { wstrCommandId: id });
      command = (payload.out.pParams ?? {}) as KscParams;
    } catch (error) {
      // Without the payload there is nothing to run, and KSC may not even know the command any more.
      const description = `the command could not be read from KSC: ${errorMessage(error)}`;
      await recordCommandUnreadable(db, id, { stage: 'GetCommandPayload', message: errorMessage(error) });
      this.logger.error({ commandId: id, err: errorMessage(error) }, 'KSC backend command could not be read; it is not run');
      await this.report({ type: 'KSYNC_KSC_COMMAND_FAILED', payload: { commandId: id, command: paramString(eventParams, 'CMD_NAME') ?? '', errorId: null, description } });
      return;
    }
    const name = paramString(command, 'CMD_NAME') ?? paramString(eventParams, 'CMD_NAME') ?? '';
    const rawParams = paramParams(command, 'CMD_PARAMS') ?? {};
    const { token, params } = splitToken(rawParams);
    await markCommandRunning(db, id, name, toJson(params));
    await this.report({ type: 'KSYNC_KSC_COMMAND_RECEIVED', payload: { commandId: id, command: name } });
    this.logger.info({ commandId: id, command: name }, 'KSC backend command received');

    const answer = await this.run(id, name, token, params, command);
    await this.finish(id, name, answer);
  }

  private async run(id: string, name: string, token: unknown, params: KscParams, command: KscParams): Promise<Answer> {
    const tokenProblem = this.checkToken(token);
    if (tokenProblem) return { kind: 'error', error: tokenProblem };
    return this.callHandler(this.commandOf(id, name, params, command));
  }

  /** The command as a handler receives it. */
  private commandOf(id: string, name: string, params: KscParams, command: KscParams = {}): BackendCommand {
    return {
      id,
      name,
      productName: paramString(command, 'CMD_PROD_NAME') ?? this.options.productName,
      productVersion: paramString(command, 'CMD_PROD_VERSION') ?? this.options.productVersion,
      params,
      actor: `ksc:${id}`,
      signal: this.abort.signal,
    };
  }

  private async callHandler(command: BackendCommand): Promise<Answer> {
    const handler = Object.hasOwn(this.options.handlers, command.name) ? this.options.handlers[command.name] : undefined;
    if (!handler) {
      const known = this.commandNames;
      return { kind: 'error', error: errorContainer('ERR_NOT_SUPPORTED', `command ${JSON.stringify(command.name)} is not supported by kics-sync${known.length ? ` (supported: ${known.join(', ')})` : ' (no commands are available in this installation)'}`) };
    }
    try {
      return { kind: 'result', result: await handler(command) };
    } catch (error) {
      return { kind: 'error', error: handlerErrorContainer(error) };
    }
  }

  private checkToken(token: unknown): CommandErrorContainer | null {
    const tokens = this.options.tokens ?? [];
    if (tokens.length === 0) return null;
    if (typeof token !== 'string' || token === '') return errorContainer('ERR_UNKNOWN_TOKEN', 'the command carries no authorization token (CMD_PARAMS.token)');
    const match = tokens.find((t) => sameSecret(t.value, token));
    if (!match) return errorContainer('ERR_UNKNOWN_TOKEN', 'the authorization token is not known to kics-sync');
    const now = this.options.now?.() ?? new Date();
    if (match.expiresAt && match.expiresAt.getTime() <= now.getTime()) return errorContainer('ERR_EXPIRED_TOKEN', `the authorization token expired at ${match.expiresAt.toISOString()}`);
    return null;
  }

  /** Stores the answer, then posts it; the stored status says whether KSC has it. */
  private async finish(id: string, name: string | null, answer: Answer): Promise<void> {
    const { db } = this.options;
    await storeAnswer(db, id, answer.kind === 'result' ? { result: encodeParams(answer.result) } : { error: answer.error });
    if (answer.kind === 'error') {
      this.logger.warn({ commandId: id, command: name, errorId: answer.error.CMD_ERR_STR_ID ?? null, description: answer.error.CMD_ERR_DESCR }, 'KSC backend command failed');
      await this.report({ type: 'KSYNC_KSC_COMMAND_FAILED', payload: { commandId: id, command: name ?? '', errorId: answer.error.CMD_ERR_STR_ID ?? null, description: answer.error.CMD_ERR_DESCR } });
    } else {
      this.logger.info({ commandId: id, command: name }, 'KSC backend command done');
    }
    await this.post(id, answer);
  }

  private async post(id: string, answer: Answer): Promise<boolean> {
    try {
      if (answer.kind === 'result') await this.options.client.call('ServiceNwcCommandProvider.SetCommandResult', { wstrCommandId: id, pResult: answer.result });
      else await this.options.client.call('ServiceNwcCommandProvider.SetCommandError', { wstrCommandId: id, pError: { ...answer.error } });
    } catch (error) {
      if (error instanceof KscPxgError) {
        // KSC's considered answer (e.g. the command is gone): posting again would get the same.
        this.logger.error({ commandId: id, err: errorMessage(error) }, 'KSC refused the answer of a backend command');
        await markAnswerPosted(this.options.db, id, 'refused');
        return false;
      }
      this.logger.error({ commandId: id, err: errorMessage(error) }, 'could not post the answer of a KSC backend command; it is posted again when kics-sync next runs');
      return false;
    }
    await markAnswerPosted(this.options.db, id, 'answered');
    return true;
  }

  private async report(event: ConsoleEvent): Promise<void> {
    try {
      await this.options.report?.(event);
    } catch (error) {
      this.logger.warn({ err: errorMessage(error), event: event.type }, 'could not record an engine event');
    }
  }
}

export function errorContainer(id: CommandErrorId | 'FAILED' | 'INTERRUPTED' | 'BAD_PARAMS', description: string, raised?: unknown): CommandErrorContainer {
  const container: CommandErrorContainer = { CMD_ERR_ORIGINATOR_ID: originator, CMD_ERR_ID: errorNumbers[id], CMD_ERR_DESCR: description, CMD_ERR_LOC_DESCR: description };
  if (id.startsWith('ERR_')) container.CMD_ERR_STR_ID = id as CommandErrorId;
  const where = raised instanceof Error ? raisedAt(raised) : null;
  if (where) {
    container.CMD_ERR_FNAME = where.file;
    container.CMD_ERR_LNUMBER = where.line;
  }
  return container;
}

/** The first frame of an error's stack inside kics-sync: file relative to the package, and line. */
function raisedAt(error: Error): { file: string; line: number } | null {
  for (const frame of (error.stack ?? '').split('\n').slice(1)) {
    const m = /\(?(?:file:\/\/)?([^()\s]+):(\d+):\d+\)?\s*$/.exec(frame);
    if (!m || m[1]!.includes('node_modules') || !path.isAbsolute(m[1]!)) continue;
    const file = path.relative(packageRoot, m[1]!);
    if (file.startsWith('..')) continue;
    return { file, line: Number(m[2]) };
  }
  return null;
}

/** What KSC is answered when a handler throws `error` (the contract in src/sync/ksc/commands.ts). */
export function handlerErrorContainer(error: unknown): CommandErrorContainer {
  if (error instanceof AnsweredCommandError) return error.container;
  if (error instanceof BackendUnreachableError || (error instanceof KicsSyncError && error.code === 'KICS_UNREACHABLE')) {
    return errorContainer('ERR_NO_BACKEND', `KICS for Networks cannot be reached: ${errorMessage(error)}`, error);
  }
  if (error instanceof CommandParamsError) return errorContainer('BAD_PARAMS', error.message, error);
  const code = error instanceof KicsSyncError ? `${error.code}: ` : '';
  return errorContainer('FAILED', `${code}${errorMessage(error)}`, error);
}

/** A stored answer as it is posted again. */
function storedAnswer(stored: StoredAnswer): Answer {
  return stored.error ? { kind: 'error', error: stored.error as CommandErrorContainer } : { kind: 'result', result: (stored.result ?? {}) as Record<string, KscInput> };
}

/** The token leaves the parameters before they are stored or handed to a handler. */
function splitToken(params: KscParams): { token: unknown; params: KscParams } {
  const { token, ...rest } = params;
  return { token, params: rest };
}

/** Compares secrets in constant time (over their digests, so lengths do not leak either). */
function sameSecret(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}
