// The optimizers' updates of CPU float32 parameters on the SIMD module (../wasm/optim-funcs.ts:
// sgdstep, adamstep), with the bits of engine/optim's TypeScript loops (tests/engine/optim/
// fused.test.ts holds both to the op-by-op updates). On the calling thread: resident arrays
// (../wasm/heap.ts) updated in place; others streamed through the WASM memory in chunks that stay
// in the core's L2 cache, the arrays the update writes (the parameter, its buffers) copied back. False where they do not apply (small arrays, no WASM
// SIMD, setWasmMode("js")): the caller runs its loop.

import { ensureMemory, operandAt, residentAddress, resultDone, serialWasmFor, type WasmInstance } from "../wasm/runtime.ts";

/** From this many floats (below, the loop costs less than the call and the copies). */
const MIN = 256;
/** Floats of each array a chunk. */
const CHUNK = 1 << 12;
/** Floats between the arrays' slots (not a multiple of 4 KiB: no 4K aliasing between them, see elementwise.ts). */
const SLOT = CHUNK + 64;

/**
 * Runs `call(addresses, n)` over consecutive chunks of the equally long `arrays`: each array read
 * and written in place where it is resident (../wasm/heap.ts), else copied into its slot of the
 * WASM memory, and the slots of the arrays marked in `written` copied back after.
 */
function streamed(w: WasmInstance, arrays: Float32Array[], written: boolean[], call: (at: number[], n: number) => void): void {
  ensureMemory(w, arrays.length * SLOT * 4);
  const at = arrays.map(() => 0);
  const n = arrays[0].length;
  // (in one call where every array is resident)
  const chunk = arrays.every((x) => residentAddress(w, x) >= 0) ? n : CHUNK;
  for (let a = 0; a < n; a += chunk) {
    const b = Math.min(n, a + chunk);
    for (let i = 0; i < arrays.length; i++) at[i] = operandAt(w, arrays[i], a, b, i * SLOT);
    call(at, b - a);
    for (let i = 0; i < arrays.length; i++) if (written[i]) resultDone(w, arrays[i], a, b, i * SLOT);
  }
}

/** SGD's terms (float32 values; lr negative) and which apply. */
export interface SgdTerms {
  weightDecay: boolean;
  nesterov: boolean;
  wd: number;
  m: number;
  damp: number;
  lr: number;
}

/** The SGD update of P in place (with the momentum buffer B, or none), as sgd.ts's loop; false if not done. */
export function sgdStepF32(P: Float32Array, G: Float32Array, B: Float32Array | null, t: SgdTerms): boolean {
  if (P.length < MIN) return false;
  const w = serialWasmFor(P, G, B);
  if (!w) return false;
  const flags = (t.weightDecay ? 1 : 0) | (B ? 2 : 0) | (B && t.nesterov ? 4 : 0);
  streamed(w, B ? [P, G, B] : [P, G], [true, false, true], sgdChunk.bind(null, w, flags, t));
  return true;
}

// (the chunks' calls: module-level functions bound to their terms, not closures made at each step,
// whose optimized code V8 drops at every full garbage collection: TurboFan compiled them again)
function sgdChunk(w: WasmInstance, flags: number, t: SgdTerms, [p, g, b]: number[], n: number): void {
  w.sgdstep(p, g, b ?? 0, n, flags, t.wd, t.m, t.damp, t.lr);
}

/** Adam's terms (float32 values; step negative): AdamW's decay (p·keep) or Adam's L2 (g + l2·p). */
export interface AdamTerms {
  decay: boolean;
  l2: boolean;
  keep: number;
  fl2: number;
  b1: number;
  a1: number;
  b2: number;
  a2: number;
  sqrtBc2: number;
  eps: number;
  step: number;
}

/** The Adam / AdamW update of P and its moments M, V in place, as adam.ts's loop; false if not done. */
export function adamStepF32(P: Float32Array, G: Float32Array, M: Float32Array, V: Float32Array, t: AdamTerms): boolean {
  if (P.length < MIN) return false;
  const w = serialWasmFor(P, G, M, V);
  if (!w) return false;
  const flags = (t.decay ? 1 : 0) | (t.l2 ? 2 : 0);
  streamed(w, [P, G, M, V], [true, false, true, true], adamChunk.bind(null, w, flags, t));
  return true;
}

function adamChunk(w: WasmInstance, flags: number, t: AdamTerms, [p, g, m, v]: number[], n: number): void {
  w.adamstep(p, g, m, v, n, flags, t.keep, t.fl2, t.b1, t.a1, t.b2, t.a2, t.sqrtBc2, t.eps, t.step);
}
