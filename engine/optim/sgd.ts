/** Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay (torch.optim.SGD). */
import type { Tensor } from "../tensor.js";
import { addScaled, checkRange, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

export interface SGDOptions extends BaseOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

/**
 * SGD, exactly torch's rule:
 *   g ← g + weightDecay·p
 *   buf ← g (first step), else momentum·buf + (1 − dampening)·g
 *   g ← g + momentum·buf (nesterov) or buf
 *   p ← p − lr·g
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    if (!opts || typeof opts.lr !== "number") throw new Error("SGD: the learning rate is required: new SGD(params, { lr: 0.01 })");
    super("SGD", params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false, ...opts });
  }

  protected override checkOptions(o: SGDOptions): void {
    super.checkOptions(o);
    checkRange("SGD", "momentum", o.momentum, 0);
    checkRange("SGD", "weightDecay", o.weightDecay, 0);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new Error("SGD: Nesterov momentum requires a momentum > 0 and zero dampening");
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<SGDOptions>, state: ParamState): Tensor {
    let d = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    if (group.momentum !== 0) {
      let buf = state.momentumBuffer as Tensor | undefined;
      buf = setState(state, "momentumBuffer", buf === undefined ? d.clone() : addScaled(buf.mul(group.momentum), d, 1 - group.dampening));
      d = group.nesterov ? addScaled(d, buf, group.momentum) : buf;
    }
    return addScaled(p, d, -group.lr);
  }
}

