/**
 * KICS for Networks connector API shapes (docs/vendor/kics-for-networks-connector-api.txt),
 * shared by the client (src/adapters/kics), the simulator (src/simulator/kics) and the reconciler.
 * Values only; no I/O.
 */

export const assetTypes = [
  'ScadaHmi',
  'Rpa',
  'Server',
  'Workstation',
  'Plc',
  'EngineeringStation',
  'MobileDevice',
  'NetworkDevice',
  'Other',
  'Laptop',
  'HmiPanel',
  'Printer',
  'UPS',
  'NetworkCamera',
  'Gateway',
  'StorageSystem',
  'Firewall',
  'Switch',
  'VirtualSwitch',
  'Router',
  'VirtualRouter',
  'WiFi',
  'Historian',
] as const;
/** KICS `AssetType`: the device category. */
export type AssetType = (typeof assetTypes)[number];

export const influenceTypes = ['BusinessCritical', 'Important', 'Normal'] as const;
/** KICS `DeviceInfluenceType`. */
export type Influence = (typeof influenceTypes)[number];

export const assetStatuses = ['Unauthorized', 'Recognized', 'Archived'] as const;
/** KICS `AssetStatus`. */
export type AssetStatus = (typeof assetStatuses)[number];

export const duplicateActions = ['Skip', 'Overwrite'] as const;
/** KICS `DuplicateAction` (`whatIfDuplicate` of a create). */
export type DuplicateAction = (typeof duplicateActions)[number];

export const patchOperationTypes = ['Add', 'Remove', 'Replace', 'Test'] as const;
/** KICS `PatchOperationType`. */
export type PatchOperationType = (typeof patchOperationTypes)[number];

export const industrialConfigModes = ['Replace', 'Merge'] as const;
/** KICS `AssignIndustrialConfigMode`. */
export type IndustrialConfigMode = (typeof industrialConfigModes)[number];

/** KICS limits from the reference (string lengths, device caps, interfaces per device). */
export const kicsLimits = {
  nameLength: 8192,
  textLength: 65536,
  /**
   * One label. The reference gives `labels` as "Array of strings" with no length: the name's limit is
   * taken (a label is shown like a name), so nothing the engine sends is longer than what any KICS
   * field of its kind accepts.
   */
  labelLength: 8192,
  maxActiveDevices: 100_000,
  maxArchivedDevices: 100_000,
  maxInterfacesPerDevice: 64,
  maxAddressSpaces: 100,
  maxRulesPerAddressSpace: 10,
  maxQueryLimit: 1000,
} as const;

export interface DeviceIpAddress {
  id?: number | null;
  ip: string;
  addressSpaceId?: number | null;
}

/** KICS `DeviceAddressInformation`: one network interface. */
export interface DeviceAddressInformation {
  networkInterfaceId?: number | null;
  networkInterfaceName?: string | null;
  macAddress?: string | null;
  macAddressSpaceId?: number | null;
  ipAddresses?: DeviceIpAddress[] | null;
}

export interface DeviceUserAttribute {
  name: string;
  value: string;
}

/** The fields a connector can write (create / edit). */
export interface DeviceWritable {
  name: string;
  addressInformation: DeviceAddressInformation[];
  description?: string | null;
  status?: AssetStatus;
  category?: AssetType;
  os?: string | null;
  hardwareVendor?: string | null;
  hardwareModel?: string | null;
  hardwareVersion?: string | null;
  softwareVendor?: string | null;
  softwareModel?: string | null;
  softwareVersion?: string | null;
  networkName?: string | null;
  isRouter?: boolean;
  influence?: Influence;
  labels?: string[] | null;
  userAttributes?: DeviceUserAttribute[] | null;
}

/** `POST devices` body. */
export interface DeviceCreateRequest extends DeviceWritable {
  whatIfDuplicate: DuplicateAction;
  allowProcessControlSettingsLoss: boolean;
}

/** `PUT devices/{id}` body. */
export interface DeviceEditRequest extends DeviceWritable {
  allowProcessControlSettingsUpdate: boolean;
}

/** `POST devices` answer. */
export interface DeviceCreateResponse {
  status: string;
  deviceId: number;
}

export interface DeviceProtocol {
  id: number;
  name: string;
  protocolStackId: number;
  systemCommands?: { total: number; monitored: number } | null;
  addresses2?: { addressConfig: string; ipAddressSpaceId?: number | null; macAddressSpaceId?: number | null }[] | null;
}

/** A device as KICS returns it (query / get). Only what the engine uses is listed; the rest is kept in raw JSON. */
export interface KicsDevice extends DeviceWritable {
  id: number;
  status: AssetStatus;
  lastModified?: string | null;
  lastSeen?: string | null;
  created?: string | null;
  group?: string | null;
  securityState?: string | null;
  categoryConfidence?: number | null;
  attributes?: { name: string; value: string; isAutoupdated?: boolean; confidence?: number }[] | null;
  processControlSettings?: { deviceType?: string | null; protocols?: DeviceProtocol[] | null } | null;
  [extra: string]: unknown;
}

/** One KICS PATCH operation; `path` matches ^(\/\w+)*(\/-)?$. */
export interface KicsPatchOperation {
  op: PatchOperationType;
  path: string;
  value?: unknown;
}

export interface KicsPatchResult {
  result: string;
  op: PatchOperationType;
  path: string;
  value?: unknown;
}

export interface AddressSpaceRule {
  id?: number;
  description?: string | null;
  vlanType?: string | null;
  subnetType?: string | null;
  trafficSource?: string | null;
  /** CIDR in `from` with `to` null, or a from-to range. */
  subnets?: { from: string; to?: string | null }[] | null;
  vlans?: { from: number; to: number }[] | null;
  monitoringPoints?: { id: number }[] | null;
  eppProxyNodes?: { eppProxyId: number }[] | null;
  activePollingConnectors?: { id: number }[] | null;
}

export interface AddressSpace {
  id: number;
  name: string;
  description?: string | null;
  readOnly?: boolean;
  rules?: AddressSpaceRule[] | null;
}

/** Query body: top-level `filter` items are ANDed; a nested array is an OR group. */
export interface QueryFilterItem {
  field: string;
  condition?: '=' | '<>' | '>' | '>=' | '<' | '<=' | 'isOneOf';
  value: unknown;
  operator?: 'or' | 'and';
}
export type QueryFilter = (QueryFilterItem | QueryFilterItem[])[];

export interface QuerySort {
  column: string;
  direction?: 'Asc' | 'Desc';
  nullsBehaviour?: 'NullsFirst' | 'NullsLast' | null;
}

export interface QueryRequest {
  filter?: QueryFilter | null;
  sort?: QuerySort[] | null;
  offset?: number | null;
  limit?: number | null;
}

export interface QueryResponse<T> {
  offset: number;
  limit: number;
  values: T[];
}

/** `{"status": "Error", "errors": [...]}`: a KICS validation failure. */
export interface KicsErrorBody {
  status: 'Error';
  errors: { field?: string | null; path?: string | null; errorMessage: string }[];
}

/** `POST events` body (register an event). */
export interface EventRegistration {
  title: string;
  score: number;
  startTime: string;
  endTime: string;
  lastSeenTime?: string | null;
  totalAppearances?: number | null;
  description?: string | null;
  triggeredRuleName?: string | null;
  monitoringPointId?: number;
  mark?: number;
  origin: 'Unknown' | 'System' | 'User';
  params?: Record<string, string> | null;
  communications?: unknown[] | null;
  applications?: unknown[] | null;
}

export interface AboutResponse {
  version: string;
  updateableComponents?: { type: string; releaseTime: string }[];
}
