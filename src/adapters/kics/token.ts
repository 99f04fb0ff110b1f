import type { Logger } from '../../log.js';
import { KicsApiError } from './errors.js';

/**
 * The connector's access token. Obtained with `grant_type=certificate` (the mutual TLS identity is the
 * credential), renewed when less than `margin` of its lifetime is left (with the refresh token when
 * there is one, else with the certificate again), and renewed at once when KICS answers 401 to it.
 * Concurrent callers share one renewal. Tokens never reach a log line, an error or a report.
 */

export interface TokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token?: string | null | undefined;
}

/** Asks the token endpoint with these query parameters (the endpoint takes no body). */
export type TokenRequest = (params: Record<string, string>, signal?: AbortSignal) => Promise<TokenAnswer>;

interface Token {
  access: string;
  refresh: string | null;
  obtainedAt: number;
  expiresAt: number;
  /** When to renew: `margin` of the lifetime before it ends. */
  renewAt: number;
}

export interface TokenInfo {
  obtainedAt: Date;
  expiresAt: Date;
  /** When the client will renew it. */
  renewAt: Date;
}

export class TokenManager {
  private current: Token | null = null;
  private pending: Promise<Token> | null = null;

  constructor(
    private readonly request: TokenRequest,
    private readonly margin: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token with more than `margin` of its lifetime left. */
  async token(signal?: AbortSignal): Promise<string> {
    const t = this.current;
    if (t && this.now() < t.renewAt) return t.access;
    return (await this.renew(signal)).access;
  }

  /**
   * KICS answered 401 to `rejected`: a token that is not that one (another call renewed it meanwhile),
   * else a new one.
   */
  async afterRejection(rejected: string, signal?: AbortSignal): Promise<string> {
    const t = this.current;
    if (t && t.access !== rejected && this.now() < t.renewAt) return t.access;
    if (t && t.access === rejected) this.current = { ...t, renewAt: 0 };
    return (await this.renew(signal)).access;
  }

  info(): TokenInfo | null {
    const t = this.current;
    return t ? { obtainedAt: new Date(t.obtainedAt), expiresAt: new Date(t.expiresAt), renewAt: new Date(t.renewAt) } : null;
  }

  private renew(signal?: AbortSignal): Promise<Token> {
    this.pending ??= this.obtain(signal).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async obtain(signal?: AbortSignal): Promise<Token> {
    const started = this.now();
    const previous = this.current;
    let answer: TokenAnswer | null = null;
    let grant = 'certificate';
    if (previous?.refresh) {
      try {
        answer = await this.request({ grant_type: 'refresh_token', refresh_token: previous.refresh }, signal);
        grant = 'refresh_token';
      } catch (error) {
        // A used-up, revoked or expired refresh token: the certificate still proves who we are.
        if (!(error instanceof KicsApiError) || (error.status !== 400 && error.status !== 401)) throw error;
        this.logger.debug({ status: error.status }, 'KICS refused the refresh token; asking with the certificate');
      }
    }
    answer ??= await this.request({ grant_type: 'certificate' }, signal);
    const lifetime = answer.expires_in * 1000;
    const token: Token = {
      access: answer.access_token,
      refresh: answer.refresh_token ?? null,
      obtainedAt: started,
      expiresAt: started + lifetime,
      renewAt: started + lifetime * (1 - this.margin),
    };
    this.current = token;
    this.logger.debug({ grant, expiresInSeconds: answer.expires_in }, 'KICS access token obtained');
    return token;
  }
}
