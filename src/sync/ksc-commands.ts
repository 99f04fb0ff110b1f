/**
 * KSC backend commands and KSC event triggers: the two places where the KSC integration
 * (src/adapters/ksc/) hands work to the sync engine. Both are filled by the engine; until then
 * `backendCommandHandlers()` returns no handlers, so every command is answered `ERR_NOT_SUPPORTED`,
 * and `incrementalPlanStarter()` returns none, so triggers stay off. That is the truth of an
 * installation without the engine, and nothing pretends otherwise.
 *
 * # The handler contract
 *
 * A handler is `(command: BackendCommand) => Promise<result>` (src/adapters/ksc/console.ts):
 *
 * - `command.id` is KSC's `CMD_ID`. The service console runs a command id at most once, also across
 *   restarts and duplicate deliveries (table `ksc_command`); the handler need not guard against it.
 * - `command.name` is `CMD_NAME`; `command.params` is `CMD_PARAMS` decoded to plain values (strings,
 *   numbers, booleans, Date for datetimes, nested objects, arrays), without `token`, which the console
 *   has already checked against `ksc.commands.tokens`.
 * - `command.actor` (`ksc:<CMD_ID>`) is the actor of every run, plan and audit record the command
 *   causes; runs use trigger `ksc_command` and record `{ kscCommandId }` as their cause.
 * - `command.signal` aborts when the service stops; a handler stops at the next safe point (an apply
 *   is resumable) and throws.
 * - The result is a flat-ish object of strings, numbers, booleans, arrays and nested objects; it is
 *   posted with `SetCommandResult` as a params container (integers beyond 32 bits as paramLong).
 * - Errors: throw `BackendUnreachableError` (or any `KicsSyncError` with code `KICS_UNREACHABLE`)
 *   when KICS cannot be reached -> `ERR_NO_BACKEND`; throw `CommandParamsError` for parameters that
 *   cannot be used -> `CMD_ERR_ID` 5 with the message; anything else -> `CMD_ERR_ID` 100 with
 *   `<code>: <message>`. `CMD_ERR_ORIGINATOR_ID` is always `kics-sync`. Never put secrets in messages.
 *
 * The four commands (names as KSC sends them in `CMD_NAME`):
 *
 * | command  | `CMD_PARAMS` in | result out | errors |
 * | -------- | --------------- | ---------- | ------ |
 * | `plan`   | `owner?` (string), `sources?` (string[] of source names), `addressSpace?` (id or name), `device?` (KICS device id), `incremental?` (boolean, default false) | `planId` (int), `status` (`draft` or `held`), `summary` {`create`, `update`, `archive`, `delete`, `conflict`, `unknown`, `stale`} (ints), `reportPath` (string) | params error for an unknown source / address space; `ERR_NO_BACKEND` when KICS cannot be read |
 * | `apply`  | `planId` (int), `force?` (boolean: apply past the safety threshold) | `planId`, `runId` (int), `status` (`applied`, `partially_applied`), `outcome` {`applied`, `skipped`, `drifted`, `failed`} (ints) | params error for an unknown or expired plan; `ERR_NO_BACKEND` when KICS cannot be reached before the first write |
 * | `status` | `runId?` or `planId?` (int; neither: the latest run) | `runId` / `planId`, `status`, `startedAt` / `createdAt` (datetime), `finishedAt?`, `counts` | params error for an unknown id |
 * | `report` | `planId` (int) | `planId`, `summary` (as for `plan`), `items` (int), `reportPath` (string) | params error for an unknown plan |
 */
import type { BackendCommandHandlers } from '../adapters/ksc/console.js';
import type { KscServiceEvent } from '../adapters/ksc/service.js';
import type { StartIncrementalPlan } from '../adapters/ksc/triggers.js';
import type { Config } from '../config/index.js';
import type { Sql } from '../db/sql.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import { emitEvent } from './events/index.js';

export { BackendUnreachableError, CommandParamsError, type BackendCommand, type BackendCommandHandler, type BackendCommandHandlers } from '../adapters/ksc/console.js';
export type { StartIncrementalPlan, TriggerCause } from '../adapters/ksc/triggers.js';

/** What the engine needs to build handlers; a CLI command context is one. */
export interface EngineContext {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  config(): Promise<Config>;
  database(): Promise<Database>;
}

/** The backend command handlers by `CMD_NAME`. None yet: see the contract above. */
export function backendCommandHandlers(_ctx: EngineContext): BackendCommandHandlers {
  return {};
}

/** Starts an incremental plan for KSC event triggers (trigger `ksc_event`, cause recorded). None yet. */
export function incrementalPlanStarter(_ctx: EngineContext): StartIncrementalPlan | undefined {
  return undefined;
}

/** Stores what the KSC service reports in the engine's event catalogue. */
export function kscEventSink(db: Sql): (event: KscServiceEvent) => Promise<void> {
  return async (event) => {
    switch (event.type) {
      case 'KSYNC_KSC_COMMAND_RECEIVED':
        await emitEvent(db, event.type, event.payload, { message: `KSC command ${event.payload.command} received (${event.payload.commandId})` });
        return;
      case 'KSYNC_KSC_COMMAND_FAILED':
        await emitEvent(db, event.type, event.payload, { message: `KSC command ${event.payload.command} failed${event.payload.errorId ? ` with ${event.payload.errorId}` : ''}: ${event.payload.description}` });
        return;
      case 'KSYNC_KSC_TRIGGER_FIRED':
        await emitEvent(db, event.type, { ...event.payload }, { message: `${event.payload.eventCount} KSC event(s) started an incremental plan` });
        return;
      case 'KSYNC_KSC_UNREACHABLE':
        await emitEvent(db, event.type, event.payload, { message: `KSC at ${event.payload.ksc} is unreachable: ${event.payload.error}` });
        return;
    }
  };
}
