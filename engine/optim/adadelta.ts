/** Adadelta (torch.optim.Adadelta). */
import { zerosLike } from "../ops/creation.js";
import type { Tensor } from "../tensor.js";
import { addScaled, checkRange, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

export interface AdadeltaOptions extends BaseOptions {
  rho: number;
  eps: number;
  weightDecay: number;
}

/**
 * Adadelta (Zeiler), torch's rule:
 *   v ← ρ·v + (1−ρ)·g²;  Δ = √(u + eps) / √(v + eps) · g;  u ← ρ·u + (1−ρ)·Δ²;  p ← p − lr·Δ
 */
export class Adadelta extends Optimizer<AdadeltaOptions> {
  constructor(params: Params<AdadeltaOptions>, opts: Partial<AdadeltaOptions> = {}) {
    super("Adadelta", params, { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false, ...opts });
  }

  protected override checkOptions(o: AdadeltaOptions): void {
    super.checkOptions(o);
    checkRange("Adadelta", "rho", o.rho, 0, 1, true);
    checkRange("Adadelta", "epsilon", o.eps, 0);
    checkRange("Adadelta", "weightDecay", o.weightDecay, 0);
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdadeltaOptions>, state: ParamState): Tensor {
    const { rho, eps } = group;
    const step = ((state.step as number | undefined) ?? 0) + 1;
    state.step = step;
    const g = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    const sq = setState(state, "squareAvg", addScaled(((state.squareAvg as Tensor | undefined) ?? zerosLike(p)).mul(rho), g.mul(g), 1 - rho));
    const acc0 = (state.accDelta as Tensor | undefined) ?? zerosLike(p);
    const std = sq.add(eps).sqrt();
    const delta = acc0.add(eps).sqrt().div(std).mul(g);
    setState(state, "accDelta", addScaled(acc0.mul(rho), delta.mul(delta), 1 - rho));
    return addScaled(p, delta, -group.lr);
  }
}
