/** Adam and AdamW (torch.optim.Adam / AdamW), with amsgrad. */
import { zerosLike } from "../ops/creation.js";
import type { Tensor } from "../tensor.js";
import { addScaled, checkAdamOptions, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

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
    const decayed = group.weightDecay !== 0 ? p.mul(1 - group.lr * group.weightDecay) : p;
    return this.adamUpdate(decayed, grad, group, state);
  }
}
