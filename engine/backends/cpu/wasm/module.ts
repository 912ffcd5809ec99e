// The SIMD module: one WebAssembly module (f32x4) that every WASM path of the CPU kernels calls,
// generated at run time by writer.ts (no build step, no committed binary; the same bytes in
// browsers and Node). runtime.ts compiles and instantiates it; threads.ts runs its functions on
// worker threads. Its functions, by family (each file documents its exports' contracts):
//  - gemm-funcs.ts: block (the GEMM micro-kernel), cblock (implicit-GEMM convolution), wblock
//    (weight-gradient dot products), vblock (the weight gradient by transposed tiles), packa / packb
//    (operand packing);
//  - copy-funcs.ts: copy2d, gather, scatteradd (strided copies: im2col, col2im, packing);
//  - pool-funcs.ts: maxpool2, maxpool2grad, avgpool2, avgpool2grad, avgpool2grad_tanh / _sigmoid /
//    _relu, maxpool2grad_relu (2x2 / stride 2 pooling; the last four with the activation's gradient);
//  - elementwise-funcs.ts: ew_* (float32 element-wise loops), addbias;
//  - reduce-funcs.ts: sumrows, addrows (sums of contiguous rows and of columns, the TypeScript loops' bits);
//  - optim-funcs.ts: sgdstep, adamstep (the optimizers' updates in place, the TypeScript loops' bits).

import { buildModule, type FuncDef } from "./writer.ts";
import { gemmFuncs } from "./gemm-funcs.ts";
import { copyFuncs } from "./copy-funcs.ts";
import { avgPool2, avgPool2GradAct, maxPool2, maxPool2Grad } from "./pool-funcs.ts";
import { addBias, elementwiseFuncs } from "./elementwise-funcs.ts";
import { addRows, sumRows } from "./reduce-funcs.ts";
import { optimFuncs } from "./optim-funcs.ts";

export interface SimdConfig {
  MR: number; // rows per GEMM micro tile
  NV: number; // f32x4 vectors per row of a micro tile (NR = 4*NV)
  UNROLL: number; // k-loop unroll factor
  fma: boolean; // use f32x4.relaxed_madd
  WR?: number; // weight-gradient tile rows (default 2)
  WK?: number; // weight-gradient tile columns (default 4)
}

export const DEFAULT_CONFIG: SimdConfig = { MR: 4, NV: 2, UNROLL: 1, fma: false, WR: 2, WK: 4 };

/** The exports a worker thread may call (threads.ts), in the order of their indices in a task record. */
export const SIMD_EXPORTS = [
  "block", "cblock", "wblock", "maxpool2", "copy2d", "gather", "scatteradd", "addbias",
  "ew_exp", "ew_tanh", "ew_sigmoid", "ew_add", "ew_sub", "ew_mul", "ew_div", "ew_tanhgrad", "ew_sigmoidgrad", "ew_relugrad",
  "packa", "packb", "vblock",
  "avgpool2", "avgpool2grad", "avgpool2grad_tanh", "avgpool2grad_sigmoid", "avgpool2grad_relu",
  "sumrows",
  "maxpool2grad", "maxpool2grad_relu",
] as const;

/**
 * The module bytes for a configuration; with `sharedMax` (pages) it imports a shared memory
 * (worker threads, see threads.ts), else an ordinary one.
 */
export function simdModuleBytes(cfg: SimdConfig = DEFAULT_CONFIG, sharedMax?: number): Uint8Array<ArrayBuffer> {
  // the GEMM family first: its functions call each other by index
  const funcs: FuncDef[] = [...gemmFuncs(cfg), maxPool2(), ...copyFuncs(), addBias(), ...elementwiseFuncs(cfg.fma), avgPool2(false), avgPool2(true), maxPool2Grad(), sumRows(), addRows(), ...optimFuncs(),
    avgPool2GradAct("tanh"), avgPool2GradAct("sigmoid"), avgPool2GradAct("relu"), maxPool2Grad(true)];
  return buildModule(funcs, sharedMax);
}
