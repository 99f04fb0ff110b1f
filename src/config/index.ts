export { loadConfig, parseConfig, requireSettings, formatPath, defaultConfigFile, type LoadedConfig, type LoadConfigOptions } from './load.js';
export { configSchema, type Config } from './schema.js';
export type { KicsConfig } from './kics.js';
export type { KscConfig } from './ksc.js';
export type { ReconcileConfig } from './reconcile.js';
export type { SourceConfig, CsvSourceConfig, NetboxSourceConfig, ServicenowSourceConfig, KscSourceConfig } from './sources.js';
export type { SyncConfig, ScheduleConfig, EventsConfig } from './sync.js';
