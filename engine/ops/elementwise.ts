/** Element-wise ops. Each op: forward through one kernel, backward right beside it. */
import type { BinaryOp, UnaryOp } from "../op-table.js";
import { apply, type BackwardFn } from "../autograd.js";
import { isComparison, promoteTypes } from "../dtype.js";
import { broadcastShapes } from "../shape.js";
import { Tensor } from "../tensor.js";
import { backendOf, operands, scalar, type TensorLike } from "./util.js";

function unary(op: UnaryOp, x: Tensor, backward: BackwardFn | null, name: string = op): Tensor {
  const b = backendOf(name, [x]);
  return apply(name, [x], b.ops.unary(x._d, { op }), backward);
}

function binary(op: BinaryOp, a: TensorLike, c: TensorLike, backward: ((g: Tensor, a: Tensor, b: Tensor, out: Tensor) => (Tensor | null)[]) | null): Tensor {
  const [x, y] = operands(op, a, c);
  const b = backendOf(op, [x, y]);
  const outShape = broadcastShapes(op, x.shape, y.shape);
  const compare = isComparison(op);
  let outDtype = compare ? "bool" : promoteTypes(x.dtype, y.dtype);
  // bool op bool: add/mul/maximum/minimum stay bool in PyTorch (or/and); the rest compute in int32
  const boolResult = outDtype === "bool" && (op === "add" || op === "mul" || op === "maximum" || op === "minimum");
  if (outDtype === "bool" && !compare && op === "sub") throw new Error("sub: subtracting two bool tensors is not supported; use a.ne(b) for exclusive or, or convert with .int()");
  if (outDtype === "bool" && !compare) outDtype = "int32";
  let xx = x, yy = y;
  if (op === "div") {
    // true division always yields floats, as in PyTorch (int ** int stays int)
    outDtype = "float32";
    if (xx.dtype !== "float32") xx = xx.float();
    if (yy.dtype !== "float32") yy = yy.float();
  } else if (!compare) {
    if (xx.dtype !== outDtype) xx = xx.to(outDtype);
    if (yy.dtype !== outDtype) yy = yy.to(outDtype);
  }
  let data = b.ops.binary(xx._d, yy._d, { op, outShape, outDtype });
  if (boolResult) data = b.ops.cast(data, { dtype: "bool" });
  return apply(op, [x, y], data, backward ? (g, out) => backward(g, x, y, out) : null);
}

// ---- arithmetic ----
export const add = (a: TensorLike, b: TensorLike) => binary("add", a, b, (g) => [g, g]);
export const sub = (a: TensorLike, b: TensorLike) => binary("sub", a, b, (g) => [g, g.neg()]);
export const mul = (a: TensorLike, b: TensorLike) => binary("mul", a, b, (g, x, y) => [g.mul(y), g.mul(x)]);
export const div = (a: TensorLike, b: TensorLike) =>
  binary("div", a, b, (g, x, y) => [g.div(y), x.requiresGrad || y.requiresGrad ? g.mul(x).neg().div(y.mul(y)) : null]);
export const pow = (a: TensorLike, b: TensorLike) =>
  binary("pow", a, b, (g, x, y, out) => [
    // d/dx x^y = y x^(y-1), 0 where y = 0 (as PyTorch, also at x = 0)
    x.requiresGrad ? where(y.eq(0), 0, g.mul(y).mul(x.pow(y.sub(1)))) : null,
    // d/dy x^y = x^y ln x: 0 where x = 0 and y >= 0, NaN for negative x (as PyTorch)
    y.requiresGrad ? g.mul(where(x.eq(0).logicalAnd(y.ge(0)), 0, out.mul(x.log()))) : null,
  ]);
export const maximum = (a: TensorLike, b: TensorLike) =>
  binary("maximum", a, b, (g, x, y) => {
    // ties split the gradient equally, as PyTorch does
    const half = x.eq(y).float().mul(0.5);
    const gx = x.gt(y).float().add(half);
    return [g.mul(gx), g.mul(gx.neg().add(1))];
  });
export const minimum = (a: TensorLike, b: TensorLike) =>
  binary("minimum", a, b, (g, x, y) => {
    const half = x.eq(y).float().mul(0.5);
    const gx = x.lt(y).float().add(half);
    return [g.mul(gx), g.mul(gx.neg().add(1))];
  });

// ---- comparisons and logic (not differentiable) ----
export const eq = (a: TensorLike, b: TensorLike) => binary("eq", a, b, null);
export const ne = (a: TensorLike, b: TensorLike) => binary("ne", a, b, null);
export const lt = (a: TensorLike, b: TensorLike) => binary("lt", a, b, null);
export const le = (a: TensorLike, b: TensorLike) => binary("le", a, b, null);
export const gt = (a: TensorLike, b: TensorLike) => binary("gt", a, b, null);
export const ge = (a: TensorLike, b: TensorLike) => binary("ge", a, b, null);
export const logicalAnd = (a: TensorLike, b: TensorLike) => binary("logicalAnd", a, b, null);
export const logicalOr = (a: TensorLike, b: TensorLike) => binary("logicalOr", a, b, null);
export const logicalNot = (x: Tensor) => unary("logicalNot", x, null);

// ---- unary math ----
export const neg = (x: Tensor) => unary("neg", x, (g) => [g.neg()]);
export const exp = (x: Tensor) => unary("exp", x, (g, out) => [g.mul(out)]);
export const log = (x: Tensor) => unary("log", x, (g) => [g.div(x)]);
export const log1p = (x: Tensor) => unary("log1p", x, (g) => [g.div(x.add(1))]);
export const expm1 = (x: Tensor) => unary("expm1", x, (g, out) => [g.mul(out.add(1))]);
export const sqrt = (x: Tensor) => unary("sqrt", x, (g, out) => [g.div(out.mul(2))]);
export const rsqrt = (x: Tensor) => unary("rsqrt", x, (g, out) => [g.mul(out.pow(3)).mul(-0.5)]);
export const abs = (x: Tensor) => unary("abs", x, (g) => [g.mul(x.sign())]);
export const sign = (x: Tensor) => unary("sign", x, (g) => [g.mul(0)]);
export const square = (x: Tensor) => unary("square", x, (g) => [g.mul(x).mul(2)]);
export const reciprocal = (x: Tensor) => unary("reciprocal", x, (g, out) => [g.mul(out.square()).neg()]);
export const sin = (x: Tensor) => unary("sin", x, (g) => [g.mul(x.cos())]);
export const cos = (x: Tensor) => unary("cos", x, (g) => [g.mul(x.sin()).neg()]);
export const floor = (x: Tensor) => unary("floor", x, (g) => [g.mul(0)]);
export const ceil = (x: Tensor) => unary("ceil", x, (g) => [g.mul(0)]);
export const round = (x: Tensor) => unary("round", x, (g) => [g.mul(0)]);

// ---- activations ----
// the backward of each activation is one fused kernel: g * y(1-y), g * (1-y^2), g * [x > 0]
const sigmoidBackward: BackwardFn = (g, out) => [binary("sigmoidGrad", out, g, null)];
const tanhBackward: BackwardFn = (g, out) => [binary("tanhGrad", out, g, null)];
export const sigmoid = (x: Tensor) => unary("sigmoid", x, sigmoidBackward);
export const tanh = (x: Tensor) => unary("tanh", x, tanhBackward);

let activationsOver = true;
/** Tests and measurements (not in the public API): nn.Sequential writes its activations over their layer's output (the default) or not. */
export function setActivationsOver(on: boolean): void {
  activationsOver = on;
}
export function activationsOverEnabled(): boolean {
  return activationsOver;
}

/**
 * tanh(z), sigmoid(z) or relu(z), written over z's storage where the backend can (the CPU, z in
 * the WASM memory: backends/cpu unaryOver), else the ordinary op. The same values, gradients and
 * graph as tanh / sigmoid (whose backward reads only the output) and relu (whose backward and
 * fused pooling rules read only where z > 0, which relu(z) keeps), one block fewer a call: for a z that
 * nothing but this op reads, such as the output of a layer that nn.Sequential passes straight to
 * its activation (nn/layers.ts). z's values are those of the result afterwards.
 */
export function activationOver(op: "tanh" | "sigmoid" | "relu", z: Tensor): Tensor {
  const b = backendOf(op, [z]);
  const d = b.unaryOver?.(z._d, { op });
  if (!d) return op === "tanh" ? tanh(z) : op === "sigmoid" ? sigmoid(z) : relu(z);
  return apply(op, [z], d, op === "tanh" ? tanhBackward : op === "sigmoid" ? sigmoidBackward : reluOverBackward);
}

/** relu's rule where its input's storage holds relu's output: reluGrad reads only which elements are > 0, the same in both (relu(v) > 0 exactly where v > 0, NaN included). */
const reluOverBackward: BackwardFn = (g, out) => [binary("reluGrad", out, g, null)];
export const relu = (x: Tensor) => unary("relu", x, (g) => [binary("reluGrad", x, g, null)]);
export const softplus = (x: Tensor) => unary("softplus", x, (g) => [g.mul(x.sigmoid())]);
/** The Heaviside step: 1 where x > 0, else 0 (the perceptron's activation). Its gradient is 0 almost everywhere. */
export const step = (x: Tensor) => unary("step", x, (g) => [g.mul(0)], "step");
/** torch.heaviside(x, values): 0 for x < 0, `values` at x == 0, 1 for x > 0. */
export function heaviside(x: Tensor, values: TensorLike = 0): Tensor {
  return where(x.eq(0), values, x.gt(0).to(x.dtype));
}

// ---- selection ----
/** where(cond, a, b): a where cond is true, else b (broadcasting all three). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = a instanceof Tensor || b instanceof Tensor ? operands("where", a, b) : [scalar(a, cond.device, "float32"), scalar(b, cond.device, "float32")];
  const dtype = promoteTypes(x.dtype, y.dtype);
  const xx = x.dtype === dtype ? x : x.to(dtype);
  const yy = y.dtype === dtype ? y : y.to(dtype);
  const bk = backendOf("where", [cond, xx, yy]);
  const outShape = broadcastShapes("where", broadcastShapes("where", cond.shape, x.shape), y.shape);
  const c = cond.dtype === "bool" ? cond : cond.ne(0);
  const data = bk.ops.where(c._d, xx._d, yy._d, { outShape });
  return apply("where", [x, y], data, (g) => [where(c, g, 0), where(c, 0, g)]);
}

/** input + value · tensor1 · tensor2, element-wise with broadcasting (torch.addcmul), in one kernel; float32. */
export function addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, opts: { value?: number } = {}): Tensor {
  const value = opts.value ?? 1;
  for (const [name, t] of [["input", input], ["tensor1", tensor1], ["tensor2", tensor2]] as const) {
    if (!(t instanceof Tensor)) throw new Error(`addcmul: ${name} must be a tensor, got ${typeof t}`);
    if (t.dtype !== "float32") throw new Error(`addcmul: ${name} must be float32, got ${t.dtype} (convert with .float())`);
  }
  if (typeof value !== "number") throw new Error(`addcmul: value must be a number, got ${typeof value}`);
  const t2 = value === 1 ? tensor2 : tensor2.mul(value);
  const b = backendOf("addcmul", [input, tensor1, t2]);
  const outShape = broadcastShapes("addcmul", broadcastShapes("addcmul", input.shape, tensor1.shape), t2.shape);
  return apply("addcmul", [input, tensor1, t2], b.ops.addcmul(input._d, tensor1._d, t2._d, { outShape }), (g) => [g, g.mul(t2), g.mul(tensor1)]);
}

/** Clamps to [min, max]; the gradient passes where the value was not clamped. */
export function clamp(x: Tensor, min: number | null = null, max: number | null = null): Tensor {
  if (min === null && max === null) throw new Error("clamp: at least one of min and max must be given");
  const b = backendOf("clamp", [x]);
  return apply("clamp", [x], b.ops.clamp(x._d, { min, max }), (g) => {
    let mask = x.eq(x);
    if (min !== null) mask = mask.logicalAnd(x.ge(min));
    if (max !== null) mask = mask.logicalAnd(x.le(max));
    return [g.mul(mask)];
  });
}

/** Leaky ReLU: x for x > 0, slope * x otherwise. */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return where(x.gt(0), x, x.mul(negativeSlope));
}

/** ELU: x for x > 0, alpha (e^x - 1) otherwise. */
export function elu(x: Tensor, alpha = 1.0): Tensor {
  return where(x.gt(0), x, x.clamp(null, 0).expm1().mul(alpha));
}
