/** Adam and AdamW (torch.optim.Adam / AdamW), with amsgrad. */
import { zerosLike } from "../ops/creation.js";
import type { Tensor } from "../tensor.js";
import { adamStepF32 } from "../backends/cpu/kernels/optim.js";
import { addScaled, addScaledF32, checkAdamOptions, fusedArrays, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

export interface AdamOptions extends BaseOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected constructor(name: string, params: Params<AdamOptions>, opts: Partial<AdamOptions>, defaultWd: number) {
    super(name, params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: defaultWd, amsgrad: false, maximize: false, ...opts });
  }

  protected override checkOptions(o: AdamOptions): void {
    super.checkOptions(o);
    checkAdamOptions(this.name, o);
  }

  /**
   * The whole update of a CPU float32 parameter in one loop, in place, from the second step
   * (the moment buffers exist) and without amsgrad; false when it does not apply (then: ops).
   * `l2`: Adam's weight decay (added to the gradient), `decay`: AdamW's (p scaled first).
   */
  protected fusedUpdate(p: Tensor, grad: Tensor, group: ParamGroup<AdamOptions>, state: ParamState, l2: number, decay: number): boolean {
    const m0 = state.expAvg as Tensor | undefined, v0 = state.expAvgSq as Tensor | undefined;
    if (group.amsgrad || !m0 || !v0) return false;
    const arrays = fusedArrays(p, grad, m0, v0);
    if (!arrays) return false;
    const step = (state.step as number) + 1;
    state.step = step;
    adamLoop(arrays, group, step, l2, decay);
    return true;
  }

  /** The Adam step shared by both (after weight decay is handled). */
  protected adamUpdate(p: Tensor, grad: Tensor, group: ParamGroup<AdamOptions>, state: ParamState): Tensor {
    const [beta1, beta2] = group.betas;
    const step = ((state.step as number | undefined) ?? 0) + 1;
    state.step = step;
    const m0 = (state.expAvg as Tensor | undefined) ?? zerosLike(p);
    const v0 = (state.expAvgSq as Tensor | undefined) ?? zerosLike(p);
    const m = setState(state, "expAvg", addScaled(m0.mul(beta1), grad, 1 - beta1));
    const v = setState(state, "expAvgSq", addScaled(v0.mul(beta2), grad.mul(grad), 1 - beta2));
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const stepSize = group.lr / bc1;
    let vhat = v;
    if (group.amsgrad) {
      vhat = setState(state, "maxExpAvgSq", ((state.maxExpAvgSq as Tensor | undefined) ?? zerosLike(p)).maximum(v));
    }
    const denom = vhat.sqrt().div(Math.sqrt(bc2)).add(group.eps);
    return p.add(m.div(denom).mul(-stepSize));
  }
}

/**
 * Adam (Kingma & Ba), torch's rule: weight decay is L2 added to the gradient;
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,  (amsgrad: v̂ = max(v̂, v))
 *   p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + eps)
 */
export class Adam extends AdamBase {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super("Adam", params, opts, 0);
  }
  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdamOptions>, state: ParamState): Tensor {
    if (this.fusedUpdate(p, grad, group, state, group.weightDecay, 0)) return p;
    const g = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    return this.adamUpdate(p, g, group, state);
  }
}

/** AdamW (Loshchilov & Hutter): decoupled weight decay p ← p·(1 − lr·weightDecay) before the Adam step; weightDecay defaults to 1e-2. */
export class AdamW extends AdamBase {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super("AdamW", params, opts, 1e-2);
  }
  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdamOptions>, state: ParamState): Tensor {
    if (this.fusedUpdate(p, grad, group, state, 0, group.weightDecay)) return p;
    const decayed = group.weightDecay !== 0 ? p.mul(1 - group.lr * group.weightDecay) : p;
    return this.adamUpdate(decayed, grad, group, state);
  }
}

/**
 * Adam's update in place, element by element, as the ops of adamUpdate (and the weight decay
 * before it) compute it: each op's result rounded to float32, scalars as float32, `a + alpha * b`
 * as an add when alpha is 1 and as addcmul (the product rounded, then the sum) otherwise.
 */
function adamLoop([P, G, M, V]: Float32Array[], group: ParamGroup<AdamOptions>, step: number, l2: number, decay: number): void {
  const f = Math.fround;
  const [beta1, beta2] = group.betas;
  const fb1 = f(beta1), fb2 = f(beta2), fl2 = f(l2), keep = f(1 - group.lr * decay);
  const a1 = 1 - beta1, fa1 = f(a1), a2 = 1 - beta2, fa2 = f(a2);
  const sqrtBc2 = f(Math.sqrt(1 - beta2 ** step)), eps = f(group.eps), minusStep = f(-(group.lr / (1 - beta1 ** step)));
  // large parameters on the SIMD module (the same bits)
  if (adamStepF32(P, G, M, V, { decay: decay !== 0, l2: l2 !== 0, keep, fl2, b1: fb1, a1: fa1, b2: fb2, a2: fa2, sqrtBc2, eps, step: minusStep })) return;
  for (let i = 0; i < P.length; i++) {
    const p = decay !== 0 ? f(P[i] * keep) : P[i];
    let g = G[i];
    if (l2 !== 0) g = addScaledF32(g, P[i], l2, fl2);
    const m = addScaledF32(f(M[i] * fb1), g, a1, fa1);
    const v = addScaledF32(f(V[i] * fb2), f(g * g), a2, fa2);
    M[i] = m;
    V[i] = v;
    const denom = f(f(f(Math.sqrt(v)) / sqrtBc2) + eps);
    P[i] = f(p + f(f(m / denom) * minusStep));
  }
}
