/**
 * Arrays for op results that the op overwrites entirely: under Node, large ones are allocated
 * without zero-filling (`Buffer.allocUnsafeSlow`: malloc instead of calloc). A zero-filled
 * `new Float32Array(n)` of megabytes costs a memset or, for memory fresh from the system, a
 * page fault per 4 KiB page before the op writes a single value (measured on this machine: 4.8 MB
 * allocated and filled, 1.25 ms of CPU zero-filled, 0.40 ms without). Elsewhere (a browser),
 * and for small arrays (where the call costs more than the zeroing), a plain typed array.
 *
 * Only for results whose every element the op writes: what was in that memory before (another
 * array of this process) must never show through. The arrays are ordinary ArrayBuffers, counted
 * as any other (process.memoryUsage().arrayBuffers, which the kernel's memory guard reads).
 */
import type { DType, TypedArray } from "../../dtype.js";
import { typedArrayFor } from "../../dtype.js";

type AllocUnsafe = (bytes: number) => { buffer: ArrayBufferLike; byteOffset: number };

const allocUnsafe: AllocUnsafe | undefined = (globalThis as { Buffer?: { allocUnsafeSlow?: AllocUnsafe } }).Buffer?.allocUnsafeSlow;

/** From this many bytes on, no zero-filling (below, the plain constructor is cheaper). */
export const UNFILLED_MIN_BYTES = 1 << 16;

let poison = false;

/**
 * Tests: every array of this file, of any size, comes filled with a value no op writes by
 * accident (NaN for float32, 0x7fffffff for int32, 0xa5 for bool), so that an element an op
 * leaves unwritten shows in its result.
 */
export function setUnfilledPoison(on: boolean): void {
  poison = on;
}

/** A float32 array of n elements whose contents are undefined: the caller writes every one. */
export function emptyF32(n: number): Float32Array {
  if (poison) return new Float32Array(n).fill(NaN);
  if (allocUnsafe === undefined || n * 4 < UNFILLED_MIN_BYTES) return new Float32Array(n);
  const b = allocUnsafe(n * 4);
  return new Float32Array(b.buffer as ArrayBuffer, b.byteOffset, n);
}

/** An array of `dtype` and n elements whose contents are undefined: the caller writes every one. */
export function emptyOf(dtype: DType, n: number): TypedArray {
  if (poison) return dtype === "float32" ? emptyF32(n) : typedArrayFor(dtype, n).fill(dtype === "int32" ? 0x7fffffff : 0xa5);
  if (allocUnsafe === undefined) return typedArrayFor(dtype, n);
  switch (dtype) {
    case "float32":
      return emptyF32(n);
    case "int32": {
      if (n * 4 < UNFILLED_MIN_BYTES) return new Int32Array(n);
      const b = allocUnsafe(n * 4);
      return new Int32Array(b.buffer as ArrayBuffer, b.byteOffset, n);
    }
    case "bool": {
      if (n < UNFILLED_MIN_BYTES) return new Uint8Array(n);
      const b = allocUnsafe(n);
      return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, n);
    }
  }
}
