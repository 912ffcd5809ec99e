/** Reductions (sum, mean, max, min, argmax, ...) and softmax, each with its backward. */
import type { ReduceOp } from "../op-table.js";
import { apply, noGrad } from "../autograd.js";
import { where } from "./elementwise.js";
import { normDim, normDims, shapeStr, sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";
import { backendOf } from "./util.js";
import { softmaxFused } from "./fused-softmax.js";

export type Dims = number | number[] | null | undefined;

function reduceRaw(op: ReduceOp, x: Tensor, axes: number[], keepdim: boolean): Tensor {
  const b = backendOf(op, [x]);
  return new Tensor(b.ops.reduce(x._d, { op, axes, keepdim }), x.device);
}

/** Re-inserts reduced dims (as size 1) so a gradient of the reduced shape broadcasts over the input. */
function keepShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const axes = normDims("sum", dim, x.shape.length);
  const b = backendOf("sum", [x]);
  const data = b.ops.reduce(x._d, { op: "sum", axes, keepdim });
  return apply("sum", [x], data, (g) => [g.reshape(keepShape(x.shape, axes)).expand(x.shape)], { dim: axes, keepdim });
}

export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  if (x.dtype !== "float32") throw new Error(`mean: expected a float32 tensor, got ${x.dtype} (convert with .float())`);
  const axes = normDims("mean", dim, x.shape.length);
  let n = 1;
  for (const a of axes) n *= x.shape[a];
  return sum(x, axes, keepdim).div(n);
}

export function prod(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const axes = normDims("prod", dim, x.shape.length);
  const b = backendOf("prod", [x]);
  const data = b.ops.reduce(x._d, { op: "prod", axes, keepdim });
  return apply("prod", [x], data, (g, out) => {
    const keep = keepShape(x.shape, axes);
    const gk = g.reshape(keep);
    // out / x, except at zeros: there the product of the others (non-zero only when it is the slice's only zero), as PyTorch
    const zero = x.eq(0);
    const others = prod(where(zero, 1, x), axes, true);
    const atZero = where(zero.sum(axes, true).eq(1), others, 0);
    return [gk.mul(where(zero, atZero, out.reshape(keep).div(x)))];
  });
}

/** Values and indices of a max/min along one dim (torch.max(x, dim)). */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

function extreme(op: "max" | "min", x: Tensor, dim?: number | null, keepdim = false): Tensor | ValuesIndices {
  if (sizeOf(x.shape) === 0) throw new Error(`${op}: cannot reduce an empty tensor of shape ${shapeStr(x.shape)}`);
  const b = backendOf(op, [x]);
  if (dim === undefined || dim === null) {
    const axes = normDims(op, null, x.shape.length);
    const data = b.ops.reduce(x._d, { op, axes, keepdim: false });
    // ties share the gradient evenly
    return apply(op, [x], data, (g, out) => {
      const mask = x.eq(out).float();
      return [mask.mul(g).div(mask.sum())];
    });
  }
  const d = normDim(op, dim, x.shape.length);
  const values = b.ops.reduce(x._d, { op, axes: [d], keepdim });
  const indices = reduceRaw(op === "max" ? "argmax" : "argmin", x, [d], keepdim);
  const idxKeep = keepdim ? indices : indices.unsqueeze(d);
  const v = apply(op, [x], values, (g) => [scatterAddRaw(keepdim ? g : g.unsqueeze(d), idxKeep, d, x.shape)], { dim: d });
  return { values: v, indices };
}

function scatterAddRaw(src: Tensor, index: Tensor, dim: number, shape: readonly number[]): Tensor {
  return src.scatterAdd(dim, index, [...shape]);
}

export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function max(x: Tensor, dim?: number | null, keepdim = false): Tensor | ValuesIndices {
  return extreme("max", x, dim, keepdim);
}
export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function min(x: Tensor, dim?: number | null, keepdim = false): Tensor | ValuesIndices {
  return extreme("min", x, dim, keepdim);
}

/** Index of the largest value (of the flattened tensor when dim is not given). */
export function argmax(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  if (dim === undefined || dim === null) return reduceRaw("argmax", x.reshape([-1]), [0], false);
  return reduceRaw("argmax", x, [normDim("argmax", dim, x.shape.length)], keepdim);
}
export function argmin(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  if (dim === undefined || dim === null) return reduceRaw("argmin", x.reshape([-1]), [0], false);
  return reduceRaw("argmin", x, [normDim("argmin", dim, x.shape.length)], keepdim);
}

/** Whether any element (along dim) is nonzero: a bool tensor (torch.any). */
export function any(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return x.ne(0).sum(dim, keepdim).gt(0);
}

/** Whether every element (along dim) is nonzero: a bool tensor (torch.all). */
export function all(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return x.eq(0).sum(dim, keepdim).eq(0);
}

/** Variance (unbiased by default, as torch.var). */
export function variance(x: Tensor, dim?: Dims, opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
  const axes = normDims("var", dim, x.shape.length);
  let n = 1;
  for (const a of axes) n *= x.shape[a];
  const mu = mean(x, axes, true);
  const ss = x.sub(mu).square().sum(axes, opts.keepdim ?? false);
  return ss.div(opts.unbiased === false ? n : Math.max(n - 1, 0));
}

export function std(x: Tensor, dim?: Dims, opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
  return variance(x, dim, opts).sqrt();
}

/** log(sum(exp(x))) along dim, computed stably. */
export function logsumexp(x: Tensor, dim: number, keepdim = false): Tensor {
  const d = normDim("logsumexp", dim, x.shape.length);
  const mx = (max(x.detach(), d, true) as ValuesIndices).values;
  const m = where(mx.abs().eq(Infinity), 0, mx); // rows of -inf give -inf (not NaN), as torch
  const r = x.sub(m).exp().sum(d, true).log().add(m);
  return keepdim ? r : r.squeeze(d);
}

export function softmax(x: Tensor, dim: number): Tensor {
  const d = normDim("softmax", dim, x.shape.length);
  const fusedY = softmaxFused(x, d, false);
  if (fusedY) return fusedY;
  const m = (max(x.detach(), d, true) as ValuesIndices).values;
  const e = x.sub(m).exp();
  return e.div(e.sum(d, true));
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  const d = normDim("logSoftmax", dim, x.shape.length);
  return softmaxFused(x, d, true) ?? x.sub(logsumexp(x, d, true));
}

/** p-norm of all elements (or along dim). */
export function norm(x: Tensor, p = 2, dim?: Dims, keepdim = false): Tensor {
  const axes = normDims("norm", dim, x.shape.length);
  if (p === Infinity) {
    const a = x.abs();
    if (dim === undefined || dim === null) return max(a);
    // max over several dims: one dim at a time, highest first
    let r = a;
    for (let k = axes.length - 1; k >= 0; k--) r = (max(r, axes[k], true) as ValuesIndices).values;
    return keepdim ? r : r.reshape(x.shape.filter((_, i) => !axes.includes(i)));
  }
  const out = noGrad(() => (p === 2 ? x.square().sum(axes, keepdim).sqrt() : p === 1 ? x.abs().sum(axes, keepdim) : x.abs().pow(p).sum(axes, keepdim).pow(1 / p)));
  // d||x||_p/dx = sign(x) |x|^(p-1) / ||x||^(p-1), taken as 0 where the norm is 0 (as PyTorch)
  return apply("norm", [x], out._d, (g, o) => {
    const keep = keepShape(x.shape, axes);
    const gk = g.reshape(keep), ok = o.reshape(keep);
    if (p === 1) return [gk.mul(x.sign())];
    if (p === 2) return [x.mul(where(ok.eq(0), 0, gk.div(ok)))];
    return [x.sign().mul(x.abs().pow(p - 1)).mul(where(ok.eq(0), 0, gk.div(ok.pow(p - 1))))];
  }, { p, dim: axes, keepdim });
}
