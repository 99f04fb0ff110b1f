import { z } from 'zod';
import { createRandom } from '../random.js';
import { canonicalDeviceIp, errorItem } from './device-input.js';
import type { SimDevice } from './device.js';
import { SimulatorHttpError, type KicsErrorItem } from './http.js';
import { parseKicsTime } from './time.js';

/** An event as `events/query` and `events/{id}` answer it (the reference's event object). */
export interface SimEvent {
  id: number;
  eventType: number;
  title: string;
  score: number;
  startTime: string;
  lastSeenTime: string | null;
  endTime: string;
  protocol: string | null;
  communications: Record<string, unknown>[];
  technology: string;
  totalAppearances: number;
  status: string;
  description: string | null;
  triggeredRule: string | null;
  triggeredRuleId: number | null;
  monitoringPoint: string | null;
  monitoringPointId: number | null;
  monitoringPointDeletedTime: string | null;
  mark: number;
  origin: string;
  childrenCount: number;
  assets: { id: number }[];
  params: { name: string; value: string }[];
  risks: { id: number }[];
  applications: Record<string, unknown>[];
}

export const eventOrigins = ['Unknown', 'System', 'User'] as const;
export const eventStatuses = ['Proposed', 'Active', 'Resolved'] as const;

/** Event times are written as the reference's event examples show them: UTC with `Z` (milliseconds kept). */
export function formatEventTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Event type of events registered through the API ("Event from external system" in the reference). */
export const externalEventType = 2;

const dateTime = z.string({ error: 'an ISO 8601 date-time is required' }).refine((s) => parseKicsTime(s) !== null, { error: 'must be an ISO 8601 date-time, e.g. 2026-01-31T10:00:00Z' });
const port = z.number().int().min(0).max(65_535).nullable().optional();
const spaceId = z.number().int().min(0).nullable().optional();
const ipText = z
  .string()
  .nullable()
  .optional()
  .refine((s) => s === null || s === undefined || 'ip' in canonicalDeviceIp(s), { error: 'Wrong ip address format' });
const macText = z
  .string()
  .nullable()
  .optional()
  .refine((s) => s === null || s === undefined || /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(s), { error: 'Wrong MAC address format' });

const communicationSchema = z.object({
  sourceIp: ipText,
  sourceIpAddressSpaceId: spaceId,
  sourcePort: port,
  sourceMac: macText,
  sourceMacAddressSpaceId: spaceId,
  destinationIp: ipText,
  destinationIpAddressSpaceId: spaceId,
  destinationPort: port,
  destinationMac: macText,
  destinationMacAddressSpaceId: spaceId,
  vlanId: z.number().int().min(0).max(4095).nullable().optional(),
  protocolStackId: z.number().int().min(0).nullable().optional(),
});

const applicationSchema = z.object({
  eppApplication: z.record(z.string(), z.unknown()).nullable().optional(),
  eppUser: z.record(z.string(), z.unknown()).nullable().optional(),
});

const registrationSchema = z.object({
  title: z.string({ error: 'a title is required' }).min(1, { error: 'must not be empty' }).max(4096, { error: 'must be at most 4096 characters' }),
  score: z.number({ error: 'a score from 0 to 10 is required' }).min(0, { error: 'must be from 0 to 10' }).max(10, { error: 'must be from 0 to 10' }),
  startTime: dateTime,
  lastSeenTime: dateTime.nullable().optional(),
  endTime: dateTime,
  totalAppearances: z.number().int().min(1).max(2_147_483_647).nullable().optional(),
  description: z.string().max(32_000, { error: 'must be at most 32000 characters' }).nullable().optional(),
  triggeredRuleName: z.string().max(4096, { error: 'must be at most 4096 characters' }).nullable().optional(),
  monitoringPointId: z.number().int().min(0).max(65_535).optional(),
  mark: z.number().int().min(0, { error: 'must be from 0 to 7' }).max(7, { error: 'must be from 0 to 7' }).optional(),
  origin: z.enum(eventOrigins, { error: `expected one of ${eventOrigins.join(', ')}` }),
  params: z.record(z.string(), z.string({ error: 'parameter values are strings' })).nullable().optional(),
  communications: z.array(communicationSchema).nullable().optional(),
  applications: z.array(applicationSchema).nullable().optional(),
});

/** The events of the simulated server: a few generated ones, and those registered through the API. */
export class EventStore {
  private readonly events: SimEvent[] = [];
  private nextId = 1;

  list(): readonly SimEvent[] {
    return this.events;
  }

  get(id: number): SimEvent | undefined {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    return this.events[lo]?.id === id ? this.events[lo] : undefined;
  }

  /**
   * `POST events`. A refusal answers 400 with the KICS error list and, as the reference shows for
   * this endpoint, a top-level `errorMessage`.
   */
  register(body: unknown): SimEvent {
    const result = registrationSchema.safeParse(body ?? null);
    if (!result.success) {
      const errors: KicsErrorItem[] = result.error.issues.map((i) => errorItem(i.path, i.message));
      throw new SimulatorHttpError(400, errors, {}, { errorMessage: errors.map((e) => `${e.path}: ${e.errorMessage}`).join('; ') });
    }
    const r = result.data;
    const time = (s: string): string => formatEventTime(parseKicsTime(s)!);
    const event: SimEvent = {
      id: this.nextId++,
      eventType: externalEventType,
      title: r.title,
      score: r.score,
      startTime: time(r.startTime),
      lastSeenTime: r.lastSeenTime ? time(r.lastSeenTime) : null,
      endTime: time(r.endTime),
      protocol: null,
      communications: (r.communications ?? []).map((c) => ({
        sourceIp: c.sourceIp ? (canonicalDeviceIp(c.sourceIp) as { ip: string }).ip : null,
        sourceIpAddressSpaceId: c.sourceIpAddressSpaceId ?? null,
        sourcePort: c.sourcePort ?? null,
        sourceMac: c.sourceMac ? c.sourceMac.toLowerCase().replace(/-/g, ':') : null,
        sourceMacAddressSpaceId: c.sourceMacAddressSpaceId ?? null,
        sourceApplication: null,
        destinationIp: c.destinationIp ? (canonicalDeviceIp(c.destinationIp) as { ip: string }).ip : null,
        destinationIpAddressSpaceId: c.destinationIpAddressSpaceId ?? null,
        destinationPort: c.destinationPort ?? null,
        destinationMac: c.destinationMac ? c.destinationMac.toLowerCase().replace(/-/g, ':') : null,
        destinationMacAddressSpaceId: c.destinationMacAddressSpaceId ?? null,
        destinationApplication: null,
        applicationProtocol: null,
        vlanId: c.vlanId ?? null,
        protocolStack: [],
        protocolStackId: c.protocolStackId ?? null,
        protocolStackPath: null,
        systemCommandId: null,
        systemCommandName: null,
      })),
      technology: 'External',
      totalAppearances: r.totalAppearances ?? 1,
      status: 'Active',
      description: r.description ?? null,
      triggeredRule: r.triggeredRuleName ?? null,
      triggeredRuleId: null,
      monitoringPoint: r.monitoringPointId !== undefined ? `Monitoring point ${r.monitoringPointId}` : null,
      monitoringPointId: r.monitoringPointId ?? null,
      monitoringPointDeletedTime: null,
      mark: r.mark ?? 0,
      origin: r.origin,
      childrenCount: 0,
      assets: [],
      params: Object.entries(r.params ?? {}).map(([name, value]) => ({ name, value })),
      risks: [],
      applications: (r.applications ?? []).map((a) => ({ eppApplication: a.eppApplication ?? null, eppUser: a.eppUser ?? null })),
    };
    this.events.push(event);
    return event;
  }

  /** System events about generated devices, deterministic for the seed. */
  generate(count: number, seed: number | string, devices: readonly SimDevice[]): void {
    if (devices.length === 0) return;
    const random = createRandom(seed).fork('events');
    const kinds = [
      { eventType: 4000002600, title: 'New device detected', technology: 'AssetManagement', score: 3.1 },
      { eventType: 4000002601, title: 'Device address changed', technology: 'AssetManagement', score: 2.5 },
      { eventType: 4000003002, title: 'Unauthorized communication', technology: 'Nic', score: 6.4 },
      { eventType: 4000005100, title: 'PLC program download', technology: 'Dpi', score: 7.7 },
      { eventType: 4000004003, title: 'ARP spoofing detected', technology: 'Ids', score: 8.9 },
    ];
    const anchor = Date.UTC(2025, 5, 1);
    for (let n = 0; n < count; n++) {
      const kind = random.pick(kinds);
      const source = random.pick(devices);
      const target = random.pick(devices);
      const sourceNic = source.addressInformation[0]!;
      const targetNic = target.addressInformation[0]!;
      const start = anchor - random.int(0, 60) * 86_400_000 - random.int(0, 86_399_999);
      const end = start + random.int(1, 3_600_000);
      this.events.push({
        id: this.nextId++,
        eventType: kind.eventType,
        title: kind.title,
        score: kind.score,
        startTime: formatEventTime(start),
        lastSeenTime: formatEventTime(end),
        endTime: formatEventTime(end),
        protocol: random.pick(['S7CommPlus', 'ModbusTcp', 'EtherNetIp', 'OpcUa', null]),
        communications: [
          {
            sourceIp: sourceNic.ipAddresses[0]?.ip ?? null,
            sourceIpAddressSpaceId: sourceNic.ipAddresses[0]?.addressSpaceId ?? null,
            sourcePort: random.int(1024, 65_535),
            sourceMac: sourceNic.macAddress,
            sourceMacAddressSpaceId: sourceNic.macAddressSpaceId,
            sourceApplication: null,
            destinationIp: targetNic.ipAddresses[0]?.ip ?? null,
            destinationIpAddressSpaceId: targetNic.ipAddresses[0]?.addressSpaceId ?? null,
            destinationPort: random.pick([102, 502, 44_818, 4840]),
            destinationMac: targetNic.macAddress,
            destinationMacAddressSpaceId: targetNic.macAddressSpaceId,
            destinationApplication: null,
            applicationProtocol: null,
            vlanId: null,
            protocolStack: ['Ethernet', 'IPv4', 'TCP'],
            protocolStackId: 1232,
            protocolStackPath: 'Ethernet/IPv4/TCP',
            systemCommandId: null,
            systemCommandName: null,
          },
        ],
        technology: kind.technology,
        totalAppearances: random.int(1, 20),
        status: random.pick(eventStatuses),
        description: `${kind.title}: ${source.name} -> ${target.name}`,
        triggeredRule: kind.technology === 'Nic' ? 'Allow rules' : null,
        triggeredRuleId: null,
        monitoringPoint: 'Monitoring point 1',
        monitoringPointId: 1,
        monitoringPointDeletedTime: null,
        mark: 0,
        origin: 'System',
        childrenCount: 0,
        assets: [{ id: source.id }, { id: target.id }],
        params: [],
        risks: [],
        applications: [],
      });
    }
  }
}

