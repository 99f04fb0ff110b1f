import { changeActions, planActions, type PlanCounts, type PlanItem, type PlanSummary } from './plan-schema.js';

/** Counts of a plan: per action, per address space, per conflict kind. */

export interface SummaryContext {
  /** Address space of each matched asset that needs no change. */
  unchanged: readonly (number | null)[];
  notCreated: number;
  records: Record<string, number>;
  devices: number;
  archivedUnmatched: number;
  spaceName: (id: number) => string;
}

export function emptyCounts(): PlanCounts {
  return { create: 0, update: 0, upload_config: 0, recognize: 0, archive: 0, delete: 0, conflict: 0, unknown: 0, stale: 0, unchanged: 0 };
}

export function summarize(items: Iterable<Pick<PlanItem, 'action' | 'addressSpaceId' | 'conflict'> & { status?: PlanItem['status'] }>, context: SummaryContext): PlanSummary {
  const counts = emptyCounts();
  const bySpace = new Map<number | null, PlanCounts>();
  const conflictsByKind: Record<string, number> = {};
  let held = 0;
  const spaceCounts = (id: number | null): PlanCounts => {
    let c = bySpace.get(id);
    if (!c) bySpace.set(id, (c = emptyCounts()));
    return c;
  };
  for (const item of items) {
    counts[item.action] += 1;
    spaceCounts(item.addressSpaceId)[item.action] += 1;
    if (item.status === 'held') held += 1;
    if (item.conflict) conflictsByKind[item.conflict.kind] = (conflictsByKind[item.conflict.kind] ?? 0) + 1;
  }
  for (const space of context.unchanged) {
    counts.unchanged += 1;
    spaceCounts(space).unchanged += 1;
  }
  const byAddressSpace = [...bySpace.entries()]
    .sort(([a], [b]) => (a ?? Number.MAX_SAFE_INTEGER) - (b ?? Number.MAX_SAFE_INTEGER))
    .map(([id, c]) => ({ id, name: id === null ? 'no address space' : context.spaceName(id), counts: c }));
  return {
    counts,
    byAddressSpace,
    conflictsByKind,
    records: context.records,
    devices: context.devices,
    archivedUnmatched: context.archivedUnmatched,
    notCreated: context.notCreated,
    changes: changeActions.reduce((sum, a) => sum + counts[a], 0) - held,
    held,
  };
}

/** The actions in display order with their counts, for reports. */
export function countsInOrder(counts: PlanCounts): { action: keyof PlanCounts; count: number }[] {
  return [...planActions, 'unchanged' as const].map((action) => ({ action, count: counts[action] }));
}
