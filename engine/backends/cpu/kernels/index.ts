// Raw CPU compute kernels on typed arrays (float32, row-major / NCHW), with the
// semantics of PyTorch's conv2d / conv_transpose2d (via the three conv
// functions) / max_pool2d / avg_pool2d and their gradients.
// No dependency on the rest of the engine but its shape arithmetic (engine/shape.ts: the conv and
// pooling output sizes); no Node-only imports (runs in browsers).
//
// Speed: the WASM paths call the SIMD module (../wasm/: generated at run time, no build step,
// no committed binary), which carries the GEMM micro-kernel, implicit-GEMM convolution
// functions (stride 1: no im2col), weight-gradient dot products, operand packing, 2x2 pooling
// and its gradients, strided copies and element-wise loops. Everything falls back to plain TypeScript where WebAssembly
// SIMD is missing.
//
//  - initWasm(opts?): compiles the SIMD module asynchronously. Optional in Node
//    and workers (the module compiles synchronously on first use); a browser main
//    thread should call it at start-up (until it resolves, the TypeScript kernels
//    run). In Node 20, pass { v8SetFlags: v8.setFlagsFromString } from an entry
//    point to get relaxed-SIMD fused multiply-add (~+20-30%).
//  - setWasmMode("auto" | "js" | "wasm"): "js" turns every WASM path off (GEMM, convolutions,
//    pooling, element-wise), for tests and benchmarks.
//  - setWasmFma(false): the exact-bits mode (no fused multiply-add; by default FMA is used
//    where the engine has relaxed SIMD, found at run time).
//  - wasmInfo(): whether the SIMD module is in use, with FMA, on how many threads, and which of
//    its exports run as native kernels (Node: ../native/, the same bits) or why none do.
//  - setCpuNative(false): the SIMD module's own exports in Node too (GB_CPU_NATIVE=0 at start-up).
//  - gemmReference: the cache-blocked TypeScript GEMM (fallback and test oracle).
//  - setNumThreads(n) / getNumThreads(): worker threads for the WASM kernels (../wasm/threads.ts:
//    GEMM and convolutions (element-wise ops in elementwise.ts only when forced); results are
//    bit-identical for every n, and n = 1 runs the single-threaded code as before).
export { setNumThreads, getNumThreads } from "../wasm/threads.ts";
export { initWasm, setCpuNative, setWasmFma, setWasmMode, wasmInfo, type WasmMode, type WasmOptions } from "../wasm/runtime.ts";
export { gemm, gemmReference, gemmWasm } from "./gemm.ts";
export { conv2dOutputSize, pool2dOutputSize } from "../../../shape.ts";
export { conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, type Conv2dParams } from "./conv.ts";
export {
  maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward, avgPool2dActBackward, maxPool2dReluBackward,
  type Pool2dParams, type AvgPool2dParams, type PoolAct,
} from "./pool.ts";
