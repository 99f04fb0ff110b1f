import type { Sql } from '../db/sql.js';
import type { ConsoleUser } from './users.js';

/**
 * Who may do what in the console, in one place, for every page and every API call: admins all;
 * owners only items, devices and decisions whose owner is one of theirs; viewers read all and decide
 * nothing. What has no owner is an admin's to decide.
 */

/** The owner names a query is limited to: null for who sees everything. */
export function ownerFilter(user: ConsoleUser): string[] | null {
  return user.role === 'owner' ? user.owners : null;
}

/** Whether the user may see items, devices or decisions of this owner. */
export function maySee(user: ConsoleUser, owner: string | null): boolean {
  if (user.role === 'admin' || user.role === 'viewer') return true;
  return owner !== null && user.owners.includes(owner);
}

/** Why the user may not decide about something of this owner, or null when they may. */
export function decideRefusal(user: ConsoleUser, owner: string | null): string | null {
  if (user.role === 'viewer') return 'viewers read; they decide nothing';
  if (user.role === 'admin') return null;
  if (owner === null) return 'this has no owner: an admin decides it';
  return user.owners.includes(owner) ? null : 'this belongs to another owner';
}

/** How a console user appears as an actor in plans, runs and the audit. */
export function consoleActor(user: ConsoleUser): string {
  return `console:${user.name}`;
}

/**
 * Why the user may not approve or apply the plan as a whole, or null when they may: admins any plan,
 * viewers none, owners a plan whose every item belongs to one of their owners.
 */
export async function wholePlanRefusal(db: Sql, user: ConsoleUser, planId: number, scope: Record<string, unknown>, what = 'approve'): Promise<string | null> {
  if (user.role === 'admin') return null;
  if (user.role === 'viewer') return `viewers cannot ${what} plans`;
  const [others] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM plan_item WHERE plan_id = $1 AND (owner IS NULL OR NOT (owner = ANY($2::text[])))`, [planId, user.owners]);
  if ((others?.n ?? 0) > 0) {
    return `plan ${planId}${typeof scope.owner === 'string' ? '' : ' is not scoped to your owners and'} has ${others!.n} item(s) of other owners (or of none): an owner can ${what} only a plan of their own items (plan your own assets from the plans page, or kics-sync plan --owner); approve or reject your items one by one instead`;
  }
  return null;
}
