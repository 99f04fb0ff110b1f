import type { CanonicalAsset } from '../src/model/asset.js';
import type { AddressSpace, KicsDevice } from '../src/model/kics.js';

/**
 * Synthetic reconciler inputs at KICS scale, deterministic for a given size: N devices in four
 * address spaces (10% with two interfaces) and a CMDB that differs realistically: 5% of assets with
 * changed fields, 1% new assets, 1% of devices in no source, 0.5% conflicts (MAC on one device, IP on
 * another). Everything else matches exactly (unchanged).
 */

export interface SyntheticInputs {
  devices: KicsDevice[];
  addressSpaces: AddressSpace[];
  records: { key: string; asset: CanonicalAsset }[];
}

const hex = (n: number): string => n.toString(16).padStart(2, '0');
const macOf = (i: number, nic = 0): string => `00:1b:1b:${hex(nic * 16 + ((i >> 16) & 0x0f))}:${hex((i >> 8) & 0xff)}:${hex(i & 0xff)}`;
const spaceOf = (i: number): number => (i % 4) + 1;
const ipOf = (i: number, nic = 0): string => {
  const n = Math.floor(i / 4);
  return `10.${spaceOf(i)}.${nic * 128 + ((n >> 8) & 0x7f)}.${n & 0xff}`;
};
const categories = ['Plc', 'HmiPanel', 'Server', 'Workstation', 'Switch'] as const;
const vendors = ['Siemens', 'Schneider Electric', 'Rockwell', 'ABB', 'Honeywell'];

export function syntheticInputs(size: number): SyntheticInputs {
  const addressSpaces: AddressSpace[] = [1, 2, 3, 4].map((id) => ({
    id,
    name: `Plant ${String.fromCharCode(64 + id)}`,
    rules: [{ subnetType: 'L2AndL3', vlanType: 'AnyVlanOrNoVlanTagged', subnets: [{ from: `10.${id}.0.0/16` }] }],
  }));
  const devices: KicsDevice[] = [];
  const records: { key: string; asset: CanonicalAsset }[] = [];
  for (let i = 0; i < size; i += 1) {
    const space = spaceOf(i);
    const twoNics = i % 10 === 3;
    const base = {
      name: `dev-${i}`,
      category: categories[i % categories.length]!,
      hardwareVendor: vendors[i % vendors.length]!,
      hardwareModel: `model-${i % 37}`,
      influence: 'Normal' as const,
      labels: [`line-${i % 12}`],
    };
    devices.push({
      id: i + 1,
      status: 'Recognized',
      description: null,
      os: i % 3 === 0 ? 'Linux' : null,
      hardwareVersion: null,
      softwareVendor: null,
      softwareModel: null,
      softwareVersion: null,
      networkName: null,
      isRouter: false,
      userAttributes: [{ name: 'Owner', value: `owner-${i % 20}` }],
      addressInformation: [
        { networkInterfaceId: i * 2 + 1, networkInterfaceName: 'eth0', macAddress: macOf(i), macAddressSpaceId: space, ipAddresses: [{ id: i * 2 + 1, ip: ipOf(i), addressSpaceId: space }] },
        ...(twoNics ? [{ networkInterfaceId: i * 2 + 2, networkInterfaceName: 'eth1', macAddress: macOf(i, 1), macAddressSpaceId: space, ipAddresses: [{ id: i * 2 + 2, ip: ipOf(i, 1), addressSpaceId: space }] }] : []),
      ],
      ...base,
    });
    // 1% of devices are in no source.
    if (i % 100 === 7) continue;
    const asset: CanonicalAsset = {
      ...base,
      labels: [...base.labels],
      owner: `owner-${i % 20}`,
      userAttributes: { Owner: `owner-${i % 20}` },
      interfaces: [{ name: 'eth0', mac: macOf(i), ips: [ipOf(i)] }, ...(twoNics ? [{ name: 'eth1', mac: macOf(i, 1), ips: [ipOf(i, 1)] }] : [])],
    };
    // 5% changed: renamed, described, a new label.
    if (i % 20 === 11) {
      asset.name = `dev-${i}-renamed`;
      asset.description = `moved to hall ${i % 7}`;
      asset.labels = [...asset.labels!, 'audited'];
    }
    // 0.5% conflicts: the IP of another device (in the same space) next to this device's MAC.
    if (i % 200 === 13 && i + 4 < size) asset.interfaces = [{ name: 'eth0', mac: macOf(i), ips: [ipOf(i + 4)] }];
    records.push({ key: `asset-${i}`, asset });
  }
  // 1% new assets.
  for (let k = 0; k < Math.ceil(size / 100); k += 1) {
    const i = size + k;
    records.push({ key: `asset-${i}`, asset: { name: `new-${k}`, category: 'Plc', owner: `owner-${k % 20}`, interfaces: [{ name: 'eth0', mac: macOf(i), ips: [ipOf(i)] }] } });
  }
  return { devices, addressSpaces, records };
}
