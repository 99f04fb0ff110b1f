import { createKicsClient, KicsApiError, type KicsClient } from '../../adapters/kics/index.js';
import type { Config } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import { ConfigError, KicsSyncError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { EventRegistration } from '../../model/kics.js';
import type { Sql } from '../../db/sql.js';
import { insertAuditRecord } from '../audit/store.js';
import type { RefreshResult } from '../plans/run.js';
import { kicsSourceName } from '../staging/kics/store.js';
import type { StageOutcome } from '../staging/source/stage.js';
import { emitEvent, type EngineEventCode } from '../events/index.js';
import { finishRun, type RunStatus, type RunTrigger } from './store.js';

/** What a run needs, whoever starts it: the CLI, the scheduler, a KSC command or KSC events. */
export interface RunContext {
  db: Database;
  config: Config;
  /** Default home of reports and rejects files. */
  dataDir: string;
  logger: Logger;
  /** Aborted by SIGTERM / SIGINT (or the KSC service stopping): stop at the next safe point. */
  signal: AbortSignal;
  trigger: RunTrigger;
  /** `cron`, the OS user of a CLI run, or `ksc:<command id>`. */
  actor: string;
  /** What caused the run when it was not a person. */
  cause?: Record<string, unknown> | null;
  /** The KICS client (default: one for the `kics` section, closed when the run ends). */
  kicsClient?: () => Promise<KicsClient>;
  /** Progress of long steps (a bar on a terminal, log lines otherwise). */
  progress?: ((label: string, total: number) => { increment(): void; stop(): void }) | undefined;
}

/** The KICS client of a run, and how to let go of it. */
export async function openKics(ctx: RunContext): Promise<{ client: KicsClient; close: () => Promise<void> }> {
  if (ctx.kicsClient) return { client: await ctx.kicsClient(), close: async () => {} };
  if (!ctx.config.kics) throw new ConfigError('the configuration has no kics section (kics.url and kics.package or kics.pem): kics-sync cannot reach KICS');
  const client = await createKicsClient(ctx.config.kics, { logger: ctx.logger });
  return { client, close: () => client.close() };
}

export interface RunEnd {
  status: Exclude<RunStatus, 'running'>;
  counts?: Record<string, unknown>;
  timings?: Record<string, number>;
  error?: string | null;
  events: { type: EngineEventCode; payload: Record<string, unknown>; message: string }[];
}

/** Records how a run ended and its engine events, in one transaction. */
export async function endRun(db: Database, runId: number, end: RunEnd): Promise<void> {
  await db.transaction(async (tx) => {
    await finishRun(tx, runId, end.status, { ...(end.counts ? { counts: end.counts } : {}), ...(end.timings ? { timings: end.timings } : {}), error: end.error ?? null });
    for (const event of end.events) await emitEvent(tx, event.type, { runId, ...event.payload }, { runId, message: event.message });
  });
}

/** The run-level events of a run that ended with an error. */
export function failureEvents(runId: number, step: string, error: unknown, interrupted: boolean): RunEnd['events'] {
  const message = errorMessage(error);
  if (interrupted) return [{ type: 'KSYNC_RUN_INTERRUPTED', payload: { step }, message: `run ${runId} stopped by a signal during ${step}; an interrupted apply resumes with the next apply of the same plan` }];
  const events: RunEnd['events'] = [{ type: 'KSYNC_RUN_FAILED', payload: { step, error: message, code: error instanceof KicsSyncError ? error.code : 'INTERNAL' }, message: `run ${runId} failed during ${step}: ${message}` }];
  if (error instanceof KicsApiError) events.push(...kicsProblemEvents(error.code, message));
  return events;
}

/** `KSYNC_KICS_AUTH_FAILED` or `KSYNC_KICS_UNREACHABLE` for a KICS error of that kind, none otherwise. */
function kicsProblemEvents(code: string, message: string): RunEnd['events'] {
  if (code === 'KICS_AUTH_FAILED' || code === 'KICS_TLS_CLIENT_REFUSED' || code === 'KICS_FORBIDDEN') {
    return [{ type: 'KSYNC_KICS_AUTH_FAILED', payload: { code, error: message }, message: `KICS refused the connector: ${message}` }];
  }
  if (code === 'KICS_UNREACHABLE' || code === 'KICS_TIMEOUT' || code.startsWith('KICS_TLS')) {
    return [{ type: 'KSYNC_KICS_UNREACHABLE', payload: { code, error: message }, message: `KICS could not be reached: ${message}` }];
  }
  return [];
}

/**
 * `sync.registerKicsEvent`: one event in KICS with the run's summary, so KICS operators see what
 * changed and who did it. A write to KICS like any other, so it has its audit row. Its failure is
 * logged and audited; it never changes the run's outcome.
 */
export async function registerRunEvent(ctx: RunContext, client: KicsClient, runId: number, planId: number, outcome: Record<string, number>, startedAt: Date): Promise<void> {
  const total = Object.values(outcome).reduce((a, b) => a + b, 0);
  const event = {
    title: `kics-sync run ${runId}: ${outcome.applied ?? 0} applied, ${outcome.drifted ?? 0} drifted, ${outcome.failed ?? 0} failed`,
    description: `kics-sync applied plan ${planId} to KICS (${total} item(s)): ${Object.entries(outcome).map(([k, v]) => `${k} ${v}`).join(', ')}. Started by ${ctx.actor} (${ctx.trigger}).`,
    score: 0,
    startTime: startedAt.toISOString(),
    endTime: new Date().toISOString(),
    origin: 'System' as const,
    params: { runId: String(runId), planId: String(planId), actor: ctx.actor, trigger: ctx.trigger, ...Object.fromEntries(Object.entries(outcome).map(([k, v]) => [k, String(v)])) },
  };
  await registerAuditedEvent({ db: ctx.db, client, logger: ctx.logger, actor: ctx.actor }, event, { runId, planId, deviceId: null }, 'could not register the run summary event in KICS');
}

/**
 * Registers one event in KICS (`POST events`) and writes its audit row, as every write to KICS has:
 * the request, the answer or the error. A failure is logged and returned, never thrown.
 */
export async function registerAuditedEvent(
  ctx: { db: Database; client: KicsClient; logger: Logger; actor: string },
  event: EventRegistration,
  refs: { runId: number; planId: number; deviceId: number | null },
  failureMessage: string,
): Promise<{ eventId: number | null } | { error: Error }> {
  let answer: { eventId: number | null; recovered?: boolean } | null = null;
  let failure: Error | null = null;
  try {
    answer = await ctx.client.registerEvent(event);
  } catch (error) {
    failure = error instanceof Error ? error : new Error(errorMessage(error));
    ctx.logger.warn({ err: failure.message, ...(refs.deviceId === null ? {} : { deviceId: refs.deviceId }) }, failureMessage);
  }
  await insertAuditRecord(ctx.db, {
    actor: ctx.actor,
    runId: refs.runId,
    planId: refs.planId,
    planItemId: null,
    deviceId: refs.deviceId,
    operation: 'register_event',
    request: { method: 'POST', route: 'eventRegister', body: event },
    httpStatus: failure ? (failure instanceof KicsApiError ? failure.status : null) : answer?.recovered ? null : 200,
    outcome: failure ? 'failed' : 'applied',
    kicsResult: failure ? { error: failure.message } : answer,
    before: null,
    after: null,
  });
  return failure ? { error: failure } : answer!;
}

/**
 * The events of a read of the sources, wherever it happens (`sources pull`, the refresh before a plan):
 * `KSYNC_SOURCE_REJECTS` for a read that rejected records, `KSYNC_SOURCE_UNREACHABLE` for a source that
 * could not be read (its staged records were kept).
 */
export function sourceReadEvents(outcomes: readonly StageOutcome[]): RunEnd['events'] {
  const events: RunEnd['events'] = [];
  for (const o of outcomes) {
    if (!o.ok) {
      events.push({ type: 'KSYNC_SOURCE_UNREACHABLE', payload: { source: o.source, code: o.error.code, error: o.error.message }, message: `source ${o.source} could not be read (${o.error.message}); its staged records were kept` });
    } else if (o.rejected > 0) {
      events.push({
        type: 'KSYNC_SOURCE_REJECTS',
        payload: { source: o.source, count: o.rejected, rejectsFile: o.rejectsFile ?? null },
        message: `source ${o.source}: ${o.rejected} record(s) rejected${o.rejectsFile ? `, listed with the reason in ${o.rejectsFile}` : ''}`,
      });
    }
  }
  return events;
}

/**
 * The events of what a plan was computed from: the source reads (above), `KSYNC_KICS_SNAPSHOT_USED` when
 * KICS could not be re-read and the stored snapshot was used, and `KSYNC_SOURCE_STALE` per source whose
 * records were not confirmed within its `staleAfterDays`.
 */
export async function planInputEvents(db: Sql, config: Config, refresh: RefreshResult | null, now: Date): Promise<RunEnd['events']> {
  const events = sourceReadEvents(refresh?.sources ?? []);
  if (refresh?.kics.error) {
    const [kics] = await db.query<{ read_at: Date | null }>(`SELECT last_success_at AS read_at FROM source WHERE name = $1`, [kicsSourceName]);
    const readAt = kics?.read_at?.toISOString() ?? null;
    events.push({
      type: 'KSYNC_KICS_SNAPSHOT_USED',
      payload: { error: refresh.kics.error.message, code: refresh.kics.error.code, snapshotReadAt: readAt },
      message: `KICS could not be re-read (${refresh.kics.error.message}); the plan used the snapshot read at ${readAt ?? 'never (empty snapshot)'}`,
    });
    // What kept KICS from being read is said too: a refused connector or an unreachable server.
    const cause = refresh.kics.error.cause ?? refresh.kics.error.code;
    events.push(...kicsProblemEvents(cause, refresh.kics.error.message));
  }
  const windows = config.sources.filter((s) => s.enabled && s.staleAfterDays !== undefined);
  if (windows.length > 0) {
    const rows = await db.query<{ name: string; read_at: Date | null; records: number }>(
      `SELECT s.name, s.last_success_at AS read_at, (SELECT count(*)::int FROM source_record r WHERE r.source_id = s.id AND r.missing_since IS NULL) AS records
         FROM source s WHERE s.name = ANY($1::text[])`,
      [windows.map((s) => s.name)],
    );
    for (const source of windows) {
      const row = rows.find((r) => r.name === source.name);
      if (!row || row.records === 0) continue;
      const days = source.staleAfterDays!;
      if (row.read_at !== null && now.getTime() - row.read_at.getTime() <= days * 86_400_000) continue;
      events.push({
        type: 'KSYNC_SOURCE_STALE',
        payload: { source: source.name, count: row.records, staleAfterDays: days, lastReadAt: row.read_at?.toISOString() ?? null },
        message: `source ${source.name}: ${row.records} record(s) not confirmed within ${days} day(s) (last read ${row.read_at?.toISOString() ?? 'never'}); they lose their precedence`,
      });
    }
  }
  return events;
}

/**
 * The events of a stored plan: `KSYNC_PLAN_CREATED`, and one `KSYNC_CONFLICT_FOUND` per conflict kind
 * (with the count and the first items) rather than one per conflict, so a plant with thousands of
 * identity problems does not flood the event table.
 */
export async function planEvents(
  db: Database,
  runId: number,
  plan: { id: number; summary: { counts: Record<string, number>; conflictsByKind: Record<string, number> }; reportPath?: string | null | undefined },
  expired: readonly number[] = [],
): Promise<RunEnd['events']> {
  const events: RunEnd['events'] = [
    { type: 'KSYNC_PLAN_CREATED', payload: { planId: plan.id, counts: plan.summary.counts, report: plan.reportPath ?? null }, message: `plan ${plan.id} stored (run ${runId})` },
  ];
  if (expired.length > 0) {
    events.push({
      type: 'KSYNC_PLAN_EXPIRED',
      payload: { planIds: [...expired], by: plan.id },
      message: `plan(s) ${expired.join(', ')} expired: the data they were computed from moved on (plan ${plan.id} is computed from the new data)`,
    });
  }
  for (const [kind, count] of Object.entries(plan.summary.conflictsByKind)) {
    if (count === 0) continue;
    const samples = await db.query<{ seq: number; kics_device_id: number | null; device_name: string | null; reason: string | null }>(
      `SELECT seq, kics_device_id, device_name, reason FROM plan_item WHERE plan_id = $1 AND action = 'conflict' AND conflict->>'kind' = $2 ORDER BY seq LIMIT 5`,
      [plan.id, kind],
    );
    events.push({
      type: 'KSYNC_CONFLICT_FOUND',
      payload: { planId: plan.id, kind, count, items: samples.map((s) => ({ seq: s.seq, deviceId: s.kics_device_id, deviceName: s.device_name, reason: s.reason })) },
      message: `plan ${plan.id}: ${count} conflict(s) of kind ${kind}; the devices involved are not touched until the sources are corrected`,
    });
  }
  return events;
}
