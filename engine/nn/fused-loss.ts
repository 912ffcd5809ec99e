/**
 * Cross-entropy on CPU float32 logits [N, C] with int32 class targets (no class weights, no label
 * smoothing): the forward in one pass over the logits and the backward in one more, instead of
 * the ~20 ops (and as many tensors) of log-softmax, gather and the reduction and their backward
 * rules. Each step rounds where the op it replaces rounds, so the loss and the gradient have the
 * bits of the op-by-op computation (tests/engine/nn/fused-loss.test.ts), which is what runs on the
 * GPU, in every other case, and with setFusedLoss(false):
 *
 *   m = max_c x (0 where infinite); e = exp(x - m); s = sum_c e; lse = log(s) + m
 *   loss_n = -(x[n, t_n] - lse) · w_n, w_n = [t_n != ignoreIndex]
 *   mean: sum_n loss_n / sum_n w_n; sum: sum_n loss_n; none: loss_n
 *
 * and for an upstream gradient g: a_n = (g / sum w, g or g_n) · w_n;
 * dx[n, c] = (a_n / s_n) · e[n, c] − [c = t_n] a_n.
 */
import { apply } from "../autograd.js";
import { rowSum } from "../backends/cpu/reduce.js";
import { expRows } from "../ops/fused-softmax.js";
import { Tensor } from "../tensor.js";

let fused = true;

/** Tests: turns the fused CPU cross-entropy off (it then runs op by op, as on the GPU). */
export function setFusedLoss(on: boolean): void {
  fused = on;
}

const f = Math.fround;

/**
 * The cross-entropy of logits `x` [N, C] and class targets `t` [N] (checked by the caller: int32,
 * in range or ignoreIndex), fused; null where it does not apply (another device or dtype).
 */
export function crossEntropyFused(x: Tensor, t: Tensor, reduction: "mean" | "sum" | "none", ignoreIndex: number): Tensor | null {
  if (!fused || x.device !== "cpu" || x.ndim !== 2 || t.ndim !== 1 || x.numel() === 0) return null;
  const b = x.backend;
  const X = b.readSync(x._d), T = b.readSync(t._d);
  if (!(X instanceof Float32Array) || !(T instanceof Int32Array)) return null;
  const [N, C] = x.shape;
  const { M, E, S } = expRows(b, X, N, C, true);
  // (the backward keeps its own copies: the picked classes, not the target tensor's storage)
  const L = new Float32Array(N), W = new Float32Array(N), K = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const lse = f(f(Math.log(S[n])) + M[n]);
    const valid = T[n] !== ignoreIndex;
    W[n] = valid ? 1 : 0;
    K[n] = valid ? T[n] : 0;
    L[n] = f(-f(X[n * C + K[n]] - lse) * W[n]);
  }
  const wsum = f(rowSum(W, 0, N));
  let out: Float32Array;
  if (reduction === "none") out = L;
  else {
    const total = f(rowSum(L, 0, N));
    out = Float32Array.of(reduction === "mean" ? total / wsum : total);
  }
  const data = b.fromHost(out, reduction === "none" ? [N] : [], "float32");
  return apply("crossEntropy", [x], data, (g) => {
    const G = b.readSync(g._d) as Float32Array;
    const gS = reduction === "mean" ? f(G[0] / wsum) : G[0];
    const D = new Float32Array(N * C);
    for (let n = 0; n < N; n++) {
      const o = n * C, t = K[n];
      const a = f((reduction === "none" ? G[n] : gS) * W[n]);
      // the picked element's gradient (-a, scattered onto zeros), summed back over the row for
      // log-sum-exp (as the four running sums over a row of zeros and -(-a) give it)
      const picked = -a + 0;
      const glse = C === 1 ? -picked : -picked + 0;
      const q = f(glse / S[n]);
      // the two gradients of x (through exp and through the picked element) added, as autograd
      // adds them (elsewhere than t_n the second is +0, which turns a -0 into +0)
      for (let c = 0; c < C; c++) D[o + c] = f(q * E[o + c]) + 0;
      D[o + t] = f(D[o + t] + picked);
    }
    // (handed over with fromHost, as the forward's values: readSync's arrays are only read here)
    return [new Tensor(b.fromHost(D, [N, C], "float32"), g.device)];
  });
}
