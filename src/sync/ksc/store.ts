import type { Sql } from '../../db/sql.js';

/**
 * The SQL of `ksc_command`, the KSC backend commands received, one function per operation. A row is
 * claimed once per command id, so a command is run once, also across restarts and duplicate deliveries.
 *
 * `status`: `received` (claimed) -> `running` -> `unanswered` (answer stored) -> `answered` (KSC has
 * it); `refused` when KSC refused the answer, `failed` when the command could not be read from KSC.
 */

export type KscCommandStatus = 'received' | 'running' | 'unanswered' | 'answered' | 'refused' | 'failed';

/** A stored answer: the result (params wire form) or the error container, whichever the command ended with. */
export interface StoredAnswer {
  id: string;
  result: unknown;
  error: unknown;
}

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** Claims the command id; false when it was claimed before (by this process or an earlier one). */
export async function claimCommand(db: Sql, id: string): Promise<boolean> {
  const claimed = await db.query(`INSERT INTO ksc_command (id, status) VALUES ($1, 'received') ON CONFLICT (id) DO NOTHING RETURNING id`, [id]);
  return claimed.length > 0;
}

/** The status and stored answer of a command, undefined when it was never claimed. */
export async function loadCommand(db: Sql, id: string): Promise<(StoredAnswer & { status: KscCommandStatus }) | undefined> {
  const [row] = await db.query<StoredAnswer & { status: KscCommandStatus }>(`SELECT id, status, result, error FROM ksc_command WHERE id = $1`, [id]);
  return row;
}

/** What a command asked for (as `markCommandRunning` kept it); name null while it was not read from KSC. */
export async function commandRequest(db: Sql, id: string): Promise<{ name: string | null; params: unknown } | undefined> {
  const [row] = await db.query<{ name: string | null; params: unknown }>(`SELECT name, params FROM ksc_command WHERE id = $1`, [id]);
  return row;
}

/** The command was read from KSC: its name and parameters (without the token) are kept, and it runs. */
export async function markCommandRunning(db: Sql, id: string, name: string, params: unknown): Promise<void> {
  await db.execute(`UPDATE ksc_command SET name = $2, params = $3, status = 'running' WHERE id = $1`, [id, name, json(params)]);
}

/** The command could not be read from KSC, so it is not run: `failed`, with why. */
export async function recordCommandUnreadable(db: Sql, id: string, error: { stage: string; message: string }): Promise<void> {
  await db.execute(`UPDATE ksc_command SET status = 'failed', error = $2, finished_at = now() WHERE id = $1`, [id, json(error)]);
}

/** Stores the answer before it is posted (`unanswered`): a result or an error container. */
export async function storeAnswer(db: Sql, id: string, answer: { result: unknown } | { error: unknown }): Promise<void> {
  await db.execute(`UPDATE ksc_command SET status = 'unanswered', result = $2, error = $3, finished_at = now() WHERE id = $1`, [
    id,
    'result' in answer ? json(answer.result) : null,
    'error' in answer ? json(answer.error) : null,
  ]);
}

/** What KSC did with the posted answer: took it (`answered`) or refused it (`refused`). */
export async function markAnswerPosted(db: Sql, id: string, status: 'answered' | 'refused'): Promise<void> {
  await db.execute(`UPDATE ksc_command SET status = $2 WHERE id = $1`, [id, status]);
}

/** Answers stored but not yet posted (KSC was unreachable), oldest first. */
export async function unansweredCommands(db: Sql): Promise<StoredAnswer[]> {
  return db.query<StoredAnswer>(`SELECT id, result, error FROM ksc_command WHERE status = 'unanswered' ORDER BY received_at, id`);
}

/** Commands claimed or running when a previous process stopped: never answered, and not run again. */
export async function abandonedCommands(db: Sql): Promise<string[]> {
  const rows = await db.query<{ id: string }>(`SELECT id FROM ksc_command WHERE status IN ('received', 'running') ORDER BY received_at, id`);
  return rows.map((r) => r.id);
}

/** Links the command to the run it caused. */
export async function linkCommandRun(db: Sql, id: string, runId: number): Promise<void> {
  await db.execute(`UPDATE ksc_command SET run_id = $2 WHERE id = $1`, [id, runId]);
}
