import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { Agent, request, type Dispatcher } from 'undici';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { errorCode, retryAfterMs } from './network.js';
import { SourceError, displayUrl } from './source-error.js';

/**
 * The HTTP client of the REST sources (NetBox, ServiceNow): GET with JSON answers, keep-alive
 * connections, TLS verified (a CA file may be added, never switched off), a per-request timeout, and
 * retries of transient failures only (network errors, 5xx, 429 honouring Retry-After) with exponential
 * backoff and jitter. 400 / 401 / 403 / 404 are never retried: repeating them cannot help.
 * Credentials travel in headers and never appear in errors or logs.
 */
export interface RestClientOptions {
  /** The source's name, for messages. */
  source: string;
  /** What the API is called in messages, e.g. `NetBox`. */
  system: string;
  baseUrl: string;
  /** Sent with every request (the credentials live here). */
  headers: Record<string, string>;
  timeoutMs: number;
  retries: number;
  caFile?: string | undefined;
  logger: Logger;
  /** Connections kept open to the server. */
  connections?: number;
  /** First retry delay; doubles each attempt (with jitter) up to maxRetryDelayMs. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Longest Retry-After honoured; a server asking for more fails the read instead of stalling it. */
  maxRetryAfterMs?: number;
  /** The API's own error text from an error body (e.g. ServiceNow's error.message / error.detail). */
  describeError?: (body: unknown) => string | undefined;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
  headers: Record<string, string | undefined>;
}

const statusText: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT']);
const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const tlsCodes = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|DEPTH_ZERO/;

export class RestClient {
  private readonly agent: Agent;
  private readonly options: Required<Omit<RestClientOptions, 'caFile' | 'describeError'>> & Pick<RestClientOptions, 'caFile' | 'describeError'>;

  constructor(options: RestClientOptions) {
    this.options = { connections: 4, minRetryDelayMs: 500, maxRetryDelayMs: 15_000, maxRetryAfterMs: 120_000, ...options };
    let ca: string | undefined;
    if (options.caFile) {
      try {
        ca = readFileSync(options.caFile, 'utf8');
      } catch (error) {
        throw new SourceError(`${options.source}: cannot read the CA file ${options.caFile}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`, { code: 'SOURCE_TLS', cause: error });
      }
    }
    const base = new URL(options.baseUrl);
    if (base.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(base.hostname)) {
      options.logger.warn({ source: options.source, url: displayUrl(base) }, `${options.system} is reached over plain http: its credentials travel unencrypted; use https`);
    }
    // A CA file adds to Node's trusted roots rather than replacing them: a NetBox behind a public
    // certificate keeps working when someone also sets caFile.
    this.agent = new Agent({
      connections: this.options.connections,
      keepAliveTimeout: 30_000,
      connect: ca ? { ca: [ca, ...rootCertificates()] } : {},
    });
  }

  /** Resolves a path (or an absolute `next` link the server gave) against the base URL. */
  url(pathOrUrl: string, query?: URLSearchParams): URL {
    const url = new URL(pathOrUrl, this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`);
    if (query) for (const [k, v] of query) url.searchParams.append(k, v);
    return url;
  }

  /** GET a JSON document, retrying transient failures. */
  async getJson<T>(url: URL, signal?: AbortSignal): Promise<JsonResponse<T>> {
    const { retries, minRetryDelayMs, maxRetryDelayMs, logger, source } = this.options;
    return pRetry(() => this.getOnce<T>(url, signal), {
      retries,
      minTimeout: minRetryDelayMs,
      maxTimeout: maxRetryDelayMs,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => error instanceof SourceError && error.retryable,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (!(error instanceof SourceError) || !error.retryable || retriesLeft === 0) return;
        logger.warn({ source, attempt: attemptNumber, retriesLeft, error: error.message }, 'request failed; retrying');
        const wait = error.details.retryAfterMs;
        if (typeof wait === 'number' && wait > 0) await sleep(wait, undefined, { signal });
      },
    });
  }

  private async getOnce<T>(url: URL, signal?: AbortSignal): Promise<JsonResponse<T>> {
    const { source, system, timeoutMs, headers } = this.options;
    const where = `${source}: GET ${displayUrl(url)}`;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        dispatcher: this.agent,
        method: 'GET',
        headers: { accept: 'application/json', ...headers },
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const code = errorCode(error);
      if (code && timeoutCodes.has(code)) throw new SourceError(`${where}: no answer within ${timeoutMs} ms`, { code: 'SOURCE_TIMEOUT', retryable: true, cause: error });
      if (code && tlsCodes.test(code)) {
        throw new SourceError(`${where}: the TLS certificate of ${system} was not accepted (${code}); give its CA certificate in caFile`, { code: 'SOURCE_TLS', cause: error });
      }
      if (code === 'ENOTFOUND') throw new SourceError(`${where}: host ${url.hostname} not found`, { code: 'SOURCE_UNREACHABLE', cause: error });
      const retryable = code === undefined || networkCodes.has(code);
      throw new SourceError(`${where}: cannot reach ${system} (${code ?? errorMessage(error)})`, { code: 'SOURCE_UNREACHABLE', retryable, cause: error });
    }

    const status = response.statusCode;
    const responseHeaders = flattenHeaders(response.headers);
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const code = errorCode(error);
      throw new SourceError(`${where}: the answer was cut off (${code ?? errorMessage(error)})`, { code: code && timeoutCodes.has(code) ? 'SOURCE_TIMEOUT' : 'SOURCE_UNREACHABLE', retryable: true, cause: error });
    }

    if (status >= 200 && status < 300) {
      try {
        return { status, body: JSON.parse(text) as T, headers: responseHeaders };
      } catch (error) {
        throw new SourceError(`${where}: answered ${status} but not with JSON (${describeText(text)})`, { code: 'SOURCE_BAD_RESPONSE', cause: error, details: { status } });
      }
    }

    const detail = this.describe(text);
    const head = `${where}: answered ${status}${statusText[status] ? ` ${statusText[status]}` : ''}${detail ? `: ${detail}` : ''}`;
    if (status === 401 || status === 403) {
      throw new SourceError(`${head} (check the credentials of source ${source} and their permissions in ${system})`, { code: 'SOURCE_AUTH_FAILED', details: { status } });
    }
    if (status === 404) throw new SourceError(head, { code: 'SOURCE_NOT_FOUND', details: { status } });
    if (status === 429 || status === 503) {
      const wait = retryAfterMs(responseHeaders['retry-after']);
      if (wait !== undefined && wait > this.options.maxRetryAfterMs) {
        throw new SourceError(`${head}; it asks to wait ${Math.ceil(wait / 1000)} s, longer than the ${this.options.maxRetryAfterMs / 1000} s a read waits`, { code: 'SOURCE_RATE_LIMITED', details: { status } });
      }
      throw new SourceError(head, { code: status === 429 ? 'SOURCE_RATE_LIMITED' : 'SOURCE_SERVER_ERROR', retryable: true, details: { status, ...(wait === undefined ? {} : { retryAfterMs: wait }) } });
    }
    if (status >= 500) throw new SourceError(head, { code: 'SOURCE_SERVER_ERROR', retryable: true, details: { status } });
    throw new SourceError(head, { code: 'SOURCE_HTTP_ERROR', details: { status } });
  }

  private describe(text: string): string | undefined {
    if (text.trim() === '') return undefined;
    try {
      const body: unknown = JSON.parse(text);
      const described = this.options.describeError?.(body);
      if (described) return described;
      return describeText(JSON.stringify(body));
    } catch {
      return describeText(text);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function describeText(text: string): string {
  const flat = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  if (flat === '') return 'empty body';
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function rootCertificates(): readonly string[] {
  return tls.rootCertificates;
}
