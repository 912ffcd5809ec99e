/**
 * Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_), applied
 * between `backward()` and `optimizer.step()`:
 *
 *   await loss.backward();
 *   gb.optim.clipGradNorm_(model.parameters(), 1.0);
 *   opt.step();
 */
import { noGrad } from "../autograd.js";
import { div } from "../ops/elementwise.js";
import { stack } from "../ops/movement.js";
import { Tensor } from "../tensor.js";
import type { ParamSource } from "./optimizer.js";

function withGrads(what: string, params: ParamSource | Tensor): Tensor[] {
  const list = params instanceof Tensor ? [params] : typeof (params as { parameters?: unknown }).parameters === "function" ? [...(params as { parameters(): Iterable<Tensor> }).parameters()] : [...(params as Iterable<Tensor>)];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${what}: parameter ${i} is not a Tensor`);
  });
  return list.filter((p) => p.grad !== null);
}

/**
 * Rescales the gradients so that their total `normType`-norm (all gradients seen
 * as one vector) is at most `maxNorm`; returns the total norm before clipping
 * (a 0-d tensor). `normType` may be Infinity.
 */
export function clipGradNorm_(params: ParamSource | Tensor, maxNorm: number, normType = 2, opts: { errorIfNonfinite?: boolean } = {}): Tensor {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm_: maxNorm must be >= 0, got ${maxNorm}`);
  const ps = withGrads("clipGradNorm_", params);
  return noGrad(() => {
    if (ps.length === 0) return Tensor.fromData(Float32Array.of(0), [], "float32");
    const norms = ps.map((p) => (p.grad as Tensor).norm(normType));
    const total = normType === Infinity ? stack(norms).max() : stack(norms).norm(normType);
    if (opts.errorIfNonfinite) {
      const v = total.backend.readSync(total._d);
      if (v && !Number.isFinite(v[0])) {
        throw new Error(`clipGradNorm_: the total norm of order ${normType} of the gradients is non-finite (${v[0]}), so it cannot be clipped; set errorIfNonfinite: false to scale by it anyway`);
      }
    }
    const coef = div(maxNorm, total.add(1e-6)).clamp(null, 1);
    for (const p of ps) p.grad = (p.grad as Tensor).mul(coef);
    return total;
  });
}

/** Clamps every gradient element to [−clipValue, clipValue]. */
export function clipGradValue_(params: ParamSource | Tensor, clipValue: number): void {
  if (!(clipValue >= 0)) throw new Error(`clipGradValue_: clipValue must be >= 0, got ${clipValue}`);
  const ps = withGrads("clipGradValue_", params);
  noGrad(() => {
    for (const p of ps) p.grad = (p.grad as Tensor).clamp(-clipValue, clipValue);
  });
}
