/**
 * gb.nn.functional (also gb.nn.F): the stateless building blocks of networks —
 * linear and convolution layers, pooling, activations, dropout, normalisation
 * and losses — with PyTorch's semantics and camelCase names.
 *
 *   const F = gb.nn.F;
 *   const h = F.relu(F.conv2d(x, w, b, { padding: 1 }));
 *   const loss = F.crossEntropy(logits, labels, { labelSmoothing: 0.1 });
 */
import { noGrad } from "../autograd.js";
import { shapeStr, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { matmulT } from "../ops/linalg.js";
import { checkFloat } from "../ops/util.js";
import * as ew from "../ops/elementwise.js";
import * as red from "../ops/reduce.js";
import * as mv from "../ops/movement.js";
import { rand } from "../ops/creation.js";

export { conv2d, convTranspose2d, maxPool2d, avgPool2d, adaptiveAvgPool2d } from "./conv-ops.js";
export type { Conv2dOptions, ConvTranspose2dOptions, MaxPool2dOptions, AvgPool2dOptions, Pair } from "./conv-ops.js";
export { pad, flatten } from "../ops/movement.js";
export { oneHot } from "../ops/creation.js";
export * from "./losses.js";

// ---------------------------------------------------------------- linear

/** y = x w^T + b, as torch.nn.functional.linear: x [..., in], weight [out, in], bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  checkFloat("linear", x);
  checkFloat("linear", weight);
  if (weight.ndim !== 2 && weight.ndim !== 1) throw new Error(`linear: expected a 2-D weight [out, in], got weight of shape ${shapeStr(weight.shape)}`);
  const inF = weight.shape[weight.ndim - 1];
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF) {
    throw new Error(`linear: expected input with last dimension ${inF} (weight ${shapeStr(weight.shape)}), got input ${shapeStr(x.shape)}`);
  }
  if (weight.ndim === 1) {
    const y = x.mul(weight).sum(-1);
    return bias ? y.add(bias) : y;
  }
  if (bias && !(bias.ndim <= 1 && bias.numel() === weight.shape[0])) {
    throw new Error(`linear: expected bias of shape ${weight.shape[0]} (weight ${shapeStr(weight.shape)}), got bias ${shapeStr(bias.shape)}`);
  }
  const vec = x.ndim === 1;
  let y = matmulT(vec ? x.unsqueeze(0) : x, weight, false, true);
  if (vec) y = y.squeeze(0);
  return bias ? y.add(bias) : y;
}

/** y = x1^T A x2 + b (torch.nn.functional.bilinear): x1 [..., in1], x2 [..., in2], weight [out, in1, in2]. */
export function bilinear(x1: Tensor, x2: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.ndim !== 3 || x1.shape[x1.ndim - 1] !== weight.shape[1] || x2.shape[x2.ndim - 1] !== weight.shape[2]) {
    throw new Error(`bilinear: inputs ${shapeStr(x1.shape)} and ${shapeStr(x2.shape)} do not fit weight ${shapeStr(weight.shape)}`);
  }
  // [..., 1, 1, in1] @ [out, in1, in2] -> [..., out, 1, in2], then · x2
  const t = x1.unsqueeze(-2).unsqueeze(-2).matmul(weight).squeeze(-2);
  const y = t.mul(x2.unsqueeze(-2)).sum(-1);
  return bias ? y.add(bias) : y;
}

// ---------------------------------------------------------------- activations

export const sigmoid = ew.sigmoid;
export const tanh = ew.tanh;
export const relu = ew.relu;
export const softplus = ew.softplus;
/** The Heaviside step: 1 where x > 0, else 0 (the perceptron's activation); zero gradient. */
export const step = ew.step;
/** torch.heaviside(x, values): 0 for x < 0, `values` at x == 0, 1 for x > 0. */
export const heaviside = ew.heaviside;
/** Leaky ReLU: x for x > 0, negativeSlope * x otherwise. */
export const leakyRelu = ew.leakyRelu;
/** ELU: x for x > 0, alpha (e^x - 1) otherwise. */
export const elu = ew.elu;

/** ReLU6: min(max(x, 0), 6). */
export function relu6(x: Tensor): Tensor {
  return hardtanh(x, 0, 6);
}
/** Clamps to [minVal, maxVal] (gradient 1 inside, 0 outside). */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  return x.clamp(minVal, maxVal);
}
/** SiLU / swish: x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}
/** GELU, tanh approximation (torch's approximate="tanh"). */
export function gelu(x: Tensor): Tensor {
  const c = Math.sqrt(2 / Math.PI);
  return x.mul(0.5).mul(x.add(x.pow(3).mul(0.044715)).mul(c).tanh().add(1));
}
/** log(sigmoid(x)), computed stably. */
export function logsigmoid(x: Tensor): Tensor {
  return x.neg().softplus().neg();
}

/** Softmax along `dim` (default the last). */
export function softmax(x: Tensor, dim = -1): Tensor {
  checkFloat("softmax", x);
  return red.softmax(x, dim);
}
/** log(softmax(x)) along `dim` (default the last), computed stably. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  checkFloat("logSoftmax", x);
  return red.logSoftmax(x, dim);
}

// ---------------------------------------------------------------- dropout

/**
 * Inverted dropout: in training, zeroes each element with probability p and scales
 * the rest by 1/(1-p), so evaluation needs no rescaling. The mask comes from the
 * engine's generator (reproducible with gb.manualSeed). Identity when not training.
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability has to be between 0 and 1, but got ${p}`);
  checkFloat("dropout", x);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const mask = noGrad(() => rand(x.shape, { device: x.device }).ge(p).float().mul(1 / (1 - p)));
  return x.mul(mask);
}

// ---------------------------------------------------------------- normalisation

/**
 * Local response normalisation across channels (AlexNet), as torch's:
 * b_c = a_c / (k + alpha/size * sum_{c' in window(c)} a_{c'}^2)^beta, with the window of
 * `size` channels centred on c and zero-padded at the ends (the average always divides by size).
 */
export function localResponseNorm(x: Tensor, size: number, alpha = 1e-4, beta = 0.75, k = 1): Tensor {
  if (x.ndim < 3) throw new Error(`localResponseNorm: expected an input of 3 or more dimensions [N, C, ...], got ${shapeStr(x.shape)}`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`localResponseNorm: size must be a positive integer, got ${size}`);
  const C = x.shape[1];
  const sq = x.square();
  const pads = new Array<number>(2 * (x.ndim - 1)).fill(0);
  // pad dim 1: in pad() order that is the last pair
  pads[2 * (x.ndim - 2)] = Math.floor(size / 2);
  pads[2 * (x.ndim - 2) + 1] = Math.floor((size - 1) / 2);
  const padded = mv.pad(sq, pads);
  let s = padded.slice(1, 0, C);
  for (let j = 1; j < size; j++) s = s.add(padded.slice(1, j, j + C));
  const div = s.div(size).mul(alpha).add(k).pow(beta);
  return x.div(div);
}

/**
 * Batch normalisation (torch.nn.functional.batch_norm) over [N, C], [N, C, L] or [N, C, H, W]:
 * per channel, (x - mean) / sqrt(var + eps) * weight + bias. In training it uses the batch's
 * statistics (biased variance) and updates runningMean/runningVar in place with
 * running = (1 - momentum) * running + momentum * batch (unbiased variance); in evaluation it
 * uses the running statistics.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  training = false,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  const op = "batchNorm";
  checkFloat(op, x);
  if (x.ndim < 2) throw new Error(`${op}: expected an input of 2 or more dimensions [N, C, ...], got ${shapeStr(x.shape)}`);
  const C = x.shape[1];
  for (const [name, t] of [["runningMean", runningMean], ["runningVar", runningVar], ["weight", weight], ["bias", bias]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== C)) throw new Error(`${op}: expected ${name} of shape ${C} for input ${shapeStr(x.shape)}, got ${shapeStr(t.shape)}`);
  }
  const axes = [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  let n = 1;
  for (const a of axes) n *= x.shape[a];
  let y: Tensor;
  if (training) {
    if (n <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`);
    const mean = x.mean(axes, true);
    const xc = x.sub(mean);
    const v = xc.square().mean(axes, true);
    y = xc.mul(v.add(eps).rsqrt());
    if (runningMean || runningVar) {
      noGrad(() => {
        if (runningMean) runningMean.assign(runningMean.mul(1 - momentum).add(mean.detach().reshape([C]).mul(momentum)));
        if (runningVar) runningVar.assign(runningVar.mul(1 - momentum).add(v.detach().reshape([C]).mul((momentum * n) / (n - 1))));
      });
    }
  } else {
    if (!runningMean || !runningVar) throw new Error(`${op}: runningMean and runningVar are needed in evaluation (training=false)`);
    y = x.sub(runningMean.reshape(bshape)).mul(runningVar.reshape(bshape).add(eps).rsqrt());
  }
  if (weight) y = y.mul(weight.reshape(bshape));
  if (bias) y = y.add(bias.reshape(bshape));
  return y;
}

/** Layer normalisation over the last dims `normalizedShape` (torch.nn.functional.layer_norm). */
export function layerNorm(x: Tensor, normalizedShape: number | number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
  if (!shapesEqual(x.shape.slice(x.ndim - ns.length), ns)) throw new Error(`layerNorm: input ${shapeStr(x.shape)} does not end with the normalized shape ${shapeStr(ns)}`);
  const axes = ns.map((_, i) => x.ndim - ns.length + i);
  const xc = x.sub(x.mean(axes, true));
  let y = xc.mul(xc.square().mean(axes, true).add(eps).rsqrt());
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}
