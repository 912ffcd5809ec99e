// The CPU backend's reductions (sum, prod, max, min, argmax, argmin) over typed arrays.

import type { DType, TypedArray } from "../../dtype.js";
import { typedArrayFor } from "../../dtype.js";
import { shapeStr } from "../../shape.js";

/** Splits a shape around one axis into [outer, n, inner]. */
export function around(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

export function reduceAxis(op: string, x: TypedArray, shape: readonly number[], axis: number, outDtype: DType): TypedArray {
  const [outer, n, inner] = around(shape, axis);
  const out = typedArrayFor(outDtype, outer * inner);
  if (n === 0 && (op === "max" || op === "min" || op === "argmax" || op === "argmin")) {
    throw new Error(`${op}: cannot reduce over an empty dimension ${axis} of shape ${shapeStr(shape)}`);
  }
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    const ob = o * inner;
    switch (op) {
      case "sum":
        if (inner === 1) {
          // four running sums (in double precision) break the chain of dependent additions
          let a0 = 0, a1 = 0, a2 = 0, a3 = 0, r = 0;
          for (; r + 4 <= n; r += 4) {
            a0 += x[base + r];
            a1 += x[base + r + 1];
            a2 += x[base + r + 2];
            a3 += x[base + r + 3];
          }
          for (; r < n; r++) a0 += x[base + r];
          out[ob] = (a0 + a1) + (a2 + a3);
        } else for (let r = 0; r < n; r++) { const rb = base + r * inner; for (let i = 0; i < inner; i++) out[ob + i] += x[rb + i]; }
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
