/**
 * Float32 exp, tanh and sigmoid for the CPU backend's element-wise loops, computed in float32
 * arithmetic (each step rounded with Math.fround, no fused multiply-add), so that the SIMD
 * versions (wasm/elementwise-funcs.ts, four lanes of f32x4) give the same bits. The classic
 * single-precision algorithms (Cephes' expf and tanhf: range reduction by ln 2, minimax
 * polynomials), about 1-2 ulp. V8's Math.exp / Math.tanh are double-precision library calls
 * (50-80 ns each here).
 */

const f = Math.fround;

// (exported for wasm/elementwise-funcs.ts, which must compute the same bits)
export const LOG2E = f(1.4426950408889634);
/** ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 significant bits (k * LN2_HI is exact for |k| <= 150). */
export const LN2_HI = 0.693359375;
export const LN2_LO = f(-2.12194440e-4);
/** e^r ~ 1 + r + r^2 * (P5 + r * (P4 + ... + r * P0)) on |r| <= ln2/2 (highest degree first). */
export const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].map(f);
/** Beyond these, e^x is Infinity / 0 in float32. */
export const EXP_HI = 88.72283935546875;
export const EXP_LO = f(-103.97207708);
/** tanh x ~ x + x z (T4 + z (T3 + ... + z T0)), z = x^2, for |x| < TANH_SMALL (highest degree first). */
export const TANH_P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1].map(f);
export const TANH_SMALL = 0.625;

/** 2^j for j in [-75, 64] (k = j1 + j2, each half a normal float), indexed by j + 75. */
const POW2 = new Float32Array(140);
for (let j = -75; j <= 64; j++) POW2[j + 75] = Math.pow(2, j);

/** e^x for a float32 x, in float32. */
export function expf(x: number): number {
  const xc = x > EXP_HI ? EXP_HI : x < EXP_LO ? EXP_LO : x; // NaN passes through
  const k = Math.floor(f(f(xc * LOG2E) + 0.5));
  const r = f(f(xc - k * LN2_HI) - f(k * LN2_LO));
  const z = f(r * r);
  let y = EXP_P[0];
  for (let i = 1; i < 6; i++) y = f(f(y * r) + EXP_P[i]);
  y = f(f(f(y * z) + r) + 1);
  // y * 2^k in two steps, so that neither factor overflows and a subnormal result rounds once
  const k1 = k >> 1, k2 = k - k1;
  const res = f(f(y * POW2[k1 + 75]) * POW2[k2 + 75]);
  return x > EXP_HI ? Infinity : x < EXP_LO ? 0 : res;
}

/** tanh x for a float32 x, in float32. */
export function tanhf(x: number): number {
  const a = Math.abs(x);
  if (a >= TANH_SMALL) {
    // 1 - 2 / (e^2a + 1): e^2a = Infinity gives exactly 1
    const t = f(1 - f(2 / f(expf(f(a + a)) + 1)));
    return x < 0 ? -t : t;
  }
  if (x === 0) return x; // -0 stays -0
  const z = f(x * x);
  let y = TANH_P[0];
  for (let i = 1; i < 5; i++) y = f(f(y * z) + TANH_P[i]);
  return f(f(f(y * z) * x) + x); // NaN passes through
}

/** The logistic sigmoid 1 / (1 + e^-x) for a float32 x, in float32, without overflow. */
export function sigmoidf(x: number): number {
  const e = expf(x >= 0 ? -x : x);
  const d = f(1 + e);
  return x >= 0 ? f(1 / d) : f(e / d);
}
