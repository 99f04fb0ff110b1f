import path from 'node:path';
import { selectSources } from '../../adapters/index.js';
import { KicsApiError } from '../../adapters/kics/index.js';
import type { Config } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import { KicsSyncError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ouiVendor } from '../../model/oui.js';
import type { KeyAssertions } from '../../reconcile/keys.js';
import type { PlanBasis, PlanHeader, PlanScope, PlanValue } from '../../reconcile/plan-schema.js';
import { inSiteScope } from '../../config/sites.js';
import { reconcile } from '../../reconcile/reconcile.js';
import type { ReportFormat } from '../../reconcile/report/index.js';
import { cleanedText, fallbackText, type KicsStageSummary } from '../staging/kics/stage.js';
import type { StageMode, StageOutcome } from '../staging/source/stage.js';
import { rejectsFileOf, stageConfiguredSources } from '../staging/sources.js';
import { expireStalePlans } from './basis.js';
import { checkConfigFiles, referencedConfigFiles } from './config-files.js';
import { loadStagedInput } from './input.js';
import { copyPlanWithInputs, planInputsHash } from './reuse.js';
import { writeReportFile } from './report-file.js';
import { planInputs } from './inputs.js';
import { setPlanInputs, setPlanReportPath, storePlan } from './store.js';

/**
 * The plan pipeline, one function for `plan`, `sync` and the scheduler:
 *   refresh inputs (sources, then KICS) -> expire plans whose basis moved on -> load the staged input
 *   in one snapshot -> check industrial configuration files -> reconcile -> store the plan -> write
 *   the report.
 * A source that fails to refresh does not stop the plan: its earlier staging is used and the failure
 * is reported (and the command exits 1).
 */

/** Re-reads KICS into the snapshot (`source` row `kics`, `kics_device`, `kics_address_space`). */
export type KicsRefresh = (db: Database, options: { mode: StageMode; logger: Logger; signal?: AbortSignal | undefined }) => Promise<Pick<KicsStageSummary, 'cleaned' | 'filterFallback'>>;

export interface RunPlanOptions {
  config: Config;
  /** The data directory: default home of reports (<dataDir>/reports) and rejects files. */
  dataDir: string;
  scope?: PlanScope;
  /** `incremental` (default) or `full` re-reads before planning; `none` plans from what is staged. */
  refresh?: StageMode | 'none';
  /** Where the report goes; default <sync.reportDir>/plan-<id>.html. */
  reportFile?: string;
  reportFormat?: ReportFormat;
  logger: Logger;
  signal?: AbortSignal;
  runId?: number | null;
  /** The clock (tests pin it). */
  now?: () => Date;
  /** Vendor of a MAC's OUI; default the IEEE registry (src/model/oui.ts). */
  vendorFromMac?: (mac: string) => string | undefined;
  /** How KICS is re-read before planning; without it the plan uses the stored snapshot. */
  refreshKics?: KicsRefresh;
  /** Progress of the refresh, for bars on a terminal. */
  onSourceProgress?: (progress: { source: string; read: number; expected?: number }) => void;
}

export interface RefreshResult {
  sources: StageOutcome[];
  /** `error.cause`: the code of the KICS API error behind the failed read (e.g. KICS_UNREACHABLE), when there is one. */
  kics: { refreshed: boolean; error?: { code: string; message: string; cause?: string }; cleaned?: KicsStageSummary['cleaned']; filterFallback?: KicsStageSummary['filterFallback'] };
}

export interface RunPlanResult {
  plan: PlanHeader & { id: number };
  /** The computed plan, items included (what was stored). */
  value: PlanValue;
  refresh: RefreshResult | null;
  /** Plans this run found expired (their basis moved on). */
  expired: number[];
  /** Milliseconds per step. */
  timings: Record<string, number>;
  /** One line per input that failed to refresh. */
  failures: string[];
  /** What the user should know about the inputs read, that did not fail them (e.g. values cleaned). */
  notes: string[];
}

/** The enabled sources in precedence order: what every plan is computed from (a scope only filters items). */
export function planSources(config: Config): { name: string; staleAfterDays?: number | undefined }[] {
  // Precedence follows the configured order, except that KSC managed hosts rank below every CMDB and
  // file by default: KSC knows hosts as an endpoint console sees them, not as the plant's inventory.
  const enabled = config.sources.filter((s) => s.enabled);
  const ordered = [...enabled.filter((s) => s.type !== 'ksc'), ...enabled.filter((s) => s.type === 'ksc')];
  return ordered.map((s) => ({ name: s.name, staleAfterDays: s.staleAfterDays }));
}

export async function runPlan(db: Database, options: RunPlanOptions): Promise<RunPlanResult> {
  const { config, logger, signal } = options;
  const timings: Record<string, number> = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    signal?.throwIfAborted();
    const started = performance.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round(performance.now() - started);
    }
  };
  const scope = options.scope ?? {};
  // Refuses unknown or disabled names before anything is read.
  const scopedSources = selectSources(config, scope.sources ?? []);

  const refresh = options.refresh === 'none' ? null : await step('refresh', () => refreshInputs(db, scopedSources.map((s) => s.name), options));
  const failures = refresh ? describeFailures(refresh) : [];
  const cleaned = refresh?.kics.cleaned ? cleanedText(refresh.kics.cleaned) : null;
  const notes = [...(cleaned === null ? [] : [cleaned]), ...(refresh?.kics.filterFallback ? [fallbackText(refresh.kics.filterFallback)] : [])];

  const expired = await step('expire', () => expireStalePlans(db));
  if (expired.length > 0) logger.info({ plans: expired }, 'plans expired: their inputs moved on');

  const sources = planSources(config);
  const now = (options.now ?? (() => new Date()))();
  const inputs = await step('inputs', () => planInputsHash(db, { config, sources, scope, now }));
  // Nothing the plan depends on moved since a stored plan: copy its items (src/sync/plans/reuse.ts).
  const reused = inputs && options.refresh !== 'full' && !options.vendorFromMac ? await step('reuse', () => copyPlanWithInputs(db, inputs.hash, { runId: options.runId ?? null, now })) : null;
  const { id, value } = reused ? { id: reused.header.id!, value: reused } : await computePlan(db, options, { sources, scope, now, inputs, step });

  const sourceFiles = sources.map((s) => ({ name: s.name, rejectsFile: rejectsFileOf(config.sources.find((c) => c.name === s.name)!, options.dataDir) }));
  value.header.summary.inputs = await step('freshness', () => planInputs(db, sourceFiles, refresh));
  await setPlanInputs(db, id, value.header.summary.inputs);

  const format = options.reportFormat ?? 'html';
  const reportDir = config.sync.reportDir ?? path.join(options.dataDir, 'reports');
  const file = options.reportFile ?? path.join(reportDir, `plan-${id}.${format}`);
  const reportPath = await step('report', () => writeReportFile(file, format, value.header, value.items));
  await setPlanReportPath(db, id, reportPath);
  value.header.reportPath = reportPath;

  logger.info({ plan: id, ...value.header.summary.counts, report: reportPath, ms: timings, ...(reused ? { reusedItems: true } : {}) }, 'plan stored');
  return { plan: { ...value.header, id }, value, refresh, expired, timings, failures, notes };
}

/** Load, reconcile and store: the plan computed from the staged rows. */
async function computePlan(
  db: Database,
  options: RunPlanOptions,
  context: { sources: ReturnType<typeof planSources>; scope: PlanScope; now: Date; inputs: { hash: string; basis: PlanBasis } | null; step: <T>(name: string, fn: () => Promise<T>) => Promise<T> },
): Promise<{ id: number; value: PlanValue }> {
  const { config } = options;
  const { sources, scope, now, inputs, step } = context;
  const staged = await step('load', () => loadStagedInput(db, sources.map((s) => s.name), now));
  // A site reading shared sources plans only the records its scope covers (src/config/sites.ts).
  const siteScope = config.site?.scope;
  if (siteScope !== undefined) staged.records = staged.records.filter((r) => inSiteScope(siteScope, { owner: r.owner, addressSpaces: r.asset.interfaces.map((i) => i.addressSpace) }));
  const configFiles = await step('configFiles', () => checkConfigFiles(referencedConfigFiles(staged.records), config.reconcile.industrialConfig.root));

  const value = await step('reconcile', async () =>
    reconcile({
      now,
      config: config.reconcile,
      sources,
      records: staged.records,
      devices: staged.devices,
      addressSpaces: staged.addressSpaces,
      lastUploads: staged.lastUploads,
      assertedAddresses: staged.assertedAddresses,
      decisions: staged.decisions,
      configFiles,
      scope,
      basis: staged.basis,
      vendorFromMac: options.vendorFromMac ?? ouiVendor,
    }),
  );
  // The inputs hash is kept only when it describes the snapshot the plan was computed from.
  const inputsHash = inputs && JSON.stringify(inputs.basis) === JSON.stringify(staged.basis) ? inputs.hash : null;
  const id = await step('store', () => storePlan(db, value, { runId: options.runId ?? null, inputsHash }));
  // What the sources assert now is remembered, so that a later plan can remove an address none asserts any more.
  if (value.newAssertions && value.newAssertions.length > 0) await step('assertions', () => rememberAssertions(db, value.newAssertions!));
  value.header.id = id;
  return { id, value };
}

/** The refresh step: the scoped sources (all enabled ones by default), then KICS. */
async function refreshInputs(db: Database, sourceNames: readonly string[], options: RunPlanOptions): Promise<RefreshResult> {
  const { config, logger, signal } = options;
  const mode: StageMode = options.refresh === 'full' ? 'full' : 'incremental';
  // The sources and KICS are read side by side: on PostgreSQL the sources in a thread of their own, so
  // that parsing them does not take turns with KICS's pages; on PGlite, whose transactions take turns
  // anyway, in this thread (a large CSV parsed in a thread of its own), one waiting on a file or a CMDB
  // while the other waits on KICS (src/sync/staging/sources.ts). A broken mapping table throws here,
  // before any read starts.
  const sourcesRead = stageConfiguredSources(db, config, { sourceNames, mode, logger, signal, dataDir: options.dataDir, onProgress: options.onSourceProgress });
  const kicsRead = (async (): Promise<RefreshResult['kics']> => {
    const kics: RefreshResult['kics'] = { refreshed: false };
    if (!options.refreshKics) {
      logger.info('KICS not re-read before planning: planning against the stored snapshot');
      return kics;
    }
    try {
      const staged = await options.refreshKics(db, { mode, logger, signal });
      kics.refreshed = true;
      if (staged.cleaned.count > 0) kics.cleaned = staged.cleaned;
      if (staged.filterFallback) kics.filterFallback = staged.filterFallback;
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const cause = kicsApiCause(error);
      kics.error = { code: error instanceof KicsSyncError ? error.code : 'INTERNAL', message: errorMessage(error), ...(cause ? { cause: cause.code } : {}) };
      logger.error({ code: kics.error.code, err: kics.error.message }, 'KICS not refreshed; planning against the stored snapshot');
    }
    return kics;
  })();
  // Both settle before anything is thrown: neither is left writing to the database behind an error.
  const [sourcesDone, kicsDone] = await Promise.allSettled([sourcesRead, kicsRead]);
  if (sourcesDone.status === 'rejected') throw sourcesDone.reason;
  if (kicsDone.status === 'rejected') throw kicsDone.reason;
  const outcomes = sourcesDone.value;
  const kics = kicsDone.value;
  return { sources: outcomes, kics };
}

/** The KICS API error in an error's cause chain. */
function kicsApiCause(error: unknown): KicsApiError | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) if (e instanceof KicsApiError) return e;
  return null;
}

function describeFailures(refresh: RefreshResult): string[] {
  const lines = refresh.sources.filter((o) => !o.ok).map((o) => `source ${o.source} not refreshed (${o.error.message}); its earlier staging was used`);
  if (refresh.kics.error) lines.push(`KICS not refreshed (${refresh.kics.error.message}); the stored snapshot was used`);
  return lines;
}

/** Remembers addresses sources asserted for devices (`address_assertion`), in one statement per 50,000. */
async function rememberAssertions(db: Database, assertions: KeyAssertions): Promise<void> {
  for (let i = 0; i < assertions.length; i += 50_000) {
    const part = assertions.columns(i, i + 50_000);
    await db.execute(`INSERT INTO address_assertion (device_id, address) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING`, [part.deviceIds, part.addresses]);
  }
}
