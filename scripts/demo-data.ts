/**
 * Writes examples/demo/cmdb.csv, the plant inventory `kics-sync demo` reconciles with the simulator's
 * generated devices (`demoSimulator` in src/commands/demo.ts: its seed and device count). Run it again
 * only when the simulator's generator changes: `npx tsx scripts/demo-data.ts`.
 *
 * The CMDB is written to differ from KICS the way a real one does:
 * - most active devices are listed, a few are not (KICS shows them as unknown);
 * - some rows carry a newer description, firmware, criticality, label or location, a few a new name;
 * - owners are people (alice, bob, carol, dave, erin by area), so `plan --owner alice` has something to show;
 * - several values in one cell (IPs, labels) are separated by `|` (the CSV source's default);
 * - new assets KICS has not seen yet (to be created), two of them retired (never created);
 * - two listed devices are retired (archived in KICS by the demo's reconcile.archiveRetired);
 * - a few identity conflicts: a MAC of one device with the IP of another, one MAC claimed by two
 *   assets, a new asset named like an existing device;
 * - some rows that cannot be used: a malformed MAC, an IP out of range, an unknown category, an
 *   unknown criticality, a row with no name, MAC or IP.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { demoCsvFile, demoSimulator } from '../src/commands/demo.js';
import type { SimDevice } from '../src/simulator/kics/index.js';
import { startKicsSimulator } from '../src/simulator/kics/index.js';
import { createRandom } from '../src/simulator/random.js';
import { cmdbCategoryNames } from '../src/simulator/kics/catalog.js';

const owners = ['alice', 'bob', 'carol', 'dave', 'erin'];
const header = ['Asset ID', 'Name', 'MAC Address', 'IP Address', 'Address Space', 'Category', 'Manufacturer', 'Model', 'Firmware', 'Description', 'Owner', 'Location', 'Criticality', 'Labels', 'Status'];
type Row = Record<(typeof header)[number], string>;

const blank = (): Row => Object.fromEntries<string>(header.map((h) => [h, '']));

function ownerOf(device: SimDevice): string {
  const area = /^A(\d+)-/.exec(device.name)?.[1];
  return owners[(Number(area ?? 0) - 1 + owners.length) % owners.length]!;
}

function rowOf(device: SimDevice, id: number): Row {
  const nic = device.addressInformation[0]!;
  const attribute = (name: string): string => device.userAttributes?.find((a) => a.name === name)?.value ?? '';
  const row = blank();
  row['Asset ID'] = `CMDB-${String(id).padStart(5, '0')}`;
  row.Name = device.name;
  row['MAC Address'] = nic.macAddress?.toUpperCase().replace(/:/g, '-') ?? '';
  row['IP Address'] = nic.ipAddresses.map((ip) => ip.ip).join('|');
  // The two VLAN cells share 192.168.10.0/24: the CMDB names the space, as a real one must.
  const space = nic.ipAddresses[0]?.addressSpaceId ?? nic.macAddressSpaceId;
  row['Address Space'] = space === 2 || space === 3 ? String(space) : '';
  row.Category = cmdbCategoryNames[device.category] ?? device.category;
  row.Manufacturer = device.hardwareVendor ?? '';
  row.Model = device.hardwareModel ?? '';
  row.Firmware = device.softwareVersion ?? '';
  row.Description = device.description ?? '';
  row.Owner = ownerOf(device);
  row.Location = attribute('Location');
  row.Criticality = device.influence ?? '';
  row.Labels = (device.labels ?? []).join('|');
  return row;
}

const sim = await startKicsSimulator({ devices: demoSimulator.devices, seed: demoSimulator.seed });
const random = createRandom(`${demoSimulator.seed}:cmdb`);
const rows: Row[] = [];
let id = 1;
try {
  const devices = [...sim.store.all()].filter((d) => d.status !== 'Archived' && d.addressInformation.length > 0);
  let renamed = 0;
  for (const device of devices) {
    if (random.chance(0.06)) continue; // not in the CMDB: KICS shows it as unknown
    const row = rowOf(device, id++);
    const roll = random.next();
    if (roll < 0.06) row.Description = `${device.hardwareModel ?? device.category} - ${['boiler house', 'filling line 2', 'water treatment', 'packaging hall', 'utilities'][random.int(0, 4)]}`;
    else if (roll < 0.1 && row.Firmware) row.Firmware = `${row.Firmware}.1`;
    else if (roll < 0.13) row.Criticality = device.influence === 'BusinessCritical' ? 'Important' : 'BusinessCritical';
    else if (roll < 0.17) row.Labels = [...(device.labels ?? []), 'audited-2026'].join('|');
    else if (roll < 0.22 && !row.Location) row.Location = `Building ${random.int(1, 4)} / Cabinet ${String.fromCharCode(65 + random.int(0, 3))}${random.int(1, 40)}`;
    else if (roll < 0.19 && renamed < 6) {
      row.Name = `${device.name.replace(/-\d+$/, '')} ${['Boiler', 'Filler', 'Mixer', 'Pump', 'Press', 'Kiln'][renamed]} ${renamed + 1}`;
      renamed += 1;
    }
    rows.push(row);
  }
  // Retired assets: the CMDB says so; KICS still has them active.
  for (const row of rows.slice(10, 12)) row.Status = 'Decommissioned';

  // New assets KICS has not seen yet.
  const areas = ['A01', 'A02', 'A03'];
  for (let n = 1; n <= 24; n += 1) {
    const row = blank();
    const kind = (['PLC', 'HMI panel', 'Switch', 'IP camera'] as const)[n % 4]!;
    const area = areas[n % areas.length]!;
    row['Asset ID'] = `CMDB-${String(id++).padStart(5, '0')}`;
    row.Name = `${area}-NEW-${kind.replace(/\W+/g, '').toUpperCase()}-${String(n).padStart(3, '0')}`;
    row['MAC Address'] = `00-1B-1B-7A-${(0x10 + Math.floor(n / 16)).toString(16).toUpperCase()}-${(n % 256).toString(16).toUpperCase().padStart(2, '0')}`;
    row['IP Address'] = `10.250.${Math.floor(n / 200)}.${(n % 200) + 10}`;
    row.Category = kind;
    row.Manufacturer = kind === 'IP camera' ? 'Axis' : 'Siemens';
    row.Description = `commissioned with the ${area} retrofit`;
    row.Owner = owners[n % owners.length]!;
    row.Location = `Building ${(n % 4) + 1} / new cabinet`;
    row.Criticality = n % 3 === 0 ? 'Important' : 'Normal';
    row.Labels = 'retrofit-2026';
    if (n > 22) row.Status = 'Retired'; // planned, then cancelled: never created
    rows.push(row);
  }

  // Conflicts.
  const [a, b] = [devices[3]!, devices[4]!];
  const split = blank();
  split['Asset ID'] = `CMDB-${String(id++).padStart(5, '0')}`;
  split.Name = 'Mislabelled controller';
  split['MAC Address'] = a.addressInformation[0]!.macAddress ?? '';
  split['IP Address'] = b.addressInformation[0]!.ipAddresses[0]?.ip ?? '';
  split.Owner = 'alice';
  rows.push(split);
  for (const name of ['Spare PLC (bench)', 'Spare PLC (stores)']) {
    const twin = blank();
    twin['Asset ID'] = `CMDB-${String(id++).padStart(5, '0')}`;
    twin.Name = name;
    twin['MAC Address'] = '00:1B:1B:7A:FF:01';
    twin.Category = 'PLC';
    twin.Owner = 'bob';
    rows.push(twin);
  }
  const taken = blank();
  taken['Asset ID'] = `CMDB-${String(id++).padStart(5, '0')}`;
  taken.Name = devices[7]!.name;
  taken['MAC Address'] = '00:1B:1B:7A:FF:02';
  taken['IP Address'] = '10.250.9.9';
  taken.Category = 'PLC';
  taken.Owner = 'carol';
  rows.push(taken);

  // Rows that cannot be used.
  const bad = (patch: Partial<Row>): void => {
    rows.push({ ...blank(), 'Asset ID': `CMDB-${String(id++).padStart(5, '0')}`, Owner: 'dave', ...patch });
  };
  bad({ Name: 'Dosing pump controller', 'MAC Address': '00:1B:1B:ZZ:00:01', Category: 'PLC' });
  bad({ Name: 'Tank level gateway', 'IP Address': '10.1.300.4', Category: 'Protocol gateway' });
  bad({ Name: 'Break room coffee machine', 'MAC Address': '00:1B:1B:7A:FF:03', Category: 'Coffee machine' });
  bad({ Name: 'Chiller HMI', 'MAC Address': '00:1B:1B:7A:FF:04', Category: 'HMI panel', Criticality: 'Extreme' });
  bad({ Description: 'row left half-filled by a migration' });
} finally {
  await sim.close();
}

const text = stringify([header, ...rows.map((r) => header.map((h) => r[h]))], { delimiter: ';', record_delimiter: 'unix' });
writeFileSync(demoCsvFile, text);
process.stdout.write(`${demoCsvFile}: ${rows.length} rows\n`);
