import { createHash } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/**
 * A seeded pseudo-random generator for the simulators: the same seed gives the same data on every
 * machine and Node version (xoroshiro128+ from pure-rand), so generated fixtures are reproducible.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** One of `items`, each with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T;
  /** `count` distinct items of `items` (fewer when there are fewer), in a random order. */
  sample<T>(items: readonly T[], count: number): T[];
  /** A generator of its own, derived from this one's seed and `label` (independent streams). */
  fork(label: string): Random;
}

/** A 32-bit seed from a number or any text (`--seed plant-a` works as well as `--seed 7`). */
export function seedOf(seed: number | string): number {
  if (typeof seed === 'number' && Number.isSafeInteger(seed)) return seed | 0;
  return createHash('sha256').update(String(seed)).digest().readInt32BE(0);
}

export function createRandom(seed: number | string): Random {
  const base = seedOf(seed);
  const rng = xoroshiro128plus(base);
  const random: Random = {
    next: () => uniformFloat64(rng),
    int: (min, max) => uniformInt(rng, min, max),
    chance: (p) => p > 0 && uniformFloat64(rng) < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[uniformInt(rng, 0, items.length - 1)]!;
    },
    weighted<T>(items: readonly (readonly [T, number])[]): T {
      const total = items.reduce((sum, [, w]) => sum + w, 0);
      let roll = uniformFloat64(rng) * total;
      for (const [item, weight] of items) {
        roll -= weight;
        if (roll < 0) return item;
      }
      return items[items.length - 1]![0];
    },
    sample<T>(items: readonly T[], count: number): T[] {
      const pool = [...items];
      const n = Math.min(count, pool.length);
      for (let i = 0; i < n; i++) {
        const j = uniformInt(rng, i, pool.length - 1);
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      }
      return pool.slice(0, n);
    },
    fork: (label) => createRandom(`${base}/${label}`),
  };
  return random;
}
