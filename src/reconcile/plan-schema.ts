import { z } from 'zod';
import type { KeyAssertions } from './keys.js';
import { assetStatuses, duplicateActions, industrialConfigModes, patchOperationTypes } from '../model/kics.js';
import { assetFields, comparedFields, type ComparedField, type FieldSpec } from '../model/fields.js';

/**
 * The plan as a value: what the reconciler returns, what src/sync/plans stores (one `plan` row and
 * one `plan_item` row per item) and what the JSON report prints. This zod schema is the single
 * definition; the TypeScript types and the JSON Schema in docs/plan-format.md both come from it.
 * Bump `planSchemaVersion` on any change a reader of the JSON report would notice.
 */
export const planSchemaVersion = 1;

export const planActions = ['create', 'update', 'upload_config', 'recognize', 'archive', 'delete', 'conflict', 'unknown', 'stale'] as const;
export type PlanAction = (typeof planActions)[number];
/** Actions that change KICS when the plan is applied; the others are only reported. */
export const changeActions: readonly PlanAction[] = ['create', 'update', 'upload_config', 'recognize', 'archive', 'delete'];

export const planItemStatuses = ['pending', 'in_progress', 'applied', 'applied_with_errors', 'skipped', 'drifted', 'failed', 'not_applicable', 'held'] as const;
export const planStatuses = ['draft', 'approved', 'applying', 'applied', 'partially_applied', 'expired'] as const;

export const conflictKinds = [
  /** One asset's identity keys point at more than one KICS device. */
  'several_devices',
  /** Several assets (that share no key) match one KICS device. */
  'several_assets',
  /** The asset's MAC points at one device and one of its IPs at another. */
  'mac_ip_split',
  /** Sources describe the same asset with different identities (e.g. one IP, two MACs). */
  'sources_disagree',
  /** Several records of one source claim the same MAC or IP. */
  'duplicate_identity',
  /** An address binds to equally specific rules of several address spaces and the VLAN is unknown. */
  'ambiguous_address_space',
  /** The source names an address space KICS does not have. */
  'unknown_address_space',
  /** The name to create or rename to is held by another device (KICS names are unique). */
  'duplicate_name',
  /** More interfaces than KICS allows on one device. */
  'too_many_interfaces',
  /** The asset lacks what KICS needs to create a device (a name, an address). */
  'incomplete_asset',
  /** The industrial configuration file the source names cannot be used (outside the root, missing...). */
  'config_file_rejected',
] as const;
export type ConflictKind = (typeof conflictKinds)[number];

const id = z.number().int().nonnegative();

export const matchKeySchema = z.strictObject({
  kind: z.enum(['mac', 'ip', 'name']),
  /** Address space id; null when no rule covers the address (names have none). */
  space: id.nullable(),
  value: z.string(),
});
export type MatchKey = z.infer<typeof matchKeySchema>;

export const sourceKeySchema = z.strictObject({ source: z.string(), key: z.string() });
export type SourceKey = z.infer<typeof sourceKeySchema>;

export const kicsPatchOperationSchema = z.strictObject({
  op: z.enum(patchOperationTypes),
  path: z.string().regex(/^(\/\w+)*(\/-)?$/),
  value: z.unknown().optional(),
});

const ipAddressSchema = z.object({ id: id.nullish(), ip: z.string(), addressSpaceId: id.nullish() });
const interfaceSchema = z.object({
  networkInterfaceId: id.nullish(),
  networkInterfaceName: z.string().nullish(),
  macAddress: z.string().nullish(),
  macAddressSpaceId: id.nullish(),
  ipAddresses: z.array(ipAddressSchema).nullish(),
});
export type PlanInterface = z.infer<typeof interfaceSchema>;

/** A compared device field's schema in a create request, from its kind in the registry (src/model/fields.ts). */
function deviceFieldSchema(spec: FieldSpec): z.ZodOptional {
  if (spec.kind === 'enum') return z.enum(spec.values as [string, ...string[]]).optional();
  if (spec.kind === 'boolean') return z.boolean().optional();
  return z.string().nullish();
}

export const deviceCreateRequestSchema = z.object({
  whatIfDuplicate: z.enum(duplicateActions),
  allowProcessControlSettingsLoss: z.boolean(),
  name: z.string().min(1),
  addressInformation: z.array(interfaceSchema).min(1),
  status: z.enum(assetStatuses).optional(),
  ...(Object.fromEntries(comparedFields.filter((f) => f !== 'name').map((f) => [f, deviceFieldSchema(assetFields[f])])) as Record<Exclude<ComparedField, 'name'>, z.ZodOptional>),
  labels: z.array(z.string()).nullish(),
  userAttributes: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
});

export const configUploadRequestSchema = z.strictObject({
  mode: z.enum(industrialConfigModes),
  /** The path as the source gave it, relative to reconcile.industrialConfig.root. */
  path: z.string(),
  /** The real path checked to lie under the root when planning. */
  resolvedPath: z.string(),
  /** sha256 of the content planned against; apply re-checks it. */
  contentHash: z.string(),
  size: z.number().int().nonnegative(),
  /** For a device this plan creates: the seq of its create item (the device id is known only then). */
  createSeq: z.number().int().positive().optional(),
});
export type ConfigUploadRequest = z.infer<typeof configUploadRequestSchema>;

/** One side of a conflict as a source sees it. */
export const conflictAssetSchema = z.strictObject({
  source: z.string(),
  key: z.string(),
  name: z.string().nullable(),
  owner: z.string().nullable(),
  interfaces: z.array(z.strictObject({ mac: z.string().nullable(), macSpace: id.nullable(), ips: z.array(z.strictObject({ ip: z.string(), space: id.nullable() })) })),
});
/** One side of a conflict as KICS sees it. */
export const conflictDeviceSchema = z.strictObject({
  id,
  name: z.string(),
  status: z.string().nullable(),
  interfaces: z.array(z.strictObject({ mac: z.string().nullable(), macSpace: id.nullable(), ips: z.array(z.strictObject({ ip: z.string(), space: id.nullable() })) })),
});
export const conflictSchema = z.strictObject({
  kind: z.enum(conflictKinds),
  reason: z.string(),
  assets: z.array(conflictAssetSchema),
  devices: z.array(conflictDeviceSchema),
});
export type Conflict = z.infer<typeof conflictSchema>;
export type ConflictAsset = z.infer<typeof conflictAssetSchema>;
export type ConflictDevice = z.infer<typeof conflictDeviceSchema>;

/** An owner's decision as an item shows it (src/reconcile/decisions.ts). */
export const itemDecisionSchema = z.strictObject({
  id: z.number().int().positive(),
  kind: z.enum(['hold', 'pin', 'same_asset', 'ignore_device']),
  by: z.string(),
  at: z.string(),
  reason: z.string(),
});
export type ItemDecision = z.infer<typeof itemDecisionSchema>;

export const planItemSchema = z.strictObject({
  seq: z.number().int().positive().describe('Order of application within the plan, from 1.'),
  action: z.enum(planActions).describe('create, update, upload_config, archive and delete change KICS; conflict, unknown and stale are only reported.'),
  status: z.enum(planItemStatuses).describe('pending until applied; not_applicable for what is only reported; held for a change an owner rejected.'),
  kicsDeviceId: id.nullable().describe('The KICS device concerned; null for creates.'),
  deviceName: z.string().nullable(),
  addressSpaceId: id.nullable(),
  owner: z.string().nullable(),
  matchKeys: z.array(matchKeySchema),
  sourceKeys: z.array(sourceKeySchema),
  before: z.record(z.string(), z.unknown()).nullable().describe('The device fields concerned before the change (for updates: only the changed fields; absent = null).'),
  after: z.record(z.string(), z.unknown()).nullable().describe('The same fields after the change.'),
  ops: z.array(kicsPatchOperationSchema).nullable().describe('KICS PATCH operations exactly as they will be sent: a Test guard per changed field first, then the changes.'),
  request: z.union([deviceCreateRequestSchema, configUploadRequestSchema]).nullable().describe('The create body (POST devices), or the industrial configuration upload parameters.'),
  reason: z.string().nullable().describe('Why the item exists, in words.'),
  conflict: conflictSchema.nullable().describe('For conflicts: the kind, the reason and both sides.'),
  lastError: z.string().nullish().describe('Once applied: the last error of a failed or drifted item.'),
  decision: itemDecisionSchema.nullish().describe('The owner decision the item follows: for a held item, the rejection that holds it.'),
});
export type PlanItem = z.infer<typeof planItemSchema>;

const counts = z.strictObject({
  create: z.number().int().nonnegative(),
  update: z.number().int().nonnegative(),
  upload_config: z.number().int().nonnegative(),
  /** Absent from plans stored before the action existed. */
  recognize: z.number().int().nonnegative().default(0),
  archive: z.number().int().nonnegative(),
  delete: z.number().int().nonnegative(),
  conflict: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
  stale: z.number().int().nonnegative(),
  /** Matched assets whose device needs no change. */
  unchanged: z.number().int().nonnegative(),
});
export type PlanCounts = z.infer<typeof counts>;

/** What one input of a plan (KICS, or a source) was when the plan was computed. */
const planInput = z.strictObject({
  /** When its staged data was last read successfully (what the plan used); null: never. */
  readAt: z.string().nullable(),
  /** Whether this plan re-read it first: true, false (the read failed: the stored data was used), null (not asked to). */
  refreshed: z.boolean().nullable(),
  /** Why the re-read failed. */
  error: z.string().nullable(),
});

export const planInputsSchema = z.strictObject({
  kics: planInput.extend({
    /** What the user should know about the KICS read (e.g. devices staged with cleaned values). */
    notes: z.array(z.string()).optional(),
  }),
  sources: z.array(
    planInput.extend({
      name: z.string(),
      /** Records of its last read that could not be used, and the file that lists them with the reason. */
      rejected: z.number().int().nonnegative(),
      rejectsFile: z.string().nullable(),
    }),
  ),
});
export type PlanInputs = z.infer<typeof planInputsSchema>;

export const planSummarySchema = z.strictObject({
  counts,
  /** Items (and unchanged assets) per address space; null = no address space. */
  byAddressSpace: z.array(z.strictObject({ id: id.nullable(), name: z.string(), counts })),
  conflictsByKind: z.record(z.string(), z.number().int().nonnegative()),
  /** Staged records used, per source. */
  records: z.record(z.string(), z.number().int().nonnegative()),
  /** KICS devices in the snapshot. */
  devices: z.number().int().nonnegative(),
  /** Archived KICS devices in no source (not listed as unknown). */
  archivedUnmatched: z.number().int().nonnegative(),
  /** New assets not created because reconcile.createDevices is off, or because they are retired. */
  notCreated: z.number().int().nonnegative(),
  /** Items that change KICS (held ones not counted). */
  changes: z.number().int().nonnegative(),
  /** Changes held by an owner's decision (counted under their action too, never applied). */
  held: z.number().int().nonnegative().default(0),
  /** The data the plan was computed from: how fresh, whether it was re-read, what was rejected (set when stored). */
  inputs: planInputsSchema.optional(),
  /** A plan that undoes a run (`kics-sync revert`): the run, and its writes that cannot be put back. */
  revert: z
    .strictObject({
      runId: id,
      notReverted: z.array(z.strictObject({ operation: z.string(), deviceId: id.nullable(), reason: z.string() })),
    })
    .optional(),
});
export type PlanSummary = z.infer<typeof planSummarySchema>;

export const planScopeSchema = z.strictObject({
  sources: z.array(z.string()).optional(),
  owner: z.string().optional(),
  addressSpaceId: id.optional(),
  deviceId: id.optional(),
});
export type PlanScope = z.infer<typeof planScopeSchema>;

export const planBasisSchema = z
  .strictObject({
    kics: z.number().int().nonnegative().describe('source.generation of the KICS snapshot.'),
    sources: z.record(z.string(), z.number().int().nonnegative()).describe('source.generation of each source the plan was computed from.'),
  })
  .describe('The snapshots the plan was computed from; the plan expires when any of them moves on.');
export type PlanBasis = z.infer<typeof planBasisSchema>;

/** Options in force when planning (resolved: precedence lists are complete). */
export const planOptionsSchema = z.strictObject({
  precedence: z.record(z.string(), z.array(z.string())),
  managedAttributes: z.array(z.string()),
  labels: z.enum(['add', 'replace']),
  whatIfDuplicate: z.enum(duplicateActions),
  allowProcessControlSettingsLoss: z.boolean(),
  createDevices: z.boolean(),
  archiveRetired: z.boolean(),
  /** reconcile.status (absent from plans stored before it existed). */
  status: z.strictObject({ recognizeConfirmed: z.boolean(), restoreArchived: z.boolean(), createAs: z.enum(['Recognized', 'Unauthorized']) }).optional(),
  allowDelete: z.boolean(),
  matchByName: z.boolean(),
  vendorFromOui: z.boolean(),
  industrialConfigMode: z.enum(industrialConfigModes),
  staleAfterDays: z.record(z.string(), z.number().positive()),
});
export type PlanOptions = z.infer<typeof planOptionsSchema>;

/** The plan row: everything but the items. */
export const planHeaderSchema = z.strictObject({
  /** Null until stored. */
  id: z.number().int().positive().nullable(),
  status: z.enum(planStatuses),
  createdAt: z.iso.datetime({ offset: true }),
  scope: planScopeSchema,
  options: planOptionsSchema,
  basis: planBasisSchema,
  summary: planSummarySchema,
  reportPath: z.string().nullish(),
  approvedAt: z.iso.datetime({ offset: true }).nullish(),
  approvedBy: z.string().nullish(),
  expiredAt: z.iso.datetime({ offset: true }).nullish(),
});
export type PlanHeader = z.infer<typeof planHeaderSchema>;

/** The JSON report (`kics-sync report --format json`). */
export const planReportSchema = z
  .strictObject({
    schemaVersion: z.literal(planSchemaVersion),
    plan: planHeaderSchema,
    items: z.array(planItemSchema),
  })
  .meta({ title: `kics-sync plan report, schema version ${planSchemaVersion}` });
export type PlanReport = z.infer<typeof planReportSchema>;

/** A plan held in memory: the header and its items. */
export interface PlanValue {
  header: PlanHeader;
  items: PlanItem[];
  /**
   * Addresses the sources assert for matched devices that `assertedAddresses` did not hold yet: the
   * caller remembers them, so that a later plan can remove one no source asserts any more.
   */
  newAssertions?: KeyAssertions;
}

/** The JSON Schema of the JSON report, as printed in docs/plan-format.md. */
export function planReportJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(planReportSchema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' });
}
