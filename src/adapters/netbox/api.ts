import { z } from 'zod';

/**
 * The parts of NetBox's REST API answers the source reads (NetBox 3.x and 4.x): list pages
 * `{count, next, previous, results}`, devices, interfaces (`mac_address`, or from 4.2 on
 * `primary_mac_address`), and IP addresses assigned to interfaces. Everything else is passed through.
 */
const nested = z.looseObject({ id: z.number().optional(), name: z.string().nullish(), slug: z.string().nullish(), display: z.string().nullish() }).nullish();

export const pageSchema = z.looseObject({
  count: z.number().int().nonnegative(),
  next: z.string().nullish(),
  previous: z.string().nullish(),
  results: z.array(z.unknown()),
});

export const deviceSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().nullish(),
  description: z.string().nullish(),
  device_type: z.looseObject({ model: z.string().nullish(), manufacturer: nested }).nullish(),
  role: nested,
  device_role: nested,
  platform: nested,
  tenant: nested,
  site: nested,
  location: nested,
  status: z.looseObject({ value: z.string().nullish(), label: z.string().nullish() }).nullish(),
  serial: z.string().nullish(),
  asset_tag: z.string().nullish(),
  custom_fields: z.record(z.string(), z.unknown()).nullish(),
  tags: z.array(z.looseObject({ name: z.string().nullish(), slug: z.string().nullish() })).nullish(),
  last_updated: z.string().nullish(),
});
export type NetboxDevice = z.infer<typeof deviceSchema>;

export const interfaceSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().nullish(),
  device: z.looseObject({ id: z.number().int() }),
  mac_address: z.string().nullish(),
  primary_mac_address: z.looseObject({ mac_address: z.string().nullish() }).nullish(),
  untagged_vlan: z.looseObject({ vid: z.number().int().nullish() }).nullish(),
  vrf: nested,
  enabled: z.boolean().nullish(),
  last_updated: z.string().nullish(),
});
export type NetboxInterface = z.infer<typeof interfaceSchema>;

export const ipAddressSchema = z.looseObject({
  id: z.number().int(),
  address: z.string(),
  vrf: z.looseObject({ id: z.number().optional(), name: z.string().nullish(), rd: z.string().nullish() }).nullish(),
  assigned_object_type: z.string().nullish(),
  assigned_object_id: z.number().int().nullish(),
  assigned_object: z.looseObject({ id: z.number().int().optional(), device: z.looseObject({ id: z.number().int() }).nullish() }).nullish(),
  dns_name: z.string().nullish(),
  status: z.looseObject({ value: z.string().nullish() }).nullish(),
  last_updated: z.string().nullish(),
});
export type NetboxIpAddress = z.infer<typeof ipAddressSchema>;

/** NetBox's error bodies: `{"detail": "..."}`, or field errors `{"field": ["..."]}` for a bad filter. */
export function describeNetboxError(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const detail = (body as { detail?: unknown }).detail;
  if (typeof detail === 'string') return detail;
  const parts = Object.entries(body as Record<string, unknown>).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : JSON.stringify(v)}`);
  return parts.length > 0 ? parts.join('; ').slice(0, 300) : undefined;
}
