import { ConfigError } from '../../errors.js';

/**
 * Every KICS path the client calls, in one table. `{version}` becomes `kics.apiVersion` (default v4),
 * `{id}` the id of the call. The paths come from docs/vendor/README.md (the document itself has none): the base path, the
 * token endpoint, `about` under v3 (KICS 4.x still serves it there) and the two query endpoints are
 * verified; the others follow the same pattern and are inferred, so a deployment whose paths differ
 * corrects one with `kics.routes: { <name>: <path> }` without a code change.
 */
export const kicsRouteTable = {
  token: { method: 'POST', path: '/kics/api/auth/{version}/token' },
  about: { method: 'GET', path: '/kics/api/v3/about' },
  connectorConfiguration: { method: 'GET', path: '/kics/api/{version}/connector/configuration' },
  devicesQuery: { method: 'POST', path: '/kics/api/{version}/devices/query' },
  deviceGet: { method: 'GET', path: '/kics/api/{version}/devices/{id}' },
  deviceCreate: { method: 'POST', path: '/kics/api/{version}/devices' },
  deviceEdit: { method: 'PUT', path: '/kics/api/{version}/devices/{id}' },
  devicePatch: { method: 'PATCH', path: '/kics/api/{version}/devices/{id}' },
  deviceDelete: { method: 'DELETE', path: '/kics/api/{version}/devices/{id}' },
  deviceIndustrialConfiguration: { method: 'POST', path: '/kics/api/{version}/devices/{id}/industrialConfiguration' },
  deviceProtocols: { method: 'GET', path: '/kics/api/{version}/devices/{id}/protocols' },
  addressSpacesQuery: { method: 'POST', path: '/kics/api/{version}/addressSpaces/query' },
  addressSpaceGet: { method: 'GET', path: '/kics/api/{version}/addressSpaces/{id}' },
  eventsQuery: { method: 'POST', path: '/kics/api/{version}/events/query' },
  eventRegister: { method: 'POST', path: '/kics/api/{version}/events' },
} as const satisfies Record<string, { method: string; path: string }>;

export type KicsRouteName = keyof typeof kicsRouteTable;
export const kicsRouteNames = Object.keys(kicsRouteTable) as KicsRouteName[];

export interface ResolvedRoute {
  name: KicsRouteName;
  method: string;
  /** The path with `{version}` filled in; `{id}` stays for `pathOf()`. */
  template: string;
}

export type RouteTable = Readonly<Record<KicsRouteName, ResolvedRoute>>;

/**
 * The route table of a deployment: the defaults with `kics.routes` overrides, `{version}` filled in.
 * An override must name a known route, start with `/`, use only `{version}` and `{id}`, and keep `{id}`
 * exactly where the route needs one.
 */
export function resolveRoutes(apiVersion: string, overrides: Readonly<Record<string, string>> = {}): RouteTable {
  for (const [name, path] of Object.entries(overrides)) {
    if (!(name in kicsRouteTable)) throw new ConfigError(`kics.routes.${name}: unknown route; the routes are ${kicsRouteNames.join(', ')}`);
    const needsId = kicsRouteTable[name as KicsRouteName].path.includes('{id}');
    if (!path.startsWith('/')) throw new ConfigError(`kics.routes.${name}: a path starting with "/" is expected; found ${JSON.stringify(path)}`);
    const placeholders = path.match(/\{[^}]*\}/g) ?? [];
    const unknown = placeholders.filter((p) => p !== '{version}' && p !== '{id}');
    if (unknown.length > 0) throw new ConfigError(`kics.routes.${name}: only {version} and {id} may appear in a path; found ${unknown.join(', ')}`);
    if (needsId !== path.includes('{id}')) {
      throw new ConfigError(`kics.routes.${name}: this route ${needsId ? 'needs' : 'has no'} {id} in its path; found ${JSON.stringify(path)}`);
    }
    if (/[?#]/.test(path)) throw new ConfigError(`kics.routes.${name}: a path without query string or fragment is expected; found ${JSON.stringify(path)}`);
  }
  const table = {} as Record<KicsRouteName, ResolvedRoute>;
  for (const name of kicsRouteNames) {
    const path = overrides[name] ?? kicsRouteTable[name].path;
    table[name] = { name, method: kicsRouteTable[name].method, template: path.replaceAll('{version}', encodeURIComponent(apiVersion)) };
  }
  return table;
}

/** The path of a call: the route's template with `{id}` filled in. */
export function pathOf(route: ResolvedRoute, id?: number): string {
  if (!route.template.includes('{id}')) return route.template;
  if (id === undefined || !Number.isSafeInteger(id) || id < 1) throw new RangeError(`${route.name}: a device / object id >= 1 is required; found ${String(id)}`);
  return route.template.replaceAll('{id}', String(id));
}
