export { KscClient, authorizationHeader, kscCredentials, type KscArgs, type KscCallOptions, type KscCallResult, type KscClientOptions, type KscCredentials } from './client.js';
export { readChunkAccessor, readSrvView } from './chunks.js';
export { KscError, KscPxgError, klstdCodes, parsePxgError, type KlstdError, type PxgErrorBody } from './errors.js';
export { KscEventPoller, failureBackoff, unavailableBackoff, type KscEvent, type KscEventPollerOptions, type KscSubscription } from './poller.js';
export { KscHostSource, createKscSource, hardwareInventory, hostFilter, hostToRecord, ipFromLong, managedHostsFilter } from './source.js';
