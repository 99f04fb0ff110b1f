import { reconcileConfigSchema, type ReconcileConfig } from '../../src/config/reconcile.js';
import type { AssetInterface, CanonicalAsset } from '../../src/model/asset.js';
import type { AddressSpace, KicsDevice } from '../../src/model/kics.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import type { PlanItem, PlanValue } from '../../src/reconcile/plan-schema.js';
import type { ReconcileInput, SourceInfo, StagedRecord } from '../../src/reconcile/types.js';

/** Builders of reconciler inputs as plain values. */

export const now = new Date('2026-03-01T12:00:00Z');

/** Two spaces: 10.1.0.0/16 is plant A (1), 10.2.0.0/16 plant B (2); 192.168.0.0/24 exists in both, told apart by VLAN. */
export const addressSpaces: AddressSpace[] = [
  {
    id: 1,
    name: 'Plant A',
    rules: [
      { subnetType: 'L2AndL3', vlanType: 'AnyVlanOrNoVlanTagged', subnets: [{ from: '10.1.0.0/16' }] },
      { subnetType: 'L2AndL3', vlanType: 'SpecificVlans', vlans: [{ from: 10, to: 10 }], subnets: [{ from: '192.168.0.0/24' }] },
    ],
  },
  {
    id: 2,
    name: 'Plant B',
    rules: [
      { subnetType: 'L2AndL3', vlanType: 'AnyVlanOrNoVlanTagged', subnets: [{ from: '10.2.0.0/16' }] },
      { subnetType: 'L2AndL3', vlanType: 'SpecificVlans', vlans: [{ from: 20, to: 20 }], subnets: [{ from: '192.168.0.0/24' }] },
    ],
  },
];

export interface IfaceSpec {
  mac?: string | null;
  ips?: string[];
  space?: number | null;
  name?: string;
}

/** A KICS device as the API returns it; every writable field present (null when empty). */
export function device(id: number, name: string, ifaces: IfaceSpec[], fields: Partial<KicsDevice> = {}): KicsDevice {
  return {
    id,
    name,
    status: 'Recognized',
    description: null,
    category: 'Plc',
    os: null,
    hardwareVendor: null,
    hardwareModel: null,
    hardwareVersion: null,
    softwareVendor: null,
    softwareModel: null,
    softwareVersion: null,
    networkName: null,
    isRouter: false,
    influence: 'Normal',
    labels: [],
    userAttributes: [],
    addressInformation: ifaces.map((i, n) => ({
      networkInterfaceId: id * 100 + n,
      networkInterfaceName: i.name ?? null,
      macAddress: i.mac ?? null,
      macAddressSpaceId: i.mac ? (i.space ?? null) : null,
      ipAddresses: (i.ips ?? []).map((ip, k) => ({ id: id * 1000 + n * 10 + k, ip, addressSpaceId: i.space ?? null })),
    })),
    ...fields,
  };
}

export function asset(name: string | null, interfaces: (Partial<AssetInterface> & { ips?: string[] })[], fields: Partial<CanonicalAsset> = {}): CanonicalAsset {
  return { ...(name === null ? {} : { name }), interfaces: interfaces.map((i) => ({ ips: [], ...i })), ...fields };
}

export function record(source: string, key: string, a: CanonicalAsset, confirmedAt: Date | null = now): StagedRecord {
  return { source, key, owner: a.owner ?? null, asset: a, confirmedAt };
}

export function config(overrides: Partial<ReconcileConfig> = {}): ReconcileConfig {
  return { ...reconcileConfigSchema.parse({}), ...overrides };
}

export const defaultSources: SourceInfo[] = [{ name: 'cmdb' }, { name: 'csv' }];

export function plan(partial: Partial<ReconcileInput> & Pick<ReconcileInput, 'records' | 'devices'>): PlanValue {
  return reconcile({ now, config: config(), sources: defaultSources, addressSpaces, ...partial });
}

/** The items of one action. */
export function itemsOf(p: PlanValue, action: PlanItem['action']): PlanItem[] {
  return p.items.filter((i) => i.action === action);
}
