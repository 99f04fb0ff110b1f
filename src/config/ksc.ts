import { z } from 'zod';

/** Kaspersky Security Center Open API: backend commands, managed hosts, event triggers. */
export const kscConfigSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  user: z.string().optional(),
  password: z.string().optional(),
  /** KSCT token instead of user / password. */
  token: z.string().optional(),
  /** `internal="1"` for KSC internal users. */
  internalUser: z.boolean().default(false),
  /** CA certificate (PEM) for the KSC server. */
  ca: z.string().optional(),
  insecure: z.boolean().default(false),
  timeoutMs: z.number().int().positive().default(30_000),
  commands: z
    .strictObject({
      enabled: z.boolean().default(false),
      productName: z.string().min(1).default('kics-sync'),
      productVersion: z.string().min(1).default('1.0'),
      /** Tokens a command must carry in its parameters (CMD_PARAMS.token); empty = no token check. */
      tokens: z.array(z.strictObject({ value: z.string().min(1), expiresAt: z.string().optional() })).default([]),
    })
    .prefault({}),
  triggers: z
    .strictObject({
      enabled: z.boolean().default(false),
      events: z.array(z.string().min(1)).default(['KLSRV_EVENT_HOSTS_NEW_DETECTED', 'KLNAG_EV_NAC_DEVICE_DISCOVERED', 'KLSRV_EVENT_HOSTS_CONFLICT']),
      debounceSeconds: z.number().min(0).default(60),
    })
    .prefault({}),
});

export type KscConfig = z.infer<typeof kscConfigSchema>;
