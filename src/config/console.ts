import { z } from 'zod';

/** The review console (`kics-sync serve`, or beside `kics-sync schedule`): docs/console.md. */
export const consoleConfigSchema = z
  .strictObject({
    /** Address and port `serve` binds (its --host / --port override them); 127.0.0.1 keeps it local. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Serve the console from the `schedule` process too (one process for the nightly sync and the console). */
    withSchedule: z.boolean().default(false),
    /** PEM files of the console's certificate (with its chain) and key: served over HTTPS, session cookies `Secure`. */
    tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
    /** Days a change an owner rejected stays held (0: until revoked, or until its source records change). */
    holdDays: z.number().int().min(0).default(90),
    /**
     * OpenID Connect sign-in (openid-client): the authorization code flow with PKCE. The claim named
     * `claim` (a string or a list of strings, e.g. groups) is looked up in `map`: each value gives a
     * role and owner names. A user whose values map to nothing is refused.
     */
    oidc: z
      .strictObject({
        issuer: z.url(),
        clientId: z.string().min(1),
        clientSecret: z.string().min(1).optional(),
        /** The console's callback as the browser reaches it: https://<console>/auth/callback. */
        redirectUri: z.url(),
        scopes: z.array(z.string().min(1)).default(['openid', 'profile']),
        /** The claim that names the user in the console. */
        nameClaim: z.string().min(1).default('preferred_username'),
        claim: z.string().min(1).default('groups'),
        map: z.record(z.string(), z.strictObject({ role: z.enum(['admin', 'owner', 'viewer']), owners: z.array(z.string().min(1)).default([]) })),
        /** Label of the sign-in button. */
        label: z.string().min(1).default('Sign in with single sign-on'),
      })
      .optional(),
  })
  .prefault({});

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
