export {
  engineEventTypes,
  eventType,
  findEventType,
  parseSeverity,
  resolveRetention,
  severities,
  severitiesAtLeast,
  severityNames,
  type EngineEventCode,
  type EngineEventType,
  type Severity,
} from './catalogue.js';
export { countEvents, emitEvent, exportEvents, listEvents, purgeEvents, siemRecord, type EmitOptions, type EngineEvent, type EventFilter, type PurgeResult } from './store.js';
