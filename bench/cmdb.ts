import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import type { SimDevice, SimInterface } from '../src/simulator/kics/index.js';
import { createRandom } from '../src/simulator/random.js';
import { cmdbCategoryNames } from '../src/simulator/kics/catalog.js';

/**
 * The benchmark's CMDB export, written from the simulator's own devices so that it differs from KICS
 * the way a real inventory does (shares are of the devices KICS lists as active):
 * - about 5% of assets with changed fields (description, firmware, criticality, a label, a new name);
 * - 1% new assets KICS has not seen (creates);
 * - 1% of KICS devices the CMDB does not list (unknown to the inventory);
 * - 0.5% identity conflicts (the MAC of one device next to the IP of another);
 * - devices with several interfaces as consecutive rows of one asset, one row per interface;
 * - about 0.2% rows that cannot be used (a malformed MAC, an unknown category, no identity at all).
 */

const header = ['Asset ID', 'Name', 'Interface', 'MAC Address', 'IP Address', 'Address Space', 'Category', 'Manufacturer', 'Model', 'Firmware', 'Description', 'Owner', 'Location', 'Criticality', 'Labels'] as const;
type Row = Record<(typeof header)[number], string>;

export interface CmdbShape {
  rows: number;
  assets: number;
  changed: number;
  created: number;
  unlisted: number;
  conflicts: number;
  multiInterface: number;
  unusable: number;
}

const blank = (): Row => Object.fromEntries(header.map((h) => [h, ''])) as Row;

function interfaceRow(base: Row, nic: SimInterface): Row {
  const space = nic.ipAddresses[0]?.addressSpaceId ?? nic.macAddressSpaceId;
  return {
    ...base,
    Interface: nic.networkInterfaceName ?? '',
    'MAC Address': nic.macAddress?.toUpperCase().replace(/:/g, '-') ?? '',
    'IP Address': nic.ipAddresses.map((ip) => ip.ip).join('|'),
    // The two cell VLANs share 192.168.10.0/24: the CMDB names the space there, as a real one must.
    'Address Space': space === 2 || space === 3 ? String(space) : '',
  };
}

/** A CMDB writer fed with the simulator's devices in id order; `close()` ends the file and returns what it holds. */
export function cmdbWriter(file: string, seed: string): { add(devices: readonly SimDevice[]): Promise<void>; close(): Promise<CmdbShape> } {
  const out = createWriteStream(file);
  const random = createRandom(`${seed}:cmdb`);
  const shape: CmdbShape = { rows: 0, assets: 0, changed: 0, created: 0, unlisted: 0, conflicts: 0, multiInterface: 0, unusable: 0 };
  let id = 1;
  let previous: SimDevice | null = null;
  const write = async (rows: Row[]): Promise<void> => {
    shape.rows += rows.length;
    if (!out.write(stringify(rows.map((r) => header.map((h) => r[h])), { delimiter: ';', record_delimiter: 'unix' }))) await once(out, 'drain');
  };
  const assetId = (): string => `CMDB-${String(id++).padStart(7, '0')}`;
  out.write(stringify([[...header]], { delimiter: ';', record_delimiter: 'unix' }));

  const newAsset = (n: number): Row => {
    const row = blank();
    row['Asset ID'] = assetId();
    row.Name = `NEW-${String(n).padStart(6, '0')}`;
    row['MAC Address'] = `02-4B-53-${[(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join('-')}`;
    row['IP Address'] = `10.240.${(n >> 8) & 0xff}.${(n & 0xff) || 1}`;
    row.Category = ['PLC', 'HMI panel', 'Switch', 'IP camera'][n % 4]!;
    row.Manufacturer = 'Siemens';
    row.Description = 'commissioned with the retrofit';
    row.Owner = `team-${n % 12}`;
    row.Criticality = n % 3 === 0 ? 'Important' : 'Normal';
    row.Labels = 'retrofit';
    return row;
  };

  const unusable = (n: number): Row => {
    const row = blank();
    row['Asset ID'] = assetId();
    row.Owner = 'migration';
    switch (n % 3) {
      case 0:
        return { ...row, Name: `bad-mac-${n}`, 'MAC Address': `00:1B:1B:ZZ:${n % 100}:01`, Category: 'PLC' };
      case 1:
        return { ...row, Name: `coffee-${n}`, 'MAC Address': `02-4C-00-${[(n >> 8) & 0xff, n & 0xff].map((b) => b.toString(16).padStart(2, '0')).join('-')}-01`, Category: 'Coffee machine' };
      default:
        return { ...row, Description: 'row left half-filled by a migration' };
    }
  };

  return {
    async add(devices) {
      const rows: Row[] = [];
      for (const device of devices) {
        if (device.status === 'Archived' || device.addressInformation.length === 0) continue;
        const roll = random.next();
        if (roll < 0.01) {
          shape.unlisted += 1;
          previous = device;
          continue;
        }
        shape.assets += 1;
        const base = blank();
        base['Asset ID'] = assetId();
        base.Name = device.name;
        base.Category = cmdbCategoryNames[device.category] ?? device.category;
        base.Manufacturer = device.hardwareVendor ?? '';
        base.Model = device.hardwareModel ?? '';
        base.Firmware = device.softwareVersion ?? '';
        base.Description = device.description ?? '';
        base.Owner = device.userAttributes?.find((a) => a.name === 'Owner')?.value ?? '';
        base.Location = device.userAttributes?.find((a) => a.name === 'Location')?.value ?? '';
        base.Criticality = device.influence ?? '';
        base.Labels = (device.labels ?? []).join('|');
        if (roll < 0.06) {
          shape.changed += 1;
          const kind = random.int(0, 4);
          if (kind === 0) base.Description = `${device.hardwareModel ?? device.category} - moved to hall ${random.int(1, 9)}`;
          else if (kind === 1) base.Firmware = `${base.Firmware || 'V1.0'}.1`;
          else if (kind === 2) base.Criticality = device.influence === 'BusinessCritical' ? 'Important' : 'BusinessCritical';
          else if (kind === 3) base.Labels = [...(device.labels ?? []), 'audited'].join('|');
          else base.Name = `${device.name}-R`;
        }
        const nics = device.addressInformation;
        if (roll >= 0.06 && roll < 0.065 && previous && previous.addressInformation[0]?.ipAddresses[0]) {
          // The MAC of this device, the IP of the previous one: the CMDB mixed two devices up.
          shape.conflicts += 1;
          const row = interfaceRow(base, nics[0]!);
          row['IP Address'] = previous.addressInformation[0].ipAddresses[0].ip;
          rows.push(row);
        } else {
          if (nics.length > 1) shape.multiInterface += 1;
          for (const nic of nics) rows.push(interfaceRow(base, nic));
        }
        previous = device;
        if (random.chance(0.01)) {
          shape.created += 1;
          rows.push(newAsset(shape.created));
        }
        if (random.chance(0.002)) {
          shape.unusable += 1;
          rows.push(unusable(shape.unusable));
        }
      }
      await write(rows);
    },
    async close() {
      out.end();
      await once(out, 'close');
      return shape;
    },
  };
}
