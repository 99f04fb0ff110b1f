/**
 * KSC backend commands and KSC event triggers: the two places where the KSC integration
 * (src/adapters/ksc/) hands work to the sync engine. `backendCommandHandlers()` gives the four
 * commands below; `incrementalPlanStarter()` starts an incremental plan for KSC events. Both run as
 * runs of their own (`sync_run` with trigger `ksc_command` / `ksc_event`), so `kics-sync runs`, the
 * audit and the events show what KSC caused.
 *
 * # The handler contract
 *
 * A handler is `(command: BackendCommand) => Promise<result>` (src/sync/ksc/console.ts):
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
import { access } from 'node:fs/promises';
import path from 'node:path';
import { BackendUnreachableError, CommandParamsError, type BackendCommand, type BackendCommandHandlers } from './console.js';
import type { KscInput, KscParams } from '../../adapters/ksc/params.js';
import type { KscServiceEvent } from './service.js';
import type { StartIncrementalPlan, TriggerCause } from './triggers.js';
import { KicsApiError } from '../../adapters/kics/index.js';
import type { Config } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import type { Sql } from '../../db/sql.js';
import { KicsSyncError, UsageError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PlanScope } from '../../reconcile/plan-schema.js';
import { checkApplicable, isSystemic } from '../apply/index.js';
import { emitEvent } from '../events/index.js';
import { loadPlanHeader, loadPlanItems, PlanNotFoundError } from '../plans/load.js';
import { resolveAddressSpace } from '../plans/address-space.js';
import { writeReportFile } from '../plans/report-file.js';
import { runApply } from '../runs/apply-run.js';
import type { RunContext } from '../runs/lifecycle.js';
import { runPlanRun } from '../runs/plan-run.js';
import { listRuns, loadRun, RunNotFoundError } from '../runs/store.js';
import { checkThreshold } from '../runs/threshold.js';
import { linkCommandRun } from './store.js';

export { BackendUnreachableError, CommandParamsError, type BackendCommand, type BackendCommandHandler, type BackendCommandHandlers } from './console.js';
export type { StartIncrementalPlan, TriggerCause } from './triggers.js';

/** What the engine needs to build handlers; a CLI command context is one. */
export interface EngineContext {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  config(): Promise<Config>;
  database(): Promise<Database>;
  /** Default home of reports. */
  dataDir(): Promise<string>;
}

/** The backend command handlers by `CMD_NAME`: plan, apply, status, report (contract above). */
export function backendCommandHandlers(ctx: EngineContext): BackendCommandHandlers {
  return {
    plan: (command) => planCommand(ctx, command),
    apply: (command) => applyCommand(ctx, command),
    status: (command) => statusCommand(ctx, command),
    report: (command) => reportCommand(ctx, command),
  };
}

/** Starts an incremental plan for KSC event triggers (trigger `ksc_event`, the events as its cause). */
export function incrementalPlanStarter(ctx: EngineContext): StartIncrementalPlan | undefined {
  return async (cause: TriggerCause) => {
    const run = await runContextOf(ctx, 'ksc_event', 'ksc:events', { ...cause }, ctx.signal);
    const { runId, plan } = await runPlanRun(run, { refresh: 'incremental' });
    ctx.logger.info({ run: runId, plan: plan.plan.id, events: cause.eventCount, ...plan.plan.summary.counts }, 'KSC events: incremental plan stored');
    return { runId, planId: plan.plan.id };
  };
}

async function runContextOf(ctx: EngineContext, trigger: 'ksc_command' | 'ksc_event', actor: string, cause: Record<string, unknown>, signal: AbortSignal): Promise<RunContext> {
  return { db: await ctx.database(), config: await ctx.config(), dataDir: await ctx.dataDir(), logger: ctx.logger, signal, trigger, actor, cause };
}

function commandRun(ctx: EngineContext, command: BackendCommand): Promise<RunContext> {
  return runContextOf(ctx, 'ksc_command', command.actor, { kscCommandId: command.id, command: command.name }, command.signal);
}

/** Links the KSC command to the run it caused. */
async function linkRun(db: Sql, command: BackendCommand, runId: number): Promise<void> {
  await linkCommandRun(db, command.id, runId);
}

// ---------------------------------------------------------------------------------------- commands

async function planCommand(ctx: EngineContext, command: BackendCommand): Promise<Record<string, KscInput>> {
  const run = await commandRun(ctx, command);
  const scope: PlanScope = {};
  const owner = stringParam(command.params, 'owner');
  if (owner !== undefined) scope.owner = owner;
  const sources = stringListParam(command.params, 'sources');
  if (sources !== undefined && sources.length > 0) scope.sources = sources;
  const device = intParam(command.params, 'device');
  if (device !== undefined) scope.deviceId = device;
  const space = command.params.addressSpace;
  if (space !== undefined && space !== null) scope.addressSpaceId = await addressSpaceId(run.db, space);
  const incremental = boolParam(command.params, 'incremental') ?? false;
  if (!run.config.kics) throw new BackendUnreachableError('the configuration has no kics section, so KICS cannot be read');

  let result;
  try {
    result = await runPlanRun(run, { scope, refresh: incremental ? 'incremental' : 'full' });
  } catch (error) {
    if (error instanceof UsageError) throw new CommandParamsError(error.message);
    throw error;
  }
  await linkRun(run.db, command, result.runId);
  const { plan } = result.plan;
  if (result.plan.refresh?.kics.error) {
    throw new BackendUnreachableError(`KICS could not be re-read (${result.plan.refresh.kics.error.message}); plan ${plan.id} was computed from the stored snapshot only`);
  }
  const threshold = await checkThreshold(run.db, plan.id, plan.summary, run.config.sync);
  return {
    planId: plan.id,
    runId: result.runId,
    status: threshold.exceeded ? 'held' : 'draft',
    summary: summaryOf(plan.summary.counts),
    changes: plan.summary.changes,
    reportPath: plan.reportPath ?? '',
    ...(threshold.exceeded ? { heldBecause: threshold.reasons } : {}),
  };
}

async function applyCommand(ctx: EngineContext, command: BackendCommand): Promise<Record<string, KscInput>> {
  const planId = intParam(command.params, 'planId', true);
  const force = boolParam(command.params, 'force') ?? false;
  const run = await commandRun(ctx, command);
  let header;
  try {
    header = await checkApplicable(run.db, planId, true);
  } catch (error) {
    if (error instanceof PlanNotFoundError || (error instanceof KicsSyncError && error.code.startsWith('PLAN_'))) throw new CommandParamsError(error.message);
    throw error;
  }
  // From KSC nobody reviews the report before the apply: the safety threshold holds unless waived.
  if (!force && (header.status === 'draft' || header.status === 'approved')) {
    const threshold = await checkThreshold(run.db, planId, header.summary, run.config.sync);
    if (threshold.exceeded) {
      await emitEvent(run.db, 'KSYNC_SAFETY_THRESHOLD_HIT', { planId, threshold, kscCommandId: command.id }, { message: `plan ${planId} not applied for KSC command ${command.id}: ${threshold.reasons.join('; ')}` });
      throw new CommandParamsError(`plan ${planId} exceeds the safety threshold: ${threshold.reasons.join('; ')}. Review its report and send apply again with force: true`);
    }
  }
  let outcome;
  try {
    outcome = await runApply(run, { planId, allowDraft: true });
  } catch (error) {
    if (error instanceof KicsApiError && isSystemic(error)) throw new BackendUnreachableError(error.message, { cause: error });
    throw error;
  }
  await linkRun(run.db, command, outcome.runId);
  const { apply } = outcome;
  if (apply.stopped?.reason === 'kics_unavailable' && apply.outcome.applied === 0) {
    throw new BackendUnreachableError(apply.stopped.error?.message ?? 'KICS cannot be used', { cause: apply.stopped.error });
  }
  return { planId, runId: outcome.runId, status: apply.status, outcome: { ...apply.outcome }, resumed: apply.resumed };
}

async function statusCommand(ctx: EngineContext, command: BackendCommand): Promise<Record<string, KscInput>> {
  const db = await ctx.database();
  const runId = intParam(command.params, 'runId');
  const planId = intParam(command.params, 'planId');
  if (planId !== undefined) {
    try {
      const plan = await loadPlanHeader(db, planId);
      const items = await db.query<{ status: string; n: number }>(`SELECT status::text AS status, count(*)::int AS n FROM plan_item WHERE plan_id = $1 GROUP BY status`, [planId]);
      return {
        planId,
        status: plan.status,
        createdAt: new Date(plan.createdAt),
        ...(plan.approvedBy ? { approvedBy: plan.approvedBy } : {}),
        counts: summaryOf(plan.summary.counts),
        items: Object.fromEntries(items.map((i) => [i.status, i.n])),
      };
    } catch (error) {
      if (error instanceof PlanNotFoundError) throw new CommandParamsError(error.message);
      throw error;
    }
  }
  let run;
  if (runId !== undefined) {
    try {
      run = await loadRun(db, runId);
    } catch (error) {
      if (error instanceof RunNotFoundError) throw new CommandParamsError(error.message);
      throw error;
    }
  } else {
    [run] = await listRuns(db, { limit: 1 });
    if (!run) throw new CommandParamsError('no run has been recorded yet');
  }
  return {
    runId: run.id,
    mode: run.mode,
    status: run.status,
    trigger: run.trigger,
    actor: run.actor,
    startedAt: run.startedAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    ...(run.planIds.length ? { planIds: run.planIds } : {}),
    counts: numbersOf(run.counts),
    ...(run.error ? { error: run.error } : {}),
  };
}

async function reportCommand(ctx: EngineContext, command: BackendCommand): Promise<Record<string, KscInput>> {
  const planId = intParam(command.params, 'planId', true);
  const db = await ctx.database();
  let header;
  try {
    header = await loadPlanHeader(db, planId);
  } catch (error) {
    if (error instanceof PlanNotFoundError) throw new CommandParamsError(error.message);
    throw error;
  }
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM plan_item WHERE plan_id = $1`, [planId]);
  let reportPath = header.reportPath ?? null;
  if (!reportPath || !(await exists(reportPath))) {
    // The report file was removed (or never written): write it again where plans put reports.
    const config = await ctx.config();
    const dir = config.sync.reportDir ?? path.join(await ctx.dataDir(), 'reports');
    reportPath = await writeReportFile(reportPath ?? path.join(dir, `plan-${planId}.html`), 'html', header, loadPlanItems(db, planId));
  }
  return { planId, status: header.status, summary: summaryOf(header.summary.counts), changes: header.summary.changes, items: row?.n ?? 0, reportPath };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

// -------------------------------------------------------------------------------------- parameters

function summaryOf(counts: Record<string, number>): Record<string, number> {
  const keys = ['create', 'update', 'upload_config', 'recognize', 'archive', 'delete', 'conflict', 'unknown', 'stale', 'unchanged'];
  return Object.fromEntries(keys.map((k) => [k, counts[k] ?? 0]));
}

/** The numbers among a run's counts (KSC params carry no free-form JSON). */
function numbersOf(counts: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

function stringParam(params: KscParams, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new CommandParamsError(`${name} must be a non-empty string; found ${describe(value)}`);
  return value;
}

function stringListParam(params: KscParams, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new CommandParamsError(`${name} must be a list of strings; found ${describe(value)}`);
  return value;
}

function intParam(params: KscParams, name: string, required: true): number;
function intParam(params: KscParams, name: string, required?: false): number | undefined;
function intParam(params: KscParams, name: string, required = false): number | undefined {
  const value = params[name];
  if (value === undefined || value === null) {
    if (required) throw new CommandParamsError(`${name} is required`);
    return undefined;
  }
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new CommandParamsError(`${name} must be a positive integer; found ${describe(value)}`);
  return n;
}

function boolParam(params: KscParams, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new CommandParamsError(`${name} must be true or false; found ${describe(value)}`);
  return value;
}

/** An address space given by id or by name (as KICS names it). */
async function addressSpaceId(db: Sql, value: unknown): Promise<number> {
  const resolved = await resolveAddressSpace(db, value);
  if ('problem' in resolved) throw new CommandParamsError(`addressSpace ${describe(value)}: ${resolved.problem}`);
  return resolved.id;
}

function describe(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
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
