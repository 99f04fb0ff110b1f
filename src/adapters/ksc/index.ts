export { KscClient, authorizationHeader, kscCredentials, type KscArgs, type KscCallOptions, type KscCallResult, type KscClientOptions, type KscCredentials } from './client.js';
export { readChunkAccessor, readSrvView } from './chunks.js';
export {
  BackendUnreachableError,
  CommandParamsError,
  ServiceConsole,
  backendCommandEvent,
  errorContainer,
  type BackendCommand,
  type BackendCommandHandler,
  type BackendCommandHandlers,
  type CommandErrorContainer,
  type CommandErrorId,
  type CommandToken,
  type ConsoleEvent,
} from './console.js';
export { KscError, KscPxgError, klstdCodes, parsePxgError, type KlstdError, type PxgErrorBody } from './errors.js';
export { KscEventPoller, failureBackoff, unavailableBackoff, type KscEvent, type KscEventPollerOptions, type KscSubscription } from './poller.js';
export { runKscService, type KscServiceEvent, type KscServiceOptions, type KscServiceSummary } from './service.js';
export { KscHostSource, createKscSource, defaultHostFilter, hardwareInventory, hostToRecord, ipFromLong } from './source.js';
export { KscEventTriggers, kscTriggerEventTypes, resolveTriggerEvents, type StartIncrementalPlan, type TriggerCause } from './triggers.js';
