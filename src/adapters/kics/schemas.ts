import { z } from 'zod';
import { influenceTypes, type AboutResponse, type AddressSpace, type KicsDevice, type KicsPatchResult } from '../../model/kics.js';
import { parseKicsTimestamp } from './time.js';

/**
 * The shapes of KICS's answers (docs/vendor/kics-for-networks-connector-api.txt), checked at
 * the boundary. Only the members the engine uses are checked, and they must be there with the right
 * type. A schema only checks: the answer is used as KICS sent it (KicsHttp returns the parsed JSON,
 * not zod's copy), so every other member, including ones a newer KICS adds, is kept, and checking a
 * page of 1,000 devices costs a few milliseconds (zod's plain objects are about three times faster
 * than its loose ones, which copy every member). Enum-like strings (status, category) are kept as
 * sent: a value this version does not know is data, not a broken answer. One normalisation, in
 * `asDevice()`: `influence` as a number (the reference's own GET example answers `0`) becomes its
 * name (0 Normal, 1 Important, 2 BusinessCritical).
 */

const id = z.number().int().nonnegative();
const optionalId = id.nullish();
const text = z.string().nullish();

const timestamp = z.string().refine((s) => parseKicsTimestamp(s) !== null, { message: 'expected an ISO 8601 date-time' });

/** Influence by index, as the reference pairs its examples (query answer "Normal" = GET answer 0). */
const influenceByIndex = ['Normal', 'Important', 'BusinessCritical'] as const;
const influence = z.union([z.string(), z.number().int().min(0).max(influenceByIndex.length - 1)]).nullish();

const ipAddress = z.object({ id: optionalId, ip: z.string(), addressSpaceId: optionalId });

const addressInformation = z.object({
  networkInterfaceId: optionalId,
  networkInterfaceName: text,
  macAddress: text,
  macAddressSpaceId: optionalId,
  ipAddresses: z.array(ipAddress).nullish(),
});

export const deviceSchema = z.object({
  id: id.min(1),
  name: z.string(),
  status: z.string(),
  addressInformation: z.array(addressInformation),
  description: text,
  category: text,
  os: text,
  hardwareVendor: text,
  hardwareModel: text,
  hardwareVersion: text,
  softwareVendor: text,
  softwareModel: text,
  softwareVersion: text,
  networkName: text,
  isRouter: z.boolean().nullish(),
  influence,
  labels: z.array(z.string()).nullish(),
  userAttributes: z.array(z.object({ name: z.string(), value: z.string().nullish() })).nullish(),
  lastModified: timestamp.nullish(),
  created: timestamp.nullish(),
  /** Read-only: the device's industrial configuration as KICS keeps it; kept to see it changed or removed in KICS. */
  processControlSettings: z.unknown().optional(),
});

export const addressSpaceSchema = z.object({
  id,
  name: z.string(),
  description: text,
  readOnly: z.boolean().nullish(),
  rules: z
    .array(
      z.object({
        id: optionalId,
        vlanType: text,
        subnetType: text,
        subnets: z.array(z.object({ from: z.string(), to: text })).nullish(),
        vlans: z.array(z.object({ from: z.number().int(), to: z.number().int() })).nullish(),
      }),
    )
    .nullish(),
});

export const eventSchema = z.object({
  id,
  eventType: z.number().int().nullish(),
  title: text,
  startTime: z.string().nullish(),
  params: z.array(z.object({ name: z.string(), value: z.string().nullish() })).nullish(),
});
export type KicsEvent = z.infer<typeof eventSchema>;

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ offset: z.number().int().nullish(), limit: z.number().int().nullish(), values: z.array(item) });
}

export const tokenSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', { message: 'expected "bearer"' }),
  expires_in: z.number().positive(),
  refresh_token: z.string().nullish(),
});

export const aboutSchema = z.object({
  version: z.string(),
  updateableComponents: z.array(z.object({ type: z.string(), releaseTime: z.string().nullish() })).nullish(),
});

export const connectorConfigurationSchema = z.object({
  config: text,
  eventTypesToSend: z.array(z.number().int()).nullish(),
  forwardAppMessages: z.boolean().nullish(),
  forwardAuditMessages: z.boolean().nullish(),
});
export type ConnectorConfiguration = z.infer<typeof connectorConfigurationSchema>;

export const createAnswerSchema = z.object({
  status: z.string(),
  deviceId: id.min(1),
  duplicate: z.object({ deviceId: optionalId, matchedBy: text, value: z.unknown().optional(), addressSpaceId: optionalId }).nullish(),
});

export const patchResultsSchema = z.array(
  z.object({ result: z.string(), op: z.string(), path: z.string(), value: z.unknown().optional(), errorMessage: text }),
);

export const industrialConfigAnswerSchema = z.object({
  addedTags: z.number().int(),
  tagErrors: z.number().int(),
  removedTags: z.number().int(),
  replacedTags: z.number().int(),
  removedRules: z.number().int(),
});
export type IndustrialConfigResult = z.infer<typeof industrialConfigAnswerSchema>;

export const protocolsSchema = z.array(z.object({ id, name: z.string(), protocolStackId: z.number().int().nullish() }));

/** The reference does not show the answer of a registration; the simulator answers `{status, eventId}`. Anything else is accepted as "registered, id unknown". */
export const eventRegisterAnswerSchema = z.union([z.object({ status: text, eventId: optionalId }), z.number(), z.string(), z.null()]).optional();

// The model's types say what the engine reads; the schemas guarantee those members, the rest is passed through.
export function asDevice(d: z.infer<typeof deviceSchema>): KicsDevice {
  const device = d as unknown as KicsDevice & { influence?: unknown };
  if (typeof device.influence === 'number') device.influence = influenceByIndex[device.influence];
  else if (typeof device.influence === 'string') device.influence = influenceTypes.find((name) => name.toLowerCase() === (device.influence as string).toLowerCase()) ?? device.influence;
  return device;
}
export const asAddressSpace = (s: z.infer<typeof addressSpaceSchema>): AddressSpace => s as unknown as AddressSpace;
export const asAbout = (a: z.infer<typeof aboutSchema>): AboutResponse => a as unknown as AboutResponse;
export const asPatchResults = (r: z.infer<typeof patchResultsSchema>): (KicsPatchResult & { errorMessage?: string | null })[] => r as unknown as (KicsPatchResult & { errorMessage?: string | null })[];

/** `values[3].addressInformation[0].ip: expected string, received number` for the first issues of a failed parse. */
export function describeZodIssues(error: z.ZodError, max = 3): string {
  const issues = error.issues.slice(0, max).map((issue) => {
    let where = '';
    for (const key of issue.path) where += typeof key === 'number' ? `[${key}]` : where === '' ? String(key) : `.${String(key)}`;
    const message = issue.code === 'invalid_type' && / received undefined$/.test(issue.message) ? `missing (expected ${issue.expected})` : issue.message.replace(/^Invalid input: /, '');
    return `${where || '(the answer)'}: ${message}`;
  });
  if (error.issues.length > max) issues.push(`... ${error.issues.length - max} more`);
  return issues.join('; ');
}
