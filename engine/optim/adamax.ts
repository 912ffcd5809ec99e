/** Adamax, NAdam and RAdam (torch.optim.Adamax / NAdam / RAdam): Adam's relatives. */
import { zerosLike } from "../ops/creation.js";
import { div } from "../ops/elementwise.js";
import type { Tensor } from "../tensor.js";
import { addScaled, checkAdamOptions, checkRange, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

export interface AdamaxOptions extends BaseOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

const stepOf = (state: ParamState) => {
  const s = ((state.step as number | undefined) ?? 0) + 1;
  state.step = s;
  return s;
};

/**
 * Adamax (Kingma & Ba): Adam with the infinity norm —
 *   m ← β1·m + (1−β1)·g;  u ← max(β2·u, |g| + eps);  p ← p − lr/(1−β1ᵗ) · m/u
 */
export class Adamax extends Optimizer<AdamaxOptions> {
  constructor(params: Params<AdamaxOptions>, opts: Partial<AdamaxOptions> = {}) {
    super("Adamax", params, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false, ...opts });
  }
  protected override checkOptions(o: AdamaxOptions): void {
    super.checkOptions(o);
    checkAdamOptions("Adamax", o);
  }
  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdamaxOptions>, state: ParamState): Tensor {
    const [b1, b2] = group.betas;
    const step = stepOf(state);
    const g = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    const m = setState(state, "expAvg", addScaled(((state.expAvg as Tensor | undefined) ?? zerosLike(p)).mul(b1), g, 1 - b1));
    const u = setState(state, "expInf", ((state.expInf as Tensor | undefined) ?? zerosLike(p)).mul(b2).maximum(g.abs().add(group.eps)));
    const clr = group.lr / (1 - b1 ** step);
    return p.add(m.div(u).mul(-clr));
  }
}

export interface NAdamOptions extends AdamaxOptions {
  /** Momentum decay ψ of the μ schedule (default 4e-3). */
  momentumDecay: number;
}

/**
 * NAdam (Dozat): Adam with Nesterov momentum, torch's rule with the momentum
 * schedule μₜ = β1·(1 − ½·0.96^(t·ψ)).
 */
export class NAdam extends Optimizer<NAdamOptions> {
  constructor(params: Params<NAdamOptions>, opts: Partial<NAdamOptions> = {}) {
    super("NAdam", params, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, maximize: false, ...opts });
  }
  protected override checkOptions(o: NAdamOptions): void {
    super.checkOptions(o);
    checkAdamOptions("NAdam", o);
    checkRange("NAdam", "momentumDecay", o.momentumDecay, 0);
  }
  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<NAdamOptions>, state: ParamState): Tensor {
    const [b1, b2] = group.betas;
    const step = stepOf(state);
    const bc2 = 1 - b2 ** step;
    const g = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    const mu = b1 * (1 - 0.5 * 0.96 ** (step * group.momentumDecay));
    const muNext = b1 * (1 - 0.5 * 0.96 ** ((step + 1) * group.momentumDecay));
    // torch keeps the running product of μ in a float32 tensor
    const muProduct = Math.fround(((state.muProduct as number | undefined) ?? 1) * mu);
    state.muProduct = muProduct;
    const muProductNext = Math.fround(Math.fround(muProduct * mu) * muNext);
    const m = setState(state, "expAvg", addScaled(((state.expAvg as Tensor | undefined) ?? zerosLike(p)).mul(b1), g, 1 - b1));
    const v = setState(state, "expAvgSq", addScaled(((state.expAvgSq as Tensor | undefined) ?? zerosLike(p)).mul(b2), g.mul(g), 1 - b2));
    const denom = v.div(bc2).sqrt().add(group.eps);
    const p1 = p.add(g.div(denom).mul((-group.lr * (1 - mu)) / (1 - muProduct)));
    return p1.add(m.div(denom).mul((-group.lr * muNext) / (1 - muProductNext)));
  }
}

export type RAdamOptions = AdamaxOptions;

/**
 * RAdam (Liu et al.): Adam whose adaptive step is switched on only once the
 * variance of the adaptive rate is tractable (ρₜ > 5), and rectified; before that, SGD with momentum.
 */
export class RAdam extends Optimizer<RAdamOptions> {
  constructor(params: Params<RAdamOptions>, opts: Partial<RAdamOptions> = {}) {
    super("RAdam", params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false, ...opts });
  }
  protected override checkOptions(o: RAdamOptions): void {
    super.checkOptions(o);
    checkAdamOptions("RAdam", o);
  }
  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<RAdamOptions>, state: ParamState): Tensor {
    const [b1, b2] = group.betas;
    const step = stepOf(state);
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    const g = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    const m = setState(state, "expAvg", addScaled(((state.expAvg as Tensor | undefined) ?? zerosLike(p)).mul(b1), g, 1 - b1));
    const v = setState(state, "expAvgSq", addScaled(((state.expAvgSq as Tensor | undefined) ?? zerosLike(p)).mul(b2), g.mul(g), 1 - b2));
    const mhat = m.div(bc1);
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * step * b2 ** step) / bc2;
    if (rhoT > 5) {
      const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
      const adaptiveLr = div(Math.sqrt(bc2), v.sqrt().add(group.eps));
      return p.sub(mhat.mul(group.lr).mul(adaptiveLr).mul(rect));
    }
    return p.sub(mhat.mul(group.lr));
  }
}
