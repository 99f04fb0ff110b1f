import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a name of letters, digits, dot, dash or underscore');

/** Settings every source has. */
const common = {
  name,
  enabled: z.boolean().default(true),
  /** A source that has not confirmed a record within this many days loses its precedence for it. */
  staleAfterDays: z.number().positive().optional(),
};

export const csvSourceSchema = z.strictObject({
  ...common,
  type: z.literal('csv'),
  path: z.string().min(1),
  /** `,` `;` or a tab; detected from the header line when absent. */
  delimiter: z.enum([',', ';', '\t']).optional(),
  /** Separator between several MACs / IPs in one cell. */
  multiValueSeparator: z.string().min(1).default('|'),
  /** Column mapping: canonical field -> column header (case-insensitive). Unlisted fields use the default aliases. */
  columns: z.record(z.string(), z.string()).default({}),
  /** Extra columns turned into KICS user attributes: column header -> attribute name. */
  attributes: z.record(z.string(), z.string()).default({}),
  /** KICS address space id (or name) for rows that do not name one. */
  addressSpace: z.union([z.number().int().nonnegative(), z.string()]).optional(),
  /** Where rejected rows are written; default: next to the data directory's reports. */
  rejectsFile: z.string().optional(),
});

export const netboxSourceSchema = z.strictObject({
  ...common,
  type: z.literal('netbox'),
  url: z.url(),
  token: z.string().min(1),
  /** VRF name (or site slug) -> KICS address space id or name. */
  addressSpaces: z.record(z.string(), z.union([z.number().int().nonnegative(), z.string()])).default({}),
  /** NetBox custom field -> KICS user attribute name. */
  customFields: z.record(z.string(), z.string()).default({}),
  /** Extra NetBox query filters for devices, e.g. { site: "plant-a" }. */
  filters: z.record(z.string(), z.string()).default({}),
  pageSize: z.number().int().min(1).max(1000).default(200),
  timeoutMs: z.number().int().positive().default(30_000),
  caFile: z.string().optional(),
});

export const servicenowSourceSchema = z.strictObject({
  ...common,
  type: z.literal('servicenow'),
  url: z.url(),
  /** Basic auth, or a bearer token. */
  user: z.string().optional(),
  password: z.string().optional(),
  token: z.string().optional(),
  ciClass: z.string().regex(/^[a-z0-9_]+$/).default('cmdb_ci'),
  /** Extra encoded query ANDed to every read, e.g. "operational_status=1". */
  query: z.string().optional(),
  /** ServiceNow field -> canonical field, on top of the defaults. */
  fields: z.record(z.string(), z.string()).default({}),
  /** ServiceNow field -> KICS user attribute name. */
  attributes: z.record(z.string(), z.string()).default({}),
  pageSize: z.number().int().min(1).max(10_000).default(1000),
  timeoutMs: z.number().int().positive().default(30_000),
  caFile: z.string().optional(),
});

export const kscSourceSchema = z.strictObject({
  ...common,
  type: z.literal('ksc'),
  /** Hosts filter in KSC's search syntax; default: all managed hosts. */
  filter: z.string().optional(),
  /** KSC group id -> KICS address space id or name. */
  addressSpaces: z.record(z.string(), z.union([z.number().int().nonnegative(), z.string()])).default({}),
  chunkSize: z.number().int().min(1).max(10_000).default(500),
});

export const sourceConfigSchema = z.discriminatedUnion('type', [csvSourceSchema, netboxSourceSchema, servicenowSourceSchema, kscSourceSchema]);

export type SourceConfig = z.infer<typeof sourceConfigSchema>;
export type CsvSourceConfig = z.infer<typeof csvSourceSchema>;
export type NetboxSourceConfig = z.infer<typeof netboxSourceSchema>;
export type ServicenowSourceConfig = z.infer<typeof servicenowSourceSchema>;
export type KscSourceConfig = z.infer<typeof kscSourceSchema>;
