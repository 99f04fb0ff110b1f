import type { Sql } from '../../db/sql.js';

/**
 * An address space given by id or by its name in KICS (case-insensitive), from the staged snapshot:
 * the id, or why the value names none (with the names that exist, so the user can pick one).
 */
export async function resolveAddressSpace(db: Sql, value: unknown): Promise<{ id: number } | { problem: string }> {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value.trim()))) {
    const id = Number(value);
    if (Number.isSafeInteger(id) && id >= 0) return { id };
  }
  if (typeof value !== 'string' || value.trim() === '') return { problem: 'must be an address space id or name' };
  const rows = await db.query<{ id: number }>(`SELECT id FROM kics_address_space WHERE lower(name) = lower($1) AND missing_since IS NULL`, [value.trim()]);
  if (rows.length === 1) return { id: rows[0]!.id };
  if (rows.length > 1) return { problem: `several address spaces are named ${JSON.stringify(value)}; give its id` };
  const known = await db.query<{ id: number; name: string }>(`SELECT id, name FROM kics_address_space WHERE missing_since IS NULL ORDER BY id LIMIT 20`);
  const names = known.map((k) => `${k.id} ${JSON.stringify(k.name)}`).join(', ');
  return { problem: `KICS has no address space named ${JSON.stringify(value)} (known: ${names || 'none staged yet: read KICS first with `kics-sync kics pull`, or give the id'})` };
}
