/**
 * The negative log-likelihood of CPU float32 log-probabilities [N, C] with int32 class targets (no
 * class weights): one node (`NllLossBackward`, as PyTorch's) instead of the ~10 ops of gather, the
 * weights and the reduction and their backward rules. crossEntropy is this over logSoftmax, itself
 * fused (ops/fused-softmax.ts): two nodes, as PyTorch's graph shows them. Each step rounds where
 * the op it replaces rounds, so the loss and the gradient have the bits of the op-by-op
 * computation (tests/engine/nn/fused-loss.test.ts), which is what runs on the GPU, in every other
 * case, and with setFusedLoss(false):
 *
 *   loss_n = -x[n, t_n] · w_n, w_n = [t_n != ignoreIndex]
 *   mean: sum_n loss_n / sum_n w_n; sum: sum_n loss_n; none: loss_n
 *
 * and for an upstream gradient g: a_n = (g / sum w, g or g_n) · w_n; dx[n, t_n] = −a_n, else 0.
 */
import { apply } from "../autograd.js";
import type { Backend } from "../op-table.js";
import { rowSum } from "../backends/cpu/reduce.js";
import { Tensor } from "../tensor.js";

let fused = true;

/** Tests: turns the fused CPU negative log-likelihood off (it then runs op by op, as on the GPU). */
export function setFusedLoss(on: boolean): void {
  fused = on;
}

const f = Math.fround;

/**
 * nllLoss of log-probabilities `x` [N, C] and class targets `t` [N] (checked by the caller: int32,
 * in range or ignoreIndex), fused; null where it does not apply (another device or dtype).
 */
export function nllLossFused(x: Tensor, t: Tensor, reduction: "mean" | "sum" | "none", ignoreIndex: number): Tensor | null {
  if (!fused || x.device !== "cpu" || x.ndim !== 2 || t.ndim !== 1 || x.numel() === 0) return null;
  const b = x.backend;
  const X = b.readSync(x._d), T = b.readSync(t._d);
  if (!(X instanceof Float32Array) || !(T instanceof Int32Array)) return null;
  const [N, C] = x.shape;
  // (the backward keeps its own copies: the picked classes, not the target tensor's storage)
  const L = new Float32Array(N), W = new Float32Array(N), K = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const valid = T[n] !== ignoreIndex;
    W[n] = valid ? 1 : 0;
    K[n] = valid ? T[n] : 0;
    L[n] = f(-X[n * C + K[n]] * W[n]);
  }
  const wsum = f(rowSum(W, 0, N));
  let out: Float32Array;
  if (reduction === "none") out = L;
  else {
    const total = f(rowSum(L, 0, N));
    out = Float32Array.of(reduction === "mean" ? total / wsum : total);
  }
  const data = b.fromHost(out, reduction === "none" ? [N] : [], "float32");
  return apply("nllLoss", [x], data, (g) => [nllGrad(b, g, reduction, wsum, N, C, W, K)]);
}

/**
 * The fused nllLoss's gradient for the upstream gradient g (W the targets' weights, K the picked
 * classes). A module-level function, not the body of the backward closure (see ops/fused-softmax.ts's
 * softmaxGrad).
 */
function nllGrad(b: Backend, g: Tensor, reduction: "mean" | "sum" | "none", wsum: number, N: number, C: number, W: Float32Array, K: Int32Array): Tensor {
  const G = b.readSync(g._d) as Float32Array;
  const gS = reduction === "mean" ? f(G[0] / wsum) : G[0];
  const D = new Float32Array(N * C);
  // -a_n scattered onto zeros (0 + -a_n: a -0 becomes +0)
  for (let n = 0; n < N; n++) D[n * C + K[n]] = -f((reduction === "none" ? G[n] : gS) * W[n]) + 0;
  // (handed over with fromHost, as the forward's values: readSync's arrays are only read here)
  return new Tensor(b.fromHost(D, [N, C], "float32"), g.device);
}
