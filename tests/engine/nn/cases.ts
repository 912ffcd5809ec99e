// gb.nn.functional's PyTorch reference cases (reference.json, made by make_reference.py) and the
// table that runs each case's op, shared by the CPU test (functional.test.ts) and the WebGPU one.
import { readFileSync } from "node:fs";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";

const F = gb.nn.F;

export interface Input { shape: number[]; dtype: "float32" | "int32" | "bool"; data: number[]; grad: boolean }
export interface Case {
  name: string;
  op: string;
  opts: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  inputs: (Input | null)[];
  out: { shape: number[]; data: number[] };
  extraOuts?: { shape: number[]; data: number[] }[];
  gout?: number[];
  grads?: (number[] | null)[];
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
export const cases: Case[] = ref.functional;

/** A reference input as a tensor on the default device (requiring grad where the case differentiates it). */
export function toTensor(i: Input | null): Tensor | null {
  if (!i) return null;
  const t = gb.tensor(i.dtype === "float32" ? Float32Array.from(i.data) : i.dtype === "int32" ? Int32Array.from(i.data) : Uint8Array.from(i.data), { shape: i.shape, dtype: i.dtype });
  return i.grad ? t.requiresGrad_(true) : t;
}

export type Fn = (x: (Tensor | null)[], o: Case["opts"]) => Tensor | Tensor[];
const T = (t: Tensor | null) => t as Tensor;
export const OPS: Record<string, Fn> = {
  linear: ([x, w, b]) => F.linear(T(x), T(w), b),
  bilinear: ([a, c, w, b]) => F.bilinear(T(a), T(c), T(w), b),
  conv2d: ([x, w, b], o) => F.conv2d(T(x), T(w), b, o),
  convTranspose2d: ([x, w, b], o) => F.convTranspose2d(T(x), T(w), b, o),
  maxPool2d: ([x], o) => F.maxPool2d(T(x), o.kernelSize, { ...o, returnIndices: true }),
  avgPool2d: ([x], o) => F.avgPool2d(T(x), o.kernelSize, o),
  adaptiveAvgPool2d: ([x], o) => F.adaptiveAvgPool2d(T(x), o.outputSize),
  relu: ([x]) => F.relu(T(x)),
  sigmoid: ([x]) => F.sigmoid(T(x)),
  tanh: ([x]) => F.tanh(T(x)),
  leakyRelu: ([x], o) => F.leakyRelu(T(x), o.negativeSlope),
  elu: ([x], o) => F.elu(T(x), o.alpha),
  softmax: ([x], o) => F.softmax(T(x), o.dim),
  logSoftmax: ([x], o) => F.logSoftmax(T(x), o.dim),
  heaviside: ([x], o) => F.heaviside(T(x), o.values),
  step: ([x]) => F.step(T(x)),
  gelu: ([x]) => F.gelu(T(x)),
  silu: ([x]) => F.silu(T(x)),
  softplus: ([x]) => F.softplus(T(x)),
  relu6: ([x]) => F.relu6(T(x)),
  logsigmoid: ([x]) => F.logsigmoid(T(x)),
  localResponseNorm: ([x], o) => F.localResponseNorm(T(x), o.size, o.alpha, o.beta, o.k),
  batchNorm: ([x, rm, rv, w, b], o) => {
    const y = F.batchNorm(T(x), rm, rv, w, b, o.training, o.momentum, o.eps);
    return rm && rv ? [y, rm, rv] : y;
  },
  layerNorm: ([x, w, b], o) => F.layerNorm(T(x), o.normalizedShape, w, b),
  mseLoss: ([a, c], o) => F.mseLoss(T(a), T(c), o),
  l1Loss: ([a, c], o) => F.l1Loss(T(a), T(c), o),
  smoothL1Loss: ([a, c], o) => F.smoothL1Loss(T(a), T(c), o),
  binaryCrossEntropy: ([a, c, w], o) => F.binaryCrossEntropy(T(a), T(c), { ...o, weight: w }),
  binaryCrossEntropyWithLogits: ([a, c, w, p], o) => F.binaryCrossEntropyWithLogits(T(a), T(c), { ...o, weight: w ?? null, posWeight: p ?? null }),
  crossEntropy: ([a, t, w], o) => F.crossEntropy(T(a), T(t), { ...o, weight: w ?? null }),
  nllLoss: ([a, t, w], o) => F.nllLoss(T(a), T(t), { ...o, weight: w }),
  hingeLoss: ([a, t], o) => F.hingeLoss(T(a), T(t), o),
  multiMarginLoss: ([a, t, w], o) => F.multiMarginLoss(T(a), T(t), { ...o, weight: w }),
  hingeEmbeddingLoss: ([a, t], o) => F.hingeEmbeddingLoss(T(a), T(t), o),
  klDiv: ([a, t], o) => F.klDiv(T(a), T(t), o),
  cosineSimilarity: ([a, c], o) => F.cosineSimilarity(T(a), T(c), o.dim),
};

/** Sums over many terms (convolutions, LRN windows) accumulate float32 rounding: scale atol. */
export function tolFor(c: Case): number {
  if (c.op === "conv2d" || c.op === "convTranspose2d") return 1e-4;
  if (c.op === "bilinear" || c.op === "batchNorm" || c.op === "localResponseNorm" || c.op === "layerNorm") return 3e-5;
  return 1e-5;
}
