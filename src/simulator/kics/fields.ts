import { assetStatuses, assetTypes, influenceTypes, type AddressSpace } from '../../model/kics.js';
import { influenceByIndex } from './device-input.js';
import type { SimDevice } from './device.js';
import { eventOrigins, eventStatuses, formatEventTime, type SimEvent } from './events.js';
import type { FieldDef, FieldTable } from './query.js';
import { formatKicsTime } from './time.js';

/**
 * The fields each query endpoint filters and sorts on. The reference lists them per endpoint
 * (PascalCase); the address fields of devices (`MacAddress`, `IpAddress`, `IpAddressSpaceId`) and
 * `Labels` are the simulator's reading of what a connector needs to find a device by address,
 * documented in docs/kics-simulator.md.
 */

const text = <T>(name: string, get: (row: T) => unknown): FieldDef<T> => ({ name, type: 'string', get });
const num = <T>(name: string, get: (row: T) => unknown): FieldDef<T> => ({ name, type: 'number', get });

export const deviceFields: FieldTable<SimDevice> = [
  num('Id', (d) => d.id),
  text('Name', (d) => d.name),
  text('Description', (d) => d.description),
  { name: 'Status', type: 'enum', values: assetStatuses, get: (d) => d.status },
  { name: 'Category', type: 'enum', values: assetTypes, get: (d) => d.category },
  num('CategoryConfidence', (d) => d.categoryConfidence),
  text('Group', (d) => d.group),
  text('SecurityState', (d) => d.securityState),
  { name: 'Influence', type: 'enum', values: influenceTypes, enumIndex: influenceByIndex, get: (d) => d.influence },
  { name: 'LastSeen', type: 'date', formatDate: formatKicsTime, get: (d) => d.lastSeen },
  { name: 'LastModified', type: 'date', formatDate: formatKicsTime, get: (d) => d.lastModified },
  { name: 'Created', type: 'date', formatDate: formatKicsTime, get: (d) => d.created },
  text('Os', (d) => d.os),
  text('NetworkName', (d) => d.networkName),
  text('HardwareVendor', (d) => d.hardwareVendor),
  text('HardwareModel', (d) => d.hardwareModel),
  text('HardwareVersion', (d) => d.hardwareVersion),
  text('SoftwareVendor', (d) => d.softwareVendor),
  text('SoftwareModel', (d) => d.softwareModel),
  text('SoftwareVersion', (d) => d.softwareVersion),
  { name: 'IsRouter', type: 'boolean', get: (d) => d.isRouter },
  { name: 'Labels', type: 'string', many: true, get: (d) => d.labels },
  { name: 'MacAddress', type: 'mac', many: true, get: (d) => d.addressInformation.flatMap((n) => (n.macAddress ? [n.macAddress] : [])) },
  { name: 'IpAddress', type: 'ip', many: true, get: (d) => d.addressInformation.flatMap((n) => n.ipAddresses.map((a) => a.ip)) },
  { name: 'IpAddressSpaceId', type: 'number', many: true, get: (d) => d.addressInformation.flatMap((n) => n.ipAddresses.map((a) => a.addressSpaceId)) },
  { name: 'MacAddressSpaceId', type: 'number', many: true, get: (d) => d.addressInformation.map((n) => n.macAddressSpaceId) },
];

export const addressSpaceFields: FieldTable<AddressSpace> = [
  num('Id', (s) => s.id),
  text('Name', (s) => s.name),
  text('Description', (s) => s.description ?? null),
  { name: 'ReadOnly', type: 'boolean', get: (s) => s.readOnly ?? false },
];

export const eventFields: FieldTable<SimEvent> = [
  num('Id', (e) => e.id),
  num('EventType', (e) => e.eventType),
  text('Title', (e) => e.title),
  num('Score', (e) => e.score),
  { name: 'StartTime', type: 'date', formatDate: formatEventTime, get: (e) => e.startTime },
  { name: 'LastSeenTime', type: 'date', formatDate: formatEventTime, get: (e) => e.lastSeenTime },
  { name: 'EndTime', type: 'date', formatDate: formatEventTime, get: (e) => e.endTime },
  text('Protocol', (e) => e.protocol),
  { name: 'Technology', type: 'string', caseInsensitive: true, get: (e) => e.technology },
  num('TotalAppearances', (e) => e.totalAppearances),
  { name: 'Status', type: 'enum', values: eventStatuses, get: (e) => e.status },
  num('Mark', (e) => e.mark),
  { name: 'Origin', type: 'enum', values: eventOrigins, get: (e) => e.origin },
  num('MonitoringPointId', (e) => e.monitoringPointId),
  text('TriggeredRule', (e) => e.triggeredRule),
  { name: 'AssetId', type: 'number', many: true, get: (e) => e.assets.map((a) => a.id) },
];
