import type { ReconcileConfig } from '../config/reconcile.js';
import { bindInput } from './context.js';
import { correlate } from './correlate.js';
import { planCreates } from './creates.js';
import { planExistingDevices } from './existing-devices.js';
import { matchAssets } from './match.js';
import { checkNames } from './names.js';
import { PlanBuilder } from './plan-builder.js';
import type { PlanOptions, PlanScope, PlanValue } from './plan-schema.js';
import { summarize } from './summary.js';
import type { ReconcileInput } from './types.js';
import { planUnknownDevices } from './unknown-devices.js';

/**
 * The reconciler: staged records and the KICS snapshot in, a plan out. Pure: no files, database,
 * network or clock (`now` is an input). Linear in records + devices: identity keys are numbers
 * (src/reconcile/keys.ts), every lookup by key is an array, and the only sort is of the final items.
 * Each step adds its items to one `PlanBuilder`, which applies the scope, orders and numbers them.
 */
export function reconcile(input: ReconcileInput): PlanValue {
  const scope = input.scope ?? {};
  const scoped = Boolean(scope.sources?.length) || scope.owner !== undefined || scope.addressSpaceId !== undefined || scope.deviceId !== undefined;

  const ctx = bindInput(input); // 1. records and devices bound to address spaces, devices indexed
  const plan = new PlanBuilder(ctx.devices.list, ctx.keys, scope, scoped, ctx.decisions.holds);
  const groups = correlate(ctx.records, ctx.keys, ctx.spaceName, ctx.decisions.sameAssets); // 2. records of one asset across sources
  const { matched, unmatched } = matchAssets(ctx, groups, plan); // 3-4. assets to devices
  planExistingDevices(ctx, matched, plan); // 5. updates, archives, deletes, uploads
  planCreates(ctx, unmatched, plan); // 6. creates
  checkNames(ctx, plan); // 7. name uniqueness
  const archivedUnmatched = planUnknownDevices(ctx, plan); // 8. devices no source knows
  const { items, unchangedSpaces } = plan.finish(); // 9. scope, order, numbers

  const summary = summarize(items, {
    unchanged: unchangedSpaces,
    notCreated: plan.notCreated,
    records: ctx.recordCounts,
    devices: ctx.devices.list.length,
    archivedUnmatched,
    spaceName: (id) => ctx.spaces.find(id)?.name ?? `address space ${id}`,
  });
  return {
    header: {
      id: null,
      status: 'draft',
      createdAt: input.now.toISOString(),
      scope: cleanScope(scope),
      options: planOptionsOf(ctx.config, ctx.precedence, ctx.staleAfter),
      basis: input.basis ?? { kics: 0, sources: {} },
      summary,
      reportPath: null,
    },
    items,
    newAssertions: plan.newAssertions,
  };
}

/** The options a plan made with this configuration records, stored in its header (also for a revert's plan). */
export function planOptionsOf(config: ReconcileConfig, precedence: Record<string, string[]>, staleAfter: ReadonlyMap<string, number>): PlanOptions {
  return {
    precedence,
    managedAttributes: [...config.managedAttributes],
    labels: config.labels,
    whatIfDuplicate: config.whatIfDuplicate,
    allowProcessControlSettingsLoss: config.allowProcessControlSettingsLoss,
    createDevices: config.createDevices,
    archiveRetired: config.archiveRetired,
    status: { ...config.status },
    allowDelete: config.allowDelete,
    matchByName: config.matchByName,
    vendorFromOui: config.vendorFromOui,
    industrialConfigMode: config.industrialConfig.mode,
    staleAfterDays: Object.fromEntries(staleAfter),
  };
}

function cleanScope(scope: PlanScope): PlanScope {
  const clean: PlanScope = {};
  if (scope.sources && scope.sources.length > 0) clean.sources = [...scope.sources];
  if (scope.owner !== undefined) clean.owner = scope.owner;
  if (scope.addressSpaceId !== undefined) clean.addressSpaceId = scope.addressSpaceId;
  if (scope.deviceId !== undefined) clean.deviceId = scope.deviceId;
  return clean;
}
