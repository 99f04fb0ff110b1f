import { z } from 'zod';

export const discrepancyKinds = ['conflict', 'unknown', 'drift', 'write_failed'] as const;

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
    /** Register one KICS event per open discrepancy after each apply (src/sync/discrepancies.ts). */
    discrepancyEvents: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** Which discrepancies: conflicts, devices in no source, changes made in KICS since planning, failed writes. */
        kinds: z.array(z.enum(discrepancyKinds)).min(1).default([...discrepancyKinds]),
        /** At most this many new events per run; the rest wait for the next run. */
        maxPerRun: z.number().int().min(1).max(10_000).default(500),
      })
      .prefault({}),
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
export type DiscrepancyEventsConfig = SyncConfig['discrepancyEvents'];
export type ScheduleConfig = z.infer<typeof scheduleConfigSchema>;
export type EventsConfig = z.infer<typeof eventsConfigSchema>;
