/** Counts of how the records of one read compare with what was staged. */
export interface ChangeCounts {
  new: number;
  changed: number;
  reappeared: number;
  unchanged: number;
}

/**
 * How a record just read compares with its staged version (`before`: its content hash and whether it
 * was missing), counted in `counts`. Only an `unchanged` record needs no write.
 */
export function countChange(before: { hash: string; missing: boolean } | undefined, hash: string, counts: ChangeCounts): keyof ChangeCounts {
  const kind = before === undefined ? 'new' : before.hash !== hash ? 'changed' : before.missing ? 'reappeared' : 'unchanged';
  counts[kind] += 1;
  return kind;
}
