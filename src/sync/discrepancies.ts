import type { DiscrepancyEventsConfig, discrepancyKinds } from '../config/sync.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { KicsClient } from '../adapters/kics/index.js';
import type { EventRegistration } from '../model/kics.js';
import { isSystemic } from './apply/index.js';
import { registerAuditedEvent } from './runs/lifecycle.js';

/**
 * Discrepancies in KICS's own event workflow (`sync.discrepancyEvents`): after an apply, each open
 * discrepancy a KICS operator should see (a conflict, a device in no source, a change made in KICS
 * since planning, a write that failed) is registered as one KICS event (`POST events`), its
 * `communications` naming the device's MACs and IPs with their address spaces so that KICS ties the
 * event to the device. `kics_discrepancy_event` remembers what is open: the same discrepancy is not
 * registered again every night; once an unscoped plan no longer has it, it is resolved and would be
 * registered again if it came back. Field limits from the reference's `POST events`: title 1..4096
 * characters, description up to 32,000, score 0..10.
 */

export type DiscrepancyKind = (typeof discrepancyKinds)[number];

/** How much each kind matters to a KICS operator (the event's score, 0..10): a device no register knows first. */
const scores: Record<DiscrepancyKind, number> = { unknown: 6, conflict: 5, drift: 4, write_failed: 3 };
const titles: Record<DiscrepancyKind, string> = {
  unknown: 'kics-sync: device in no asset register',
  conflict: 'kics-sync: asset register and KICS disagree on identity',
  drift: 'kics-sync: device changed in KICS since planning',
  write_failed: 'kics-sync: write to KICS failed',
};

interface Address {
  mac: string | null;
  macSpace: number | null;
  ips: { ip: string; space: number | null }[];
}

export interface Discrepancy {
  key: string;
  kind: DiscrepancyKind;
  deviceId: number | null;
  deviceName: string | null;
  text: string;
  addresses: Address[];
}

export interface DiscrepancyEventsResult {
  /** Open discrepancies the plan has. */
  open: number;
  registered: number;
  /** Open and registered on an earlier run: not registered again. */
  alreadyRegistered: number;
  /** Registered earlier, gone now. */
  resolved: number;
  failed: number;
  /** Left for the next run (over `maxPerRun`, or KICS became unusable). */
  deferred: number;
}

interface ItemRow {
  seq: number;
  action: string;
  status: string;
  kics_device_id: string | number | null;
  device_name: string | null;
  reason: string | null;
  last_error: string | null;
  conflict: { kind: string; reason: string; assets: { source: string; key: string; interfaces: RawSide[] }[]; devices: { id: number; interfaces: RawSide[] }[] } | null;
  addresses: RawInterface[] | null;
}
interface RawSide {
  mac: string | null;
  macSpace: number | null;
  ips: { ip: string; space: number | null }[];
}
interface RawInterface {
  macAddress?: string | null;
  macAddressSpaceId?: number | null;
  ipAddresses?: { ip: string; addressSpaceId?: number | null }[] | null;
}

/** The open discrepancies of a plan (its conflicts and unknown devices, and what its apply could not do). */
export async function planDiscrepancies(db: Database, planId: number, kinds: readonly DiscrepancyKind[]): Promise<Discrepancy[]> {
  const rows = await db.query<ItemRow>(
    `SELECT p.seq, p.action::text AS action, p.status::text AS status, p.kics_device_id, p.device_name, p.reason, p.last_error, p.conflict,
            d.raw->'addressInformation' AS addresses
       FROM plan_item p LEFT JOIN kics_device d ON d.id = p.kics_device_id
      WHERE p.plan_id = $1 AND (p.action IN ('conflict', 'unknown') OR p.status IN ('drifted', 'failed'))
      ORDER BY p.seq`,
    [planId],
  );
  const found: Discrepancy[] = [];
  for (const row of rows) {
    const deviceId = row.kics_device_id === null ? null : Number(row.kics_device_id);
    const fromDevice = (row.addresses ?? []).map(
      (i): Address => ({ mac: i.macAddress ?? null, macSpace: i.macAddressSpaceId ?? null, ips: (i.ipAddresses ?? []).map((a) => ({ ip: a.ip, space: a.addressSpaceId ?? null })) }),
    );
    let kind: DiscrepancyKind;
    let key: string;
    let addresses = fromDevice;
    let text: string;
    if (row.action === 'conflict' && row.conflict) {
      kind = 'conflict';
      const devices = row.conflict.devices.map((d) => d.id).sort((a, b) => a - b);
      const assets = row.conflict.assets.map((a) => `${a.source}/${a.key}`).sort();
      key = `conflict|${row.conflict.kind}|devices:${devices.join(',')}|assets:${assets.join(',')}`;
      addresses = [...row.conflict.devices.flatMap((d) => d.interfaces), ...(row.conflict.devices.length === 0 ? row.conflict.assets.flatMap((a) => a.interfaces) : [])];
      text = `${row.conflict.kind}: ${row.conflict.reason}`;
    } else if (row.action === 'unknown') {
      kind = 'unknown';
      key = `unknown|device:${deviceId}`;
      text = row.reason ?? 'in KICS, in no source';
    } else {
      kind = row.status === 'drifted' ? 'drift' : 'write_failed';
      key = `${kind}|${row.action}|device:${deviceId ?? `new:${row.device_name ?? row.seq}`}`;
      text = `${row.action}: ${row.last_error ?? row.status}`;
    }
    if (kinds.includes(kind)) found.push({ key, kind, deviceId, deviceName: row.device_name, text, addresses });
  }
  return found;
}

const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** One communication per address (the MAC with each of its IPs), as the reference's `CreateEventCommunication`. */
function communications(addresses: readonly Address[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const a of addresses) {
    const mac = a.mac ? { sourceMac: a.mac, sourceMacAddressSpaceId: a.macSpace } : {};
    if (a.ips.length === 0 && a.mac) out.push(mac);
    for (const ip of a.ips) out.push({ ...mac, sourceIp: ip.ip, sourceIpAddressSpaceId: ip.space });
  }
  return out.slice(0, 64);
}

export function discrepancyEvent(d: Discrepancy, planId: number, runId: number, now: Date): EventRegistration {
  const device = d.deviceId !== null ? ` ${d.deviceId}${d.deviceName ? ` (${d.deviceName})` : ''}` : d.deviceName ? ` ${d.deviceName}` : '';
  return {
    title: cut(`${titles[d.kind]}:${device || ' (no device)'}`, 4096),
    score: scores[d.kind],
    startTime: now.toISOString(),
    endTime: now.toISOString(),
    description: cut(`${d.text}\n\nFound by kics-sync plan ${planId} (run ${runId}). Look at it with: kics-sync report --plan ${planId}`, 32_000),
    origin: 'System' as const,
    params: { kind: d.kind, key: cut(d.key, 4096), planId: String(planId), runId: String(runId), ...(d.deviceId !== null ? { deviceId: String(d.deviceId) } : {}) },
    communications: communications(d.addresses),
  };
}

/** Registers the plan's open discrepancies that are not registered yet, and resolves those gone. */
export async function registerDiscrepancyEvents(
  ctx: { db: Database; client: KicsClient; logger: Logger; actor: string; config: DiscrepancyEventsConfig },
  run: { runId: number; planId: number; scoped: boolean },
): Promise<DiscrepancyEventsResult> {
  const { db } = ctx;
  const found = await planDiscrepancies(db, run.planId, ctx.config.kinds);
  const keys = found.map((d) => d.key);
  // The ones registered before and still open: seen again now.
  const open = new Set(
    (await db.query<{ key: string }>(`UPDATE kics_discrepancy_event SET last_seen_at = now() WHERE resolved_at IS NULL AND key = ANY($1::text[]) RETURNING key`, [keys])).map((r) => r.key),
  );
  let resolved = 0;
  if (!run.scoped) {
    // Only a plan of everything can tell that a discrepancy is gone.
    resolved = (await db.query<{ key: string }>(`UPDATE kics_discrepancy_event SET resolved_at = now() WHERE resolved_at IS NULL AND NOT (key = ANY($1::text[])) RETURNING key`, [keys])).length;
  }
  const result: DiscrepancyEventsResult = { open: found.length, registered: 0, alreadyRegistered: open.size, resolved, failed: 0, deferred: 0 };
  const now = new Date();
  const pending = found.filter((d) => !open.has(d.key));
  for (const [index, d] of pending.entries()) {
    if (result.registered + result.failed >= ctx.config.maxPerRun) {
      result.deferred = pending.length - index;
      break;
    }
    const event = discrepancyEvent(d, run.planId, run.runId, now);
    const answer = await registerAuditedEvent(ctx, event, { runId: run.runId, planId: run.planId, deviceId: d.deviceId }, `could not register a discrepancy event in KICS (${d.key})`);
    if ('error' in answer) {
      result.failed += 1;
      if (isSystemic(answer.error)) {
        result.deferred = pending.length - index - 1;
        break;
      }
      continue;
    }
    await db.execute(
      `INSERT INTO kics_discrepancy_event (key, kind, device_id, event_id, plan_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, device_id = EXCLUDED.device_id, event_id = EXCLUDED.event_id, plan_id = EXCLUDED.plan_id,
                                       registered_at = now(), last_seen_at = now(), resolved_at = NULL`,
      [d.key, d.kind, d.deviceId, answer.eventId, run.planId],
    );
    result.registered += 1;
  }
  return result;
}
