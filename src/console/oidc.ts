import * as client from 'openid-client';
import type { ConsoleConfig } from '../config/console.js';
import type { Logger } from '../log.js';
import type { ConsoleRole } from './users.js';

/**
 * OpenID Connect sign-in with openid-client: the authorization code flow with PKCE, state and nonce.
 * The provider is discovered at the first sign-in (the console starts while it is down). Plain HTTP
 * is accepted only for a provider on the loopback interface (a test or a local proxy).
 */

export type OidcConfig = NonNullable<ConsoleConfig['oidc']>;

export interface OidcStart {
  url: string;
  /** Kept in the session until the callback. */
  checks: { verifier: string; state: string; nonce: string };
}

export interface OidcIdentity {
  subject: string;
  name: string;
  /** The values of the mapped claim. */
  values: string[];
}

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export class OidcLogin {
  private configuration: Promise<client.Configuration> | null = null;

  constructor(
    readonly options: OidcConfig,
    private readonly logger: Logger,
  ) {}

  private configured(): Promise<client.Configuration> {
    this.configuration ??= (async () => {
      const issuer = new URL(this.options.issuer);
      const insecure = issuer.protocol === 'http:' && loopback.has(issuer.hostname);
      return client.discovery(issuer, this.options.clientId, this.options.clientSecret, undefined, insecure ? { execute: [client.allowInsecureRequests] } : undefined);
    })().catch((error: unknown) => {
      this.configuration = null;
      throw error;
    });
    return this.configuration;
  }

  async start(): Promise<OidcStart> {
    const config = await this.configured();
    const checks = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.options.redirectUri,
      scope: this.options.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(checks.verifier),
      code_challenge_method: 'S256',
      state: checks.state,
      nonce: checks.nonce,
    });
    return { url: url.href, checks };
  }

  /** The identity from the callback: ID token claims, completed by the userinfo endpoint. */
  async finish(callbackPathAndQuery: string, checks: OidcStart['checks']): Promise<OidcIdentity> {
    const config = await this.configured();
    const current = new URL(callbackPathAndQuery, this.options.redirectUri);
    const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: checks.verifier, expectedState: checks.state, expectedNonce: checks.nonce, idTokenExpected: true });
    const idClaims = tokens.claims()!;
    let claims: Record<string, unknown> = { ...idClaims };
    try {
      claims = { ...(await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)), ...claims };
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'OIDC userinfo not read; using the ID token claims');
    }
    const raw = claims[this.options.claim];
    const values = Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : typeof raw === 'string' ? [raw] : [];
    const name = typeof claims[this.options.nameClaim] === 'string' ? (claims[this.options.nameClaim] as string) : idClaims.sub;
    return { subject: `${String(idClaims.iss)} ${idClaims.sub}`, name, values };
  }
}

/** The role and owners the claim values map to (admin over owner over viewer), or null when none maps. */
export function mapClaimValues(values: readonly string[], map: OidcConfig['map']): { role: ConsoleRole; owners: string[] } | null {
  const hits = values.map((v) => map[v]).filter((m) => m !== undefined);
  if (hits.length === 0) return null;
  const owners = [...new Set(hits.flatMap((m) => m.owners))];
  if (hits.some((m) => m.role === 'admin')) return { role: 'admin', owners };
  if (owners.length > 0 && hits.some((m) => m.role === 'owner')) return { role: 'owner', owners };
  if (hits.some((m) => m.role === 'viewer')) return { role: 'viewer', owners: [] };
  return null;
}
