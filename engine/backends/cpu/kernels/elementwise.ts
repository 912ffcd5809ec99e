// Large float32 element-wise ops on worker threads: exp / tanh / sigmoid and
// +, -, *, /, tanh / sigmoid / relu gradients, with the WASM functions of
// ../wasm/elementwise-funcs.ts, which compute the same bits as the CPU backend's
// TypeScript loops (../loops.ts). The operands are copied into the shared WASM
// memory, ranges of it go to the threads, the result is copied out.
//
// unaryF32 / binaryF32 return false when they do not apply (op not covered, too
// small, no WASM SIMD): the caller then runs its own loop. They use WASM on one
// thread too: faster than the TypeScript loops, copies included (BENCHMARKS.md).

import { ensureMemory, wasmInstance, type WasmInstance } from "../wasm/runtime.ts";
import { runTasks, splitRange, TaskList, threadsFor, worthThreads, type FnName } from "../wasm/threads.ts";

const UNARY: Record<string, FnName> = { exp: "ew_exp", tanh: "ew_tanh", sigmoid: "ew_sigmoid" };
const BINARY: Record<string, FnName> = {
  add: "ew_add", sub: "ew_sub", mul: "ew_mul", div: "ew_div",
  tanhGrad: "ew_tanhgrad", sigmoidGrad: "ew_sigmoidgrad", reluGrad: "ew_relugrad",
};

/**
 * Elements from which the WASM functions pay, copies in and out included (about 0.3 ns an
 * element): exp / tanh / sigmoid cost 10-20 ns an element in TypeScript, the binary ops about 2.5.
 */
const MIN_UNARY = 1 << 13;
const MIN_BINARY = 1 << 14;
/** Binary ops go to the worker threads from this many elements (measured on 2 cores). */
const MIN_BINARY_THREADS = 1 << 17;

/**
 * On one thread, operands and results pass through the WASM memory in chunks of this many
 * floats, which stay in the core's L2 cache between the copy in, the function and the copy out
 * (copying whole arrays in and out went through L3 or DRAM: measured in BENCHMARKS.md).
 */
const CHUNK = 1 << 14;
/**
 * Floats between the chunks' slots in the WASM memory: not a multiple of 4 KiB, so that a load
 * and a store of the same element of two slots do not share their low 12 address bits (the
 * core's "4K aliasing" stalls: slots CHUNK apart measured 5-10% slower on exp).
 */
const SLOT = CHUNK + 64;

/**
 * Runs `step(a, b, mem)` for consecutive ranges [a, b) of [0, n) of at most CHUNK elements (the
 * last one at least 4 long: it starts earlier when needed, repeating a few elements), with the
 * memory grown to three chunks.
 */
function streamed(w: WasmInstance, n: number, step: (a: number, b: number, mem: Float32Array) => void): void {
  const mem = ensureMemory(w, 3 * SLOT * 4);
  for (let a = 0; a < n; a += CHUNK) {
    const b = Math.min(n, a + CHUNK);
    step(Math.min(a, b - 4), b, mem);
  }
}

/** Splits n elements into task ranges of whole 4-float groups (the last range takes the rest); each >= 4. */
function ranges(n: number, parts: number): [number, number][] {
  const g = n >> 2;
  const r = splitRange(g, parts, 256).map(([a, b]) => [a * 4, b * 4] as [number, number]);
  r[r.length - 1][1] = n;
  return r;
}

/** out[i] = op(x[i]) for exp / tanh / sigmoid, on the threads; false if not done. */
export function unaryF32(op: string, x: Float32Array, out: Float32Array): boolean {
  const fn = UNARY[op];
  const n = x.length;
  if (!fn || n < 4 || out.length !== n || !worthThreads(n, MIN_UNARY)) return false;
  const w = wasmInstance();
  if (!w) return false;
  // (on one thread too: the WASM functions are 3-7x faster than the TypeScript loops, copies included)
  const threads = threadsFor(w);
  if (threads === 1) {
    streamed(w, n, (a, b, mem) => {
      mem.set(x.subarray(a, b), 0);
      w.exports[fn](0, SLOT * 4, b - a);
      out.set(mem.subarray(SLOT, SLOT + b - a), a);
    });
    return true;
  }
  const src = 0, dst = Math.ceil(n / 4) * 4;
  const top = dst + n;
  let mem = ensureMemory(w, top * 4);
  mem.set(x, src);
  const tasks = new TaskList();
  for (const [a, b] of ranges(n, 2 * threads)) tasks.task().call(fn, (src + a) * 4, (dst + a) * 4, b - a);
  runTasks(w, tasks, top * 4, (bytes) => void ensureMemory(w, bytes));
  mem = w.f32;
  out.set(mem.subarray(dst, dst + n));
  return true;
}

/**
 * out[i] = a[i*sa] op b[i*sb] (sa, sb: 1, or 0 for a single value) for the ops in BINARY, on the
 * threads; false if not done.
 */
export function binaryF32(op: string, a: Float32Array, sa: number, b: Float32Array, sb: number, out: Float32Array, n: number): boolean {
  const fn = BINARY[op];
  if (!fn || n < 4 || (sa === 0 && sb === 0) || !worthThreads(n, MIN_BINARY)) return false;
  const w = wasmInstance();
  if (!w) return false;
  const threads = threadsFor(w);
  if (threads === 1 || !worthThreads(n, MIN_BINARY_THREADS)) {
    // memory (floats): a chunk of a (or 4 copies of a single value) | of b | of out
    const pb = SLOT, dst = 2 * SLOT;
    streamed(w, n, (x, y, mem) => {
      if (sa) mem.set(a.subarray(x, y), 0);
      else if (x === 0) mem.fill(a[0], 0, 4);
      if (sb) mem.set(b.subarray(x, y), pb);
      else if (x === 0) mem.fill(b[0], pb, pb + 4);
      w.exports[fn](0, sa, pb * 4, sb, dst * 4, y - x);
      out.set(mem.subarray(dst, dst + y - x), x);
    });
    return true;
  }
  // memory (floats): a (or 4 copies of it) | b (likewise) | out
  const size = (s: number) => (s ? Math.ceil(n / 4) * 4 : 4);
  const pa = 0, pb = pa + size(sa), dst = pb + size(sb);
  const top = dst + n;
  let mem = ensureMemory(w, top * 4);
  if (sa) mem.set(a.subarray(0, n), pa);
  else mem.fill(a[0], pa, pa + 4);
  if (sb) mem.set(b.subarray(0, n), pb);
  else mem.fill(b[0], pb, pb + 4);
  const tasks = new TaskList();
  for (const [x, y] of ranges(n, 2 * threads)) tasks.task().call(fn, (pa + x * sa) * 4, sa, (pb + x * sb) * 4, sb, (dst + x) * 4, y - x);
  runTasks(w, tasks, top * 4, (bytes) => void ensureMemory(w, bytes));
  mem = w.f32;
  out.set(mem.subarray(dst, dst + n));
  return true;
}
