import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Access and refresh tokens of the simulated server. Access tokens look like the JWTs the reference
 * announces ("Bearer format: JWT", HS256 with a per-run secret) but are also remembered server-side,
 * so they can be revoked or expired at once. A refresh token is opaque and works once (it rotates).
 */

export interface TokenGrant {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
}

export type TokenCheck = { ok: true; subject: string } | { ok: false; reason: string };

interface Session {
  subject: string;
  expiresAt: number;
}

export interface TokenSettings {
  /** Access token lifetime (KICS default: 10 hours). */
  ttlSeconds: number;
  /** Refresh token lifetime. */
  refreshTtlSeconds: number;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export class TokenService {
  private readonly secret = randomBytes(32);
  private readonly access = new Map<string, Session>();
  private readonly refresh = new Map<string, Session>();
  /** Tokens revoked or force-expired, so the answer can say which (never the token itself). */
  private readonly ended = new Map<string, 'revoked' | 'expired'>();
  settings: TokenSettings;

  constructor(
    settings: Partial<TokenSettings> = {},
    private readonly now: () => number = Date.now,
  ) {
    const ttlSeconds = settings.ttlSeconds ?? 36_000;
    this.settings = { ttlSeconds, refreshTtlSeconds: settings.refreshTtlSeconds ?? Math.max(86_400, ttlSeconds * 2) };
  }

  /** A new access + refresh token pair for `subject` (the client certificate's subject). */
  issue(subject: string): TokenGrant {
    this.purge();
    const now = this.now();
    const jti = randomUUID();
    const exp = now + this.settings.ttlSeconds * 1000;
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = base64url(JSON.stringify({ sub: subject, iat: Math.floor(now / 1000), exp: Math.floor(exp / 1000), jti, iss: 'kics-simulator' }));
    const signature = createHmac('sha256', this.secret).update(`${header}.${payload}`).digest('base64url');
    this.access.set(jti, { subject, expiresAt: exp });
    const refreshToken = randomBytes(32).toString('base64url');
    this.refresh.set(refreshToken, { subject, expiresAt: now + this.settings.refreshTtlSeconds * 1000 });
    return { access_token: `${header}.${payload}.${signature}`, token_type: 'bearer', expires_in: this.settings.ttlSeconds, refresh_token: refreshToken };
  }

  /** A new pair for a valid refresh token (which is used up); null with the reason otherwise. */
  refreshWith(token: string): { grant: TokenGrant } | { reason: string } {
    const session = this.refresh.get(token);
    if (!session) {
      const ended = this.ended.get(`r:${token}`);
      return { reason: ended === 'revoked' ? 'the refresh token was revoked' : ended === 'expired' ? 'the refresh token has expired' : 'unknown or already used refresh token' };
    }
    this.refresh.delete(token);
    if (session.expiresAt <= this.now()) return { reason: 'the refresh token has expired' };
    return { grant: this.issue(session.subject) };
  }

  /** Checks an `Authorization` header. */
  verify(header: string | undefined): TokenCheck {
    if (!header) return { ok: false, reason: 'No access token: send Authorization: Bearer <token>.' };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return { ok: false, reason: 'The Authorization header must be "Bearer <token>".' };
    const parts = m[1]!.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'The access token is malformed.' };
    const expected = createHmac('sha256', this.secret).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'The access token is not valid for this server.' };
    let jti: string;
    try {
      jti = (JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;
    } catch {
      return { ok: false, reason: 'The access token is malformed.' };
    }
    const session = this.access.get(jti);
    if (!session) {
      const ended = this.ended.get(`a:${jti}`);
      return { ok: false, reason: ended === 'revoked' ? 'The access token was revoked.' : 'The access token has expired.' };
    }
    if (session.expiresAt <= this.now()) return { ok: false, reason: 'The access token has expired.' };
    return { ok: true, subject: session.subject };
  }

  /** Revokes every access and refresh token; returns how many there were. */
  revokeAll(): number {
    return this.end('revoked');
  }

  /** Makes every current token expired, as if their lifetime had passed. */
  expireAll(): number {
    return this.end('expired');
  }

  counts(): { accessTokens: number; refreshTokens: number } {
    this.purge();
    return { accessTokens: this.access.size, refreshTokens: this.refresh.size };
  }

  private end(how: 'revoked' | 'expired'): number {
    const n = this.access.size + this.refresh.size;
    for (const jti of this.access.keys()) this.ended.set(`a:${jti}`, how);
    for (const token of this.refresh.keys()) this.ended.set(`r:${token}`, how);
    this.access.clear();
    this.refresh.clear();
    if (this.ended.size > 100_000) this.ended.clear();
    return n;
  }

  private purge(): void {
    const now = this.now();
    for (const [k, s] of this.access) if (s.expiresAt <= now) this.access.delete(k);
    for (const [k, s] of this.refresh) if (s.expiresAt <= now) this.refresh.delete(k);
  }
}
