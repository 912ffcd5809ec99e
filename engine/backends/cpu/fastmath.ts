/**
 * Float32-accurate exp, tanh and sigmoid for the CPU backend's element-wise loops.
 * V8's Math.exp / Math.tanh are double-precision library calls (50-80 ns each here);
 * these are a few multiply-adds with relative error below 1e-6, which is what a float32 result holds.
 */

const LOG2E = 1.4426950408889634;
const LN2_HI = 0.693145751953125;
const LN2_LO = 1.4286068203094173e-6;
/** 2^k for k in [-150, 128], indexed by k + 150. */
const POW2 = new Float64Array(279);
for (let k = -150; k <= 128; k++) POW2[k + 150] = Math.pow(2, k);

/** e^x to float32 accuracy. */
export function expf(x: number): number {
  if (x > 88.72283935546875) return x === Infinity || x > 88.72283935546875 ? Infinity : NaN;
  if (x < -103.97207708) return x === x ? 0 : NaN;
  if (x !== x) return NaN;
  const k = Math.floor(x * LOG2E + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  // Taylor polynomial of e^r on |r| <= ln2/2: truncation error r^8/8! < 6e-9
  const p = 1 + r * (1 + r * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664 + r * (0.008333333333333333 + r * (0.001388888888888889 + r * 0.0001984126984126984))))));
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
