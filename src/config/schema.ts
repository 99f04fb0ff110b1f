import { z } from 'zod';
import { logLevels } from '../log.js';
import { consoleConfigSchema } from './console.js';
import { fleetConfigSchema } from './fleet.js';
import { kicsConfigSchema } from './kics.js';
import { kscConfigSchema } from './ksc.js';
import { reconcileConfigSchema } from './reconcile.js';
import { sourceConfigSchema } from './sources.js';
import { checkSites, siteConfigSchema, type SiteIdentity } from './sites.js';
import { eventsConfigSchema, scheduleConfigSchema, syncConfigSchema } from './sync.js';

export const configSchema = z
  .strictObject({
    /** PostgreSQL server; absent = embedded PGlite under dataDir. DATABASE_URL overrides it. */
    database: z.strictObject({ url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgresql:// URL').optional() }).prefault({}),
    dataDir: z.string().min(1).default('./.kics-sync'),
    logLevel: z.enum(logLevels).optional(),
    kics: kicsConfigSchema.optional(),
    sources: z
      .array(sourceConfigSchema)
      .default([])
      .refine((list) => new Set(list.map((s) => s.name)).size === list.length, { message: 'source names must be unique' })
      .refine((list) => !list.some((s) => s.name === 'kics'), { message: '"kics" is reserved for the KICS snapshot' }),
    reconcile: reconcileConfigSchema,
    sync: syncConfigSchema,
    schedule: scheduleConfigSchema,
    events: eventsConfigSchema,
    ksc: kscConfigSchema.optional(),
    console: consoleConfigSchema,
    /**
     * Several plants, each with its own KICS (src/config/sites.ts). Absent: the configuration is one
     * site, named `default`. Top-level sections are the defaults of every site that leaves them out.
     */
    sites: z.array(siteConfigSchema).min(1).optional(),
    /** The job queue the workers share (PostgreSQL only). */
    fleet: fleetConfigSchema,
  })
  .superRefine(checkSites)
  .prefault({});

/**
 * The configuration. After `resolveSite()` (src/config/sites.ts) it describes one site, and `site`
 * says which one and which records of the shared sources are its own.
 */
export type Config = z.infer<typeof configSchema> & { site?: SiteIdentity };
