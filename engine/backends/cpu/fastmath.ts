/**
 * Float32 exp, tanh and sigmoid for the CPU backend's element-wise loops, computed in float32
 * arithmetic (each step rounded with Math.fround, no fused multiply-add), so that the SIMD
 * versions (wasm/elementwise-funcs.ts, four lanes of f32x4) give the same bits. Every step is
 * one that f32x4 has as a single operation (no branches: clamps instead), so the SIMD versions
 * are short: about 30 operations for four exps, 23 for four tanhs. V8's Math.exp / Math.tanh are
 * double-precision library calls (50-80 ns each here).
 */

const f = Math.fround;

// (exported for wasm/elementwise-funcs.ts, which must compute the same bits)
export const LOG2E = f(1.4426950408889634);
/** ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 significant bits (k * LN2_HI is exact for |k| <= 150). */
export const LN2_HI = 0.693359375;
export const LN2_LO = f(-2.12194440e-4);
/**
 * e^r ~ 1 + r + r^2 * (P2 + r * (P3 + ... + r * P6)) on |r| <= ln2/2 (highest degree first): a
 * degree-6 polynomial fitted here for the least maximum relative error (3.1e-9, Lawson's iteration:
 * tests/engine/kernels/fit_exp.py, which also checks the float32 evaluation below: at most 0.98 ulp
 * from e^x in double precision, as Cephes' degree-7 one it replaces).
 */
export const EXP_P = [0.0013814528938382864, 0.008368742652237415, 0.04166838899254799, 0.1666652113199234, 0.4999999403953552].map(f);
/**
 * expf clamps its argument to [EXP_LO, EXP_HI]: past them the arithmetic itself gives Infinity
 * (e^89 overflows) and 0 (e^-104 is below half the smallest subnormal).
 */
export const EXP_HI = 89;
export const EXP_LO = -104;
/** Adding 1.5 * 2^23 to a float32 of magnitude below 2^22 rounds it to an integer (to even). */
export const ROUND_MAGIC = 12582912;
/**
 * expf's rounding constant: ROUND_MAGIC + 254 (even: the same k, rounded to even), so that the
 * sum's low bits hold k + 254 and the SIMD version builds 2^floor(k/2) and 2^ceil(k/2) from them
 * with two shifts and a subtraction.
 */
export const EXP_MAGIC = ROUND_MAGIC + 254;
/**
 * sigmoidf's: ROUND_MAGIC + 153, the sum's bits shifted left by 23 are those of 2^(k + 26)
 * (k + 153 in the exponent field: e^-|x| = y 2^k with k in [-150, 0], scaled by 2^26 a normal
 * float, then by 2^-26 rounded once).
 */
export const SIGMOID_MAGIC = ROUND_MAGIC + 153;
export const SIGMOID_SCALE = 26;
/**
 * tanh x ~ x P(x^2) / Q(x^2) on [-TANH_CLAMP, TANH_CLAMP], P and Q of degree 4 (lowest degree
 * first; P(0) = Q(0) = 1, so tanh x = x for tiny x): fitted here for the least maximum relative
 * error (tests/engine/kernels/fit_tanh.py, which also checks the float32 evaluation below on
 * every float32: at most 5.9 ulp from tanh in double precision, never beyond +-1).
 */
export const TANH_P = [1, 0.13381022214889526, 0.003495583077892661, 2.0608982595149428e-05, 1.3354497063744475e-08].map(f);
export const TANH_Q = [1, 0.46714338660240173, 0.0258769653737545, 0.00032856257166713476, 7.776495749567403e-07].map(f);
/** |x| >= 9: tanh x rounds to +-1 in float32 (and the rational gives exactly that there). */
export const TANH_CLAMP = 9;

/** 2^j for j in [-75, 64] (k = j1 + j2, each half a normal float), indexed by j + 75. */
const POW2 = new Float32Array(140);
for (let j = -75; j <= 64; j++) POW2[j + 75] = Math.pow(2, j);
/** 2^j for j in [-150, 0] (in double precision: 2^-150 is below float32's range), indexed by -j. */
const POW2_NEG = new Float64Array(151);
for (let j = 0; j <= 150; j++) POW2_NEG[j] = Math.pow(2, -j);

/** e^x for a float32 x, in float32 (Cephes' algorithm with a degree-6 polynomial, under 1 ulp; NaN stays NaN). */
export function expf(x: number): number {
  const a = x < EXP_LO ? EXP_LO : x; // (as f32x4.pmax and pmin: NaN passes through)
  const xc = EXP_HI < a ? EXP_HI : a;
  // k = round(x / ln 2) (to even, as the SIMD version's magic-number rounding), r = x - k ln 2
  const k = f(f(xc * LOG2E) + EXP_MAGIC) - EXP_MAGIC;
  const y = expPoly(f(f(xc - f(k * LN2_HI)) - f(k * LN2_LO)));
  // y * 2^k in two steps, so that neither factor overflows and a subnormal result rounds once
  const k1 = k >> 1, k2 = k - k1;
  return f(f(y * POW2[k1 + 75]) * POW2[k2 + 75]);
}

/** e^r for |r| <= ln2/2 (and NaN), in float32: 1 + r + r^2 P(r). */
function expPoly(r: number): number {
  const z = f(r * r);
  let y = EXP_P[0];
  for (let i = 1; i < EXP_P.length; i++) y = f(f(y * r) + EXP_P[i]);
  return f(f(f(y * z) + r) + 1);
}

/** tanh x for a float32 x, in float32 (the rational above; -0 stays -0, NaN stays NaN). */
export function tanhf(x: number): number {
  const a = x < -TANH_CLAMP ? -TANH_CLAMP : x;
  const xc = TANH_CLAMP < a ? TANH_CLAMP : a;
  const t = f(xc * xc);
  let p = TANH_P[4], q = TANH_Q[4];
  for (let i = 3; i >= 0; i--) {
    p = f(f(p * t) + TANH_P[i]);
    q = f(f(q * t) + TANH_Q[i]);
  }
  const r = f(f(xc * p) / q);
  const s = r < -1 ? -1 : r;
  return 1 < s ? 1 : s;
}

/**
 * The logistic sigmoid 1 / (1 + e^-x) for a float32 x, in float32, without overflow: from
 * e = e^-|x|, 1 / (1 + e) or e / (1 + e) (so that subnormal results stay accurate). e is y 2^k
 * (k in [-150, 0]) made as y 2^(k + 26), exact, times 2^-26, rounded once.
 */
export function sigmoidf(x: number): number {
  const a = -Math.abs(x);
  const yc = a < EXP_LO ? EXP_LO : a; // (NaN passes through)
  const k = f(f(yc * LOG2E) + SIGMOID_MAGIC) - SIGMOID_MAGIC;
  const y = expPoly(f(f(yc - f(k * LN2_HI)) - f(k * LN2_LO)));
  const e = f(y * POW2_NEG[-k]); // (y 2^k exact in double precision)
  const d = f(1 + e);
  return x >= 0 ? f(1 / d) : f(e / d);
}
