import { z } from 'zod';

export const syncConfigSchema = z
  .strictObject({
    /** Items applied at once. */
    concurrency: z.number().int().min(1).max(64).default(8),
    /** `sync` stops after planning when the plan would change more than this share of KICS devices... */
    maxChangeShare: z.number().min(0).max(1).default(0.2),
    /** ...or create more than this many devices. */
    maxCreates: z.number().int().min(0).default(500),
    /** Register an event in KICS with each run's summary. */
    registerKicsEvent: z.boolean().default(false),
    /** Where plan reports are written; default: <dataDir>/reports. */
    reportDir: z.string().optional(),
  })
  .prefault({});

export const scheduleConfigSchema = z
  .strictObject({
    /** One cron expression, or several. */
    cron: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('0 2 * * *'),
    timezone: z.string().default('UTC'),
  })
  .prefault({});

export const eventsConfigSchema = z
  .strictObject({
    /** Storage term in days per event type (numeric id or alphabetic code), overriding the catalogue's default. */
    retention: z.record(z.string(), z.number().int().min(0)).default({}),
  })
  .prefault({});

export type SyncConfig = z.infer<typeof syncConfigSchema>;
export type ScheduleConfig = z.infer<typeof scheduleConfigSchema>;
export type EventsConfig = z.infer<typeof eventsConfigSchema>;
