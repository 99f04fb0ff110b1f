import { Agent, request, type Dispatcher } from 'undici';
import { onTestFailed } from 'vitest';
import { startKicsSimulator, type ClientCertificateKind, type ClientIdentity, type KicsSimulator, type KicsSimulatorOptions } from '../../src/simulator/kics/index.js';

/**
 * The KICS simulator in-process for tests, with a ready HTTPS client identity (the PEMs from the
 * communication data package it wrote, its folder and password) and small helpers for raw calls.
 * The simulator's state directory is a temporary folder removed by `close()` unless one is given.
 */
export interface TestKicsSimulator {
  sim: KicsSimulator;
  url: string;
  adminUrl: string;
  packageDir: string;
  packagePassword: string;
  /** The connector certificate, its key and the CA that signed the server certificate (PEM). */
  identity: { cert: string; key: string; ca: string };
  /** An undici agent presenting the connector certificate and trusting only the simulator's CA. */
  agent: Agent;
  /** An agent for another identity (`expired`, `foreign`...), or none at all (`null`: no client certificate). */
  agentFor(kind: ClientCertificateKind | null): Agent;
  /** A fresh access token (grant_type=certificate). */
  token(): Promise<string>;
  /** One API call with a bearer token (a fresh one unless given); the body is JSON unless a string is passed. */
  call(method: Dispatcher.HttpMethod, path: string, options?: CallOptions): Promise<CallResult>;
  /** One admin call (JSON). */
  admin(method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<CallResult>;
  close(): Promise<void>;
}

export interface CallOptions {
  body?: unknown;
  token?: string | null;
  headers?: Record<string, string>;
  agent?: Agent;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body (undefined when empty or not JSON). */
  json: unknown;
}

function agentOf(identity: Pick<ClientIdentity, 'cert' | 'key' | 'ca'> | null, ca: string): Agent {
  return new Agent({ connect: identity ? { cert: identity.cert, key: identity.key, ca } : { ca }, connections: 8 });
}

async function toResult(response: Dispatcher.ResponseData): Promise<CallResult> {
  const text = await response.body.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

/**
 * When the test that started the simulator fails, its error message ends with what the simulator saw
 * last (refused handshakes with their reason among them): the server's side of a failure, which the
 * client's error cannot tell. A simulator started outside a test (in `beforeAll`) has no test to attach to.
 */
function explainFailures(sim: KicsSimulator): void {
  try {
    onTestFailed(({ task }) => {
      const seen = sim.requests.list(Math.max(0, sim.requests.lastSeq - 15)).map((e) => `  ${e.time} ${e.method} ${e.path} -> ${e.status}${e.fault ? ` (fault ${e.fault})` : ''}${e.refused ? ` (client certificate refused: ${e.refused})` : ''}`);
      const note = `\nThe KICS simulator's last calls:\n${seen.length > 0 ? seen.join('\n') : '  none'}`;
      for (const error of task.result?.errors ?? []) error.message += note;
    });
  } catch {
    // Not inside a test.
  }
}

/** A `POST devices` body with one interface (`whatIfDuplicate: Skip`), plus `extra` members. */
export const createBody = (name: string, mac: string, ip: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  whatIfDuplicate: 'Skip',
  allowProcessControlSettingsLoss: false,
  name,
  addressInformation: [{ macAddress: mac, ipAddresses: [{ ip }] }],
  ...extra,
});

export async function startTestKicsSimulator(options: KicsSimulatorOptions = {}): Promise<TestKicsSimulator> {
  const sim = await startKicsSimulator({ devices: 50, ...options });
  explainFailures(sim);
  const ca = sim.server.caCert;
  const agent = agentOf(sim.identity, ca);
  const extraAgents: Agent[] = [];
  let cachedToken: string | null = null;

  const token = async (): Promise<string> => {
    const response = await request(`${sim.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: agent });
    const result = await toResult(response);
    if (result.status !== 200) throw new Error(`token request failed: ${result.status} ${result.text}`);
    return (result.json as { access_token: string }).access_token;
  };

  const handle: TestKicsSimulator = {
    sim,
    url: sim.url,
    adminUrl: sim.adminUrl,
    packageDir: sim.packageDir,
    packagePassword: sim.packagePassword,
    identity: { cert: sim.identity.cert, key: sim.identity.key, ca },
    agent,
    agentFor(kind) {
      const a = agentOf(kind === null ? null : sim.issueClientIdentity(kind), ca);
      extraAgents.push(a);
      return a;
    },
    token,
    async call(method, path, options = {}) {
      const send = async (bearer: string | null): Promise<CallResult> => {
        const headers: Record<string, string> = { ...options.headers };
        if (bearer !== null) headers.authorization ??= `Bearer ${bearer}`;
        let body: string | undefined;
        if (options.body !== undefined) {
          body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
          headers['content-type'] ??= 'application/json';
        }
        return toResult(await request(`${sim.url}${path}`, { method, headers, body, dispatcher: options.agent ?? agent }));
      };
      if (options.token !== undefined) return send(options.token);
      // The shared token: fetched once, fetched again if a test revoked or expired it meanwhile.
      const result = await send((cachedToken ??= await token()));
      if (result.status !== 401) return result;
      cachedToken = await token();
      return send(cachedToken);
    },
    async admin(method, path, body) {
      return toResult(
        await request(`${sim.adminUrl}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
    },
    async close() {
      await Promise.all([agent.close(), ...extraAgents.map((a) => a.close())]);
      await sim.close();
    },
  };
  return handle;
}
