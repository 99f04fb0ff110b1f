import { ConfigError } from '../../errors.js';

/**
 * The engine's event catalogue, modelled on KSC's: each type has a numeric id (for third-party
 * tools), an alphabetic code (for views and SIEM export), an importance level, a description of
 * when it occurs and what to do, and a default storage term in days. docs/events.md shows the same
 * table; a test keeps the two in step.
 */
export const severities = ['critical', 'functional_failure', 'warning', 'info'] as const;
export type Severity = (typeof severities)[number];

export const severityNames: Record<Severity, string> = {
  critical: 'Critical',
  functional_failure: 'Functional failure',
  warning: 'Warning',
  info: 'Info',
};

/** Lower is more severe. */
const severityRank: Record<Severity, number> = { critical: 0, functional_failure: 1, warning: 2, info: 3 };

export interface EngineEventType {
  id: number;
  code: string;
  severity: Severity;
  /** Display name. */
  name: string;
  /** When it occurs, and what to do. */
  description: string;
  /** Days an event of this type is kept (events.retention overrides it). */
  storageDays: number;
}

const day = { critical: 180, functional_failure: 90, warning: 90, info: 30 } as const;

function type<C extends string>(id: number, code: C, severity: Severity, name: string, description: string, storageDays: number = day[severity]): EngineEventType & { code: C } {
  return { id, code, severity, name, description, storageDays };
}

export const engineEventTypes = [
  // Critical
  type(9001, 'KSYNC_RUN_FAILED', 'critical', 'Run failed', 'A run stopped with an error before it finished (payload: run id, step, error). Items applied before the failure stay applied and audited; the rest are untouched. Fix the cause named in the error, then run again; an interrupted apply resumes.'),
  type(9002, 'KSYNC_KICS_AUTH_FAILED', 'critical', 'KICS refused the connector', 'KICS refused the connector certificate or token. This happens when the communication data package was regenerated in KICS or the connector was deleted. Download the package again and update kics.package.'),

  // Functional failure
  type(9101, 'KSYNC_WRITE_FAILED', 'functional_failure', 'Write to KICS failed', 'A change to a KICS device failed after its retries (payload: plan, item, device, HTTP status, KICS errors). The item is recorded as failed; the rest of the plan continues unless the run was told to stop at the first failure.'),
  type(9102, 'KSYNC_SOURCE_UNREACHABLE', 'functional_failure', 'Source unreachable', 'A source could not be read (payload: source, error). Its staged records keep their last state; other sources are read as usual. Records of a source that stays unreachable become stale after staleAfterDays.'),
  type(9103, 'KSYNC_KICS_UNREACHABLE', 'functional_failure', 'KICS unreachable', 'KICS for Networks could not be reached after retries (payload: URL, error). Runs stop before writing; KSC backend commands are answered ERR_NO_BACKEND.'),
  type(9104, 'KSYNC_KSC_UNREACHABLE', 'functional_failure', 'KSC unreachable', 'Kaspersky Security Center stopped answering while kics-sync polled it for commands and events (payload: URL, error). Polling continues with back-off; the event is recorded once per outage.'),
  type(9105, 'KSYNC_KSC_COMMAND_FAILED', 'functional_failure', 'KSC command failed', 'A KSC backend command was answered with an error (payload: command id, command, error id such as ERR_NOT_SUPPORTED or ERR_NO_BACKEND, description).'),
  type(9106, 'KSYNC_RUN_PARTIAL', 'functional_failure', 'Run finished with failures', 'A run finished, but some plan items failed (payload: run id, counts). See the run report for the failed items; applying the same plan again retries only them.'),

  // Warning
  type(9201, 'KSYNC_SAFETY_THRESHOLD_HIT', 'warning', 'Safety threshold hit', 'A plan would change more devices than sync.maxChangeShare allows or create more than sync.maxCreates (payload: plan id, counts, thresholds). The run stopped after planning; the plan waits for review and an explicit apply.'),
  type(9202, 'KSYNC_CONFLICT_FOUND', 'warning', 'Conflict found', 'Sources and KICS disagree on the identity of a device, e.g. one MAC on two devices (payload: plan, kind, both sides). The device is not touched until the conflict is resolved at the source.'),
  type(9203, 'KSYNC_DRIFT_FOUND', 'warning', 'Drift found', 'A device changed in KICS between planning and applying (payload: plan item, device, field). The item was skipped as drifted; plan again to include the new state.'),
  type(9204, 'KSYNC_PLAN_EXPIRED', 'warning', 'Plan expired', 'A plan can no longer be applied because the data it was computed from changed since: refused at apply, or expired by a newer plan (payload: plan id or ids). Plan again.'),
  type(9205, 'KSYNC_SOURCE_REJECTS', 'warning', 'Source records rejected', 'A source delivered records that could not be used (payload: source, count, rejects file). The valid records were staged; the rejects file names each rejected record and why.'),
  type(9206, 'KSYNC_SOURCE_STALE', 'warning', 'Source records stale', 'Records of a source were not confirmed within its staleAfterDays (payload: source, count). They lose their precedence until the source confirms them again.'),
  type(9207, 'KSYNC_RUN_INTERRUPTED', 'warning', 'Run interrupted', 'A run was stopped by SIGINT / SIGTERM (payload: run id, step). An interrupted apply resumes with the next apply of the same plan.'),
  type(9208, 'KSYNC_KICS_SNAPSHOT_USED', 'warning', 'KICS snapshot used without re-read', 'A plan could not re-read KICS and was computed from the stored snapshot (payload: error, the time the snapshot was read). sync holds such a plan; its report carries a banner saying so. Check that KICS is reachable, then plan again.'),
  type(9209, 'KSYNC_KICS_INCREMENTAL_FALLBACK', 'warning', 'Incremental KICS read done in full', 'KICS refused or ignored the LastModified filter of an incremental read (the connector API document names no device filter fields), so every device was read (payload: refused or ignored, the time asked for). Nothing is lost; reads of a large KICS take longer.'),

  // Info
  type(9301, 'KSYNC_RUN_STARTED', 'info', 'Run started', 'A run started (payload: run id, trigger, actor, mode, scope).'),
  type(9302, 'KSYNC_RUN_FINISHED', 'info', 'Run finished', 'A run finished without failures (payload: run id, counts, duration).'),
  type(9303, 'KSYNC_PLAN_CREATED', 'info', 'Plan created', 'A plan was computed and stored (payload: plan id, counts, report path).'),
  type(9304, 'KSYNC_PLAN_APPLIED', 'info', 'Plan applied', 'A plan was applied (payload: plan id, outcome counts).'),
  type(9305, 'KSYNC_KSC_COMMAND_RECEIVED', 'info', 'KSC command received', 'A KSC backend command reached the service console (payload: command id, command). Each command id is handled once.'),
  type(9306, 'KSYNC_KSC_TRIGGER_FIRED', 'info', 'KSC events started a plan', 'KSC events (new device detected, device discovered by NAC, device name conflict) started an incremental plan (payload: event count, the first events).'),
  type(9307, 'KSYNC_EVENTS_PURGED', 'info', 'Events purged', 'Events past their storage term were deleted (payload: count per type). Audit records are never purged.'),
] as const;

const byId = new Map<number, EngineEventType>(engineEventTypes.map((t) => [t.id, t]));
const byCode = new Map<string, EngineEventType>(engineEventTypes.map((t) => [t.code, t]));

export type EngineEventCode = (typeof engineEventTypes)[number]['code'];

/** The type with this id or code, or undefined. */
export function findEventType(key: number | string): EngineEventType | undefined {
  if (typeof key === 'number') return byId.get(key);
  if (/^\d+$/.test(key)) return byId.get(Number(key));
  return byCode.get(key.toUpperCase());
}

/** The type with this id or code; throws for one the catalogue does not have. */
export function eventType(key: EngineEventCode | number): EngineEventType {
  const found = findEventType(key);
  if (!found) throw new Error(`no engine event type ${JSON.stringify(key)} in the catalogue (src/sync/events/catalogue.ts)`);
  return found;
}

/** Parses `critical`, `Functional failure`, `functional-failure`... */
export function parseSeverity(text: string): Severity | undefined {
  const normal = text.trim().toLowerCase().replace(/[\s-]+/g, '_');
  return (severities as readonly string[]).includes(normal) ? (normal as Severity) : undefined;
}

/** The severities at least as severe as `min`, e.g. warning -> critical, functional_failure, warning. */
export function severitiesAtLeast(min: Severity): Severity[] {
  return severities.filter((s) => severityRank[s] <= severityRank[min]);
}

/**
 * Storage term per type id: the catalogue's default, overridden by `events.retention` (keys are ids
 * or codes). A key the catalogue does not know is a configuration error, not silently ignored.
 */
export function resolveRetention(overrides: Readonly<Record<string, number>> = {}): Map<number, number> {
  const terms = new Map(engineEventTypes.map((t) => [t.id, t.storageDays]));
  for (const [key, days] of Object.entries(overrides)) {
    const found = findEventType(key);
    if (!found) throw new ConfigError(`events.retention.${key}: no engine event type has the id or code ${JSON.stringify(key)} (the catalogue is in docs/events.md)`);
    if (!Number.isInteger(days) || days < 0) throw new ConfigError(`events.retention.${key}: expected a number of days (0 or more); found ${JSON.stringify(days)}`);
    terms.set(found.id, days);
  }
  return terms;
}
