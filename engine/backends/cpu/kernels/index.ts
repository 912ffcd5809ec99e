// Raw CPU compute kernels on typed arrays (float32, row-major / NCHW).
// No dependency on the rest of the engine; no Node-only imports.
export { gemm, gemmReference, gemmWasm, initCpuKernels, setGemmBackend, cpuKernelInfo, type CpuKernelOptions } from "./gemm.ts";
export {
  conv2dOutputSize, conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, type Conv2dParams,
} from "./conv.ts";
export {
  pool2dOutputSize, maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward,
  type Pool2dParams, type AvgPool2dParams,
} from "./pool.ts";
