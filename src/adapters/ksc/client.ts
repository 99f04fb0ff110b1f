import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import pRetry from 'p-retry';
import { Client } from 'undici';
import type { KscConfig } from '../../config/index.js';
import { ConfigError, errorMessage } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { KscError, KscPxgError, parsePxgError } from './errors.js';
import { decodeValue, encodeParams, encodeValue, KscDouble, KscLong, type KscInput, type KscParams, type KscValue, type KscWire } from './params.js';
import { requireSettings } from '../../config/load.js';

/** How the client proves who it is: a KSC user (`KSCBasic`) or a KSC token (`KSCT`). */
export type KscCredentials = { kind: 'basic'; user: string; password: string; domain?: string | undefined; internal: boolean } | { kind: 'token'; token: string };

export interface KscClientOptions {
  /** `https://host:13299`, optionally with a path prefix (a reverse proxy). */
  url: string;
  credentials: KscCredentials;
  /** CA certificate(s) (PEM text) that signed the KSC server certificate; default: the system store. */
  ca?: string | undefined;
  /** Skip certificate verification. */
  insecure?: boolean;
  timeoutMs?: number;
  retry?: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  logger?: Logger;
}

/** A successful answer: `PxgRetVal` and the out-parameters, decoded. */
export interface KscCallResult {
  retval: KscValue;
  out: KscParams;
}

export interface KscCallOptions {
  /**
   * Whether repeating the call is harmless (default true). A call that is not is retried only when
   * it surely never reached KSC (the connection could not be opened).
   */
  idempotent?: boolean;
  signal?: AbortSignal | undefined;
}

/** Arguments of a KSC method: plain values, arrays, params containers (plain objects). */
export type KscArgs = Record<string, KscInput>;

const apiPrefix = '/api/v1.0/';

/**
 * The KSC Open API client. KSC serves one request at a time per connection, so every call goes
 * through one queue and one connection. The session is started with `Session.StartSession` and
 * carried in `X-KSC-Session`; when KSC forgets it (401 / 403) the client logs in again and repeats
 * the call once. Transient failures (network, timeouts, 5xx) are retried with backoff; a `PxgError`
 * is KSC's considered answer and is never retried.
 */
export class KscClient {
  private readonly http: Client;
  private readonly queue = pLimit(1);
  private readonly logger: Logger;
  private readonly basePath: string;
  private readonly origin: string;
  private session: string | null = null;
  private generation = 0;
  private closed = false;

  constructor(private readonly options: KscClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:') throw new ConfigError(`ksc.url must be an https:// URL; found ${url.protocol}//`);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '') + apiPrefix;
    this.logger = options.logger ?? silentLogger();
    const timeout = options.timeoutMs ?? 30_000;
    this.http = new Client(url.origin, {
      pipelining: 1,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connectTimeout: Math.min(timeout, 10_000),
      connect: { rejectUnauthorized: options.insecure !== true, ...(options.ca ? { ca: options.ca } : {}) },
    });
  }

  /** A client from the `ksc` config section; reads the CA file and warns when verification is off. */
  static async fromConfig(config: KscConfig, logger: Logger): Promise<KscClient> {
    requireSettings(config);
    let ca: string | undefined;
    if (config.ca) {
      try {
        ca = await readFile(config.ca, 'utf8');
      } catch (error) {
        throw new ConfigError(`ksc.ca: cannot read ${config.ca}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`, { cause: error });
      }
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`ksc.ca: ${config.ca} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`);
    }
    if (config.insecure) logger.warn({ ksc: new URL(config.url).host }, 'ksc.insecure is set: the KSC server certificate is NOT verified; anyone on the network path can read the KSC session');
    return new KscClient({ url: config.url, credentials: kscCredentials(config), ca, insecure: config.insecure, timeoutMs: config.timeoutMs, retry: config.retry, logger });
  }

  /** `host:port` of KSC, for messages. */
  get host(): string {
    return new URL(this.origin).host;
  }

  /** Increases each time a new session is started; KSC forgets subscriptions with the old session. */
  get sessionGeneration(): number {
    return this.generation;
  }

  /** Starts a session now (if none), so that bad credentials surface before any work. */
  async login(signal?: AbortSignal): Promise<void> {
    await this.queue(() => this.ensureSession(signal));
  }

  /** Calls `Class.Method` with named arguments. */
  async call(method: string, args: KscArgs = {}, options: KscCallOptions = {}): Promise<KscCallResult> {
    if (this.closed) throw new KscError(`KSC client for ${this.host} is closed`, { code: 'KSC_CLIENT_CLOSED' });
    const body = JSON.stringify(encodeArgs(args));
    const idempotent = options.idempotent ?? true;
    const retry = this.options.retry ?? { retries: 4, minTimeoutMs: 200, maxTimeoutMs: 10_000 };
    return this.queue(() =>
      pRetry(() => this.callOnce(method, body, options.signal), {
        retries: retry.retries,
        minTimeout: retry.minTimeoutMs,
        maxTimeout: retry.maxTimeoutMs,
        randomize: true,
        signal: options.signal,
        shouldRetry: ({ error }) => error instanceof KscError && error.retryable && (idempotent || error.details.sent === false),
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (error instanceof KscError && error.retryable && retriesLeft > 0) this.logger.warn({ method, attempt: attemptNumber, err: error.message }, 'KSC call failed; retrying');
        },
      }),
    );
  }

  /** Ends the session (best effort) and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue(async () => {
      if (this.session) {
        try {
          await this.post('Session.EndSession', '{}', { 'X-KSC-Session': this.session }, AbortSignal.timeout(2_000));
        } catch {}
        this.session = null;
      }
    });
    await this.http.close();
  }

  private async callOnce(method: string, body: string, signal: AbortSignal | undefined): Promise<KscCallResult> {
    let relogged = false;
    for (;;) {
      const session = await this.ensureSession(signal);
      const response = await this.post(method, body, { 'X-KSC-Session': session }, signal);
      if ((response.status === 401 || response.status === 403) && !relogged) {
        // KSC forgot the session (expired, ended, server restarted): one new login, then the call again.
        this.logger.info({ method, status: response.status }, 'KSC session no longer valid; logging in again');
        this.session = null;
        relogged = true;
        continue;
      }
      return this.parse(method, response);
    }
  }

  private async ensureSession(signal: AbortSignal | undefined): Promise<string> {
    if (this.session) return this.session;
    const response = await this.post('Session.StartSession', '{}', { Authorization: authorizationHeader(this.options.credentials) }, signal);
    if (response.status === 401 || response.status === 403) {
      const mfa = /KSCMFA/i.test(response.wwwAuthenticate ?? '');
      throw new KscError(
        mfa
          ? `KSC at ${this.host} asks for a second authentication factor for this account; use an account without 2FA or a token (ksc.token)`
          : `KSC at ${this.host} refused the login (HTTP ${response.status}): check ksc.user / ksc.password (or ksc.token) and ksc.internalUser`,
        { code: 'KSC_AUTH_FAILED', details: { status: response.status } },
      );
    }
    const result = this.parse('Session.StartSession', response);
    if (typeof result.retval !== 'string' || result.retval === '') throw new KscError(`KSC at ${this.host}: Session.StartSession returned no session id`, { code: 'KSC_BAD_RESPONSE' });
    this.session = result.retval;
    this.generation += 1;
    this.logger.debug({ ksc: this.host, generation: this.generation }, 'KSC session started');
    return this.session;
  }

  private async post(method: string, body: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<RawResponse> {
    const started = performance.now();
    try {
      const response = await this.http.request({
        path: this.basePath + method,
        method: 'POST',
        body,
        signal,
        headers: { 'Content-Type': 'application/json', 'X-KSC-RequestId': requestId(), ...headers },
      });
      const text = await response.body.text();
      this.logger.debug({ method, status: response.statusCode, ms: Math.round(performance.now() - started) }, 'KSC call');
      const www = response.headers['www-authenticate'];
      return { status: response.statusCode, text, wwwAuthenticate: Array.isArray(www) ? www.join(', ') : www };
    } catch (error) {
      throw this.transportError(method, error, signal);
    }
  }

  private parse(method: string, response: RawResponse): KscCallResult {
    let body: unknown;
    try {
      body = response.text === '' ? {} : JSON.parse(response.text);
    } catch (error) {
      const retryable = response.status >= 500;
      throw new KscError(`KSC at ${this.host}: ${method} answered HTTP ${response.status} with a body that is not JSON: ${preview(response.text)}`, {
        code: retryable ? 'KSC_HTTP_ERROR' : 'KSC_BAD_RESPONSE',
        retryable,
        cause: error,
        details: { method, status: response.status },
      });
    }
    // KSC puts PxgError in the body; whatever the HTTP status, it is KSC's answer to this call.
    const pxg = parsePxgError(body);
    if (pxg) throw new KscPxgError(method, pxg);
    if (response.status === 401 || response.status === 403) {
      throw new KscError(`KSC at ${this.host} denied ${method} (HTTP ${response.status}) even after a new login: the account lacks the right for it`, { code: 'KSC_ACCESS_DENIED', details: { method, status: response.status } });
    }
    if (response.status === 404) throw new KscError(`KSC at ${this.host} has no method ${method} (HTTP 404)`, { code: 'KSC_NO_SUCH_METHOD', details: { method } });
    if (response.status < 200 || response.status >= 300) {
      throw new KscError(`KSC at ${this.host}: ${method} answered HTTP ${response.status}: ${preview(response.text)}`, { code: 'KSC_HTTP_ERROR', retryable: response.status >= 500 || response.status === 429, details: { method, status: response.status } });
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new KscError(`KSC at ${this.host}: ${method} answered ${preview(response.text)}, not a JSON object`, { code: 'KSC_BAD_RESPONSE', details: { method } });
    const out: KscParams = {};
    let retval: KscValue = null;
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      if (name === 'PxgRetVal') retval = decodeValue(value);
      else out[name] = decodeValue(value);
    }
    return { retval, out };
  }

  private transportError(method: string, error: unknown, signal: AbortSignal | undefined): Error {
    if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new KscError(`KSC call ${method} aborted`, { code: 'KSC_ABORTED', cause: error });
    const code = errorCode(error);
    if (code && tlsErrorCodes.has(code)) {
      return new KscError(`cannot verify the TLS certificate of KSC at ${this.host} (${code}): set ksc.ca to the CA certificate (PEM) that signed the KSC server certificate`, { code: 'KSC_TLS_UNTRUSTED', cause: error, details: { tlsError: code } });
    }
    const sent = !(code && notSentCodes.has(code));
    const reason = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? `no answer within ${this.options.timeoutMs ?? 30_000} ms` : `${code ?? 'network error'}: ${errorMessage(error)}`;
    return new KscError(`cannot reach KSC at ${this.host} for ${method}: ${reason}`, { code: 'KSC_UNREACHABLE', retryable: true, cause: error, details: { method, sent } });
  }
}

interface RawResponse {
  status: number;
  text: string;
  wwwAuthenticate: string | undefined;
}

/** Connection-phase failures: the request never left this machine, so repeating it is always safe. */
const notSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const tlsErrorCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

function errorCode(error: unknown): string | undefined {
  let cur: unknown = error;
  for (let depth = 0; depth < 4 && cur && typeof cur === 'object'; depth += 1) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('UND_ERR_SOCKET')) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
}

/** `KSCBasic user="<b64>", pass="<b64>", internal="0|1"` (as KSC's own client sends it) or `KSCT <token>`. */
export function authorizationHeader(credentials: KscCredentials): string {
  if (credentials.kind === 'token') return `KSCT ${credentials.token}`;
  const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  const domain = credentials.domain ? `, domain="${credentials.domain}"` : '';
  return `KSCBasic user="${b64(credentials.user)}", pass="${b64(credentials.password)}"${domain}, internal="${credentials.internal ? 1 : 0}"`;
}

export function kscCredentials(config: KscConfig): KscCredentials {
  if (config.token) return { kind: 'token', token: config.token };
  if (config.user && config.password !== undefined) return { kind: 'basic', user: config.user, password: config.password, domain: config.domain, internal: config.internalUser };
  throw new ConfigError('ksc: set user and password, or token');
}

/** Top-level params arguments travel as plain objects; everything inside them is typed. */
function encodeArgs(args: KscArgs): Record<string, KscWire> {
  const out: Record<string, KscWire> = {};
  for (const [name, value] of Object.entries(args)) {
    if (value === undefined) continue;
    const plainObject = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof Uint8Array) && !(value instanceof KscLong) && !(value instanceof KscDouble);
    out[name] = plainObject ? encodeParams(value) : encodeValue(value);
  }
  return out;
}

function requestId(): string {
  return `${randomBytes(8).toString('hex').toUpperCase()}_${randomBytes(8).toString('hex').toUpperCase()}`;
}

function preview(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > 200 ? `${one.slice(0, 197)}...` : one);
}
