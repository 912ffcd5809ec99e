/** Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay (torch.optim.SGD). */
import type { Tensor } from "../tensor.js";
import { sgdStepF32 } from "../backends/cpu/kernels/optim.js";
import { addScaled, addScaledF32, checkRange, fusedArrays, Optimizer, setState, type BaseOptions, type ParamGroup, type ParamState, type Params } from "./optimizer.js";

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
    const buf0 = state.momentumBuffer as Tensor | undefined;
    // CPU: one loop (from the second step with momentum: the buffer exists), the ops' bits
    const arrays = group.momentum === 0 || buf0 !== undefined ? fusedArrays(p, grad, ...(buf0 ? [buf0] : [])) : null;
    if (arrays) {
      sgdLoop(arrays, group);
      return p;
    }
    let d = group.weightDecay !== 0 ? addScaled(grad, p, group.weightDecay) : grad;
    if (group.momentum !== 0) {
      let buf = state.momentumBuffer as Tensor | undefined;
      buf = setState(state, "momentumBuffer", buf === undefined ? d.clone() : addScaled(buf.mul(group.momentum), d, 1 - group.dampening));
      d = group.nesterov ? addScaled(d, buf, group.momentum) : buf;
    }
    return addScaled(p, d, -group.lr);
  }
}

/**
 * The SGD update in place, element by element, as the ops of updateParam compute it: each op's
 * result rounded to float32, scalars as float32, `a + alpha * b` as an add when alpha is 1 and as
 * addcmul (the product rounded, then the sum) otherwise.
 */
function sgdLoop([P, G, B]: Float32Array[], group: ParamGroup<SGDOptions>): void {
  const f = Math.fround;
  const { weightDecay, momentum, dampening, nesterov } = group;
  const wd = f(weightDecay), m = f(momentum), damp = f(1 - dampening), lr = f(-group.lr);
  // large parameters on the SIMD module (the same bits)
  if (sgdStepF32(P, G, momentum !== 0 ? B : null, { weightDecay: weightDecay !== 0, nesterov, wd, m, damp, lr })) return;
  if (weightDecay === 0 && momentum !== 0 && dampening === 0 && !nesterov && group.lr !== -1) {
    // the usual case (torch's defaults with momentum), written out: 1.5x faster than the general loop
    for (let i = 0; i < P.length; i++) {
      const b = f(f(B[i] * m) + G[i]);
      B[i] = b;
      P[i] = f(P[i] + f(b * lr));
    }
    return;
  }
  for (let i = 0; i < P.length; i++) {
    let d = G[i];
    if (weightDecay !== 0) d = addScaledF32(d, P[i], weightDecay, wd);
    if (momentum !== 0) {
      const b = addScaledF32(f(B[i] * m), d, 1 - dampening, damp);
      B[i] = b;
      d = nesterov ? addScaledF32(d, b, momentum, m) : b;
    }
    P[i] = addScaledF32(P[i], d, -group.lr, lr);
  }
}
