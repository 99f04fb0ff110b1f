import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../log.js';
import { handleToken, handlers, type Answer, type ApiState, type HandlerContext } from './api.js';
import type { PemPair } from './certificates.js';
import type { AnswerFault, FaultInjector } from './faults.js';
import { SimulatorHttpError, httpError } from './http.js';
import { loggablePath, type RequestLog } from './request-log.js';
import { matchRoute, type KicsRouteName } from './routes.js';

/**
 * The HTTPS API: mutual TLS (a client certificate that chains to the simulator's CA, else the
 * handshake fails), then per call: route -> injected faults -> bearer token -> handler -> answer.
 * An injected 500 / 503 / 429 answers before the handler runs; `reset` and `truncate` let the
 * handler run (its change is made) and then spoil the answer, as a broken network would.
 */

export interface ApiServerOptions {
  tls: { server: PemPair; ca: string };
  state: ApiState;
  faults: FaultInjector;
  requests: RequestLog;
  logger: Logger;
}

function errorAnswer(error: SimulatorHttpError): Answer {
  return { status: error.status, body: error.body(), headers: error.headers };
}

function faultAnswer(fault: AnswerFault, retryAfterSeconds: number | undefined): Answer | null {
  const body = (message: string) => ({ status: 'Error', errors: [{ field: null, path: null, errorMessage: message }] });
  switch (fault) {
    case 'error500':
      return { status: 500, body: body('Internal server error (injected by the simulator).') };
    case 'error503':
      return { status: 503, body: body('Service unavailable (injected by the simulator).'), headers: retryAfterSeconds !== undefined ? { 'retry-after': String(retryAfterSeconds) } : {} };
    case 'rateLimit':
      return { status: 429, body: body('Too many requests (injected by the simulator).'), headers: { 'retry-after': String(retryAfterSeconds ?? 1) } };
    default:
      return null;
  }
}

function destroyAbruptly(socket: Socket | null): void {
  if (!socket) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** Writes an answer; `reset` and `truncate` spoil it on purpose. */
function send(res: ServerResponse, answer: Answer, spoil: 'reset' | 'truncate' | null): void {
  const payload = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(answer.body), 'utf8');
  const headers: Record<string, string | number> = { ...answer.headers };
  if (answer.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  if (spoil === 'truncate') {
    const cut = payload.subarray(0, Math.floor(payload.length / 2));
    res.writeHead(answer.status, { ...headers, 'content-length': cut.length });
    res.end(cut);
    return;
  }
  if (spoil === 'reset') {
    res.writeHead(answer.status, { ...headers, 'content-length': payload.length });
    res.flushHeaders();
    res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => destroyAbruptly(res.socket));
    return;
  }
  res.writeHead(answer.status, { ...headers, 'content-length': payload.length });
  res.end(payload);
}

export function createApiServer(options: ApiServerOptions): https.Server {
  const { state, faults, requests, logger } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const done = requests.begin();
    res.once('close', done);
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://simulator');
    const lookup = matchRoute(method, url.pathname);
    const routeName: KicsRouteName | null = lookup.kind === 'match' ? lookup.route.name : null;
    let answer: Answer;
    let spoil: 'reset' | 'truncate' | null = null;
    let faultName: string | null = null;
    try {
      if (lookup.kind === 'not-found') throw httpError(404, `No API method at ${method} ${url.pathname}.`);
      if (lookup.kind === 'method-not-allowed') throw httpError(405, `${method} is not allowed here; allowed: ${lookup.allowed.join(', ')}.`, null, null, { allow: lookup.allowed.join(', ') });
      if (lookup.kind === 'bad-version') throw httpError(404, `API version ${lookup.version} is not served; use v3 or v4.`);
      if (lookup.kind === 'bad-id') throw httpError(400, `The id must be an integer >= 1; found ${JSON.stringify(lookup.value)}.`, 'id', 'id');
      const decision = faults.decide(lookup.route.name);
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      faultName = decision.fault;
      const injected = decision.fault ? faultAnswer(decision.fault, decision.retryAfterSeconds) : null;
      if (injected) answer = injected;
      else {
        if (decision.fault === 'reset' || decision.fault === 'truncate') spoil = decision.fault;
        const ctx: HandlerContext = { req, url, route: lookup.route, state };
        if (lookup.route.name === 'token') answer = handleToken(ctx);
        else {
          const check = state.tokens.verify(req.headers.authorization);
          if (!check.ok) {
            throw httpError(401, check.reason, null, null, {
              'www-authenticate': req.headers.authorization ? `Bearer error="invalid_token", error_description="${check.reason.replace(/"/g, "'")}"` : 'Bearer',
            });
          }
          answer = await handlers[lookup.route.name](ctx);
          if (decision.fault === 'executed503') answer = { status: 503, body: { status: 'Error', errors: [{ field: null, path: null, errorMessage: 'Service unavailable (injected by the simulator after the call was executed).' }] } };
        }
      }
    } catch (error) {
      if (error instanceof SimulatorHttpError) answer = errorAnswer(error);
      else {
        logger.error({ err: error, method, path: url.pathname }, 'simulator handler failed');
        answer = { status: 500, body: { status: 'Error', errors: [{ field: null, path: null, errorMessage: `Internal error: ${(error as Error).message}` }] } };
      }
    }
    const sourceId = routeName === 'devicePatch' ? url.searchParams.get('sourceId') : null;
    requests.add({
      time: new Date().toISOString(),
      method,
      path: loggablePath(`${url.pathname}${url.search}`),
      route: routeName,
      status: answer.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      fault: faultName,
      ...(sourceId !== null && /^-?\d+$/.test(sourceId) ? { sourceId: Number(sourceId) } : {}),
    });
    logger.debug({ method, path: url.pathname, route: routeName, status: answer.status, fault: faultName }, 'simulator call');
    if (res.destroyed) return;
    send(res, answer, spoil);
  };

  const server = https.createServer(
    {
      key: options.tls.server.key,
      cert: options.tls.server.cert,
      ca: [options.tls.ca],
      // The certificate is checked below, so a refusal can be logged with its reason (Node's own
      // check closes the connection without a word).
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        logger.error({ err: error }, 'simulator request failed');
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = 30_000;
  // Ahead of the HTTP layer: a connection whose client certificate does not verify is closed right
  // after the handshake, before any request is read (what Node's own check does), with the reason logged.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (socket.authorized) return;
    const reason = String(socket.authorizationError ?? 'UNKNOWN');
    const peer = socket.getPeerCertificate();
    const name = (part: Record<string, unknown> | undefined): string | null => (part && typeof part.CN === 'string' ? part.CN : null);
    requests.add({ time: new Date().toISOString(), method: 'TLS', path: '', route: null, status: 0, durationMs: 0, fault: null, refused: reason });
    logger.warn({ reason, subject: name(peer.subject), issuer: name(peer.issuer), remote: socket.remoteAddress }, 'client certificate refused in the TLS handshake');
    socket.destroy();
  });
  server.on('tlsClientError', (error, socket) => {
    logger.debug({ err: error.message, remote: socket.remoteAddress }, 'TLS handshake refused');
  });
  return server;
}
