import type { Sql } from '../../src/db/sql.js';

/** Stored draft plans for the console tests: plan rows and items as `kics-sync plan` leaves them (a basis included). */

/** Bob's two items (one a device named `<script>`) and Carol's one, under this scope. */
export async function mixedPlan(db: Sql, scope: Record<string, unknown> = {}): Promise<number> {
  const id = await draftPlan(db, scope);
  await db.execute(
    `INSERT INTO plan_item (plan_id, seq, action, status, kics_device_id, device_name, owner, reason)
     VALUES ($1, 1, 'update', 'pending', 11, 'PLC-11', 'bob', 'description from cmdb'),
            ($1, 2, 'create', 'pending', NULL, '<script>alert(1)</script>', 'bob', 'new'),
            ($1, 3, 'update', 'pending', 13, 'HMI-13', 'carol', 'location from cmdb')`,
    [id],
  );
  return id;
}

/** A plan scoped to Bob with one item of his. */
export async function bobsPlan(db: Sql): Promise<number> {
  const id = await draftPlan(db, { owner: 'bob' });
  await db.execute(`INSERT INTO plan_item (plan_id, seq, action, status, kics_device_id, device_name, owner) VALUES ($1, 1, 'update', 'pending', 11, 'PLC-11', 'bob')`, [id]);
  return id;
}

async function draftPlan(db: Sql, scope: Record<string, unknown>): Promise<number> {
  const [plan] = await db.query<{ id: number }>(`INSERT INTO plan (status, scope, basis) VALUES ('draft', $1::jsonb, '{"kics":0,"sources":{}}') RETURNING id`, [JSON.stringify(scope)]);
  return plan!.id;
}
