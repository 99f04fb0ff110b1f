import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { z } from 'zod';
import { industrialConfigModes, type DeviceProtocol, type IndustrialConfigMode } from '../../model/kics.js';
import { protocolCatalog, protocolNames } from './catalog.js';
import { jsonEqual, type SimDevice, type SimProcessControlSettings } from './device.js';
import { SimulatorHttpError, httpError, type KicsErrorItem } from './http.js';
import type { DeviceStore, IndustrialTag } from './store.js';

/**
 * `POST devices/{id}/industrialConfiguration`: multipart/form-data with `mode` (Replace / Merge) and
 * the `config` file. The file format the simulator accepts (documented in docs/kics-simulator.md):
 *
 *   { "deviceType": "Siemens SIMATIC S7-1500",
 *     "protocols": [ { "name": "S7CommPlus", "address": {"ip": "10.1.0.1", "port": 102, "rack": 0, "slot": 1},
 *                      "tags": [ {"name": "TT101", "address": "DB10.DBD0", "dataType": "Float",
 *                                 "description": "...", "measureUnit": "°C", "rules": ["TT101 high"]} ] } ] }
 *
 * A file that is not JSON, an unknown protocol, or an address that is not the device's is refused
 * (400, KICS error shape, nothing changed). An invalid tag is counted in `tagErrors` and skipped; the
 * valid ones are applied. Tags are identified by protocol + name and counted against what the device
 * already has: `addedTags`, `replacedTags` (same name, different content), `removedTags` (Replace
 * only: tags the file no longer has) and `removedRules` (rules of removed tags, and rules a replaced
 * tag no longer carries).
 */

export const tagDataTypes = ['Bool', 'Int8', 'UInt8', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64', 'Float', 'Double', 'String', 'DateTime'] as const;

export interface IndustrialConfigResult {
  addedTags: number;
  tagErrors: number;
  removedTags: number;
  replacedTags: number;
  removedRules: number;
}

const fileLimit = 20 * 1024 * 1024;

/** Reads `mode` and `config` from a multipart body. */
export async function readIndustrialConfigUpload(req: IncomingMessage): Promise<{ mode: IndustrialConfigMode; config: Buffer }> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(type)) throw httpError(415, `Unsupported content type ${JSON.stringify(type)}: send multipart/form-data with the fields mode and config.`);
  const fields = new Map<string, string>();
  let config: Buffer | null = null;
  let tooLarge = false;
  await new Promise<void>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: fileLimit, fields: 20, files: 4, fieldSize: fileLimit } });
    } catch (error) {
      reject(httpError(400, `The multipart body cannot be read: ${(error as Error).message}`));
      return;
    }
    parser.on('field', (name, value) => {
      if (name === 'config') config = Buffer.from(value, 'utf8');
      else fields.set(name, value);
    });
    parser.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => (tooLarge = true));
      stream.on('close', () => {
        if (name === 'config') config = Buffer.concat(chunks);
      });
    });
    parser.on('error', (error: Error) => reject(httpError(400, `The multipart body cannot be read: ${error.message}`)));
    parser.on('close', () => resolve());
    req.pipe(parser);
  });
  if (tooLarge) throw httpError(413, `The configuration file exceeds ${fileLimit} bytes.`, 'config', 'config');
  const errors: KicsErrorItem[] = [];
  const modeText = fields.get('mode');
  const mode = industrialConfigModes.find((m) => m.toLowerCase() === modeText?.toLowerCase());
  if (modeText === undefined) errors.push({ field: 'mode', path: 'mode', errorMessage: 'The mode field is required (Replace or Merge).' });
  else if (!mode) errors.push({ field: 'mode', path: 'mode', errorMessage: `Unknown mode ${JSON.stringify(modeText)}: expected Replace or Merge.` });
  if (config === null) errors.push({ field: 'config', path: 'config', errorMessage: 'The config file is required.' });
  if (errors.length > 0) throw new SimulatorHttpError(400, errors);
  return { mode: mode!, config: config! };
}

const tagSchema = z.object({
  name: z.string().min(1).max(1024),
  address: z.string().min(1).max(4096),
  dataType: z.enum(tagDataTypes),
  description: z.string().max(4096).nullable().optional(),
  measureUnit: z.string().max(256).nullable().optional(),
  rules: z.array(z.string().min(1)).optional(),
});

const fileSchema = z.object({
  deviceType: z.string().max(8192).nullable().optional(),
  protocols: z.array(
    z.object({
      name: z.string(),
      address: z.record(z.string(), z.unknown()),
      tags: z.array(z.unknown()).optional(),
    }),
    { error: 'protocols must be an array' },
  ),
});

function configError(errorMessage: string, path = 'config'): SimulatorHttpError {
  return new SimulatorHttpError(400, [{ field: 'config', path, errorMessage }]);
}

/** Applies an uploaded configuration to a device and counts what changed. */
export function applyIndustrialConfiguration(store: DeviceStore, device: SimDevice, mode: IndustrialConfigMode, raw: Buffer): IndustrialConfigResult {
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    throw configError(`The configuration file cannot be parsed: it is not valid JSON (${(error as Error).message}).`);
  }
  const file = fileSchema.safeParse(parsedJson);
  if (!file.success) {
    const issue = file.error.issues[0]!;
    throw configError(`The configuration file is not in the expected format: ${issue.path.join('.') || 'root'}: ${issue.message}.`, `config/${issue.path.join('/')}`);
  }

  const ips = new Map<string, number | null>();
  const macs = new Map<string, number | null>();
  for (const nic of device.addressInformation) {
    if (nic.macAddress) macs.set(nic.macAddress, nic.macAddressSpaceId);
    for (const ip of nic.ipAddresses) ips.set(ip.ip, ip.addressSpaceId);
  }

  let tagErrors = 0;
  const incoming = new Map<string, IndustrialTag>();
  const protocols: DeviceProtocol[] = [];
  const existingProtocols = new Map((device.processControlSettings?.protocols ?? []).map((p) => [p.name, p]));
  file.data.protocols.forEach((protocol, i) => {
    const name = protocolNames.find((p) => p.toLowerCase() === protocol.name.toLowerCase());
    if (!name) throw configError(`Unknown protocol ${JSON.stringify(protocol.name)}: expected one of ${protocolNames.join(', ')}.`, `config/protocols/${i}/name`);
    const address = protocol.address;
    const ip = typeof address.ip === 'string' ? address.ip : null;
    const mac = typeof address.mac === 'string' ? address.mac.toLowerCase() : null;
    if (ip === null && mac === null) throw configError('A protocol address needs an ip or a mac.', `config/protocols/${i}/address`);
    if (ip !== null && !ips.has(ip)) throw configError(`${ip} is not an IP address of device ${device.id}.`, `config/protocols/${i}/address/ip`);
    if (mac !== null && !macs.has(mac)) throw configError(`${mac} is not a MAC address of device ${device.id}.`, `config/protocols/${i}/address/mac`);
    const previous = existingProtocols.get(name);
    protocols.push({
      id: previous?.id ?? store.newProtocolId(),
      name,
      protocolStackId: protocolCatalog[name].stackId,
      systemCommands: previous?.systemCommands ?? { total: protocolCatalog[name].commands, monitored: 0 },
      addresses2: [{ addressConfig: JSON.stringify(address), ipAddressSpaceId: ip !== null ? (ips.get(ip) ?? null) : null, macAddressSpaceId: mac !== null ? (macs.get(mac) ?? null) : null }],
    });
    for (const rawTag of protocol.tags ?? []) {
      const tag = tagSchema.safeParse(rawTag);
      const key = tag.success ? `${name}/${tag.data.name}` : '';
      if (!tag.success || incoming.has(key)) {
        tagErrors++;
        continue;
      }
      incoming.set(key, {
        protocol: name,
        name: tag.data.name,
        address: tag.data.address,
        dataType: tag.data.dataType,
        description: tag.data.description ?? null,
        measureUnit: tag.data.measureUnit ?? null,
        rules: tag.data.rules ?? [],
      });
    }
  });

  const existing = store.tagsOf(device.id);
  const result: IndustrialConfigResult = { addedTags: 0, tagErrors, removedTags: 0, replacedTags: 0, removedRules: 0 };
  const final = new Map<string, IndustrialTag>(mode === 'Merge' ? existing : []);
  for (const [key, tag] of incoming) {
    const before = existing.get(key);
    if (!before) result.addedTags++;
    else if (!jsonEqual(before, tag)) {
      result.replacedTags++;
      result.removedRules += before.rules.filter((r) => !tag.rules.includes(r)).length;
    }
    final.set(key, tag);
  }
  if (mode === 'Replace') {
    for (const [key, tag] of existing) {
      if (incoming.has(key)) continue;
      result.removedTags++;
      result.removedRules += tag.rules.length;
    }
  }

  let settings: SimProcessControlSettings;
  if (mode === 'Replace') {
    settings = { deviceType: file.data.deviceType ?? device.processControlSettings?.deviceType ?? null, protocols };
  } else {
    const merged = new Map((device.processControlSettings?.protocols ?? []).map((p) => [p.name, p]));
    for (const p of protocols) {
      const before = merged.get(p.name);
      const addresses = [...(before?.addresses2 ?? [])];
      for (const a of p.addresses2 ?? []) if (!addresses.some((b) => b.addressConfig === a.addressConfig)) addresses.push(a);
      merged.set(p.name, { ...p, addresses2: addresses });
    }
    settings = { deviceType: file.data.deviceType ?? device.processControlSettings?.deviceType ?? null, protocols: [...merged.values()] };
  }
  store.setIndustrialConfiguration(device.id, settings, final);
  return result;
}
