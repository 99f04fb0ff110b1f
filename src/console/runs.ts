import type { Config } from '../config/index.js';
import type { Database } from '../db/database.js';
import { KicsSyncError, errorMessage } from '../errors.js';
import type { KicsClient } from '../adapters/kics/client.js';
import type { Logger } from '../log.js';
import type { PlanScope } from '../reconcile/plan-schema.js';
import { runApply } from '../sync/runs/apply-run.js';
import type { RunContext } from '../sync/runs/lifecycle.js';
import { runPlanRun } from '../sync/runs/plan-run.js';
import { consoleActor, wholePlanRefusal } from './access.js';
import type { Answer } from './decide.js';
import type { ConsoleUser } from './users.js';

/**
 * Runs started from the console: a plan of the user's own scope, and the apply of an approved plan
 * within it. They run in the console's process, recorded as runs like any other (trigger `console`,
 * actor `console:<user>`), and the caller gets the run's id as soon as it is recorded; the runs page
 * shows it until it ends. Closing the console stops them at their next safe point.
 */

export interface ConsoleRunsOptions {
  config: Config;
  dataDir: string;
  /** The KICS client (default: one for the config's `kics` section). */
  kicsClient?: () => Promise<KicsClient>;
}

export class ConsoleRuns {
  private readonly controller = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly options: ConsoleRunsOptions,
  ) {}

  private context(user: ConsoleUser): RunContext {
    return {
      db: this.db,
      config: this.options.config,
      dataDir: this.options.dataDir,
      logger: this.logger,
      signal: this.controller.signal,
      trigger: 'console',
      actor: consoleActor(user),
      ...(this.options.kicsClient ? { kicsClient: this.options.kicsClient } : {}),
    };
  }

  /**
   * Starts a run in the background; resolves with its id once it is recorded, or with why it was
   * refused before that (the apply of a plan that cannot be applied, another apply under way).
   */
  private start(label: string, run: (onStart: (runId: number) => void) => Promise<unknown>): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      let started = false;
      const job = run((runId) => {
        started = true;
        resolve({ status: 202, body: { run: runId } });
      })
        .catch((error: unknown) => {
          if (!started) {
            resolve(error instanceof KicsSyncError ? { status: 409, body: { error: error.message } } : { status: 500, body: { error: 'internal error' } });
            if (!(error instanceof KicsSyncError)) this.logger.error({ err: errorMessage(error) }, `${label} from the console failed before it started`);
          } else this.logger.warn({ err: errorMessage(error) }, `${label} from the console failed (see its run)`);
        })
        .finally(() => this.running.delete(job));
      this.running.add(job);
    });
  }

  /** A plan of one owner's assets (an admin may plan everything: owner null). */
  async plan(user: ConsoleUser, owner: string | null): Promise<Answer> {
    if (user.role === 'viewer') return { status: 403, body: { error: 'viewers cannot start runs' } };
    if (user.role === 'owner') {
      if (owner === null) return { status: 400, body: { error: `say which of your owners to plan (${user.owners.join(', ')})` } };
      if (!user.owners.includes(owner)) return { status: 403, body: { error: 'you may plan only your own owners\' assets' } };
    }
    const scope: PlanScope = owner === null ? {} : { owner };
    return this.start('a plan', (onStart) => runPlanRun(this.context(user), { scope, refresh: 'incremental', onStart }));
  }

  /** The apply of an approved plan: admins any, owners a plan of their own items only. */
  async apply(user: ConsoleUser, planId: number): Promise<Answer> {
    const [plan] = await this.db.query<{ scope: Record<string, unknown>; status: string }>(`SELECT scope, status::text AS status FROM plan WHERE id = $1`, [planId]);
    if (!plan) return { status: 404, body: { error: `no plan ${planId}` } };
    const refusal = await wholePlanRefusal(this.db, user, planId, plan.scope, 'apply');
    if (refusal) return { status: 403, body: { error: refusal } };
    if (plan.status !== 'approved') return { status: 409, body: { error: `plan ${planId} is ${plan.status}: approve it before applying it` } };
    return this.start('an apply', (onStart) => runApply(this.context(user), { planId, allowDraft: false, onStart }));
  }

  /** Stops the runs at their next safe point and waits for them. */
  async close(): Promise<void> {
    this.controller.abort(new Error('the review console is stopping'));
    await Promise.allSettled([...this.running]);
  }

  /** Waits for the runs under way (tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
