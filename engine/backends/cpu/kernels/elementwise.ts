// Large float32 element-wise ops on the SIMD module: exp / tanh / sigmoid and
// +, -, *, /, tanh / sigmoid / relu gradients, with the WASM functions of
// ../wasm/elementwise-funcs.ts, which compute the same bits as the CPU backend's
// TypeScript loops (../loops.ts). On the calling thread, streamed through the WASM
// memory in L2-sized chunks; on threads only when forced (MIN_UNARY_THREADS): then in
// chunks through runPipelined, ranges of a chunk on the threads while the calling
// thread copies the next chunk in and the previous results out.
//
// unaryF32 / binaryF32 return false when they do not apply (op not covered, too
// small, no WASM SIMD): the caller then runs its own loop. They use WASM on one
// thread too: faster than the TypeScript loops, copies included (BENCHMARKS.md).

import { copyIn, copyOut, ensureMemory, operandAt, residentAddress, resultAt, resultDone, serialWasmFor, wasmInstance, type WasmInstance } from "../wasm/runtime.ts";
import { runPipelined, runTasks, splitRange, TaskList, threadsFor, worthThreads, type FnName } from "../wasm/threads.ts";

const UNARY: Record<string, FnName> = { exp: "ew_exp", tanh: "ew_tanh", sigmoid: "ew_sigmoid" };
const BINARY: Record<string, FnName> = {
  add: "ew_add", sub: "ew_sub", mul: "ew_mul", div: "ew_div",
  tanhGrad: "ew_tanhgrad", sigmoidGrad: "ew_sigmoidgrad", reluGrad: "ew_relugrad",
};

/**
 * Elements from which the WASM functions pay, copies in and out included (about 0.3 ns an
 * element, and ~1 µs a call): exp / tanh / sigmoid cost 10-35 ns an element in TypeScript (exp of
 * 2,560 floats, a cross-entropy's [256, 10]: 87 µs there, 6 µs here; tanh of 128 floats about even),
 * the binary ops about 2 (x.mul(y) of 4,096 floats 10 → 3.7 µs; of 256 even). Measured interleaved
 * in one process, BENCHMARKS.md.
 */
const MIN_UNARY = 1 << 7;
const MIN_BINARY = 1 << 10;
/** A row broadcast (a bias) from this many output elements: the loop costs ~2 ns an element, a call ~50 ns a row. */
const MIN_ROW_BROADCAST = 1 << 11;
/**
 * Element-wise ops go to the worker threads from this many elements: in effect never (tests force
 * it with setMinWorkScale(0)). Their operands live in JavaScript arrays, which only the calling
 * thread can copy in and out of the WASM memory, and the copies are most of the work: in a 2-thread
 * LeNet-5 step (chrt -f 10) tanh of [256,6,28,28] took 4.1 ms on the threads against 3.6 on one,
 * its gradient 4.9 against 2.7 (BENCHMARKS.md). They pay once the tensors live in the WASM memory.
 */
const MIN_UNARY_THREADS = 1 << 30;
const MIN_BINARY_THREADS = 1 << 30;
/**
 * Where the operands and the result all live in the WASM memory (resident storage, wasm/heap.ts)
 * there is nothing to copy, and the threads compute in place from this many elements (128K: on
 * the quiet machine LeNet-5's tanh of [256,16,10,10] and the pooling of its conv2 gain from the
 * second thread, the 2-thread step 2-3% faster by wall than with 512K, the same CPU time; 512K was
 * chosen under load, where waking a worker cost as much as such an op: BENCHMARKS.md, issue 18's
 * sixth round).
 */
const MIN_RESIDENT_THREADS = 1 << 17;

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
 * On threads, the operands go through the WASM memory in chunks of this many floats (512 KiB), two sets of
 * buffers: the calling thread copies one chunk's operands in and the chunk before's results out
 * while the threads compute (runPipelined; whole arrays at once made those copies serial and
 * slow, through L3 or DRAM: the 2-thread step was slower than one thread's).
 */
const PIPE_CHUNK = 1 << 17;
/** Floats between the pipelined buffers (not a multiple of 4 KiB, as SLOT). */
const PIPE_SLOT = PIPE_CHUNK + 64;

/** The range of chunk c of n elements in chunks of `size` (the last one at least 4 long: it starts earlier when needed, repeating a few elements). */
function chunkRange(c: number, n: number, size: number): [number, number] {
  const b = Math.min(n, (c + 1) * size);
  return [Math.min(c * size, b - 4), b];
}

/**
 * Runs `step(a, b, mem)` for consecutive ranges [a, b) of [0, n) of at most CHUNK elements (the
 * last one at least 4 long: it starts earlier when needed, repeating a few elements), with the
 * memory grown to three chunks.
 */
function streamed(w: WasmInstance, n: number, step: (a: number, b: number, mem: Float32Array) => void): void {
  const mem = ensureMemory(w, 3 * SLOT * 4);
  for (let c = 0; c * CHUNK < n; c++) step(...chunkRange(c, n, CHUNK), mem);
}

/*
 * The steps given to `streamed` are module-level functions bound to their operands, not closures
 * made at each call: V8 keeps a closure's optimized code only while a closure of it lives, so such
 * closures were compiled again by TurboFan after every full garbage collection.
 */

/** unaryF32's chunk [a, b) on one thread: x's chunk at 0, out's at SLOT. */
function unaryChunk(s: WasmInstance, fn: FnName, x: Float32Array, out: Float32Array, a: number, b: number): void {
  s.exports[fn](operandAt(s, x, a, b, 0), resultAt(s, out, a, SLOT), b - a);
  resultDone(s, out, a, b, SLOT);
}

/** binaryF32's chunk [x, y) on one thread: a chunk of a (or 4 copies of a single value) at 0, of b at SLOT, of out at 2 * SLOT. */
function binaryChunk(
  s: WasmInstance, fn: FnName, a: Float32Array, sa: number, b: Float32Array, sb: number, out: Float32Array, x: number, y: number, mem: Float32Array,
): void {
  const sPb = SLOT, dst = 2 * SLOT;
  if (!sa && x === 0) mem.fill(a[0], 0, 4);
  if (!sb && x === 0) mem.fill(b[0], sPb, sPb + 4);
  const ia = sa ? operandAt(s, a, x, y, 0) : 0, ib = sb ? operandAt(s, b, x, y, sPb) : sPb * 4;
  s.exports[fn](ia, sa, ib, sb, resultAt(s, out, x, dst), y - x);
  resultDone(s, out, x, y, dst);
}

/** Splits n elements into task ranges of whole `unit`-float groups (the last range takes the rest); each >= `unit`. */
function ranges(n: number, parts: number, unit = 4): [number, number][] {
  const g = Math.floor(n / unit);
  const r = splitRange(g, parts, 1024 / unit).map(([a, b]) => [a * unit, b * unit] as [number, number]);
  r[r.length - 1][1] = n;
  return r;
}

/**
 * An element-wise op whose operands and result are all resident (used in place): on the threads
 * from MIN_RESIDENT_THREADS elements (`add(tasks, u, v)` adds a task with the call for elements
 * [u, v)), else one call made now on the calling thread (`add(null, 0, n)`). The `add`s are
 * module-level functions bound to their operands (unaryInPlace, binaryInPlace), not closures.
 */
function inPlace(w: WasmInstance, n: number, add: (tasks: TaskList | null, u: number, v: number) => void, unit = 4): void {
  const threads = worthThreads(n, MIN_RESIDENT_THREADS) ? threadsFor(w) : 1;
  if (threads === 1) {
    add(null, 0, n);
    return;
  }
  const tasks = new TaskList();
  for (const [u, v] of ranges(n, 2 * threads, unit)) add(tasks, u, v);
  runTasks(w, tasks, 64, (bytes) => void ensureMemory(w, bytes), undefined, threads);
}

/** unaryF32's call in place for elements [u, v) (x at byte px, out at po): a task of `tasks`, or made now. */
function unaryInPlace(w: WasmInstance, fn: FnName, px: number, po: number, tasks: TaskList | null, u: number, v: number): void {
  if (tasks) tasks.task().call(fn, px + u * 4, po + u * 4, v - u);
  else w.exports[fn](px + u * 4, po + u * 4, v - u);
}

/** binaryF32's call in place for elements [u, v) (a single a or b as 4 copies at bytes 0 / 16): a task of `tasks`, or made now. */
function binaryInPlace(
  w: WasmInstance, fn: FnName, pa: number, sa: number, pb: number, sb: number, po: number, tasks: TaskList | null, u: number, v: number,
): void {
  const ia = sa ? pa + u * 4 : 0, ib = sb ? pb + u * 4 : 16;
  if (tasks) tasks.task().call(fn, ia, sa, ib, sb, po + u * 4, v - u);
  else w.exports[fn](ia, sa, ib, sb, po + u * 4, v - u);
}

/** out[i] = op(x[i]) for exp / tanh / sigmoid, on the threads; false if not done. */
export function unaryF32(op: string, x: Float32Array, out: Float32Array): boolean {
  const fn = UNARY[op];
  const n = x.length;
  if (!fn || n < 4 || out.length !== n || !worthThreads(n, MIN_UNARY)) return false;
  const w = wasmInstance();
  if (!w) return false;
  const px = residentAddress(w, x), po = residentAddress(w, out);
  if (px >= 0 && po >= 0) {
    inPlace(w, n, unaryInPlace.bind(null, w, fn, px, po));
    return true;
  }
  // (on one thread too: the WASM functions are 3-7x faster than the TypeScript loops, copies included)
  const threads = worthThreads(n, MIN_UNARY_THREADS) ? threadsFor(w) : 1;
  if (threads === 1) {
    const s = serialWasmFor(x, out)!; // (on a private memory unless one is resident: faster copies)
    streamed(s, n, unaryChunk.bind(null, s, fn, x, out));
    return true;
  }
  // memory (floats): two sets of [x chunk | out chunk]
  const set = (c: number) => (c & 1) * 2 * PIPE_SLOT, top = 4 * PIPE_SLOT;
  ensureMemory(w, top * 4);
  runPipelined(
    w, Math.ceil(n / PIPE_CHUNK), top * 4, (bytes) => void ensureMemory(w, bytes),
    (c) => {
      const [a, b] = chunkRange(c, n, PIPE_CHUNK);
      copyIn(w, x, a, b, set(c));
    },
    (c, tasks) => {
      const [a, b] = chunkRange(c, n, PIPE_CHUNK), p = set(c);
      for (const [u, v] of ranges(b - a, 2 * threads)) tasks.task().call(fn, (p + u) * 4, (p + PIPE_SLOT + u) * 4, v - u);
    },
    (c) => {
      const [a, b] = chunkRange(c, n, PIPE_CHUNK), p = set(c) + PIPE_SLOT;
      copyOut(w, p, b - a, out, a);
    },
  threads,
  );
  return true;
}

/**
 * A multiple of the floats a step of ew_tanh / ew_sigmoid (4 x their 8 groups) takes: a call over a
 * multiple of it reads every element once, before writing it, so it may write over its operand
 * (otherwise its last step overlaps the one before and reads results: wasm/elementwise-funcs.ts).
 */
const OVER_UNIT = 96;

/**
 * tanh / sigmoid of a resident x written over x, its first n - n % OVER_UNIT elements (inPlace's
 * tasks over whole OVER_UNITs): how many it wrote, for the caller's loop to finish with the same
 * bits (relu: 0, the loop does it all); -1 (x untouched) where x is not in the SIMD module's memory.
 */
export function unaryOverF32(op: "tanh" | "sigmoid" | "relu", x: Float32Array): number {
  const w = wasmInstance();
  const p = w ? residentAddress(w, x) : -1;
  if (!w || p < 0) return -1;
  if (op === "relu") return 0; // (unary()'s relu is the loop, which reads each element before writing it)
  const m = x.length - (x.length % OVER_UNIT);
  if (m > 0) inPlace(w, m, unaryInPlace.bind(null, w, UNARY[op], p, p), OVER_UNIT);
  return m;
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
  const pa = residentAddress(w, a), pb = residentAddress(w, b), po = residentAddress(w, out);
  if ((pa >= 0 || !sa) && (pb >= 0 || !sb) && po >= 0) {
    // in place; a single value as 4 copies at the scratch's start
    const mem = ensureMemory(w, 32);
    if (!sa) mem.fill(a[0], 0, 4);
    if (!sb) mem.fill(b[0], 4, 8);
    inPlace(w, n, binaryInPlace.bind(null, w, fn, pa, sa, pb, sb, po));
    return true;
  }
  const threads = worthThreads(n, MIN_BINARY_THREADS) ? threadsFor(w) : 1;
  if (threads === 1) {
    // memory (floats): a chunk of a (or 4 copies of a single value) | of b | of out
    const s = serialWasmFor(a, b, out)!; // (on a private memory unless one is resident: faster copies)
    streamed(s, n, binaryChunk.bind(null, s, fn, a, sa, b, sb, out));
    return true;
  }
  // memory (floats): two sets of [a chunk | b chunk | out chunk], then 4 copies of a single a, of a single b
  const set = (c: number) => (c & 1) * 3 * PIPE_SLOT, one = 6 * PIPE_SLOT, top = one + 8;
  const mem = ensureMemory(w, top * 4);
  if (!sa) mem.fill(a[0], one, one + 4);
  if (!sb) mem.fill(b[0], one + 4, one + 8);
  runPipelined(
    w, Math.ceil(n / PIPE_CHUNK), top * 4, (bytes) => void ensureMemory(w, bytes),
    (c) => {
      const [x, y] = chunkRange(c, n, PIPE_CHUNK), p = set(c);
      if (sa) copyIn(w, a, x, y, p);
      if (sb) copyIn(w, b, x, y, p + PIPE_SLOT);
    },
    (c, tasks) => {
      const [x, y] = chunkRange(c, n, PIPE_CHUNK), p = set(c);
      const pa = sa ? p : one, pb = sb ? p + PIPE_SLOT : one + 4;
      for (const [u, v] of ranges(y - x, 2 * threads)) tasks.task().call(fn, (pa + u * sa) * 4, sa, (pb + u * sb) * 4, sb, (p + 2 * PIPE_SLOT + u) * 4, v - u);
    },
    (c) => {
      const [x, y] = chunkRange(c, n, PIPE_CHUNK), p = set(c) + 2 * PIPE_SLOT;
      copyOut(w, p, y - x, out, x);
    },
  threads,
  );
  return true;
}

/**
 * out[r * m + j] = full[r * m + j] op row[j] (or row[j] op full[r * m + j] when `rowFirst`) for
 * + − × ÷ (a bias over the rows of a batch) on the SIMD module, on the calling thread: the row
 * staged once, the rows streamed through the WASM memory in chunks (read and written in place
 * where resident), one call a row; false when it does not apply (other ops, rows under 4 floats,
 * too small, no WASM SIMD). The bits of the loop (loops.ts rowBroadcastF32).
 */
export function rowBroadcastF32Wasm(op: string, full: Float32Array, row: Float32Array, rowFirst: boolean, out: Float32Array, rows: number, m: number): boolean {
  const fn = op === "add" || op === "sub" || op === "mul" || op === "div" ? BINARY[op] : undefined;
  if (!fn || m < 4 || m > CHUNK || rows * m < MIN_ROW_BROADCAST) return false;
  const s = serialWasmFor(full, row, out);
  if (!s) return false;
  // memory (floats): the row | a chunk of whole rows of full | of out (each in place where resident)
  const per = Math.floor(CHUNK / m), pf = SLOT, dst = 2 * SLOT;
  ensureMemory(s, 3 * SLOT * 4);
  const pr = operandAt(s, row, 0, m, 0);
  for (let r0 = 0; r0 < rows; r0 += per) {
    const nr = Math.min(per, rows - r0), a = r0 * m, b = a + nr * m;
    const f = operandAt(s, full, a, b, pf), o = resultAt(s, out, a, dst);
    for (let r = 0; r < nr; r++) {
      if (rowFirst) s.exports[fn](pr, 1, f + r * m * 4, 1, o + r * m * 4, m);
      else s.exports[fn](f + r * m * 4, 1, pr, 1, o + r * m * 4, m);
    }
    resultDone(s, out, a, b, dst);
  }
  return true;
}
