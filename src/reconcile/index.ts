/** The reconciler: pure functions from staged records and a KICS snapshot to a plan, and its reports. */
export { reconcile } from './reconcile.js';
export { resolvePrecedence, scalarFields, planFields, discoveredFields } from './fields.js';
export { patchOperations, kicsPathPattern } from './patch.js';
export * from './plan-schema.js';
export type * from './types.js';
