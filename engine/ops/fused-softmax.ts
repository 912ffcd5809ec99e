/**
 * softmax and logSoftmax of a CPU float32 tensor along its last dimension, fused: the forward in
 * one pass over the rows (the backend's exp: the SIMD module for large inputs) and the backward in
 * one more, one node each, instead of the max / sub / exp / sum / log / add / div ops and their
 * backward rules. Each step rounds where the op it replaces rounds, so values and gradients have the
 * bits of the op-by-op computation (tests/engine/ops/fused-softmax.test.ts), which is what runs on
 * the GPU, along other dimensions, and with setFusedSoftmax(false). Per row of C values:
 *
 *   softmax:    m = max x, e = exp(x - m), s = sum e, y = e / s
 *               dx = (g / s + sum_c(-(g e) / (s s))) e
 *   logSoftmax: m = max x (0 where infinite), e = exp(x - m), s = sum e, lse = log(s) + m, y = x - lse
 *               dx = g + (sum_c(-g) / s) e
 */
import { apply } from "../autograd.js";
import type { Backend } from "../op-table.js";
import { rowSum } from "../backends/cpu/reduce.js";
import { Tensor } from "../tensor.js";

let fused = true;

/** Tests: turns the fused CPU softmax / logSoftmax off (they then run op by op, as on the GPU). */
export function setFusedSoftmax(on: boolean): void {
  fused = on;
}

const f = Math.fround;

/**
 * For R rows of C values in X: m = the row's max (as the max reduction: NaN wins; with `guard`,
 * logsumexp's 0 where it is infinite, so that rows of -inf give -inf), e = exp(x - m) by the
 * backend's exp, s = the row sum of e (the backend's row sums' bits), each rounded to float32.
 * Shared with the fused cross-entropy (nn/fused-loss.ts).
 */
export function expRows(b: Backend, X: Float32Array, R: number, C: number, guard: boolean): { M: Float32Array; E: Float32Array; S: Float32Array } {
  const M = new Float32Array(R), Z = new Float32Array(X.length), S = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    const o = r * C;
    let mx = X[o];
    for (let c = 1; c < C; c++) {
      const v = X[o + c];
      if (v !== v) { mx = NaN; break; }
      if (v > mx) mx = v;
    }
    const m = guard && Math.abs(mx) === Infinity ? 0 : mx;
    M[r] = m;
    for (let c = 0; c < C; c++) Z[o + c] = X[o + c] - m;
  }
  const E = b.readSync(b.ops.unary(b.fromHost(Z, [X.length], "float32"), { op: "exp" })) as Float32Array;
  for (let r = 0; r < R; r++) S[r] = f(rowSum(E, r * C, C));
  return { M, E, S };
}

/** softmax (log = false) or logSoftmax (log = true) of x along its last dimension `d`, fused; null where it does not apply. */
export function softmaxFused(x: Tensor, d: number, log: boolean): Tensor | null {
  if (!fused || x.device !== "cpu" || x.dtype !== "float32" || d !== x.ndim - 1 || x.numel() === 0) return null;
  const b = x.backend;
  const X = b.readSync(x._d);
  if (!(X instanceof Float32Array)) return null;
  const C = x.shape[d], R = X.length / C;
  const { M, E, S } = expRows(b, X, R, C, log);
  const Y = new Float32Array(X.length);
  for (let r = 0; r < R; r++) {
    const o = r * C, s = S[r];
    if (log) {
      const lse = f(f(Math.log(s)) + M[r]);
      for (let c = 0; c < C; c++) Y[o + c] = X[o + c] - lse;
    } else for (let c = 0; c < C; c++) Y[o + c] = E[o + c] / s;
  }
  const shape = [...x.shape];
  return apply(log ? "logSoftmax" : "softmax", [x], b.fromHost(Y, shape, "float32"), (g) => [softmaxGrad(b, g, log, R, C, E, S, shape)]);
}

/**
 * The fused softmax's (log = false) or logSoftmax's gradient for the upstream gradient g (R rows of C
 * values; E and S the forward's exponentials and row sums). A module-level function, not the body of
 * the backward closure: V8 keeps a closure's optimized code only while a closure of it lives, so a
 * loop in a closure made at each call was compiled again after every full garbage collection.
 */
function softmaxGrad(b: Backend, g: Tensor, log: boolean, R: number, C: number, E: Float32Array, S: Float32Array, shape: number[]): Tensor {
  const G = b.readSync(g._d) as Float32Array;
  const D = new Float32Array(R * C), T = new Float32Array(C);
  for (let r = 0; r < R; r++) {
    const o = r * C, s = S[r];
    if (log) {
      // the gradient of lse: -g summed over the row (no sum for one column), over s
      for (let c = 0; c < C; c++) T[c] = -G[o + c];
      const q = f(f(C === 1 ? T[0] : rowSum(T, 0, C)) / s);
      for (let c = 0; c < C; c++) D[o + c] = G[o + c] + f(q * E[o + c]);
    } else {
      // e's two gradients: g / s from the division, and the sum's: -(g e) / (s s) summed over the row
      const ss = f(s * s);
      for (let c = 0; c < C; c++) T[c] = -f(G[o + c] * E[o + c]) / ss;
      const gs = f(C === 1 ? T[0] : rowSum(T, 0, C));
      for (let c = 0; c < C; c++) D[o + c] = f(f(G[o + c] / s) + gs) * E[o + c];
    }
  }
  return new Tensor(b.fromHost(D, shape, "float32"), g.device);
}
