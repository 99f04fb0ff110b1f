import type { IncomingMessage } from 'node:http';

/** Host names a loopback admin endpoint is reached by. */
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The host name of a `Host` header or an origin's host (`[::1]:8080` -> `[::1]`, `localhost:1` -> `localhost`). */
function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.split(':')[0]!;
}

/**
 * Why a request to a simulator's admin endpoint is refused, or null. The endpoint answers loopback
 * clients only, but a browser on this machine is one: a page could reach it through DNS rebinding (a
 * foreign `Host`), from another site (a foreign `Origin`), or with a form post (a body that is not
 * JSON, which needs no preflight). Any of these could fetch a connector key or delete devices.
 */
export function refuseForeignAdminRequest(req: IncomingMessage): { status: number; message: string } | null {
  const host = req.headers.host;
  if (host === undefined || !loopbackHosts.has(hostnameOf(host))) {
    return { status: 403, message: `the admin endpoint answers requests addressed to 127.0.0.1, [::1] or localhost only; Host was ${JSON.stringify(host ?? null)}` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (originHost === null || !loopbackHosts.has(hostnameOf(originHost))) return { status: 403, message: `the admin endpoint refuses cross-site requests; Origin was ${JSON.stringify(origin)}` };
  }
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (req.method !== 'GET' && req.method !== 'HEAD' && hasBody && type !== 'application/json') {
    return { status: 415, message: `the admin endpoint takes JSON bodies only (Content-Type: application/json); found ${JSON.stringify(req.headers['content-type'] ?? null)}` };
  }
  return null;
}
