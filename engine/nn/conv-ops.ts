/**
 * Convolution and pooling as differentiable ops, micrograd style: each forward
 * runs one kernel of the op table and its backward sits right beside it.
 *
 *   conv2d           forward conv2d,              backward conv2dBackwardInput + conv2dBackwardWeight
 *   convTranspose2d  forward conv2dBackwardInput, backward conv2d (input) + conv2dBackwardWeight (roles swapped)
 *   maxPool2d        forward maxPool2d,           backward maxPool2dBackward (through the saved indices)
 *   avgPool2d        forward avgPool2d,           backward avgPool2dBackward
 *
 * Semantics (output sizes, padding rules, ceil mode, groups) are PyTorch's.
 */
import type { AvgPool2dAttrs, Conv2dAttrs, Pool2dAttrs } from "../op-table.js";
import { apply } from "../autograd.js";
import { poolOutputDim, shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import { backendOf, checkFloat } from "../ops/util.js";
import { pad as padOp } from "../ops/movement.js";

/** One number for both spatial dims, or [height, width]. */
export type Pair = number | readonly [number, number] | readonly number[];

export function pair(op: string, what: string, v: Pair): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : v.length === 1 ? [v[0], v[0]] : [v[0], v[1]];
  if (typeof v !== "number" && v.length !== 1 && v.length !== 2) throw new Error(`${op}: ${what} must be a number or a pair, got [${v.join(", ")}]`);
  if (!Number.isInteger(p[0]) || !Number.isInteger(p[1])) throw new Error(`${op}: ${what} must be integers, got (${p.join(", ")})`);
  return p;
}

const pairStr = (p: readonly number[]) => `${p[0]}x${p[1]}`;

/** Adds a batch dim to an unbatched [C, H, W] input (as PyTorch accepts); returns whether it did. */
function batched(op: string, x: Tensor, what = "input"): [Tensor, boolean] {
  if (x.ndim === 4) return [x, false];
  if (x.ndim === 3) return [x.unsqueeze(0), true];
  throw new Error(`${op}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] ${what}, got ${what} of shape ${shapeStr(x.shape)}`);
}

// ---------------------------------------------------------------- conv2d

export interface Conv2dOptions {
  stride?: Pair;
  /** Zero padding on each side, or "valid" (none) or "same" (output size = input size; stride 1 only). */
  padding?: Pair | "same" | "valid";
  dilation?: Pair;
  groups?: number;
}

/** The primitive: x [N, C, H, W], w [O, C/groups, kh, kw], symmetric padding. */
function conv2dCore(x: Tensor, w: Tensor, b: Tensor | null, attrs: Conv2dAttrs): Tensor {
  const inputs = b ? [x, w, b] : [x, w];
  const bk = backendOf("conv2d", inputs);
  const data = bk.ops.conv2d(x._d, w._d, b ? b._d : null, attrs);
  return apply("conv2d", inputs, data, (g) => {
    const k = backendOf("conv2d", [g]).ops;
    const gx = x.requiresGrad ? new Tensor(k.conv2dBackwardInput(g._d, w._d, { ...attrs, xShape: [...x.shape] }), g.device) : null;
    const gw = w.requiresGrad ? new Tensor(k.conv2dBackwardWeight(x._d, g._d, { ...attrs, wShape: [...w.shape] }), g.device) : null;
    const gb = b && b.requiresGrad ? g.sum([0, 2, 3]) : null;
    return [gx, gw, gb];
  }, { ...attrs });
}

/**
 * 2-D convolution, as torch.nn.functional.conv2d: x [N, C, H, W] (or [C, H, W]),
 * weight [O, C/groups, kh, kw], bias [O].
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const op = "conv2d";
  checkFloat(op, x);
  checkFloat(op, weight);
  const [xb, unbatched] = batched(op, x);
  const ws = weight.shape;
  if (ws.length !== 4) throw new Error(`${op}: expected a 4-D weight [O, C/groups, kh, kw], got weight of shape ${shapeStr(ws)}`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  const stride = pair(op, "stride", opts.stride ?? 1);
  const dilation = pair(op, "dilation", opts.dilation ?? 1);
  if (stride[0] < 1 || stride[1] < 1) throw new Error(`${op}: stride must be positive, got (${stride.join(", ")})`);
  if (dilation[0] < 1 || dilation[1] < 1) throw new Error(`${op}: dilation must be positive, got (${dilation.join(", ")})`);
  const C = xb.shape[1];
  if (ws[1] * groups !== C) {
    const g = groups > 1 ? ` with groups=${groups}` : "";
    throw new Error(`${op}: expected input with ${ws[1] * groups} channels (weight ${shapeStr(ws)}${g}), got input ${shapeStr(x.shape)}`);
  }
  if (ws[0] % groups !== 0) throw new Error(`${op}: out channels ${ws[0]} (weight ${shapeStr(ws)}) must be divisible by groups ${groups}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== ws[0])) {
    throw new Error(`${op}: expected bias of shape ${ws[0]} (weight ${shapeStr(ws)}), got bias ${shapeStr(bias.shape)}`);
  }
  let input = xb;
  let padding: [number, number];
  const p = opts.padding ?? 0;
  if (p === "valid") padding = [0, 0];
  else if (p === "same") {
    if (stride[0] !== 1 || stride[1] !== 1) throw new Error(`${op}: padding="same" is not supported for strided convolutions (stride ${stride.join("x")})`);
    const total = [dilation[0] * (ws[2] - 1), dilation[1] * (ws[3] - 1)];
    padding = [Math.floor(total[0] / 2), Math.floor(total[1] / 2)];
    const extra = [total[0] - 2 * padding[0], total[1] - 2 * padding[1]];
    // an even kernel: PyTorch pads the extra row/column at the bottom/right
    if (extra[0] || extra[1]) input = padOp(xb, [0, extra[1], 0, extra[0]]);
  } else if (typeof p === "string") {
    throw new Error(`${op}: padding must be a number, a pair, "same" or "valid", got "${p}"`);
  } else {
    padding = pair(op, "padding", p);
    if (padding[0] < 0 || padding[1] < 0) throw new Error(`${op}: padding must be non-negative, got (${padding.join(", ")})`);
  }
  const H = input.shape[2] + 2 * padding[0], W = input.shape[3] + 2 * padding[1];
  const kh = dilation[0] * (ws[2] - 1) + 1, kw = dilation[1] * (ws[3] - 1) + 1;
  if (H < kh || W < kw) {
    throw new Error(`${op}: input ${shapeStr(x.shape)} (padded to ${H}x${W}) is smaller than the kernel ${kh}x${kw} (weight ${shapeStr(ws)}, dilation ${pairStr(dilation)})`);
  }
  const out = conv2dCore(input, weight, bias, { stride, padding, dilation, groups });
  return unbatched ? out.squeeze(0) : out;
}

// ---------------------------------------------------------------- convTranspose2d

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  /** Extra rows/columns added at the bottom/right of the output (smaller than stride or dilation). */
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

/**
 * Transposed convolution (the gradient of conv2d with respect to its input), as
 * torch.nn.functional.conv_transpose2d: x [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw].
 * Output size: (H - 1) * stride - 2 * padding + dilation * (kh - 1) + outputPadding + 1.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = "convTranspose2d";
  checkFloat(op, x);
  checkFloat(op, weight);
  const [xb, unbatched] = batched(op, x);
  const ws = weight.shape;
  if (ws.length !== 4) throw new Error(`${op}: expected a 4-D weight [Cin, Cout/groups, kh, kw], got weight of shape ${shapeStr(ws)}`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  const stride = pair(op, "stride", opts.stride ?? 1);
  const padding = pair(op, "padding", opts.padding ?? 0);
  const dilation = pair(op, "dilation", opts.dilation ?? 1);
  const outPad = pair(op, "outputPadding", opts.outputPadding ?? 0);
  if (stride[0] < 1 || stride[1] < 1) throw new Error(`${op}: stride must be positive, got (${stride.join(", ")})`);
  if (dilation[0] < 1 || dilation[1] < 1) throw new Error(`${op}: dilation must be positive, got (${dilation.join(", ")})`);
  if (padding[0] < 0 || padding[1] < 0) throw new Error(`${op}: padding must be non-negative, got (${padding.join(", ")})`);
  for (let d = 0; d < 2; d++) {
    if (outPad[d] < 0 || outPad[d] >= Math.max(stride[d], dilation[d])) {
      throw new Error(`${op}: outputPadding (${outPad.join(", ")}) must be non-negative and smaller than either stride (${stride.join(", ")}) or dilation (${dilation.join(", ")})`);
    }
  }
  const [N, Cin, H, W] = xb.shape;
  if (ws[0] !== Cin) throw new Error(`${op}: expected input with ${ws[0]} channels (weight ${shapeStr(ws)}), got input ${shapeStr(x.shape)}`);
  if (Cin % groups !== 0) throw new Error(`${op}: in channels ${Cin} (weight ${shapeStr(ws)}) must be divisible by groups ${groups}`);
  const Cout = ws[1] * groups;
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== Cout)) {
    throw new Error(`${op}: expected bias of shape ${Cout} (weight ${shapeStr(ws)}, groups ${groups}), got bias ${shapeStr(bias.shape)}`);
  }
  const OH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (ws[2] - 1) + outPad[0] + 1;
  const OW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (ws[3] - 1) + outPad[1] + 1;
  if (OH < 1 || OW < 1) throw new Error(`${op}: output size ${OH}x${OW} would be empty (input ${shapeStr(x.shape)}, weight ${shapeStr(ws)}, padding ${pairStr(padding)})`);
  const attrs: Conv2dAttrs = { stride, padding, dilation, groups };
  const outShape = [N, Cout, OH, OW];
  const inputs = bias ? [xb, weight, bias] : [xb, weight];
  const bk = backendOf(op, inputs);
  let data = bk.ops.conv2dBackwardInput(xb._d, weight._d, { ...attrs, xShape: outShape });
  if (bias) {
    // add the bias without recording (the op's backward handles it)
    const bsum = bk.ops.binary(data, bk.ops.reshape(bias._d, { shape: [1, Cout, 1, 1] }), { op: "add", outShape, outDtype: "float32" });
    data = bsum;
  }
  const out = apply(op, inputs, data, (g) => {
    const k = backendOf(op, [g]).ops;
    let gx: Tensor | null = null;
    if (xb.requiresGrad) {
      gx = new Tensor(k.conv2d(g._d, weight._d, null, attrs), g.device);
      // with outputPadding >= stride (allowed when dilation > stride) conv2d sees extra rows: drop them
      if (gx.shape[2] !== H || gx.shape[3] !== W) gx = gx.slice(2, 0, H).slice(3, 0, W);
    }
    const gw = weight.requiresGrad ? new Tensor(k.conv2dBackwardWeight(g._d, xb._d, { ...attrs, wShape: [...ws] }), g.device) : null;
    const gb = bias && bias.requiresGrad ? g.sum([0, 2, 3]) : null;
    return [gx, gw, gb];
  }, { ...attrs, outputPadding: outPad });
  return unbatched ? out.squeeze(0) : out;
}

// ---------------------------------------------------------------- pooling

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
  returnIndices?: boolean;
}

function poolAttrs(op: string, x: Tensor, kernelSize: Pair, opts: { stride?: Pair | null; padding?: Pair; dilation?: Pair; ceilMode?: boolean }): Pool2dAttrs {
  const kernel = pair(op, "kernelSize", kernelSize);
  const stride = pair(op, "stride", opts.stride ?? kernel);
  const padding = pair(op, "padding", opts.padding ?? 0);
  const dilation = pair(op, "dilation", opts.dilation ?? 1);
  if (kernel[0] < 1 || kernel[1] < 1) throw new Error(`${op}: kernelSize must be positive, got (${kernel.join(", ")})`);
  if (stride[0] < 1 || stride[1] < 1) throw new Error(`${op}: stride must be positive, got (${stride.join(", ")})`);
  if (dilation[0] < 1 || dilation[1] < 1) throw new Error(`${op}: dilation must be positive, got (${dilation.join(", ")})`);
  if (padding[0] < 0 || padding[1] < 0 || padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new Error(`${op}: padding (${padding.join(", ")}) must be at most half of the kernel size (input ${shapeStr(x.shape)}, kernel ${pairStr(kernel)})`);
  }
  return { kernel, stride, padding, dilation, ceilMode: opts.ceilMode ?? false };
}

function checkPoolSize(op: string, x: Tensor, a: { kernel: [number, number]; stride: [number, number]; padding: [number, number]; ceilMode: boolean }, dilation: [number, number]): void {
  const oh = poolOutputDim(x.shape[2], a.kernel[0], a.stride[0], a.padding[0], dilation[0], a.ceilMode);
  const ow = poolOutputDim(x.shape[3], a.kernel[1], a.stride[1], a.padding[1], dilation[1], a.ceilMode);
  if (oh < 1 || ow < 1) {
    throw new Error(`${op}: output size ${oh}x${ow} is too small: input ${shapeStr(x.shape)} with kernel ${pairStr(a.kernel)}, stride ${pairStr(a.stride)}, padding ${pairStr(a.padding)}, dilation ${pairStr(dilation)}`);
  }
}

/**
 * 2-D max pooling, as torch.nn.functional.max_pool2d. With `returnIndices`
 * returns [output, indices] (int32, flat within each H x W plane, as PyTorch).
 */
export function maxPool2d(x: Tensor, kernelSize: Pair, opts?: MaxPool2dOptions & { returnIndices?: false }): Tensor;
export function maxPool2d(x: Tensor, kernelSize: Pair, opts: MaxPool2dOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool2d(x: Tensor, kernelSize: Pair, opts: MaxPool2dOptions = {}): Tensor | [Tensor, Tensor] {
  const op = "maxPool2d";
  checkFloat(op, x);
  const [xb, unbatched] = batched(op, x);
  const attrs = poolAttrs(op, x, kernelSize, opts);
  checkPoolSize(op, xb, attrs, attrs.dilation);
  const bk = backendOf(op, [xb]);
  const [outD, idxD] = bk.ops.maxPool2d(xb._d, attrs);
  const indices = new Tensor(idxD, xb.device);
  let out = apply(op, [xb], outD, (g) => {
    const k = backendOf(op, [g]).ops;
    return [new Tensor(k.maxPool2dBackward(g._d, idxD, { xShape: [...xb.shape] }), g.device)];
  }, { ...attrs }, (g, _out, y) => {
    // fused with the gradient of a relu before the pooling, where the backend has it
    const a = y.gradFn!, b = backendOf(op, [g]), z = a.inputs[0];
    if (a.op !== "relu" || !b.maxPool2dReluBackward || z.device !== g.device) return null;
    const d = b.maxPool2dReluBackward(g._d, idxD, z._d, { xShape: [...y.shape] });
    return d && new Tensor(d, g.device);
  });
  let idx = indices;
  if (unbatched) {
    out = out.squeeze(0);
    idx = idx.squeeze(0);
  }
  return opts.returnIndices ? [out, idx] : out;
}

export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair | null;
  padding?: Pair;
  ceilMode?: boolean;
  /** Count the zero padding in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
}

/** 2-D average pooling, as torch.nn.functional.avg_pool2d. */
export function avgPool2d(x: Tensor, kernelSize: Pair, opts: AvgPool2dOptions = {}): Tensor {
  const op = "avgPool2d";
  checkFloat(op, x);
  const [xb, unbatched] = batched(op, x);
  const pa = poolAttrs(op, x, kernelSize, { ...opts, dilation: 1 });
  const attrs: AvgPool2dAttrs = { kernel: pa.kernel, stride: pa.stride, padding: pa.padding, ceilMode: pa.ceilMode, countIncludePad: opts.countIncludePad ?? true };
  checkPoolSize(op, xb, attrs, [1, 1]);
  const bk = backendOf(op, [xb]);
  const out = apply(op, [xb], bk.ops.avgPool2d(xb._d, attrs), (g) => {
    const k = backendOf(op, [g]).ops;
    return [new Tensor(k.avgPool2dBackward(g._d, { ...attrs, xShape: [...xb.shape] }), g.device)];
  }, { ...attrs }, (g, _out, y) => poolActivationGrad(g, y, attrs));
  return unbatched ? out.squeeze(0) : out;
}

/**
 * The fused backward rule of avgPool2d over an activation's output y (LeNet-5's tanh + pooling):
 * the gradient with respect to the activation's input in one pass, where the backend has it.
 */
function poolActivationGrad(g: Tensor, y: Tensor, attrs: AvgPool2dAttrs): Tensor | null {
  const a = y.gradFn!;
  if (a.op !== "tanh" && a.op !== "sigmoid" && a.op !== "relu") return null;
  const b = backendOf("avgPool2d", [g]);
  // what the activation's backward rule reads: tanh and sigmoid their output, relu its input
  const operand = a.op === "relu" ? a.inputs[0] : y;
  if (!b.avgPool2dActBackward || operand.device !== g.device) return null;
  const d = b.avgPool2dActBackward(g._d, operand._d, { ...attrs, xShape: [...y.shape], act: a.op });
  return d && new Tensor(d, g.device);
}

/**
 * Adaptive average pooling to a fixed output size (torch.nn.functional.adaptive_avg_pool2d):
 * output cell i averages input rows floor(i*H/OH) .. ceil((i+1)*H/OH)-1. Computed as
 * A_h · x · A_w^T with averaging matrices (exact, differentiable); a plain avgPool2d when H divides evenly.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly (number | null)[]): Tensor {
  const op = "adaptiveAvgPool2d";
  checkFloat(op, x);
  const [xb, unbatched] = batched(op, x);
  const [, , H, W] = xb.shape;
  const os = typeof outputSize === "number" ? [outputSize, outputSize] : [outputSize[0] ?? H, outputSize[outputSize.length === 1 ? 0 : 1] ?? W];
  const [OH, OW] = os as [number, number];
  if (!(Number.isInteger(OH) && OH >= 1 && Number.isInteger(OW) && OW >= 1)) throw new Error(`${op}: outputSize must be positive integers, got (${os.join(", ")})`);
  let out: Tensor;
  if (H % OH === 0 && W % OW === 0) {
    out = OH === H && OW === W ? xb : avgPool2d(xb, [H / OH, W / OW]);
  } else {
    const avgMatrix = (n: number, o: number) => {
      const m = new Float32Array(o * n);
      for (let i = 0; i < o; i++) {
        const s = Math.floor((i * n) / o), e = Math.ceil(((i + 1) * n) / o);
        for (let j = s; j < e; j++) m[i * n + j] = 1 / (e - s);
      }
      return Tensor.fromData(m, [o, n], "float32", xb.device);
    };
    const Ah = avgMatrix(H, OH), Aw = avgMatrix(W, OW);
    out = Ah.matmul(xb.matmul(Aw.t()));
  }
  return unbatched ? out.squeeze(0) : out;
}
