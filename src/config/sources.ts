import { z } from 'zod';
import { csvFields } from '../model/fields.js';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a name of letters, digits, dot, dash or underscore');

/** Settings every source has. */
const common = {
  name,
  enabled: z.boolean().default(true),
  /** A source that has not confirmed a record within this many days loses its precedence for it. */
  staleAfterDays: z.number().positive().optional(),
};

/** The canonical fields a CSV column can fill (`columns` maps them to headers; declared with their default aliases in src/model/fields.ts). */
export { csvFields, type CsvField } from '../model/fields.js';

/** Retries of a REST source: network errors, 5xx and 429 (honouring Retry-After); never 400, 401, 403, 404. */
const retries = z.number().int().min(0).max(10).default(4);

export const csvSourceSchema = z.strictObject({
  ...common,
  type: z.literal('csv'),
  path: z.string().min(1),
  /** `,` `;` or a tab; detected from the header line when absent. */
  delimiter: z.enum([',', ';', '\t']).optional(),
  /** Text encoding when the file has no byte order mark (a BOM always wins). */
  encoding: z.enum(['utf-8', 'utf-16le', 'windows-1252', 'iso-8859-1']).default('utf-8'),
  /** Separator between several MACs / IPs / labels in one cell. */
  multiValueSeparator: z.string().min(1).default('|'),
  /** Column mapping: canonical field -> column header (case-insensitive). Unlisted fields use the default aliases. */
  columns: z.partialRecord(z.enum(csvFields), z.string().min(1)).default({}),
  /** Extra columns turned into KICS user attributes: column header -> attribute name. */
  attributes: z.record(z.string(), z.string().min(1)).default({}),
  /** KICS address space id (or name) for rows that do not name one. */
  addressSpace: z.union([z.number().int().nonnegative(), z.string().min(1)]).optional(),
  /** Where rejected rows are written; default: <dataDir>/rejects/<name>.csv. */
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
  /** A custom field whose value is the device's criticality (mapped to KICS influence). */
  criticalityField: z.string().min(1).optional(),
  /** Device statuses that mean the asset is retired. */
  retiredStatuses: z.array(z.string().min(1)).default(['decommissioning']),
  /** Extra NetBox query filters for devices, e.g. { site: "plant-a" } or { role: [plc, hmi] }. */
  filters: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).default({}),
  pageSize: z.number().int().min(1).max(1000).default(200),
  timeoutMs: z.number().int().positive().default(30_000),
  retries,
  caFile: z.string().optional(),
});

/** A ServiceNow column name (it goes into sysparm_fields). */
const servicenowField = z.string().regex(/^[A-Za-z0-9_.]+$/, 'a ServiceNow field name (letters, digits, _ and .)');

/** A ServiceNow table name (it goes into the Table API's path). */
const servicenowTable = z.string().regex(/^[a-z0-9_]+$/, 'a ServiceNow table name (lower-case letters, digits and _)');

/**
 * Where the MACs of a CI live when the CI does not carry them (ServiceNow's OT and hardware class models:
 * one Network Adapter record per adapter, referencing its CI). `enabled: false` reads only the CI's own fields.
 */
const servicenowAdapters = z
  .strictObject({
    enabled: z.boolean().default(true),
    table: servicenowTable.default('cmdb_ci_network_adapter'),
    /** The adapter's reference to its CI. */
    ciField: servicenowField.default('cmdb_ci'),
    macField: servicenowField.default('mac_address'),
    /** The adapter's own IP (the class models store it there too, for identification). */
    ipField: servicenowField.default('ip_address'),
    /** The adapter's name (eth0; the OT model sets it to the MAC, in which case the interface gets no name). */
    nameField: servicenowField.default('name'),
  })
  .prefault({});

/** Where the IPs of an adapter live: IP Address records referencing the adapter. */
const servicenowIpAddresses = z
  .strictObject({
    enabled: z.boolean().default(true),
    table: servicenowTable.default('cmdb_ci_ip_address'),
    /** The IP Address record's reference to its Network Adapter. */
    adapterField: servicenowField.default('nic'),
    ipField: servicenowField.default('ip_address'),
  })
  .prefault({});

export const servicenowSourceSchema = z.strictObject({
  ...common,
  type: z.literal('servicenow'),
  url: z.url(),
  /** Basic auth, or a bearer token. */
  user: z.string().optional(),
  password: z.string().optional(),
  token: z.string().optional(),
  ciClass: servicenowTable.default('cmdb_ci'),
  /** Extra encoded query ANDed to every read, e.g. "operational_status=1". */
  query: z.string().optional(),
  /** ServiceNow field -> canonical field, on top of the defaults. */
  fields: z.record(servicenowField, z.enum(csvFields)).default({}),
  /** ServiceNow field -> KICS user attribute name. */
  attributes: z.record(servicenowField, z.string().min(1)).default({}),
  /** The CIs' Network Adapter records (MAC, and the adapter's own IP). */
  networkAdapters: servicenowAdapters,
  /** The adapters' IP Address records. */
  ipAddresses: servicenowIpAddresses,
  pageSize: z.number().int().min(1).max(10_000).default(1000),
  timeoutMs: z.number().int().positive().default(30_000),
  retries,
  caFile: z.string().optional(),
})
  .refine((s) => (s.token !== undefined) !== (s.user !== undefined || s.password !== undefined), { message: 'give either token, or user and password', path: ['token'] })
  .refine((s) => (s.user === undefined) === (s.password === undefined), { message: 'user and password go together', path: ['password'] });

export const kscSourceSchema = z.strictObject({
  ...common,
  type: z.literal('ksc'),
  /** Hosts filter in KSC's search syntax; default: every host, or the managed ones only when includeUnassigned is false. */
  filter: z.string().optional(),
  /**
   * Whether hosts in "Unassigned devices" are read (when no `filter` is given). KSC puts the hosts it
   * discovers (KLSRV_EVENT_HOSTS_NEW_DETECTED, KLNAG_EV_NAC_DEVICE_DISCOVERED) there, so a plan those
   * events start sees them only with this on.
   */
  includeUnassigned: z.boolean().default(true),
  /** KSC group id -> KICS address space id or name. */
  addressSpaces: z.record(z.string(), z.union([z.number().int().nonnegative(), z.string()])).default({}),
  chunkSize: z.number().int().min(1).max(10_000).default(500),
});

export const sourceConfigSchema = z.discriminatedUnion('type', [csvSourceSchema, netboxSourceSchema, servicenowSourceSchema, kscSourceSchema]);

export type SourceConfig = z.infer<typeof sourceConfigSchema>;

/** What each source `type` reads, as help texts name it (a new type does not compile without its line). */
export const sourceTypeNames: Record<SourceConfig['type'], string> = {
  csv: 'CSV files',
  netbox: 'NetBox',
  servicenow: 'ServiceNow',
  ksc: 'Kaspersky Security Center managed hosts',
};
export type CsvSourceConfig = z.infer<typeof csvSourceSchema>;
export type NetboxSourceConfig = z.infer<typeof netboxSourceSchema>;
export type ServicenowSourceConfig = z.infer<typeof servicenowSourceSchema>;
export type KscSourceConfig = z.infer<typeof kscSourceSchema>;
