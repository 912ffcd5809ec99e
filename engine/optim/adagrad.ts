/** Adagrad (torch.optim.Adagrad). */
import { fullLike } from "../ops/creation.js";
import type { Tensor } from "../tensor.js";
import { addScaled, checkRange, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

export interface AdagradOptions extends BaseOptions {
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}

/**
 * Adagrad, torch's rule:  clr = lr / (1 + (t−1)·lrDecay);  sum ← sum + g²;  p ← p − clr · g / (√sum + eps).
 * The accumulator starts at `initialAccumulatorValue`.
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, opts: Partial<AdagradOptions> = {}) {
    super("Adagrad", params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false, ...opts });
  }

  protected override checkOptions(o: AdagradOptions): void {
    super.checkOptions(o);
    checkRange("Adagrad", "lrDecay", o.lrDecay, 0);
    checkRange("Adagrad", "weightDecay", o.weightDecay, 0);
    checkRange("Adagrad", "initialAccumulatorValue", o.initialAccumulatorValue, 0);
    checkRange("Adagrad", "epsilon", o.eps, 0);
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdagradOptions>, state: ParamState): Tensor {
    // torch creates the accumulator when the optimizer is built; here on first use, with the group's value
    const sum0 = (state.sum as Tensor | undefined) ?? fullLike(p, group.initialAccumulatorValue);
    const step = ((state.step as number | undefined) ?? 0) + 1;
    state.step = step;
    const g = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    const clr = group.lr / (1 + (step - 1) * group.lrDecay);
    const sum = setState(state, "sum", sum0.add(g.mul(g)));
    const std = sum.sqrt().add(group.eps);
    return p.add(g.div(std).mul(-clr));
  }
}
