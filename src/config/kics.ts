import { z } from 'zod';

/** How kics-sync reaches KICS for Networks: its URL and the connector's communication data package. */
export const kicsConfigSchema = z
  .strictObject({
    url: z.url({ protocol: /^https$/, error: 'an https:// URL' }),
    apiVersion: z.string().regex(/^v\d+$/, 'a version such as v4').default('v4'),
    /** The communication data package downloaded from KICS: certificates.pfx + metadata.json. */
    package: z.strictObject({ dir: z.string().min(1), password: z.string().optional() }).optional(),
    /** Alternative to the package: PEM files. */
    pem: z.strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1), passphrase: z.string().optional() }).optional(),
    /** Skip server certificate verification. Prints a warning on every run. */
    insecure: z.boolean().default(false),
    /** Per-route path overrides, e.g. { devicesQuery: "/kics/api/{version}/devices/query" }. */
    routes: z.record(z.string(), z.string()).default({}),
    timeoutMs: z.number().int().positive().default(30_000),
    /** Calls in flight at once. */
    maxInFlight: z.number().int().min(1).max(64).default(8),
    retry: z
      .strictObject({
        retries: z.number().int().min(0).max(20).default(5),
        minTimeoutMs: z.number().int().positive().default(200),
        maxTimeoutMs: z.number().int().positive().default(10_000),
      })
      .prefault({}),
    /**
     * The connector's external source identifier in KICS, sent as `sourceId` with every PATCH so that
     * KICS attributes the changes to it (connector API: PATCH /devices/{id}, query parameter sourceId).
     */
    sourceId: z.number().int().min(0).optional(),
    /** Refresh the token when less than this share of its lifetime is left. */
    tokenRefreshMargin: z.number().min(0).max(0.9).default(0.2),
  })
  .refine((k) => k.package !== undefined || k.pem !== undefined, { message: 'kics.package or kics.pem is required', path: ['package'] });

export type KicsConfig = z.infer<typeof kicsConfigSchema>;
