import { z } from 'zod';

/**
 * The fleet: several sites synced by `kics-sync worker` processes through a job queue in PostgreSQL
 * (pg-boss, in its own schema of the engine's database). See docs/fleet.md.
 */
export const fleetConfigSchema = z
  .strictObject({
    /** PostgreSQL schema of the job queue's tables. */
    queueSchema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a schema name: lower-case letters, digits and _').default('kics_sync_queue'),
    /**
     * How long a worker may hold a job. A job still active after this (its worker died, or hangs) is
     * given to another worker, which resumes the site's run. Longer than the longest run of a site.
     */
    leaseSeconds: z.number().int().min(10).max(7 * 24 * 3600).default(4 * 3600),
    /** Attempts after the first when a site's job fails (KICS down, a source failing); then the job is dead. */
    retries: z.number().int().min(0).max(20).default(3),
    /** Wait before the first retry; doubled at each further one when retryBackoff is on. */
    retryDelaySeconds: z.number().int().min(1).max(24 * 3600).default(60),
    retryBackoff: z.boolean().default(true),
    /** How often an idle worker asks the queue for a job. */
    pollSeconds: z.number().min(0.5).max(600).default(2),
    /** How often the queue's upkeep runs (leases that ran out, retries, archiving), in whichever worker gets to it first. */
    maintenanceSeconds: z.number().int().min(1).max(3600).default(60),
  })
  .prefault({});

export type FleetConfig = z.infer<typeof fleetConfigSchema>;
