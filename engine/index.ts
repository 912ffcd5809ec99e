/**
 * gradbook's engine: tensors, reverse-mode autograd, nn, optim, data and models.
 *
 *   import * as gb from "gradbook";
 *   const x = gb.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 *   const y = x.square().sum();
 *   await y.backward();
 *   console.log(x.grad);   // tensor([[2., 4.], [6., 8.]])
 */
export { Tensor, type NestedArray } from "./tensor.js";
export type { DType, TypedArray } from "./dtype.js";
export { manualSeed } from "./random.js";
export { device, setDefaultDevice, registerBackend, type Device } from "./device.js";
export { initGpu, setBackend, ready, hasGpu, gpuFailure, gpuMemory, gpuSync, setGpuMemoryLimit, releaseGpu, tidy, keep, dispose, toDevice, type GpuInitOptions, type GpuMemoryInfo } from "./backends/webgpu/api.js";
export { memoryStats, emptyCache, type MemoryStats } from "./memory.js";
export { noGrad, enableGrad, isGradEnabled, detectAnomaly, setDetectAnomaly } from "./autograd.js";
export { setNumThreads, getNumThreads } from "./backends/cpu/wasm/threads.js";
export * from "./ops/creation.js";
export {
  add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, logicalNot,
  neg, exp, log, log1p, expm1, sqrt, rsqrt, abs, sign, square, reciprocal, sin, cos, floor, ceil, round,
  sigmoid, tanh, relu, softplus, step, heaviside, where, clamp, addcmul,
} from "./ops/elementwise.js";
export { sum, mean, prod, max, min, argmax, argmin, any, all, variance as var, std, logsumexp, softmax, logSoftmax, norm } from "./ops/reduce.js";
export { reshape, flatten, squeeze, unsqueeze, permute, transpose, expand, repeat, slice, index, narrow, cat, stack, split, chunk, pad, gather, scatterAdd, indexSelect, flip, type IndexSpec } from "./ops/movement.js";
export { matmul, mm, bmm, dot, outer } from "./ops/linalg.js";
export * as autograd from "./functional-autograd.js";
export * as nn from "./nn/index.js";
export { saveFile as save, loadFile as load } from "./nn/safetensors.js";
export * as optim from "./optim/index.js";
export * as data from "./data/index.js";
export * as datasets from "./data/datasets.js";
export * as models from "./models/index.js";

/** dtype names, as torch.float32 / torch.int32 / torch.bool. */
export const float32 = "float32" as const;
export const int32 = "int32" as const;
export const bool = "bool" as const;
