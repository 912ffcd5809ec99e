/**
 * gb.nn.init: in-place initialisation of parameters (the trailing underscore means
 * "in place", as in PyTorch). Random values come from the engine's seeded generator
 * (gb.manualSeed), so they are reproducible but not the same numbers PyTorch draws.
 */
import { noGrad } from "../autograd.js";
import { full } from "../ops/creation.js";
import { random, randomNormal } from "../random.js";
import { shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";

export type Nonlinearity =
  | "linear" | "identity" | "conv1d" | "conv2d" | "conv3d" | "convTranspose1d" | "convTranspose2d" | "convTranspose3d"
  | "conv_transpose1d" | "conv_transpose2d" | "conv_transpose3d" | "sigmoid" | "tanh" | "relu" | "leakyRelu" | "leaky_relu" | "selu";

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). `param` is leakyRelu's negative slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity | string, param?: number): number {
  switch (nonlinearity) {
    case "linear": case "identity": case "sigmoid":
    case "conv1d": case "conv2d": case "conv3d":
    case "convTranspose1d": case "convTranspose2d": case "convTranspose3d":
    case "conv_transpose1d": case "conv_transpose2d": case "conv_transpose3d":
      return 1;
    case "tanh": return 5 / 3;
    case "relu": return Math.SQRT2;
    case "leakyRelu": case "leaky_relu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu": return 3 / 4;
    default: throw new Error(`calculateGain: unsupported nonlinearity "${nonlinearity}"`);
  }
}

/** [fanIn, fanOut] of a weight: dims 1 and 0 times the receptive field (torch's _calculate_fan_in_and_fan_out). */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  if (t.ndim < 2) throw new Error(`init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (shape ${shapeStr(t.shape)})`);
  let rf = 1;
  for (let i = 2; i < t.ndim; i++) rf *= t.shape[i];
  return [t.shape[1] * rf, t.shape[0] * rf];
}

function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => t.assign(make()));
  return t;
}

/** Host values from the engine's generator, in one pass (large layers: tens of millions of draws). */
function draw(t: Tensor, f: (rnd: () => number) => (i: number) => number, gen: () => number): Tensor {
  if (t.dtype !== "float32") throw new Error(`init: expected a float32 tensor, got ${t.dtype}`);
  const n = t.numel();
  const v = new Float32Array(n);
  const g = f(gen);
  for (let i = 0; i < n; i++) v[i] = g(i);
  return Tensor.fromData(v, [...t.shape], "float32", t.device);
}

/** Fills with U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  const w = b - a;
  return fill(t, () => draw(t, (rnd) => () => a + w * rnd(), random));
}
/** Fills with N(mean, std^2). */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return fill(t, () => draw(t, (rnd) => () => mean + std * rnd(), randomNormal));
}
export function constant_(t: Tensor, value: number): Tensor {
  return fill(t, () => full(t.shape, value, { dtype: t.dtype, device: t.device }));
}
export const zeros_ = (t: Tensor) => constant_(t, 0);
export const ones_ = (t: Tensor) => constant_(t, 1);

/** Fills a 2-D tensor with the identity (torch.nn.init.eye_). */
export function eye_(t: Tensor): Tensor {
  if (t.ndim !== 2) throw new Error(`eye_: only 2-D tensors are supported, got shape ${shapeStr(t.shape)}`);
  const [n, m] = t.shape;
  const v = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) v[i * m + i] = 1;
  return fill(t, () => Tensor.fromData(v, [n, m], "float32", t.device));
}

/** Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [fi, fo] = calculateFanInAndFanOut(t);
  const b = gain * Math.sqrt(6 / (fi + fo));
  return uniform_(t, -b, b);
}
/** Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const [fi, fo] = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fi + fo)));
}

export interface KaimingOptions {
  /** leakyRelu's negative slope (a = sqrt(5) gives PyTorch's default layer initialisation). */
  a?: number;
  mode?: "fanIn" | "fanOut" | "fan_in" | "fan_out";
  nonlinearity?: Nonlinearity | string;
}

function kaimingStd(op: string, t: Tensor, opts: KaimingOptions): number {
  const [fi, fo] = calculateFanInAndFanOut(t);
  const mode = opts.mode ?? "fanIn";
  if (!["fanIn", "fanOut", "fan_in", "fan_out"].includes(mode)) throw new Error(`${op}: mode must be "fanIn" or "fanOut", got "${mode}"`);
  const fan = mode === "fanIn" || mode === "fan_in" ? fi : fo;
  const gain = calculateGain(opts.nonlinearity ?? "leakyRelu", opts.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** He uniform: U(-b, b), b = gain * sqrt(3 / fan) (torch.nn.init.kaiming_uniform_; default nonlinearity leakyRelu with a = 0). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd("kaimingUniform_", t, opts);
  return uniform_(t, -b, b);
}
/** He normal: N(0, std^2), std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd("kaimingNormal_", t, opts));
}
