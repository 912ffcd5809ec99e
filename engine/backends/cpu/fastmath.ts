/**
 * Float32-accurate exp, tanh and sigmoid for the CPU backend's element-wise loops.
 * V8's Math.exp / Math.tanh are double-precision library calls (50-80 ns each here);
 * these are a few multiply-adds with relative error below 1e-6, which is what a float32 result holds.
 */

// (exported for the WebAssembly versions in wasm/elementwise-funcs.ts, which must compute the same bits)
export const LOG2E = 1.4426950408889634;
export const LN2_HI = 0.693145751953125;
export const LN2_LO = 1.4286068203094173e-6;
/** Taylor coefficients of e^r after 1 + r * (1 + r * (0.5 + ...)): 1/3!, ..., 1/7! */
export const EXP_C = [0.16666666666666666, 0.041666666666666664, 0.008333333333333333, 0.001388888888888889, 0.0001984126984126984] as const;
const [C3, C4, C5, C6, C7] = EXP_C;
/** Beyond these, e^x is Infinity / 0 in float32. */
export const EXP_HI = 88.72283935546875;
export const EXP_LO = -103.97207708;
/** 2^k for k in [-150, 128], indexed by k + 150. */
const POW2 = new Float64Array(279);
for (let k = -150; k <= 128; k++) POW2[k + 150] = Math.pow(2, k);

/** e^x to float32 accuracy. */
export function expf(x: number): number {
  if (x > EXP_HI) return x === Infinity || x > EXP_HI ? Infinity : NaN;
  if (x < EXP_LO) return x === x ? 0 : NaN;
  if (x !== x) return NaN;
  const k = Math.floor(x * LOG2E + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  // Taylor polynomial of e^r on |r| <= ln2/2: truncation error r^8/8! < 6e-9
  const p = 1 + r * (1 + r * (0.5 + r * (C3 + r * (C4 + r * (C5 + r * (C6 + r * C7))))));
  return p * POW2[k + 150];
}

/** tanh(x) to float32 accuracy. */
export function tanhf(x: number): number {
  const a = x < 0 ? -x : x;
  if (a < 0.5) {
    // odd rational approximation (Lambert's continued fraction), error < 1e-12 here
    const v2 = x * x;
    return (x * (135135 + v2 * (17325 + v2 * (378 + v2)))) / (135135 + v2 * (62370 + v2 * (3150 + v2 * 28)));
  }
  if (a > 9.1) return x > 0 ? 1 : x < 0 ? -1 : x; // NaN passes through
  const e = expf(-2 * a);
  const t = (1 - e) / (1 + e);
  return x < 0 ? -t : t;
}

/** The logistic sigmoid 1 / (1 + e^-x), computed without overflow. */
export function sigmoidf(x: number): number {
  if (x >= 0) return 1 / (1 + expf(-x));
  const e = expf(x);
  return e / (1 + e);
}
