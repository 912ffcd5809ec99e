/** RMSprop (torch.optim.RMSprop), with momentum and the centered variant. */
import { zerosLike } from "../ops/creation.js";
import type { Tensor } from "../tensor.js";
import { addScaled, checkRange, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

export interface RMSpropOptions extends BaseOptions {
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

/**
 * RMSprop (Hinton), torch's rule:
 *   v ← α·v + (1−α)·g²;  centered: ḡ ← α·ḡ + (1−α)·g, avg = √(v − ḡ²) + eps, else avg = √v + eps
 *   momentum: buf ← momentum·buf + g/avg, p ← p − lr·buf;  else p ← p − lr·g/avg
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, opts: Partial<RMSpropOptions> = {}) {
    super("RMSprop", params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, ...opts });
  }

  protected override checkOptions(o: RMSpropOptions): void {
    super.checkOptions(o);
    checkRange("RMSprop", "alpha", o.alpha, 0);
    checkRange("RMSprop", "epsilon", o.eps, 0);
    checkRange("RMSprop", "momentum", o.momentum, 0);
    checkRange("RMSprop", "weightDecay", o.weightDecay, 0);
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<RMSpropOptions>, state: ParamState): Tensor {
    const { alpha, eps } = group;
    const step = ((state.step as number | undefined) ?? 0) + 1;
    state.step = step;
    const g = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    const sq = setState(state, "squareAvg", addScaled(((state.squareAvg as Tensor | undefined) ?? zerosLike(p)).mul(alpha), g.mul(g), 1 - alpha));
    let avg: Tensor;
    if (group.centered) {
      const ga = setState(state, "gradAvg", addScaled(((state.gradAvg as Tensor | undefined) ?? zerosLike(p)).mul(alpha), g, 1 - alpha));
      avg = sq.sub(ga.mul(ga)).sqrt();
    } else {
      avg = sq.sqrt();
    }
    avg = avg.add(eps);
    if (group.momentum > 0) {
      const buf = setState(state, "momentumBuffer", ((state.momentumBuffer as Tensor | undefined) ?? zerosLike(p)).mul(group.momentum).add(g.div(avg)));
      return addScaled(p, buf, -group.lr);
    }
    return p.add(g.div(avg).mul(-group.lr));
  }
}
