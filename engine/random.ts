/** A seeded generator (xoshiro128**) behind rand/randn/randint, dropout and shuffling: gb.manualSeed(n) makes runs reproducible. */

let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
let spare: number | null = null;

function splitmix32(a: number): () => number {
  return () => {
    a |= 0;
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t = t ^ (t >>> 15);
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

/** Seeds the engine's random generator. */
export function manualSeed(seed: number): void {
  const sm = splitmix32(Math.floor(seed) | 0);
  s0 = sm(); s1 = sm(); s2 = sm(); s3 = sm();
  spare = null;
}

manualSeed(Date.now() & 0x7fffffff);

/** A uniform 32-bit unsigned integer. */
export function nextU32(): number {
  const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 11);
  return result;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform in [0, 1). */
export function random(): number {
  return nextU32() / 4294967296;
}

/** Standard normal (Box-Muller). */
export function randomNormal(): number {
  if (spare !== null) {
    const v = spare;
    spare = null;
    return v;
  }
  let u = 0;
  while (u === 0) u = random();
  const v = random();
  const r = Math.sqrt(-2 * Math.log(u));
  spare = r * Math.sin(2 * Math.PI * v);
  return r * Math.cos(2 * Math.PI * v);
}

/** An integer in [low, high). */
export function randomInt(low: number, high: number): number {
  return low + Math.floor(random() * (high - low));
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function randperm(n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}
