import type { AssetType } from '../../model/kics.js';

/**
 * What an OT network looks like to KICS, for the generator: device kinds with their share of the
 * population, vendors with real IEEE OUIs (so vendor-from-OUI lookups work on generated MACs),
 * models with plausible firmware, and the industrial protocols each kind speaks.
 */

/** Vendors and OUIs as registered with the IEEE (checked against the oui-data registry in the tests). */
export const vendorOuis = {
  Siemens: ['00:1b:1b', '00:0e:8c', '28:63:36', 'ac:64:17'],
  'Schneider Electric': ['00:00:54', '00:80:f4'],
  'Rockwell Automation': ['00:00:bc', '00:1d:9c', 'f4:54:33', '5c:88:16'],
  ABB: ['00:24:59'],
  'Mitsubishi Electric': ['00:26:92'],
  Beckhoff: ['00:01:05'],
  WAGO: ['00:30:de'],
  'Phoenix Contact': ['00:a0:45'],
  Hirschmann: ['00:80:63', 'ec:e5:55'],
  Cisco: ['00:1b:54', '00:25:b5'],
  Moxa: ['00:90:e8'],
  Dell: ['00:14:22', 'f8:bc:12', 'b8:ac:6f'],
  HP: ['00:1b:78', '3c:d9:2b', '98:e7:f4'],
  HPE: ['94:18:82'],
  Fortinet: ['00:09:0f'],
  'Palo Alto Networks': ['00:1b:17'],
  Axis: ['00:40:8c', 'ac:cc:8e'],
  APC: ['00:c0:b7'],
  Eaton: ['00:20:85'],
  Brother: ['3c:2a:f4'],
  Honeywell: ['00:40:84'],
} as const satisfies Record<string, readonly string[]>;
export type Vendor = keyof typeof vendorOuis;

/** Industrial protocols: KICS name, protocol stack id, system commands known for it, default port. */
export const protocolCatalog = {
  S7CommOverTcp: { stackId: 2, commands: 23, port: 102, industrial: true },
  S7CommPlus: { stackId: 3, commands: 31, port: 102, industrial: true },
  ModbusTcp: { stackId: 1, commands: 15, port: 502, industrial: true },
  Umas: { stackId: 5, commands: 42, port: 502, industrial: true },
  EtherNetIp: { stackId: 6, commands: 28, port: 44818, industrial: true },
  OpcUa: { stackId: 7, commands: 37, port: 4840, industrial: true },
  Iec104: { stackId: 8, commands: 19, port: 2404, industrial: true },
  Dnp3: { stackId: 9, commands: 34, port: 20000, industrial: true },
  MelsecSlmp: { stackId: 10, commands: 26, port: 5007, industrial: true },
  Ads: { stackId: 11, commands: 18, port: 48898, industrial: true },
  IndustrialEthernet: { stackId: 12, commands: 25, port: 0, industrial: true },
  Iec61850Mms: { stackId: 13, commands: 22, port: 102, industrial: true },
} as const;
export type ProtocolName = keyof typeof protocolCatalog;
export const protocolNames = Object.keys(protocolCatalog) as ProtocolName[];

export interface ModelSpec {
  vendor: Vendor;
  model: string;
  hardwareVersions: readonly string[];
  softwareVendor: string | null;
  softwareModel: string | null;
  softwareVersions: readonly string[];
  os: string | null;
  /** The industrial configuration's device type (process control settings). */
  deviceType?: string;
  protocols?: readonly ProtocolName[];
  /** Firmware versions with known vulnerabilities (a risk is generated for them). */
  vulnerable?: readonly string[];
  orderNumber?: string;
}

export interface KindSpec {
  category: AssetType;
  /** Share of the generated population (relative weight). */
  weight: number;
  /** Name prefix: `A03-PLC-00042`. */
  prefix: string;
  models: readonly ModelSpec[];
  isRouter?: boolean;
  /** Hosts that carry a network name (DNS / NetBIOS). */
  hostname?: string;
  /** Interfaces: [min, max]. */
  interfaces: readonly [number, number];
  /** Likely an endpoint-protection agent (the device's `epp`). */
  epp?: boolean;
  influence: 'critical' | 'important' | 'normal';
  /** Where it tends to live: the DMZ (servers), the management L2 network (switch management ports). */
  placement?: 'dmz' | 'management';
}

const win10Ltsc = 'Windows 10 Enterprise LTSC 2021';

export const kinds: readonly KindSpec[] = [
  {
    category: 'Plc',
    weight: 22,
    prefix: 'PLC',
    interfaces: [1, 2],
    influence: 'critical',
    models: [
      { vendor: 'Siemens', model: 'S7-1500 CPU 1516-3 PN/DP', orderNumber: '6ES7 516-3AN02-0AB0', hardwareVersions: ['FS01', 'FS03'], softwareVendor: 'Siemens', softwareModel: 'SIMATIC S7-1500 firmware', softwareVersions: ['V2.8.3', 'V2.9.4', 'V3.0.1'], os: null, deviceType: 'Siemens SIMATIC S7-1500', protocols: ['S7CommPlus', 'IndustrialEthernet', 'OpcUa'], vulnerable: ['V2.8.3'] },
      { vendor: 'Siemens', model: 'S7-1200 CPU 1214C DC/DC/DC', orderNumber: '6ES7 214-1AG40-0XB0', hardwareVersions: ['FS05', 'FS07'], softwareVendor: 'Siemens', softwareModel: 'SIMATIC S7-1200 firmware', softwareVersions: ['V4.4.1', 'V4.5.2', 'V4.6.0'], os: null, deviceType: 'Siemens SIMATIC S7-1200', protocols: ['S7CommPlus', 'IndustrialEthernet'], vulnerable: ['V4.4.1'] },
      { vendor: 'Siemens', model: 'S7-300 CPU 315-2 PN/DP', orderNumber: '6ES7 315-2EH14-0AB0', hardwareVersions: ['5', '6'], softwareVendor: 'Siemens', softwareModel: 'SIMATIC S7-300 firmware', softwareVersions: ['V3.2.14', 'V3.2.17'], os: null, deviceType: 'Siemens SIMATIC S7-300', protocols: ['S7CommOverTcp', 'IndustrialEthernet'], vulnerable: ['V3.2.14', 'V3.2.17'] },
      { vendor: 'Schneider Electric', model: 'Modicon M340 BMX P34 2020', orderNumber: 'BMXP342020', hardwareVersions: ['PV 05', 'PV 07'], softwareVendor: 'Schneider Electric', softwareModel: 'Modicon M340 firmware', softwareVersions: ['3.30', '3.40', '3.51'], os: null, deviceType: 'Schneider Electric Modicon M340', protocols: ['ModbusTcp', 'Umas'], vulnerable: ['3.30'] },
      { vendor: 'Schneider Electric', model: 'Modicon M580 BME P58 2040', orderNumber: 'BMEP582040', hardwareVersions: ['PV 02'], softwareVendor: 'Schneider Electric', softwareModel: 'Modicon M580 firmware', softwareVersions: ['3.20', '4.10'], os: null, deviceType: 'Schneider Electric Modicon M580', protocols: ['ModbusTcp', 'Umas'], vulnerable: ['3.20'] },
      { vendor: 'Rockwell Automation', model: 'ControlLogix 5580 1756-L83E', orderNumber: '1756-L83E', hardwareVersions: ['B'], softwareVendor: 'Rockwell Automation', softwareModel: 'Logix 5000 firmware', softwareVersions: ['32.011', '33.011', '34.011'], os: null, deviceType: 'Rockwell Automation ControlLogix', protocols: ['EtherNetIp'], vulnerable: ['32.011'] },
      { vendor: 'Rockwell Automation', model: 'CompactLogix 5380 5069-L320ER', orderNumber: '5069-L320ER', hardwareVersions: ['A'], softwareVendor: 'Rockwell Automation', softwareModel: 'Logix 5000 firmware', softwareVersions: ['33.011', '35.011'], os: null, deviceType: 'Rockwell Automation CompactLogix', protocols: ['EtherNetIp'] },
      { vendor: 'ABB', model: 'AC500 PM5650-2ETH', orderNumber: '1SAP181100R0001', hardwareVersions: ['V3'], softwareVendor: 'ABB', softwareModel: 'AC500 V3 firmware', softwareVersions: ['3.5.0', '3.6.1'], os: null, deviceType: 'ABB AC500', protocols: ['ModbusTcp', 'Iec104', 'OpcUa'] },
      { vendor: 'Mitsubishi Electric', model: 'MELSEC iQ-R R04CPU', orderNumber: 'R04CPU', hardwareVersions: ['B'], softwareVendor: 'Mitsubishi Electric', softwareModel: 'MELSEC iQ-R firmware', softwareVersions: ['56', '63'], os: null, deviceType: 'Mitsubishi Electric MELSEC iQ-R', protocols: ['MelsecSlmp'] },
      { vendor: 'Beckhoff', model: 'CX5140', orderNumber: 'CX5140-0125', hardwareVersions: ['1.2'], softwareVendor: 'Beckhoff', softwareModel: 'TwinCAT 3', softwareVersions: ['3.1.4024', '3.1.4026'], os: 'Windows 10 IoT Enterprise', deviceType: 'Beckhoff Embedded PC', protocols: ['Ads', 'ModbusTcp'] },
      { vendor: 'WAGO', model: 'PFC200 750-8212', orderNumber: '750-8212', hardwareVersions: ['02'], softwareVendor: 'WAGO', softwareModel: 'PFC firmware', softwareVersions: ['04.02.13', '04.04.03'], os: 'Linux', deviceType: 'WAGO PFC200', protocols: ['ModbusTcp', 'Iec104'] },
    ],
  },
  {
    category: 'HmiPanel',
    weight: 10,
    prefix: 'HMI',
    interfaces: [1, 1],
    influence: 'important',
    models: [
      { vendor: 'Siemens', model: 'SIMATIC HMI TP1200 Comfort', orderNumber: '6AV2 124-0MC01-0AX0', hardwareVersions: ['03'], softwareVendor: 'Siemens', softwareModel: 'WinCC Runtime Advanced', softwareVersions: ['V16', 'V17', 'V18'], os: 'Windows CE 6.0', deviceType: 'Siemens SIMATIC HMI Comfort Panel', protocols: ['S7CommPlus'] },
      { vendor: 'Schneider Electric', model: 'Harmony GTU HMIDT652', hardwareVersions: ['PV 01'], softwareVendor: 'Schneider Electric', softwareModel: 'Vijeo Designer Runtime', softwareVersions: ['6.2 SP11', '6.3'], os: 'Windows 10 IoT Enterprise', protocols: ['ModbusTcp'] },
      { vendor: 'Rockwell Automation', model: 'PanelView Plus 7 2711P-T12W22D9P', hardwareVersions: ['A'], softwareVendor: 'Rockwell Automation', softwareModel: 'FactoryTalk View ME', softwareVersions: ['12.00', '13.00'], os: 'Windows CE 6.0', protocols: ['EtherNetIp'] },
      { vendor: 'Beckhoff', model: 'CP2916-0010', hardwareVersions: ['1.0'], softwareVendor: 'Beckhoff', softwareModel: 'TwinCAT HMI', softwareVersions: ['1.12'], os: 'Windows 10 IoT Enterprise', protocols: ['Ads'] },
    ],
  },
  {
    category: 'ScadaHmi',
    weight: 3,
    prefix: 'SCADA',
    hostname: 'scada',
    interfaces: [1, 2],
    epp: true,
    influence: 'critical',
    models: [
      { vendor: 'Dell', model: 'OptiPlex 7090 Tower', hardwareVersions: ['A05'], softwareVendor: 'Siemens', softwareModel: 'WinCC V7.5 SP2', softwareVersions: ['7.5.2.6'], os: win10Ltsc, deviceType: 'Siemens WinCC station', protocols: ['S7CommPlus', 'OpcUa'] },
      { vendor: 'HP', model: 'Z2 Tower G9', hardwareVersions: ['1.0'], softwareVendor: 'AVEVA', softwareModel: 'InTouch HMI', softwareVersions: ['2020 R2 SP1', '2023'], os: win10Ltsc, deviceType: 'AVEVA InTouch station', protocols: ['OpcUa', 'ModbusTcp'] },
    ],
  },
  {
    category: 'EngineeringStation',
    weight: 4,
    prefix: 'EWS',
    hostname: 'ews',
    interfaces: [1, 2],
    epp: true,
    influence: 'important',
    models: [
      { vendor: 'Dell', model: 'Precision 3660 Tower', hardwareVersions: ['1.8.0'], softwareVendor: 'Siemens', softwareModel: 'TIA Portal', softwareVersions: ['V17', 'V18 Update 2', 'V19'], os: win10Ltsc },
      { vendor: 'HP', model: 'ZBook Fury 16 G10', hardwareVersions: ['01.04.00'], softwareVendor: 'Rockwell Automation', softwareModel: 'Studio 5000 Logix Designer', softwareVersions: ['33.00', '35.00'], os: 'Windows 11 Enterprise' },
      { vendor: 'Dell', model: 'Precision 5570', hardwareVersions: ['1.14.0'], softwareVendor: 'Schneider Electric', softwareModel: 'EcoStruxure Control Expert', softwareVersions: ['15.1', '15.3'], os: win10Ltsc },
    ],
  },
  {
    category: 'Workstation',
    weight: 6,
    prefix: 'WS',
    hostname: 'ws',
    interfaces: [1, 1],
    epp: true,
    influence: 'normal',
    models: [
      { vendor: 'HP', model: 'EliteDesk 800 G6', hardwareVersions: ['02.15.00'], softwareVendor: 'Microsoft', softwareModel: 'Windows', softwareVersions: ['10.0.19044', '10.0.19045'], os: 'Windows 10 Enterprise' },
      { vendor: 'Dell', model: 'OptiPlex 5000', hardwareVersions: ['1.16.0'], softwareVendor: 'Microsoft', softwareModel: 'Windows', softwareVersions: ['10.0.22621', '10.0.22631'], os: 'Windows 11 Enterprise' },
    ],
  },
  {
    category: 'Laptop',
    weight: 1,
    prefix: 'LT',
    hostname: 'lt',
    interfaces: [1, 1],
    epp: true,
    influence: 'normal',
    models: [{ vendor: 'Dell', model: 'Latitude 5430 Rugged', hardwareVersions: ['1.21.0'], softwareVendor: 'Microsoft', softwareModel: 'Windows', softwareVersions: ['10.0.22631'], os: 'Windows 11 Enterprise' }],
  },
  {
    category: 'Server',
    weight: 5,
    prefix: 'SRV',
    hostname: 'srv',
    interfaces: [1, 3],
    epp: true,
    influence: 'critical',
    models: [
      { vendor: 'HPE', model: 'ProLiant DL380 Gen10', hardwareVersions: ['U30 v2.80'], softwareVendor: 'Siemens', softwareModel: 'WinCC OA server', softwareVersions: ['3.18 P010', '3.19 P003'], os: 'Windows Server 2019 Standard', deviceType: 'SCADA server', protocols: ['OpcUa', 'Iec104', 'ModbusTcp'] },
      { vendor: 'Dell', model: 'PowerEdge R740', hardwareVersions: ['2.19.1'], softwareVendor: 'AVEVA', softwareModel: 'System Platform', softwareVersions: ['2020 R2', '2023 R2'], os: 'Windows Server 2022 Standard', deviceType: 'SCADA server', protocols: ['OpcUa', 'Dnp3'] },
      { vendor: 'Dell', model: 'PowerEdge R650', hardwareVersions: ['1.10.2'], softwareVendor: 'Microsoft', softwareModel: 'Active Directory Domain Services', softwareVersions: ['10.0.20348'], os: 'Windows Server 2022 Standard' },
    ],
  },
  {
    category: 'Historian',
    weight: 1.5,
    prefix: 'HIST',
    hostname: 'hist',
    interfaces: [1, 2],
    epp: true,
    influence: 'important',
    placement: 'dmz',
    models: [
      { vendor: 'Dell', model: 'PowerEdge R750', hardwareVersions: ['1.8.2'], softwareVendor: 'AVEVA', softwareModel: 'PI Server', softwareVersions: ['2018 SP3 Patch 4', '2023'], os: 'Windows Server 2019 Standard', deviceType: 'Historian', protocols: ['OpcUa'] },
      { vendor: 'HPE', model: 'ProLiant DL360 Gen10', hardwareVersions: ['U32 v2.72'], softwareVendor: 'AVEVA', softwareModel: 'Historian', softwareVersions: ['2020 R2'], os: 'Windows Server 2019 Standard', deviceType: 'Historian', protocols: ['OpcUa'] },
    ],
  },
  {
    category: 'Switch',
    weight: 14,
    prefix: 'SW',
    hostname: 'sw',
    interfaces: [1, 1],
    influence: 'important',
    placement: 'management',
    models: [
      { vendor: 'Hirschmann', model: 'RSP35', hardwareVersions: ['1.0'], softwareVendor: 'Hirschmann', softwareModel: 'HiOS', softwareVersions: ['08.7.02', '09.1.01'], os: 'HiOS', vulnerable: ['08.7.02'] },
      { vendor: 'Hirschmann', model: 'RS20-0800T1T1SDAE', hardwareVersions: ['1.1'], softwareVendor: 'Hirschmann', softwareModel: 'Classic Switch Software', softwareVersions: ['09.1.00'], os: 'Classic' },
      { vendor: 'Cisco', model: 'IE-4000-8GT4G-E', hardwareVersions: ['V03'], softwareVendor: 'Cisco', softwareModel: 'IOS', softwareVersions: ['15.2(7)E7', '15.2(8)E3'], os: 'Cisco IOS' },
      { vendor: 'Cisco', model: 'IE-3300-8T2S', hardwareVersions: ['V02'], softwareVendor: 'Cisco', softwareModel: 'IOS XE', softwareVersions: ['17.9.4', '17.12.2'], os: 'Cisco IOS XE' },
      { vendor: 'Moxa', model: 'EDS-510E-3GTXSFP', hardwareVersions: ['1.0'], softwareVendor: 'Moxa', softwareModel: 'EDS firmware', softwareVersions: ['5.7', '5.8'], os: null },
      { vendor: 'Siemens', model: 'SCALANCE XC208', orderNumber: '6GK5 208-0BA00-2AC2', hardwareVersions: ['1'], softwareVendor: 'Siemens', softwareModel: 'SCALANCE X firmware', softwareVersions: ['V4.4', 'V4.5'], os: null },
    ],
  },
  {
    category: 'Router',
    weight: 2,
    prefix: 'RTR',
    hostname: 'rtr',
    isRouter: true,
    interfaces: [2, 4],
    influence: 'important',
    models: [
      { vendor: 'Cisco', model: 'IR1101', hardwareVersions: ['V01'], softwareVendor: 'Cisco', softwareModel: 'IOS XE', softwareVersions: ['17.9.4a'], os: 'Cisco IOS XE' },
      { vendor: 'Moxa', model: 'EDR-810-2GSFP', hardwareVersions: ['1.0'], softwareVendor: 'Moxa', softwareModel: 'EDR firmware', softwareVersions: ['5.12'], os: null },
    ],
  },
  {
    category: 'Firewall',
    weight: 2,
    prefix: 'FW',
    hostname: 'fw',
    isRouter: true,
    interfaces: [2, 4],
    influence: 'critical',
    placement: 'dmz',
    models: [
      { vendor: 'Fortinet', model: 'FortiGate 60F', hardwareVersions: ['C'], softwareVendor: 'Fortinet', softwareModel: 'FortiOS', softwareVersions: ['7.2.5', '7.4.3'], os: 'FortiOS', vulnerable: ['7.2.5'] },
      { vendor: 'Palo Alto Networks', model: 'PA-220', hardwareVersions: ['1.0'], softwareVendor: 'Palo Alto Networks', softwareModel: 'PAN-OS', softwareVersions: ['10.2.7', '11.1.2'], os: 'PAN-OS' },
      { vendor: 'Phoenix Contact', model: 'FL MGUARD RS4000 TX/TX', hardwareVersions: ['00'], softwareVendor: 'Phoenix Contact', softwareModel: 'mGuard firmware', softwareVersions: ['8.8.6', '10.3.1'], os: 'mGuard' },
      { vendor: 'Hirschmann', model: 'EAGLE40-07', hardwareVersions: ['1.0'], softwareVendor: 'Hirschmann', softwareModel: 'HiSecOS', softwareVersions: ['04.3.02'], os: 'HiSecOS' },
    ],
  },
  {
    category: 'Gateway',
    weight: 2,
    prefix: 'GW',
    interfaces: [1, 1],
    influence: 'important',
    models: [
      { vendor: 'Moxa', model: 'MGate MB3180', hardwareVersions: ['1.0'], softwareVendor: 'Moxa', softwareModel: 'MGate firmware', softwareVersions: ['2.2', '2.3'], os: null, deviceType: 'Modbus gateway', protocols: ['ModbusTcp'] },
      { vendor: 'Siemens', model: 'SIMATIC CloudConnect 7 CC716', hardwareVersions: ['1'], softwareVendor: 'Siemens', softwareModel: 'CloudConnect firmware', softwareVersions: ['V2.1'], os: null, protocols: ['OpcUa', 'S7CommPlus'] },
    ],
  },
  {
    category: 'NetworkCamera',
    weight: 4,
    prefix: 'CAM',
    interfaces: [1, 1],
    influence: 'normal',
    models: [
      { vendor: 'Axis', model: 'P1465-LE', hardwareVersions: ['1.0'], softwareVendor: 'Axis', softwareModel: 'AXIS OS', softwareVersions: ['10.12.182', '11.8.61'], os: 'AXIS OS' },
      { vendor: 'Axis', model: 'M3106-L Mk II', hardwareVersions: ['1.0'], softwareVendor: 'Axis', softwareModel: 'AXIS OS', softwareVersions: ['9.80.3'], os: 'AXIS OS', vulnerable: ['9.80.3'] },
    ],
  },
  {
    category: 'Printer',
    weight: 2,
    prefix: 'PRN',
    hostname: 'prn',
    interfaces: [1, 1],
    influence: 'normal',
    models: [
      { vendor: 'HP', model: 'LaserJet Pro M404dn', hardwareVersions: ['1.0'], softwareVendor: 'HP', softwareModel: 'FutureSmart', softwareVersions: ['002_2310A'], os: null },
      { vendor: 'Brother', model: 'HL-L6400DW', hardwareVersions: ['1.0'], softwareVendor: 'Brother', softwareModel: 'Main firmware', softwareVersions: ['1.71'], os: null },
    ],
  },
  {
    category: 'UPS',
    weight: 2,
    prefix: 'UPS',
    interfaces: [1, 1],
    influence: 'important',
    models: [
      { vendor: 'APC', model: 'Smart-UPS SRT 3000 (NMC3)', hardwareVersions: ['AP9641'], softwareVendor: 'APC', softwareModel: 'NMC3 firmware', softwareVersions: ['1.4.2.1', '2.5.0.6'], os: null },
      { vendor: 'Eaton', model: '9PX 3000 (Network-M2)', hardwareVersions: ['1.0'], softwareVendor: 'Eaton', softwareModel: 'Network-M2 firmware', softwareVersions: ['2.0.5', '3.0.2'], os: null },
    ],
  },
  {
    category: 'WiFi',
    weight: 1,
    prefix: 'AP',
    interfaces: [1, 1],
    influence: 'normal',
    models: [{ vendor: 'Siemens', model: 'SCALANCE W788-1 M12', orderNumber: '6GK5 788-1GD00-0AA0', hardwareVersions: ['2'], softwareVendor: 'Siemens', softwareModel: 'SCALANCE W firmware', softwareVersions: ['V6.5'], os: null }],
  },
  {
    category: 'Other',
    weight: 2,
    prefix: 'DEV',
    interfaces: [1, 1],
    influence: 'normal',
    models: [
      { vendor: 'Honeywell', model: 'ControlEdge RTU', hardwareVersions: ['R1'], softwareVendor: null, softwareModel: null, softwareVersions: [], os: null, protocols: ['Dnp3', 'ModbusTcp'] },
      { vendor: 'Phoenix Contact', model: 'ILC 2050 BI', hardwareVersions: ['01'], softwareVendor: 'Phoenix Contact', softwareModel: 'ILC firmware', softwareVersions: ['1.6.0'], os: null, protocols: ['ModbusTcp'] },
    ],
  },
];

export const labelPool = ['line-1', 'line-2', 'line-3', 'line-4', 'packaging', 'boiler-house', 'water-treatment', 'safety', 'critical-process', 'vendor-managed', 'remote-access', 'legacy', 'pci-exempt', 'spare'] as const;
export const ownerPool = ['Maintenance', 'Process engineering', 'OT network team', 'Utilities', 'Quality lab', 'Automation vendor'] as const;
export const areaNames = ['Boiler house', 'Packaging', 'Water treatment', 'Mixing', 'Filling', 'Utilities', 'Warehouse', 'Substation'] as const;

/** How a plant's CMDB export names each KICS category (the names the default category table maps back); used to write example exports of a generated plant. */
export const cmdbCategoryNames: Record<string, string> = {
  Plc: 'PLC',
  ScadaHmi: 'SCADA server',
  HmiPanel: 'HMI panel',
  EngineeringStation: 'Engineering station',
  Workstation: 'Workstation',
  Server: 'Server',
  Historian: 'Historian',
  Switch: 'Switch',
  Router: 'Router',
  Firewall: 'Firewall',
  Gateway: 'Protocol gateway',
  NetworkCamera: 'IP camera',
  Printer: 'Printer',
  UPS: 'UPS',
  WiFi: 'Access point',
};
