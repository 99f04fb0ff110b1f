import { z } from 'zod';

/** The user attributes managed by default: names KICS operators read, filled from the asset's fields of that name (src/reconcile/target.ts). */
export const defaultManagedAttributes = ['Owner', 'Location', 'Criticality'] as const;

/** How sources and KICS are matched and merged into a plan. */
export const reconcileConfigSchema = z
  .strictObject({
    /** Also match on the exact device name when no MAC / IP matches. */
    matchByName: z.boolean().default(false),
    /** Per KICS field, the ordered sources allowed to write it; `kics` keeps the value KICS has. */
    precedence: z.record(z.string(), z.array(z.string().min(1)).min(1)).default({}),
    /**
     * User attributes the engine manages; all others on a device are left as they are. By default the
     * asset's owner, location and criticality (its KICS influence), so that a KICS operator sees whose
     * a device is and where it stands; `[]` turns them off.
     */
    managedAttributes: z.array(z.string().min(1)).default([...defaultManagedAttributes]),
    /** The authorized baseline: which devices the engine makes Recognized. */
    status: z
      .strictObject({
        /** A matched `Unauthorized` device whose asset a source with precedence for `status` confirms becomes `Recognized`. */
        recognizeConfirmed: z.boolean().default(true),
        /** An `Archived` device whose asset such a source lists again, not retired, goes back to `Recognized`. */
        restoreArchived: z.boolean().default(true),
        /** The status of the devices the engine creates. */
        createAs: z.enum(['Recognized', 'Unauthorized']).default('Recognized'),
      })
      .prefault({}),
    /** `add`: labels from sources are added, never removed. `replace`: the device gets exactly the sources' labels. */
    labels: z.enum(['add', 'replace']).default('add'),
    whatIfDuplicate: z.enum(['Skip', 'Overwrite']).default('Skip'),
    allowProcessControlSettingsLoss: z.boolean().default(false),
    /** Create devices in KICS for assets it does not know. */
    createDevices: z.boolean().default(true),
    /** Set status Archived on devices whose assets a source marks as retired. */
    archiveRetired: z.boolean().default(false),
    /** Delete devices from KICS. Never happens unless this is true and the plan says so. */
    allowDelete: z.boolean().default(false),
    industrialConfig: z
      .strictObject({
        /** Configuration files are read only from under this folder. */
        root: z.string().optional(),
        mode: z.enum(['Merge', 'Replace']).default('Merge'),
      })
      .prefault({}),
    /** Source values -> KICS enum values, on top of the built-in tables (case-insensitive keys). */
    categoryMap: z.record(z.string(), z.string()).default({}),
    influenceMap: z.record(z.string(), z.string()).default({}),
    vendorMap: z.record(z.string(), z.string()).default({}),
    /** Vendor from the MAC's OUI when no source has one. */
    vendorFromOui: z.boolean().default(true),
  })
  .prefault({});

export type ReconcileConfig = z.infer<typeof reconcileConfigSchema>;
