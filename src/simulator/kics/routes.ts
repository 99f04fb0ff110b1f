/**
 * Every path the simulator serves, in one table. The KICS client keeps the same names (and lets a
 * deployment override a path by configuration); fault settings are keyed by these names too.
 * `{version}` is `v3` or `v4`; `{id}` a positive integer.
 */
export const kicsRoutes = {
  token: { method: 'POST', path: '/kics/api/auth/{version}/token' },
  about: { method: 'GET', path: '/kics/api/{version}/about' },
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
  eventGet: { method: 'GET', path: '/kics/api/{version}/events/{id}' },
  eventRegister: { method: 'POST', path: '/kics/api/{version}/events' },
} as const satisfies Record<string, { method: string; path: string }>;

export type KicsRouteName = keyof typeof kicsRoutes;
export const kicsRouteNames = Object.keys(kicsRoutes) as KicsRouteName[];

/** API versions the simulator answers for. */
export const kicsApiVersions = ['v3', 'v4'] as const;

export interface RouteMatch {
  name: KicsRouteName;
  version: string;
  /** The `{id}` of the path, when it has one. */
  id?: number;
}

interface CompiledRoute {
  name: KicsRouteName;
  method: string;
  pattern: RegExp;
  hasId: boolean;
}

const compiled: CompiledRoute[] = kicsRouteNames.map((name) => {
  const { method, path } = kicsRoutes[name];
  const source = path
    .split('/')
    .map((segment) => (segment === '{version}' ? '(v\\d+)' : segment === '{id}' ? '([^/]+)' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { name, method, pattern: new RegExp(`^${source}/?$`, 'i'), hasId: path.includes('{id}') };
});

export type RouteLookup =
  | { kind: 'match'; route: RouteMatch }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'bad-id'; value: string }
  | { kind: 'bad-version'; version: string }
  | { kind: 'not-found' };

/**
 * Finds the route for a method and a path (without query string). Path segments match
 * case-insensitively, as ASP.NET routing does. A non-numeric `{id}` does not match (404, like a
 * route constraint); a numeric one below 1 is a validation error (the reference says `>= 1`).
 */
export function matchRoute(method: string, pathname: string): RouteLookup {
  const allowed: string[] = [];
  let badId: string | null = null;
  for (const route of compiled) {
    const m = route.pattern.exec(pathname);
    if (!m) continue;
    let id: number | undefined;
    if (route.hasId) {
      const raw = safeDecode(m[2]!);
      if (!/^\d{1,18}$/.test(raw)) continue;
      id = Number(raw);
      if (id < 1) {
        if (route.method === method) badId = raw;
        continue;
      }
    }
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const version = m[1]!.toLowerCase();
    if (!(kicsApiVersions as readonly string[]).includes(version)) return { kind: 'bad-version', version };
    return { kind: 'match', route: id === undefined ? { name: route.name, version } : { name: route.name, version, id } };
  }
  if (badId !== null) return { kind: 'bad-id', value: badId };
  return allowed.length > 0 ? { kind: 'method-not-allowed', allowed: [...new Set(allowed)] } : { kind: 'not-found' };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
