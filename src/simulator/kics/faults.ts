import { z } from 'zod';
import { createRandom, type Random } from '../random.js';
import { kicsRouteNames, type KicsRouteName } from './routes.js';

/**
 * Fault injection for the reliability tests. A rule has a kind, a probability (default 1) and
 * optionally `times`: it fires at most that many times and then disappears ("the next N calls").
 * Rules are per route (keyed by the route table's names) or global (every API call, token calls
 * included). Latency rules add up; of the other kinds the first rule that fires decides the answer
 * (route rules before global ones). `mix` picks one of the answer-changing kinds at random.
 *
 * - `error500`, `error503`: that status with the KICS error body (503 with `Retry-After` when set);
 * - `rateLimit`: 429 with `Retry-After: <retryAfterSeconds>`;
 * - `reset`: the call is executed, then the connection is destroyed half-way through the answer;
 * - `truncate`: the call is executed and the answer cut in half, its Content-Length matching the
 *   cut (a complete HTTP message whose JSON is not);
 * - `executed503`: the call is executed, then answered 503 (a proxy that gave up waiting, a server
 *   failing after it acted); not part of `mix`;
 * - `latency`: `latencyMs` added before the answer.
 */

export const faultKinds = ['error500', 'error503', 'rateLimit', 'reset', 'truncate', 'executed503', 'latency', 'mix'] as const;
export type FaultKind = (typeof faultKinds)[number];
export type AnswerFault = 'error500' | 'error503' | 'rateLimit' | 'reset' | 'truncate' | 'executed503';
const answerFaults: readonly AnswerFault[] = ['error500', 'error503', 'rateLimit', 'reset', 'truncate'];

const ruleSchema = z.strictObject({
  kind: z.enum(faultKinds),
  probability: z.number().min(0).max(1).default(1),
  times: z.number().int().min(1).optional(),
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
});
export type FaultRule = z.infer<typeof ruleSchema>;
export type FaultRuleInput = z.input<typeof ruleSchema>;

const routeNameSchema = z.enum(kicsRouteNames as [KicsRouteName, ...KicsRouteName[]]);

export const faultSettingsSchema = z.strictObject({
  /** Latency added to every API call (ms). */
  latencyMs: z.number().int().min(0).max(600_000).default(0),
  global: z.array(ruleSchema).default([]),
  routes: z.partialRecord(routeNameSchema, z.array(ruleSchema)).default({}),
});
export type FaultSettings = z.infer<typeof faultSettingsSchema>;
export type FaultSettingsInput = z.input<typeof faultSettingsSchema>;

export const addRuleSchema = z.strictObject({ route: routeNameSchema.optional(), rule: ruleSchema });

export interface FaultDecision {
  latencyMs: number;
  fault: AnswerFault | null;
  retryAfterSeconds?: number;
}

export class FaultInjector {
  private settings: FaultSettings;
  private readonly random: Random;

  constructor(settings: FaultSettingsInput = {}, seed: number | string = 1) {
    this.settings = faultSettingsSchema.parse(settings);
    this.random = createRandom(seed).fork('faults');
  }

  /** `--fault-rate P`: a share P of all API calls gets one of the answer-changing faults. */
  static withRate(rate: number, latencyMs: number, seed: number | string): FaultInjector {
    return new FaultInjector({ latencyMs, global: rate > 0 ? [{ kind: 'mix', probability: rate, retryAfterSeconds: 1 }] : [] }, seed);
  }

  get(): FaultSettings {
    return structuredClone(this.settings);
  }

  /** Replaces all settings (validated; throws a ZodError on bad input). */
  replace(settings: unknown): FaultSettings {
    this.settings = faultSettingsSchema.parse(settings);
    return this.get();
  }

  addRule(rule: FaultRuleInput, route?: KicsRouteName): FaultSettings {
    const parsed = ruleSchema.parse(rule);
    if (route) (this.settings.routes[route] ??= []).push(parsed);
    else this.settings.global.push(parsed);
    return this.get();
  }

  setLatency(ms: number): void {
    this.settings.latencyMs = z.number().int().min(0).max(600_000).parse(ms);
  }

  clear(): void {
    this.settings = faultSettingsSchema.parse({ latencyMs: this.settings.latencyMs });
  }

  /** What happens to one call of `route`. */
  decide(route: KicsRouteName): FaultDecision {
    const decision: FaultDecision = { latencyMs: this.settings.latencyMs, fault: null };
    const lists = [this.settings.routes[route], this.settings.global].filter((l): l is FaultRule[] => l !== undefined);
    for (const list of lists) {
      for (let i = 0; i < list.length; i++) {
        const rule = list[i]!;
        if (rule.kind !== 'latency') continue;
        if (this.fires(rule, list, i)) {
          decision.latencyMs += rule.latencyMs ?? 1000;
          if (!list.includes(rule)) i--;
        }
      }
    }
    for (const list of lists) {
      for (let i = 0; i < list.length && decision.fault === null; i++) {
        const rule = list[i]!;
        if (rule.kind === 'latency') continue;
        if (!this.fires(rule, list, i)) continue;
        decision.fault = rule.kind === 'mix' ? this.random.pick(answerFaults) : rule.kind;
        if (rule.retryAfterSeconds !== undefined) decision.retryAfterSeconds = rule.retryAfterSeconds;
      }
    }
    return decision;
  }

  private fires(rule: FaultRule, list: FaultRule[], index: number): boolean {
    if (rule.probability < 1 && !(this.random.next() < rule.probability)) return false;
    if (rule.times !== undefined) {
      rule.times -= 1;
      if (rule.times <= 0) list.splice(index, 1);
    }
    return true;
  }
}
