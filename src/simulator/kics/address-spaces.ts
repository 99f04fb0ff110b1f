import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { indexAddressSpaces, type AddressSpaceIndex } from '../../model/address-space.js';
import type { AddressSpace } from '../../model/kics.js';
import { kicsLimits } from '../../model/kics.js';
import { parseIp } from '../../model/ip.js';

/**
 * The address spaces of the simulated plant. The same subnet in two VLANs ("Cell A" / "Cell B"),
 * a MAC-only management space and a from-to range make the binding rules of KICS matter: an
 * address belongs to the most specific rule that covers it (src/model/address-space.ts).
 */
export const defaultAddressSpaces: readonly AddressSpace[] = [
  {
    id: 1,
    name: 'Plant network',
    description: 'Level 1-3 IP network of the plant',
    readOnly: false,
    rules: [
      {
        id: 101,
        description: 'Plant IP range, any VLAN',
        vlanType: 'AnyVlanOrNoVlanTagged',
        subnetType: 'L2AndL3',
        trafficSource: 'MonitoringPoints',
        subnets: [{ from: '10.0.0.0/8', to: null }],
        vlans: [],
        monitoringPoints: [{ id: 1 }, { id: 2 }],
        eppProxyNodes: null,
        activePollingConnectors: null,
      },
    ],
  },
  {
    id: 2,
    name: 'Cell A VLAN 10',
    description: 'Packaging cell A; machine builder default addressing',
    readOnly: false,
    rules: [
      {
        id: 201,
        description: 'Cell A',
        vlanType: 'SpecificVlans',
        subnetType: 'L2AndL3',
        trafficSource: 'MonitoringPoints',
        subnets: [{ from: '192.168.10.0/24', to: null }],
        vlans: [{ from: 10, to: 10 }],
        monitoringPoints: [{ id: 3 }],
        eppProxyNodes: null,
        activePollingConnectors: null,
      },
    ],
  },
  {
    id: 3,
    name: 'Cell B VLAN 20',
    description: 'Packaging cell B; same machine, same addressing as cell A',
    readOnly: false,
    rules: [
      {
        id: 301,
        description: 'Cell B',
        vlanType: 'SpecificVlans',
        subnetType: 'L2AndL3',
        trafficSource: 'MonitoringPoints',
        subnets: [{ from: '192.168.10.0/24', to: null }],
        vlans: [{ from: 20, to: 20 }],
        monitoringPoints: [{ id: 3 }],
        eppProxyNodes: null,
        activePollingConnectors: null,
      },
    ],
  },
  {
    id: 4,
    name: 'Management L2',
    description: 'Switch management ports (layer 2 only)',
    readOnly: false,
    rules: [
      {
        id: 401,
        description: 'Management VLANs',
        vlanType: 'SpecificVlans',
        subnetType: 'L2Only',
        trafficSource: 'MonitoringPoints',
        subnets: [],
        vlans: [{ from: 100, to: 199 }],
        monitoringPoints: [{ id: 1 }],
        eppProxyNodes: null,
        activePollingConnectors: null,
      },
    ],
  },
  {
    id: 5,
    name: 'DMZ',
    description: 'Plant DMZ between IT and OT',
    readOnly: true,
    rules: [
      {
        id: 501,
        description: 'DMZ hosts',
        vlanType: 'AnyVlanOrNoVlanTagged',
        subnetType: 'L2AndL3',
        trafficSource: 'MonitoringPoints',
        subnets: [{ from: '172.16.0.1', to: '172.16.3.254' }],
        vlans: [],
        monitoringPoints: [{ id: 2 }],
        eppProxyNodes: null,
        activePollingConnectors: null,
      },
    ],
  },
];

/** VLANs of the generated plant, per address space. */
export const spaceVlans = { cellA: 10, cellB: 20, management: 100 } as const;

const subnetSchema = z
  .object({ from: z.string(), to: z.string().nullable().optional() })
  .superRefine((s, ctx) => {
    const [addr, bits] = s.from.split('/');
    const from = parseIp(addr ?? '');
    if (!from.ok) ctx.addIssue({ code: 'custom', path: ['from'], message: `${JSON.stringify(s.from)} is not an IP address or CIDR subnet` });
    if (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (from.ok && from.version === 6 ? 128 : 32))) ctx.addIssue({ code: 'custom', path: ['from'], message: `${JSON.stringify(s.from)} has an invalid prefix length` });
    if (s.to !== null && s.to !== undefined && s.to !== '') {
      if (bits !== undefined) ctx.addIssue({ code: 'custom', path: ['to'], message: 'a CIDR subnet has no "to"' });
      const to = parseIp(s.to);
      if (!to.ok) ctx.addIssue({ code: 'custom', path: ['to'], message: `${JSON.stringify(s.to)} is not an IP address` });
    }
  });

const ruleSchema = z.object({
  id: z.number().int().min(1).optional(),
  description: z.string().max(kicsLimits.textLength).nullable().optional(),
  vlanType: z.enum(['AnyVlanOrNoVlanTagged', 'SpecificVlans', 'NoVlanTagged']).default('AnyVlanOrNoVlanTagged'),
  subnetType: z.enum(['L2AndL3', 'L2Only', 'L3Only']).default('L2AndL3'),
  trafficSource: z.string().default('MonitoringPoints'),
  subnets: z.array(subnetSchema).nullable().default([]),
  vlans: z
    .array(z.object({ from: z.number().int().min(0).max(4095), to: z.number().int().min(0).max(4095) }).refine((v) => v.from <= v.to, 'from must be <= to'))
    .nullable()
    .default([]),
  monitoringPoints: z.array(z.object({ id: z.number().int() })).nullable().default([]),
  eppProxyNodes: z.array(z.object({ eppProxyId: z.number().int() })).nullable().default(null),
  activePollingConnectors: z.array(z.object({ id: z.number().int() })).nullable().default(null),
});

const spacesSchema = z
  .array(
    z.object({
      id: z.number().int().min(0),
      name: z.string().min(1).max(kicsLimits.nameLength),
      description: z.string().max(kicsLimits.textLength).nullable().default(null),
      readOnly: z.boolean().default(false),
      rules: z.array(ruleSchema).max(kicsLimits.maxRulesPerAddressSpace).default([]),
    }),
  )
  .max(kicsLimits.maxAddressSpaces)
  .superRefine((spaces, ctx) => {
    const ids = new Set<number>();
    const names = new Set<string>();
    spaces.forEach((s, i) => {
      if (ids.has(s.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `address space id ${s.id} is used twice` });
      if (names.has(s.name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `address space name ${JSON.stringify(s.name)} is used twice` });
      ids.add(s.id);
      names.add(s.name.toLowerCase());
    });
  });

/** Validates address spaces given to the simulator (KICS limits: 100 spaces, 10 rules each); rule ids are assigned when absent. */
export function parseAddressSpaces(input: unknown, where: string): AddressSpace[] {
  const result = spacesSchema.safeParse(input);
  if (!result.success) {
    const first = result.error.issues.slice(0, 10).map((i) => `${where}[${i.path.join('.')}]: ${i.message}`);
    throw new UsageError(`invalid address spaces: ${first.join('; ')}`);
  }
  let nextRuleId = 1 + Math.max(0, ...result.data.flatMap((s) => s.rules.map((r) => r.id ?? 0)));
  return result.data.map((s) => ({ ...s, rules: s.rules.map((r) => ({ ...r, id: r.id ?? nextRuleId++ })) }));
}

/** The address spaces and their binding index. */
export class AddressSpaceRegistry {
  readonly index: AddressSpaceIndex;
  private readonly byId: Map<number, AddressSpace>;

  constructor(readonly spaces: readonly AddressSpace[]) {
    this.index = indexAddressSpaces(spaces);
    this.byId = new Map(spaces.map((s) => [s.id, s]));
  }

  get(id: number): AddressSpace | undefined {
    return this.byId.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }
}
