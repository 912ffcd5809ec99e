/**
 * Strided iteration on typed arrays: the one loop that permute, expand, slice,
 * pad and broadcasting binary ops share. The innermost dimension runs as a tight
 * loop; outer dimensions advance with a counter, so there is no closure or
 * allocation per element.
 */
import type { TypedArray } from "../../dtype.js";

/**
 * out[i] = src[offset + sum_d idx_d * srcStrides[d]] for every index of `shape`, with out contiguous.
 */
export function stridedCopy(src: TypedArray, offset: number, srcStrides: readonly number[], shape: readonly number[], out: TypedArray): void {
  const r = shape.length;
  if (r === 0) {
    out[0] = src[offset];
    return;
  }
  const inner = shape[r - 1];
  const sInner = srcStrides[r - 1];
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  const idx = new Array<number>(r).fill(0);
  let base = offset;
  let o = 0;
  while (o < total) {
    if (sInner === 1) {
      for (let i = 0; i < inner; i++) out[o + i] = src[base + i];
    } else {
      for (let i = 0, s = base; i < inner; i++, s += sInner) out[o + i] = src[s];
    }
    o += inner;
    // advance the outer counter
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      base += srcStrides[d];
      if (idx[d] < shape[d]) break;
      base -= srcStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** dst[offset + sum_d idx_d * dstStrides[d]] (+)= src[i] for a contiguous src of `shape`. */
export function stridedWrite(src: TypedArray, shape: readonly number[], dst: TypedArray, offset: number, dstStrides: readonly number[], accumulate: boolean): void {
  const r = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  if (r === 0) {
    dst[offset] = accumulate ? dst[offset] + src[0] : src[0];
    return;
  }
  const inner = shape[r - 1];
  const sInner = dstStrides[r - 1];
  const idx = new Array<number>(r).fill(0);
  let base = offset;
  let o = 0;
  while (o < total) {
    if (accumulate) for (let i = 0, s = base; i < inner; i++, s += sInner) dst[s] += src[o + i];
    else for (let i = 0, s = base; i < inner; i++, s += sInner) dst[s] = src[o + i];
    o += inner;
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      base += dstStrides[d];
      if (idx[d] < shape[d]) break;
      base -= dstStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}
