import { Histogram, Registry } from 'prom-client';

/**
 * The KICS calls this process makes, by route and HTTP status (`error` when no answer came), with
 * their latency: a prom-client histogram in a registry of its own, which the review console serves
 * beside its database-backed metrics. A process counts its own calls: the console's runs and, with
 * `console.withSchedule`, the nightly sync.
 */
export const kicsCallRegistry = new Registry();

export const kicsCallSeconds = new Histogram({
  name: 'kics_sync_kics_request_duration_seconds',
  help: 'KICS API calls made by this process, by route and HTTP status (error: no answer), with their latency.',
  labelNames: ['route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [kicsCallRegistry],
});
