/**
 * Random sources for data code: the engine's global generator (so `gb.manualSeed`
 * makes shuffles and toy data reproducible), or a private one seeded by a `seed`
 * option that leaves the global stream untouched.
 */
import { defaultGenerator, Generator } from "../random.js";

export type Rng = Generator;

/** A private generator for `seed`, or the engine's global one when `seed` is undefined. */
export function makeRng(seed?: number | null): Rng {
  if (seed === undefined || seed === null) return defaultGenerator;
  if (typeof seed !== "number" || !Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${String(seed)}`);
  return new Generator(seed);
}

/** A random permutation of 0..n-1 (Fisher-Yates) drawn from `rng`. */
export function permutation(n: number, rng: Rng): Int32Array {
  return rng.permutation(n);
}
