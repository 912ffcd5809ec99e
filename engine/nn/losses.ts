/**
 * The losses of gb.nn.functional (re-exported there): regression, binary and multi-class
 * classification, margin and divergence losses, with PyTorch's reductions and checks.
 */
import { apply, noGrad } from "../autograd.js";
import { normDim, shapeStr, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { checkFloat } from "../ops/util.js";
import * as ew from "../ops/elementwise.js";
import * as red from "../ops/reduce.js";
import * as mv from "../ops/movement.js";
import { nllLossFused } from "./fused-loss.js";

export type Reduction = "mean" | "sum" | "none";

export interface LossOptions {
  reduction?: Reduction;
}

function reduce(op: string, loss: Tensor, reduction: Reduction = "mean"): Tensor {
  if (reduction === "mean") return loss.mean();
  if (reduction === "sum") return loss.sum();
  if (reduction === "none") return loss;
  throw new Error(`${op}: reduction must be "mean", "sum" or "none", got "${reduction as string}"`);
}

function sameShape(op: string, input: Tensor, target: Tensor): void {
  if (!shapesEqual(input.shape, target.shape)) {
    throw new Error(`${op}: input ${shapeStr(input.shape)} and target ${shapeStr(target.shape)} must have the same shape (PyTorch would broadcast them, usually by mistake; reshape one of them)`);
  }
}

function floatTarget(op: string, t: Tensor): Tensor {
  return t.dtype === "float32" ? t : t.float();
}

/** Mean squared error: mean((input - target)^2). */
export function mseLoss(input: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  checkFloat("mseLoss", input);
  sameShape("mseLoss", input, target);
  return reduce("mseLoss", input.sub(floatTarget("mseLoss", target)).square(), opts.reduction);
}

/** Mean absolute error: mean(|input - target|). */
export function l1Loss(input: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  checkFloat("l1Loss", input);
  sameShape("l1Loss", input, target);
  return reduce("l1Loss", input.sub(floatTarget("l1Loss", target)).abs(), opts.reduction);
}

/** Huber loss (torch.nn.functional.smooth_l1_loss with beta): quadratic below beta, linear above. */
export function smoothL1Loss(input: Tensor, target: Tensor, opts: LossOptions & { beta?: number } = {}): Tensor {
  sameShape("smoothL1Loss", input, target);
  const beta = opts.beta ?? 1;
  const d = input.sub(floatTarget("smoothL1Loss", target)).abs();
  const l = beta === 0 ? d : ew.where(d.lt(beta), d.square().mul(0.5 / beta), d.sub(0.5 * beta));
  return reduce("smoothL1Loss", l, opts.reduction);
}

export interface BCEOptions extends LossOptions {
  /** Per-element rescaling weight, broadcast against the input. */
  weight?: Tensor | null;
}

/**
 * Binary cross-entropy on probabilities: -w (t log(x) + (1 - t) log(1 - x)), with each log
 * clamped at -100 as PyTorch does (so x = 0 or 1 gives a finite loss). Gradients are torch's.
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, opts: BCEOptions = {}): Tensor {
  const op = "binaryCrossEntropy";
  checkFloat(op, input);
  sameShape(op, input, target);
  const t = floatTarget(op, target);
  const w = opts.weight ?? null;
  const vals = input.backend.readSync(input._d);
  if (vals) {
    for (let i = 0; i < vals.length; i++) {
      if (!(vals[i] >= 0 && vals[i] <= 1)) throw new Error(`${op}: all elements of input should be between 0 and 1 (found ${vals[i]} at flat index ${i} of ${shapeStr(input.shape)}); use binaryCrossEntropyWithLogits for raw scores`);
    }
  }
  const logX = () => input.log().clamp(-100, null);
  const log1mX = () => input.neg().log1p().clamp(-100, null);
  const base = noGrad(() => t.mul(logX()).add(t.neg().add(1).mul(log1mX())).neg());
  const fwd = w ? noGrad(() => base.mul(w)) : base;
  const inputs = w ? [input, t, w] : [input, t];
  const loss = apply(op, inputs, fwd._d, (g) => {
    let gx: Tensor | null = null, gt: Tensor | null = null, gw: Tensor | null = null;
    if (input.requiresGrad) {
      gx = g.mul(input.sub(t)).div(input.mul(input.neg().add(1)).clamp(1e-12, null));
      if (w) gx = gx.mul(w);
    }
    if (t.requiresGrad) {
      gt = g.mul(log1mX().sub(logX()));
      if (w) gt = gt.mul(w);
    }
    if (w && w.requiresGrad) gw = g.mul(base);
    return [gx, gt, gw];
  });
  return reduce(op, loss, opts.reduction);
}

export interface BCEWithLogitsOptions extends BCEOptions {
  /** Weight of the positive examples, broadcast along the last (class) dimension. */
  posWeight?: Tensor | null;
}

/**
 * Binary cross-entropy on logits (sigmoid folded in), computed stably:
 * (1 - t) x + lw (log(1 + e^-|x|) + max(-x, 0)), lw = 1 + (posWeight - 1) t.
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts: BCEWithLogitsOptions = {}): Tensor {
  const op = "binaryCrossEntropyWithLogits";
  checkFloat(op, input);
  sameShape(op, input, target);
  const t = floatTarget(op, target);
  const w = opts.weight ?? null;
  const pw = opts.posWeight ?? null;
  // log(1 + e^-x) = softplus(-x), stable form
  const spNeg = (x: Tensor) => x.abs().neg().exp().log1p().add(x.neg().relu());
  const base = noGrad(() => {
    const lw = pw ? pw.sub(1).mul(t).add(1) : null;
    return t.neg().add(1).mul(input).add(lw ? lw.mul(spNeg(input)) : spNeg(input));
  });
  const fwd = w ? noGrad(() => base.mul(w)) : base;
  const inputs: Tensor[] = [input, t];
  if (w) inputs.push(w);
  if (pw) inputs.push(pw);
  const loss = apply(op, inputs, fwd._d, (g) => {
    let gx: Tensor | null = null, gt: Tensor | null = null, gw: Tensor | null = null, gp: Tensor | null = null;
    if (input.requiresGrad) {
      const s = input.sigmoid();
      gx = pw ? pw.mul(t).add(1).sub(t).mul(s).sub(pw.mul(t)) : s.sub(t);
      gx = g.mul(gx);
      if (w) gx = gx.mul(w);
    }
    if (t.requiresGrad) {
      gt = pw ? pw.sub(1).mul(spNeg(input)).sub(input) : input.neg();
      gt = g.mul(gt);
      if (w) gt = gt.mul(w);
    }
    if (w && w.requiresGrad) gw = g.mul(base);
    if (pw && pw.requiresGrad) {
      gp = g.mul(t).mul(spNeg(input));
      if (w) gp = gp.mul(w);
    }
    const out: (Tensor | null)[] = [gx, gt];
    if (w) out.push(gw);
    if (pw) out.push(gp);
    return out;
  });
  return reduce(op, loss, opts.reduction);
}

export interface CrossEntropyOptions extends LossOptions {
  /** Per-class rescaling weight [C]. */
  weight?: Tensor | null;
  /** Targets equal to this class index are ignored (no loss, no gradient). Default -100. */
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution: (1 - eps) onehot + eps / C. */
  labelSmoothing?: number;
}

/** Checks class targets (int32, right shape, in range on the CPU); returns the flat class count C. */
function checkClassTarget(op: string, input: Tensor, target: Tensor, ignoreIndex: number): number {
  if (target.dtype !== "int32") {
    throw new Error(`${op}: class targets must be int32 (got ${target.dtype} of shape ${shapeStr(target.shape)}); for probability targets pass a float32 tensor of the input's shape ${shapeStr(input.shape)}`);
  }
  const want = [input.shape[0], ...input.shape.slice(2)];
  if (!shapesEqual(want, target.shape)) {
    throw new Error(`${op}: expected target of shape ${shapeStr(want)} for input ${shapeStr(input.shape)} (logits [N, C, ...] and targets [N, ...]), got target ${shapeStr(target.shape)}`);
  }
  const C = input.shape[1];
  const vals = target.backend.readSync(target._d);
  if (vals) {
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== ignoreIndex && (v < 0 || v >= C)) throw new Error(`${op}: target ${v} (at flat index ${i}) is out of range for ${C} classes (input ${shapeStr(input.shape)})`);
    }
  }
  return C;
}

/** The per-element weighted negative log-likelihood and its weights (0 where ignored). */
function nllCore(op: string, logp: Tensor, target: Tensor, weight: Tensor | null, ignoreIndex: number): { loss: Tensor; w: Tensor; valid: Tensor } {
  const C = logp.shape[1];
  if (weight && (weight.ndim !== 1 || weight.shape[0] !== C)) throw new Error(`${op}: expected weight of shape ${C} (one per class), got ${shapeStr(weight.shape)}`);
  const valid = target.ne(ignoreIndex);
  const safe = ew.where(valid, target, 0).to("int32");
  const picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1);
  let w = valid.float();
  if (weight) w = w.mul(weight.indexSelect(0, safe.reshape([-1])).reshape(target.shape));
  return { loss: picked.neg().mul(w), w, valid };
}

function unbatch(input: Tensor, target: Tensor, classTarget: boolean): [Tensor, Tensor, boolean] {
  if (input.ndim === 1) return [input.unsqueeze(0), classTarget ? target.reshape([1]) : target.unsqueeze(0), true];
  return [input, target, false];
}

/**
 * Negative log-likelihood on log-probabilities [N, C, ...] with int32 class targets [N, ...].
 * The mean divides by the summed weights of the non-ignored targets, as PyTorch.
 */
export function nllLoss(input: Tensor, target: Tensor, opts: Omit<CrossEntropyOptions, "labelSmoothing"> = {}): Tensor {
  const op = "nllLoss";
  checkFloat(op, input);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const [x, t, single] = unbatch(input, target, true);
  if (x.ndim < 2) throw new Error(`${op}: expected input [N, C, ...] or [C], got ${shapeStr(input.shape)}`);
  checkClassTarget(op, x, t, ignoreIndex);
  const r = opts.reduction ?? "mean";
  if (!opts.weight && (r === "mean" || r === "sum" || r === "none")) {
    const fusedLoss = nllLossFused(x, t, r, ignoreIndex);
    if (fusedLoss) return r === "none" && single ? fusedLoss.squeeze(0) : fusedLoss;
  }
  const { loss, w } = nllCore(op, x, t, opts.weight ?? null, ignoreIndex);
  if (r === "mean") return loss.sum().div(w.sum());
  if (r === "none") return single ? loss.squeeze(0) : loss;
  return reduce(op, loss, r);
}

/**
 * Cross-entropy between logits [N, C, d1, ...] (or [C]) and either int32 class targets
 * [N, d1, ...] or float32 class probabilities of the input's shape; softmax is folded in
 * (torch.nn.functional.cross_entropy, with weight, ignoreIndex and labelSmoothing).
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = "crossEntropy";
  checkFloat(op, input);
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`${op}: labelSmoothing must be between 0 and 1, got ${eps}`);
  const r = opts.reduction ?? "mean";
  if (r !== "mean" && r !== "sum" && r !== "none") return reduce(op, input, r);
  const weight = opts.weight ?? null;
  const probs = target.dtype === "float32";
  const [x, t, single] = unbatch(input, target, !probs);
  if (x.ndim < 2) throw new Error(`${op}: expected logits [N, C, ...] or [C], got ${shapeStr(input.shape)}`);
  const C = x.shape[1];
  if (weight && (weight.ndim !== 1 || weight.shape[0] !== C)) throw new Error(`${op}: expected weight of shape ${C} (one per class), got ${shapeStr(weight.shape)}`);
  const wshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  if (probs) {
    const logp = red.logSoftmax(x, 1);
    if (!shapesEqual(x.shape, t.shape)) {
      throw new Error(`${op}: probability targets must have the input's shape ${shapeStr(input.shape)}, got ${shapeStr(target.shape)} (class-index targets must be int32)`);
    }
    let tt = t;
    if (eps > 0) tt = tt.mul(1 - eps).add(eps / C);
    let prod = logp.mul(tt);
    if (weight) prod = prod.mul(weight.reshape(wshape));
    if (r === "mean") return prod.sum().neg().div(x.numel() / C);
    if (r === "sum") return prod.sum().neg();
    const l = prod.sum(1).neg();
    return single ? l.squeeze(0) : l;
  }
  const ignoreIndex = opts.ignoreIndex ?? -100;
  checkClassTarget(op, x, t, ignoreIndex);
  const logp = red.logSoftmax(x, 1);
  if (!weight && eps === 0) {
    const fusedLoss = nllLossFused(logp, t, r, ignoreIndex);
    if (fusedLoss) return r === "none" && single ? fusedLoss.squeeze(0) : fusedLoss;
  }
  const { loss, w, valid } = nllCore(op, logp, t, weight, ignoreIndex);
  let nll: Tensor;
  if (r === "mean") nll = loss.sum().div(w.sum());
  else if (r === "sum") nll = loss.sum();
  else nll = loss;
  if (eps === 0) return r === "none" && single ? nll.squeeze(0) : nll;
  let smooth = (weight ? logp.mul(weight.reshape(wshape)) : logp).sum(1).neg().mul(valid.float());
  if (r === "mean") smooth = smooth.sum().div(weight ? w.sum() : valid.float().sum());
  else if (r === "sum") smooth = smooth.sum();
  const out = nll.mul(1 - eps).add(smooth.mul(eps / C));
  return r === "none" && single ? out.squeeze(0) : out;
}

export interface HingeOptions extends LossOptions {
  margin?: number;
  /** Multi-class only: per-class weight [C] applied by the target class. */
  weight?: Tensor | null;
  /** Multi-class only: 1 (the SVM hinge) or 2 (squared hinge). */
  p?: 1 | 2;
}

/**
 * The multi-class SVM loss (torch.nn.functional.multi_margin_loss): for scores [N, C] and
 * int32 targets [N], loss_n = sum_{j != y} max(0, margin - s_y + s_j)^p / C.
 */
export function multiMarginLoss(scores: Tensor, target: Tensor, opts: HingeOptions = {}): Tensor {
  const op = "multiMarginLoss";
  checkFloat(op, scores);
  const margin = opts.margin ?? 1, p = opts.p ?? 1;
  if (p !== 1 && p !== 2) throw new Error(`${op}: p must be 1 or 2, got ${p as number}`);
  const [x, t, single] = unbatch(scores, target, true);
  if (x.ndim !== 2) throw new Error(`${op}: expected scores [N, C] or [C], got ${shapeStr(scores.shape)}`);
  checkClassTarget(op, x, t, Number.NaN);
  const C = x.shape[1];
  const idx = t.unsqueeze(1);
  const sy = x.gather(1, idx);
  let m = x.sub(sy).add(margin).relu();
  if (p === 2) m = m.square();
  const notY = idx.ne(mv.reshape(arangeInt(C, x), [1, C]));
  m = m.mul(notY.float());
  if (opts.weight) {
    if (opts.weight.ndim !== 1 || opts.weight.shape[0] !== C) throw new Error(`${op}: expected weight of shape ${C}, got ${shapeStr(opts.weight.shape)}`);
    m = m.mul(opts.weight.indexSelect(0, t).unsqueeze(1));
  }
  const l = m.sum(1).div(C);
  return reduce(op, single && (opts.reduction ?? "mean") === "none" ? l.squeeze(0) : l, opts.reduction);
}

function arangeInt(n: number, like: Tensor): Tensor {
  const v = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = i;
  return Tensor.fromData(v, [n], "int32", like.device);
}

/**
 * Hinge loss, two forms chosen by the target:
 *  - int32 class targets [N] with scores [N, C]: the multi-class SVM loss (= multiMarginLoss, p = 1);
 *  - targets in {-1, +1} (float32 or int32) of the scores' shape: the binary hinge
 *    max(0, margin - y s) (the linear SVM's loss; PyTorch has no direct equivalent).
 */
export function hingeLoss(scores: Tensor, target: Tensor, opts: HingeOptions = {}): Tensor {
  if (target.dtype === "int32" && scores.ndim === target.ndim + 1) return multiMarginLoss(scores, target, opts);
  const op = "hingeLoss";
  checkFloat(op, scores);
  if (target.dtype === "int32" && !shapesEqual(scores.shape, target.shape)) {
    throw new Error(`hingeLoss: int32 class targets need scores with one more dimension ([N, C] for targets [N]); got scores ${shapeStr(scores.shape)} and target ${shapeStr(target.shape)}`);
  }
  sameShape(op, scores, target);
  const t = floatTarget(op, target);
  const vals = t.backend.readSync(t._d);
  if (vals) for (let i = 0; i < vals.length; i++) if (vals[i] !== 1 && vals[i] !== -1) throw new Error(`hingeLoss: binary targets must be -1 or +1, found ${vals[i]} at flat index ${i} (for 0/1 labels use 2 * y - 1)`);
  const margin = opts.margin ?? 1;
  return reduce(op, scores.mul(t).neg().add(margin).relu(), opts.reduction);
}

/** torch.nn.functional.hinge_embedding_loss: x where y = 1, max(0, margin - x) where y = -1. */
export function hingeEmbeddingLoss(input: Tensor, target: Tensor, opts: LossOptions & { margin?: number } = {}): Tensor {
  const op = "hingeEmbeddingLoss";
  sameShape(op, input, target);
  const margin = opts.margin ?? 1;
  const t = floatTarget(op, target);
  const l = ew.where(t.eq(1), input, 0).add(ew.where(t.eq(-1), input.neg().add(margin).relu(), 0));
  return reduce(op, l, opts.reduction);
}

/** KL divergence with log-probability input (torch.nn.functional.kl_div): target * (log target - input). */
export function klDiv(input: Tensor, target: Tensor, opts: { reduction?: Reduction | "batchmean"; logTarget?: boolean } = {}): Tensor {
  sameShape("klDiv", input, target);
  const l = opts.logTarget ? target.exp().mul(target.sub(input)) : ew.where(target.gt(0), target.mul(ew.where(target.gt(0), target, 1).log().sub(input)), 0);
  if (opts.reduction === "batchmean") return l.sum().div(input.shape[0] ?? 1);
  return reduce("klDiv", l, opts.reduction);
}

/** Cosine similarity along `dim` (torch.nn.functional.cosine_similarity). */
export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  const d = normDim("cosineSimilarity", dim, Math.max(a.ndim, b.ndim));
  const na = a.square().sum(d).sqrt().clamp(eps, null), nb = b.square().sum(d).sqrt().clamp(eps, null);
  return a.mul(b).sum(d).div(na.mul(nb));
}
