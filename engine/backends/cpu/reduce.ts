// The CPU backend's reductions (sum, prod, max, min, argmax, argmin) over typed arrays.

import type { DType, TypedArray } from "../../dtype.js";
import { typedArrayFor } from "../../dtype.js";
import { emptyF32 } from "./alloc.js";
import { shapeStr } from "../../shape.js";
import { ensureMemory, operandAt, residentAddress, resultAt, resultDone, serialWasmFor, type WasmInstance } from "./wasm/runtime.js";
import { runTasks, splitRange, TaskList, threadsFor, worthThreads } from "./wasm/threads.js";

/** From this many floats, float32 row sums go through the SIMD module (below, the loop is cheaper than the copies). */
const WASM_SUM_MIN = 1 << 14;
/** Floats of rows staged in the WASM memory at a time (stays in the core's L2 cache). */
const SUM_CHUNK = 1 << 15;

/**
 * out[o] = the sum of row o (n floats) of x, for `rows` rows, by the SIMD module's sumrows (the
 * loop's bits: four running sums in double precision); false without WASM (or too small).
 */
function sumRowsWasm(x: Float32Array, n: number, rows: number, out: Float32Array): boolean {
  if (rows * n < WASM_SUM_MIN || n < 4) return false;
  const w = serialWasmFor(x, out);
  if (!w) return false;
  if (residentAddress(w, x) >= 0 && worthThreads(rows * n, MIN_RESIDENT_THREADS) && sumRowsThreaded(w, x, n, rows, out)) return true;
  const per = Math.max(1, Math.floor(SUM_CHUNK / n));
  const outPtr = Math.ceil((Math.min(per, rows) * n) / 4) * 4;
  ensureMemory(w, (outPtr + per) * 4);
  for (let r0 = 0; r0 < rows; r0 += per) {
    const nr = Math.min(per, rows - r0);
    w.sumrows(operandAt(w, x, r0 * n, (r0 + nr) * n, 0), n, nr, resultAt(w, out, r0, outPtr));
    resultDone(w, out, r0, r0 + nr, outPtr);
  }
  return true;
}

/**
 * Resident rows (read where they lie) are summed on the threads, ranges of rows a task, from this many
 * floats (as the element-wise ops in place: kernels/elementwise.ts): a convolution's bias gradient
 * (LeNet-5's conv1: 1,536 rows of 784 floats, 0.24-0.33 ms on one thread, the 2-thread step's
 * caller alone). Each row's sum is the one loop's: the same bits for every thread count.
 */
const MIN_RESIDENT_THREADS = 1 << 17;

/** sumRowsWasm on the threads (x resident in w's shared memory); false where threads are off. */
function sumRowsThreaded(w: WasmInstance, x: Float32Array, n: number, rows: number, out: Float32Array): boolean {
  const threads = threadsFor(w);
  if (threads <= 1) return false;
  // the sums at float 0 of the scratch unless out is resident; the task table after them
  const at = resultAt(w, out, 0, 0), px = residentAddress(w, x);
  ensureMemory(w, rows * 4);
  const tasks = new TaskList();
  // (finer than one range a thread: a worker woken late takes fewer)
  for (const [r0, r1] of splitRange(rows, 4 * threads)) tasks.task().call("sumrows", px + r0 * n * 4, n, r1 - r0, at + r0 * 4);
  runTasks(w, tasks, rows * 4, (bytes) => void ensureMemory(w, bytes), undefined, threads);
  resultDone(w, out, 0, rows, 0);
  return true;
}

/** From this many floats, float32 sums over an axis that is not the last go through the SIMD module (addrows). */
const WASM_COLS_MIN = 1 << 12;

/**
 * out[o][i] = the sum over r of x[o][r][i] ([outer, n, inner]) by the SIMD module's addrows: the
 * loop's float32 additions in its order (row by row onto zeros), rows read in place where x is
 * resident (wasm/heap.ts), else staged about SUM_CHUNK floats at a time; false without WASM (or too
 * small, or inner under 4 or over a chunk).
 */
function sumColsWasm(x: Float32Array, outer: number, n: number, inner: number, out: Float32Array): boolean {
  if (outer * n * inner < WASM_COLS_MIN || inner < 4 || inner > SUM_CHUNK || n === 0) return false;
  const w = serialWasmFor(x, out);
  if (!w) return false;
  // (the sums at acc, or in place where out is resident)
  const per = Math.floor(SUM_CHUNK / inner), acc = per * inner;
  const mem = ensureMemory(w, (acc + inner) * 4);
  for (let o = 0; o < outer; o++) {
    const at = resultAt(w, out, o * inner, acc);
    if (at === acc * 4) mem.fill(0, acc, acc + inner);
    else out.fill(0, o * inner, (o + 1) * inner);
    for (let r0 = 0; r0 < n; r0 += per) {
      const nr = Math.min(per, n - r0), base = (o * n + r0) * inner;
      w.addrows(operandAt(w, x, base, base + nr * inner, 0), nr, inner, at);
    }
    resultDone(w, out, o * inner, (o + 1) * inner, acc);
  }
  return true;
}

/**
 * The sum of x[base .. base + n) as every float32 row sum of the CPU backend computes it (the
 * bits the SIMD module's sumrows reproduces): four running sums in double precision (element r
 * into sum r mod 4, which breaks the chain of dependent additions; the tail after the last group
 * of four into the first), then (s0 + s1) + (s2 + s3), in double (the caller rounds).
 */
export function rowSum(x: ArrayLike<number>, base: number, n: number): number {
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, r = 0;
  for (; r + 4 <= n; r += 4) {
    a0 += x[base + r];
    a1 += x[base + r + 1];
    a2 += x[base + r + 2];
    a3 += x[base + r + 3];
  }
  for (; r < n; r++) a0 += x[base + r];
  return (a0 + a1) + (a2 + a3);
}

/** Splits a shape around one axis into [outer, n, inner]. */
export function around(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

export function reduceAxis(op: string, x: TypedArray, shape: readonly number[], axis: number, outDtype: DType): TypedArray {
  const [outer, n, inner] = around(shape, axis);
  // (float32 sums: the SIMD module writes every element, in the WASM memory where resident; the loop adds onto zeros)
  const f32Sum = op === "sum" && x instanceof Float32Array && outDtype === "float32";
  const out = f32Sum ? emptyF32(outer * inner) : typedArrayFor(outDtype, outer * inner);
  if (n === 0 && (op === "max" || op === "min" || op === "argmax" || op === "argmin")) {
    throw new Error(`${op}: cannot reduce over an empty dimension ${axis} of shape ${shapeStr(shape)}`);
  }
  if (f32Sum) {
    if (inner === 1 ? sumRowsWasm(x, n, outer, out as Float32Array) : sumColsWasm(x, outer, n, inner, out as Float32Array)) return out;
    out.fill(0);
  }
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    const ob = o * inner;
    switch (op) {
      case "sum":
        if (inner === 1) out[ob] = rowSum(x, base, n);
        else for (let r = 0; r < n; r++) { const rb = base + r * inner; for (let i = 0; i < inner; i++) out[ob + i] += x[rb + i]; }
        break;
      case "prod":
        for (let i = 0; i < inner; i++) out[ob + i] = 1;
        for (let r = 0; r < n; r++) { const rb = base + r * inner; for (let i = 0; i < inner; i++) out[ob + i] *= x[rb + i]; }
        break;
      case "max": case "min": {
        const isMax = op === "max";
        for (let i = 0; i < inner; i++) {
          let best = x[base + i];
          for (let r = 1; r < n; r++) {
            const v = x[base + r * inner + i];
            if (v !== v) { best = NaN; break; }
            if (isMax ? v > best : v < best) best = v;
          }
          out[ob + i] = best;
        }
        break;
      }
      case "argmax": case "argmin": {
        const isMax = op === "argmax";
        for (let i = 0; i < inner; i++) {
          let best = x[base + i], bi = 0;
          for (let r = 1; r < n; r++) {
            const v = x[base + r * inner + i];
            if (best !== best) break;
            if (v !== v || (isMax ? v > best : v < best)) { best = v; bi = r; }
          }
          out[ob + i] = bi;
        }
        break;
      }
    }
  }
  return out;
}

/** Shape with adjacent reduced axes merged, adjacent kept axes merged, and size-1 axes dropped. */
export function mergeAxes(shape: readonly number[], axes: readonly number[]): { shape: number[]; axes: number[] } {
  const s: number[] = [];
  const out: number[] = [];
  let prev: boolean | null = null;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const r = axes.includes(i);
    if (prev === r) s[s.length - 1] *= shape[i];
    else {
      s.push(shape[i]);
      if (r) out.push(s.length - 1);
      prev = r;
    }
  }
  return { shape: s, axes: out };
}
