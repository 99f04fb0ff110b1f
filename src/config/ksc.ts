import { z } from 'zod';

/**
 * Kaspersky Security Center Open API: the connection, backend commands (kics-sync as a service
 * console), event triggers. The managed-hosts source (`sources[].type: ksc`) uses this connection.
 */
export const kscConfigSchema = z
  .strictObject({
    /** `https://ksc.example:13299` (the Open API port). */
    url: z.url({ protocol: /^https$/, error: 'an https:// URL (the KSC Open API, port 13299 by default)' }),
    /** A KSC user (KSCBasic login) with its password... */
    user: z.string().min(1).optional(),
    password: z.string().optional(),
    /** ...and, for a domain account, its domain. */
    domain: z.string().min(1).optional(),
    /** Or a KSC token (KSCT) instead of user / password. */
    token: z.string().min(1).optional(),
    /** `internal="1"` for KSC internal users. */
    internalUser: z.boolean().default(false),
    /** CA certificate (PEM file) that signed the KSC server certificate. */
    ca: z.string().min(1).optional(),
    /** Skip certificate verification. Prints a warning on every run. */
    insecure: z.boolean().default(false),
    timeoutMs: z.number().int().positive().default(30_000),
    /** Retries of transient failures (network, timeouts, HTTP 5xx); a PxgError is never retried. */
    retry: z
      .strictObject({
        retries: z.number().int().min(0).max(20).default(4),
        minTimeoutMs: z.number().int().positive().default(200),
        maxTimeoutMs: z.number().int().positive().default(10_000),
      })
      .prefault({}),
    polling: z
      .strictObject({
        /** First delay after a failed poll (KSC unreachable); doubles per failure. */
        minBackoffMs: z.number().int().positive().default(1_000),
        /** Upper bound of the back-off after STDE_UNAVAIL or while KSC is unreachable. */
        maxBackoffMs: z.number().int().positive().default(60_000),
      })
      .prefault({}),
    commands: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** CMD_PROD_NAME / CMD_PROD_VERSION of the commands this console takes (KSC requires both, non-empty). */
        productName: z.string().min(1).default('kics-sync'),
        productVersion: z.string().min(1).default('1.0'),
        /** Tokens a command must carry in CMD_PARAMS.token; empty = no token check. (`token`, not `value`: config errors redact keys named like secrets.) */
        tokens: z.array(z.strictObject({ token: z.string().min(8, 'a token of at least 8 characters'), expiresAt: z.iso.datetime({ offset: true }).optional() })).default([]),
      })
      .prefault({}),
    triggers: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** KSC event types (numeric id or alphabetic code) that start an incremental plan. */
        events: z.array(z.union([z.number().int().positive(), z.string().min(1)])).min(1).default([4100, 7710, 4102]),
        /** Events within this many seconds after the first one start one plan. */
        debounceSeconds: z.number().min(0).max(86_400).default(60),
      })
      .prefault({}),
  })
  .refine((k) => k.token !== undefined || (k.user !== undefined && k.password !== undefined), { message: 'ksc.user and ksc.password, or ksc.token, are required', path: ['user'] });

export type KscConfig = z.infer<typeof kscConfigSchema>;
