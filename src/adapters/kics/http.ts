import { setTimeout as sleep } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import pRetry from 'p-retry';
import { request, type Agent, type Dispatcher, type FormData } from 'undici';
import type { z } from 'zod';
import { ExitCode, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { errorCode, retryAfterMs } from '../network.js';
import { kicsCallSeconds } from './metrics.js';
import { KicsApiError, describeEndpoint, outcomeStillUnknown, describeErrorItems, kicsErrorItems, type KicsEndpoint } from './errors.js';
import type { ConnectorTls } from './package.js';
import { pathOf, type KicsRouteName, type RouteTable } from './routes.js';
import { describeZodIssues, tokenSchema } from './schemas.js';
import { explainServerCertificate, isServerCertificateError, pinMismatchCode } from './tls.js';
import { TokenManager } from './token.js';

/**
 * One KICS call, end to end: a slot among `kics.maxInFlight`, the bearer token (renewed once and the
 * call repeated when KICS answers 401), the request over the keep-alive agent, the answer read whole and
 * checked against its schema, and failures turned into `KicsApiError`s that say what, where and why.
 *
 * Retries (p-retry: exponential backoff from `retry.minTimeoutMs`, jitter, capped at `retry.maxTimeoutMs`;
 * `Retry-After` honoured up to two minutes) depend on what the call is:
 * - `repeatable` calls (reads, queries, PUT, PATCH led by Test guards, the token): network errors,
 *   timeouts, 5xx, 429 and cut-off JSON are retried;
 * - `once` calls (creates, deletes, uploads, event registrations) are retried only when the failure
 *   proves KICS did not act (the connection could not be opened, 401). When the outcome is unknown
 *   (connection lost after sending, 500, 429 and 503 (the document defines neither), an unreadable
 *   2xx) the error says so (`outcomeUnknown`) and the caller verifies instead of resending (client.ts).
 */

export type CallSafety = 'repeatable' | 'once';

export interface CallSpec<T> {
  route: KicsRouteName;
  id?: number;
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body. */
  json?: unknown;
  /** `application/json` unless given (PATCH sends `application/json-patch+json`). */
  contentType?: string;
  /** A multipart body, built again for every attempt. */
  form?: () => FormData;
  /** The answer's schema; absent: the body is not read as JSON (DELETE). */
  schema?: z.ZodType<T>;
  safety: CallSafety;
  signal?: AbortSignal | undefined;
  /** Told before each retry, with the failure that caused it. */
  onRetry?: (error: KicsApiError) => void;
}

export interface CallAnswer<T> {
  value: T;
  status: number;
  /** The server's clock when it answered (`Date` header), when given. */
  serverDate: Date | null;
}

export interface KicsHttpOptions {
  url: string;
  routes: RouteTable;
  agent: Agent;
  tls: ConnectorTls;
  timeoutMs: number;
  maxInFlight: number;
  retry: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  tokenRefreshMargin: number;
  logger: Logger;
  now?: () => number;
}

/** The longest `Retry-After` a call waits; a server asking for more fails the call instead of stalling it. */
const maxRetryAfterMs = 120_000;

const statusText: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Failures before anything was sent: the connection could not be opened. */
const notSentCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
/** Failures after the request may have been sent. */
const lostCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);
const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function excerpt(text: string): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1];
  const flat = (title ?? text.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
  if (flat === '') return 'an empty body';
  return JSON.stringify(flat.length > 120 ? `${flat.slice(0, 120)}...` : flat);
}

interface RawAnswer {
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  text: string;
}

export class KicsHttp {
  readonly tokens: TokenManager;
  private readonly limit: LimitFunction;
  private readonly base: URL;
  private readonly logger: Logger;

  constructor(private readonly options: KicsHttpOptions) {
    this.base = new URL(options.url);
    this.limit = pLimit(options.maxInFlight);
    this.logger = options.logger;
    this.tokens = new TokenManager(
      async (params, signal) => (await this.call({ route: 'token', query: params, schema: tokenSchema, safety: 'repeatable', signal })).value,
      options.tokenRefreshMargin,
      options.logger,
      options.now,
    );
  }

  /** The endpoint of a call, for errors and logs. */
  endpoint(route: KicsRouteName, id?: number): KicsEndpoint {
    const r = this.options.routes[route];
    return { route, method: r.method, path: pathOf(r, id) };
  }

  async call<T>(spec: CallSpec<T>): Promise<CallAnswer<T>> {
    const endpoint = this.endpoint(spec.route, spec.id);
    const { retries, minTimeoutMs, maxTimeoutMs } = this.options.retry;
    // Only this call's own failures: a token failure surfacing here was already retried by the token call.
    const own = (error: unknown): error is KicsApiError => error instanceof KicsApiError && error.endpoint.route === spec.route;
    const retryable = (error: unknown): boolean => own(error) && error.retryable && (spec.safety === 'repeatable' || !error.outcomeUnknown) && (error.retryAfterMs ?? 0) <= maxRetryAfterMs;
    let attempts = 0;
    // An attempt whose answer was lost: whatever ends the call later, it may have been applied.
    let lost: KicsApiError | null = null;
    const run = (): Promise<CallAnswer<T>> => {
      attempts += 1;
      return this.attempt(spec, endpoint);
    };
    return pRetry(run, {
      retries,
      minTimeout: minTimeoutMs,
      maxTimeout: maxTimeoutMs,
      factor: 2,
      randomize: true,
      signal: spec.signal,
      shouldRetry: ({ error }) => retryable(error),
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (own(error) && error.outcomeUnknown) lost ??= error;
        if (!retryable(error) || retriesLeft === 0) return;
        spec.onRetry?.(error as KicsApiError);
        const wait = (error as KicsApiError).retryAfterMs;
        this.logger.warn({ route: spec.route, attempt: attemptNumber, retriesLeft, err: error.message, ...(wait === undefined ? {} : { retryAfterMs: wait }) }, 'KICS call failed; retrying');
        if (wait !== undefined && wait > 0) await sleep(wait, undefined, { signal: spec.signal });
      },
    }).catch((error: unknown) => {
      if (own(error) && error.retryAfterMs !== undefined && error.retryAfterMs > maxRetryAfterMs) {
        error.message = `${error.message}; KICS asks to wait ${Math.ceil(error.retryAfterMs / 1000)} s, longer than the ${maxRetryAfterMs / 1000} s a call waits`;
      }
      if (own(error) && attempts > 1) error.message = `${error.message} (${attempts} attempts)`;
      if (lost !== null && lost !== error && !(own(error) && error.outcomeUnknown)) throw outcomeStillUnknown(lost, error);
      throw error;
    });
  }

  private async attempt<T>(spec: CallSpec<T>, endpoint: KicsEndpoint): Promise<CallAnswer<T>> {
    const authenticated = spec.route !== 'token';
    let token = authenticated ? await this.tokens.token(spec.signal) : null;
    let answer = await this.limit(() => this.exchange(spec, endpoint, token));
    if (answer.status === 401 && token !== null) {
      // KICS forgot or revoked the token (or it expired early): one new token, one more try. A 401 means
      // the call was not executed, so even a create may be sent again.
      this.logger.info({ route: spec.route }, 'KICS refused the access token; renewing it');
      token = await this.tokens.afterRejection(token, spec.signal);
      answer = await this.limit(() => this.exchange(spec, endpoint, token));
      if (answer.status === 401) {
        const detail = describeErrorItems(kicsErrorItems(this.parseLoosely(answer.text)));
        throw new KicsApiError(
          `${describeEndpoint(endpoint)}: KICS refused a freshly issued access token (401${detail ? `: ${detail}` : ''}); the connector's KICS user may have been removed or lost its role`,
          { code: 'KICS_AUTH_FAILED', endpoint, status: 401 },
        );
      }
    }
    return this.interpret(spec, endpoint, answer);
  }

  /** Sends the request and reads the whole answer; network failures become classified errors. */
  private async exchange<T>(spec: CallSpec<T>, endpoint: KicsEndpoint, token: string | null): Promise<RawAnswer> {
    const url = new URL(this.base.pathname.replace(/\/+$/, '') + endpoint.path, this.base);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | FormData | undefined;
    if (spec.json !== undefined) {
      body = JSON.stringify(spec.json);
      headers['content-type'] = spec.contentType ?? 'application/json';
    } else if (spec.form) body = spec.form();
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, { dispatcher: this.options.agent, method: endpoint.method, headers, body, signal: spec.signal });
    } catch (error) {
      kicsCallSeconds.observe({ route: spec.route, status: 'error' }, (performance.now() - started) / 1000);
      throw await this.networkError(error, endpoint, spec.signal, 'request');
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      kicsCallSeconds.observe({ route: spec.route, status: 'error' }, (performance.now() - started) / 1000);
      throw await this.networkError(error, endpoint, spec.signal, 'answer', response.statusCode);
    }
    kicsCallSeconds.observe({ route: spec.route, status: String(response.statusCode) }, (performance.now() - started) / 1000);
    this.logger.debug({ route: spec.route, method: endpoint.method, path: endpoint.path, status: response.statusCode, ms: Math.round(performance.now() - started) }, 'KICS call');
    return { status: response.statusCode, headers: response.headers, text };
  }

  private async networkError(error: unknown, endpoint: KicsEndpoint, signal: AbortSignal | undefined, phase: 'request' | 'answer', status?: number): Promise<unknown> {
    if (signal?.aborted) return signal.reason ?? error;
    const code = errorCode(error);
    const where = describeEndpoint(endpoint);
    const host = this.base.host;
    if (phase === 'request' && isServerCertificateError(code)) {
      const explanation = await explainServerCertificate(this.base, this.options.tls, code!);
      return new KicsApiError(explanation, { code: code === pinMismatchCode ? 'KICS_TLS_PIN_MISMATCH' : 'KICS_TLS_UNTRUSTED', endpoint, cause: error });
    }
    if (phase === 'answer') {
      return new KicsApiError(`${where}: the answer (${status}) was cut off (${code ?? errorMessage(error)})`, {
        code: code && timeoutCodes.has(code) ? 'KICS_TIMEOUT' : 'KICS_UNREACHABLE',
        endpoint,
        status: status ?? null,
        retryable: true,
        outcomeUnknown: true,
        cause: error,
      });
    }
    if (code === 'ENOTFOUND') return new KicsApiError(`${where}: host ${this.base.hostname} not found (check kics.url)`, { code: 'KICS_UNREACHABLE', endpoint, cause: error });
    if (code && timeoutCodes.has(code)) {
      const connecting = code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT';
      return new KicsApiError(`${where}: ${connecting ? `no connection to ${host}` : 'no answer'} within ${this.options.timeoutMs} ms`, {
        code: 'KICS_TIMEOUT',
        endpoint,
        retryable: true,
        outcomeUnknown: !connecting,
        cause: error,
      });
    }
    if (code && notSentCodes.has(code)) return new KicsApiError(`${where}: cannot reach KICS at ${host} (${code})`, { code: 'KICS_UNREACHABLE', endpoint, retryable: true, cause: error });
    if (code && (lostCodes.has(code) || code.startsWith('UND_ERR'))) {
      // KICS closes the connection right after the handshake when it does not accept the connector's
      // certificate (TLS 1.3 reports that only here), so a lost token call says what to check.
      const hint =
        endpoint.route === 'token'
          ? `; if this persists, KICS may not accept the connector certificate (${this.options.tls.connector.subject}, issued by ${this.options.tls.connector.issuer}): download the communication data package again`
          : '';
      return new KicsApiError(`${where}: the connection to ${host} was lost before an answer (${code})${hint}`, {
        code: endpoint.route === 'token' ? 'KICS_TLS_CLIENT_REFUSED' : 'KICS_UNREACHABLE',
        endpoint,
        retryable: true,
        outcomeUnknown: true,
        cause: error,
      });
    }
    if (code && /^ERR_(SSL|TLS)|CERT/.test(code)) {
      return new KicsApiError(`${where}: TLS with ${host} failed (${code}: ${errorMessage(error)})`, { code: 'KICS_TLS_CLIENT_REFUSED', endpoint, cause: error });
    }
    return new KicsApiError(`${where}: ${errorMessage(error)}`, { code: 'KICS_UNREACHABLE', endpoint, retryable: true, outcomeUnknown: true, cause: error });
  }

  private parseLoosely(text: string): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  private interpret<T>(spec: CallSpec<T>, endpoint: KicsEndpoint, answer: RawAnswer): CallAnswer<T> {
    const { status, text } = answer;
    const where = describeEndpoint(endpoint);
    const date = header(answer.headers, 'date');
    const serverDate = date && !Number.isNaN(Date.parse(date)) ? new Date(Date.parse(date)) : null;
    if (status >= 200 && status < 300) {
      if (!spec.schema) return { value: undefined as T, status, serverDate };
      const contentType = header(answer.headers, 'content-type') ?? '';
      if (text.trim() === '') {
        // An answer the schema allows to be absent (an edit KICS may answer with 204).
        if (spec.schema.safeParse(undefined).success) return { value: undefined as T, status, serverDate };
        throw new KicsApiError(`${where}: answered ${status} with an empty body; a JSON answer was expected`, { code: 'KICS_BAD_RESPONSE', endpoint, status, retryable: true, outcomeUnknown: true });
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        if (/html|xml/i.test(contentType) || text.trimStart().startsWith('<')) {
          throw new KicsApiError(`${where}: answered ${status} with ${contentType || 'markup'} instead of JSON (${excerpt(text)}); is kics.url the KICS API and not a web page or a proxy's?`, {
            code: 'KICS_BAD_RESPONSE',
            endpoint,
            status,
            cause: error,
          });
        }
        // JSON cut short (a broken connection or proxy): worth another try for a read.
        throw new KicsApiError(`${where}: answered ${status} with JSON that is cut off or malformed (${errorMessage(error)}, ${text.length} characters)`, {
          code: 'KICS_BAD_RESPONSE',
          endpoint,
          status,
          retryable: true,
          outcomeUnknown: true,
          cause: error,
        });
      }
      const parsed = spec.schema.safeParse(body);
      if (!parsed.success) {
        throw new KicsApiError(`${where}: answered ${status} with an unexpected shape: ${describeZodIssues(parsed.error)}`, { code: 'KICS_BAD_RESPONSE', endpoint, status, cause: parsed.error });
      }
      // The schema checks; the value is the answer as sent (members the schema does not name included).
      return { value: body as T, status, serverDate };
    }

    const errors = kicsErrorItems(this.parseLoosely(text));
    const detail = errors.length > 0 ? describeErrorItems(errors) : text.trim() === '' ? '' : excerpt(text);
    const head = `${where}: answered ${status}${statusText[status] ? ` ${statusText[status]}` : ''}${detail ? `: ${detail}` : ''}`;
    const wait = retryAfterMs(header(answer.headers, 'retry-after'));
    const base = { endpoint, status, errors };
    if (spec.route === 'token' && (status === 400 || status === 401 || status === 403)) {
      throw new KicsApiError(`${head} (KICS did not issue a token for the connector certificate ${this.options.tls.connector.subject}; check the connector in KICS)`, { ...base, code: 'KICS_AUTH_FAILED' });
    }
    switch (status) {
      case 400:
        throw new KicsApiError(head, { ...base, code: 'KICS_VALIDATION', exitCode: ExitCode.failed });
      case 403:
        throw new KicsApiError(`${head} (the connector's KICS user lacks the role for this call)`, { ...base, code: 'KICS_FORBIDDEN' });
      case 404:
        // Without an id in the path, a 404 can only mean the path itself is wrong for this KICS.
        throw new KicsApiError(spec.id === undefined ? `${head} (the path may differ on this KICS version: see kics.routes.${spec.route})` : head, { ...base, code: 'KICS_NOT_FOUND', exitCode: ExitCode.failed });
      case 405:
        throw new KicsApiError(`${head} (the path may differ on this KICS version: see kics.routes.${spec.route})`, { ...base, code: 'KICS_HTTP_ERROR', exitCode: ExitCode.failed });
      case 409:
        throw new KicsApiError(head, { ...base, code: 'KICS_CONFLICT', exitCode: ExitCode.failed });
      case 413:
        throw new KicsApiError(head, { ...base, code: 'KICS_PAYLOAD_TOO_LARGE', exitCode: ExitCode.failed });
      // The document defines neither 429 nor 503. They usually mean "refused before processing", but a
      // proxy or a server failing after it acted answers them too: a call that must not run twice
      // treats them as an unknown outcome (verified before it is sent again), a repeatable one retries.
      case 429:
        throw new KicsApiError(head, { ...base, code: 'KICS_RATE_LIMITED', retryable: true, outcomeUnknown: spec.safety === 'once', ...(wait === undefined ? {} : { retryAfterMs: wait }) });
      case 503:
        throw new KicsApiError(head, { ...base, code: 'KICS_SERVER_ERROR', retryable: true, outcomeUnknown: spec.safety === 'once', ...(wait === undefined ? {} : { retryAfterMs: wait }) });
    }
    if (status >= 500) throw new KicsApiError(head, { ...base, code: 'KICS_SERVER_ERROR', retryable: true, outcomeUnknown: true });
    throw new KicsApiError(head, { ...base, code: 'KICS_HTTP_ERROR', exitCode: ExitCode.failed });
  }
}
