import { z } from 'zod';

/**
 * The parts of NetBox's REST API answers the source reads (NetBox 3.7 to 4.6): `/api/status/`, list pages
 * `{count, next, previous, results}` (netbox/netbox/api/pagination.py), devices, interfaces (`mac_address`
 * until 4.1; from 4.2 `mac_address` is the read-only primary MAC and `mac_addresses` every MAC object of
 * the interface), IP addresses and, from 4.2, MAC address objects (dcim/api/serializers_/devices.py:
 * `assigned_object_id` only from 4.2.1, so an assignment is read from `assigned_object`). Everything
 * else is passed through.
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
  primary_mac_address: z.looseObject({ id: z.number().int(), mac_address: z.string().nullish() }).nullish(),
  mac_addresses: z.array(z.looseObject({ id: z.number().int(), mac_address: z.string().nullish() })).nullish(),
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

/** A MAC address object (NetBox 4.2+, `/api/dcim/mac-addresses/`); `assigned_object` is the interface in its brief form. */
export const macAddressSchema = z.looseObject({
  id: z.number().int(),
  mac_address: z.string().nullish(),
  assigned_object_type: z.string().nullish(),
  assigned_object: z.looseObject({ id: z.number().int().optional(), device: z.looseObject({ id: z.number().int() }).nullish() }).nullish(),
  last_updated: z.string().nullish(),
});
export type NetboxMacAddress = z.infer<typeof macAddressSchema>;

/** `/api/status/` (netbox/netbox/api/views.py `StatusView`): `netbox-version` is `3.7.8`, `4.5.0`, or with a designation (`4.2.0-beta1`) from 4.1 to 4.4. */
export const statusSchema = z.looseObject({ 'netbox-version': z.string() });

/** NetBox's error bodies: `{"detail": "..."}`, or field errors `{"field": ["..."]}` for a bad filter. */
export function describeNetboxError(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const detail = (body as { detail?: unknown }).detail;
  if (typeof detail === 'string') return detail;
  const parts = Object.entries(body as Record<string, unknown>).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : JSON.stringify(v)}`);
  return parts.length > 0 ? parts.join('; ').slice(0, 300) : undefined;
}
