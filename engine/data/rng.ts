/**
 * Random sources for data code: the engine's global generator (so `gb.manualSeed`
 * makes shuffles and toy data reproducible), or a private one seeded by a `seed`
 * option (xoshiro128**, seeded with splitmix32, as the engine's) that leaves the
 * global stream untouched.
 */
import { random as globalRandom, randomNormal as globalNormal } from "../random.js";

export interface Rng {
  /** Uniform in [0, 1). */
  random(): number;
  /** Standard normal. */
  normal(): number;
}

class SeededRng implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;
  constructor(seed: number) {
    let a = Math.floor(seed) | 0;
    const sm = () => {
      a = (a + 0x9e3779b9) | 0;
      let t = a ^ (a >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t = t ^ (t >>> 15);
      t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.s0 = sm();
    this.s1 = sm();
    this.s2 = sm();
    this.s3 = sm();
  }
  private nextU32(): number {
    const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }
  random(): number {
    return this.nextU32() / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

const globalRng: Rng = { random: globalRandom, normal: globalNormal };

/** A private generator for `seed`, or the engine's global one when `seed` is undefined. */
export function makeRng(seed?: number | null): Rng {
  if (seed === undefined || seed === null) return globalRng;
  if (typeof seed !== "number" || !Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${String(seed)}`);
  return new SeededRng(seed);
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.random() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
