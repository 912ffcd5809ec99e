/**
 * Arrays for op results that the op overwrites entirely: under Node, large ones are allocated
 * without zero-filling (`Buffer.allocUnsafeSlow`: malloc instead of calloc). A zero-filled
 * `new Float32Array(n)` of megabytes costs a memset or, for memory fresh from the system, a
 * page fault per 4 KiB page before the op writes a single value (measured on this machine: 4.8 MB
 * allocated and filled, 1.25 ms of CPU zero-filled, 0.40 ms without). Elsewhere (a browser), a
 * zeroed buffer; small arrays (where the call costs more than the zeroing), a plain typed array.
 *
 * Autograd hands back the storage of the gradients its backward walk consumed (recycle()): the
 * gradients of the next walks reuse it (in a browser too), so a training step allocates less.
 *
 * Only for results whose every element the op writes: what was in that memory before (another
 * array of this process) must never show through. The arrays are ordinary ArrayBuffers, counted
 * as any other (process.memoryUsage().arrayBuffers, which the kernel's memory guard reads).
 */
import type { DType, TypedArray } from "../../dtype.js";
import { typedArrayFor } from "../../dtype.js";
import { registerMemoryPool } from "../../memory.js";
import { allocResident, freeResident, isResident } from "./wasm/heap.js";

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

/**
 * Spare buffers: the storage of gradients that autograd's backward walk made and then consumed
 * (handed back through recycle(); nothing references them any more), by size in bytes, for the
 * results of the next backward walks (a training step makes the same gradient sizes again and
 * again, so its gradients cycle through the same buffers). Only results made during a backward
 * walk take them: a spare buffer lives in V8's old generation, and a forward result there (an
 * activation, which dies with its graph) would be garbage only a full collection frees (measured:
 * twice the full collections of the LeNet-5 step). At most spareLimit bytes in all (64 MiB);
 * gb.emptyCache() frees them.
 */
const spare = new Map<number, ArrayBuffer[]>();
let spareBytes = 0;
let spareLimit = 64 << 20;

/** Tests: the most bytes kept in spare buffers (0: none, nothing is reused). */
export function setSpareLimit(bytes: number): void {
  spareLimit = bytes;
}

/**
 * The walk during which this file made a buffer: recycle() takes back only buffers of the walk
 * still open (a gradient of an earlier walk may be a leaf's .grad, or a view of it, by now).
 */
const madeInWalk = new WeakMap<ArrayBuffer | TypedArray, number>();
let backwardDepth = 0;
let walk = 0;

/**
 * A buffer of `bytes` for an unfilled result: a spare one, or one allocated without zero-filling
 * (a zeroed one where that is not available: a browser); null for small results (the caller's
 * plain constructor).
 */
function unfilledBuffer(bytes: number): ArrayBuffer | null {
  if (bytes < UNFILLED_MIN_BYTES) return null;
  const list = backwardDepth > 0 ? spare.get(bytes) : undefined;
  let b = list?.pop();
  if (b !== undefined) {
    spareBytes -= bytes;
    if (list!.length === 0) spare.delete(bytes);
  } else {
    const u = allocUnsafe?.(bytes);
    b = u !== undefined && u.byteOffset === 0 && u.buffer.byteLength === bytes ? (u.buffer as ArrayBuffer) : new ArrayBuffer(bytes);
  }
  if (backwardDepth > 0) madeInWalk.set(b, walk);
  return b;
}

/**
 * A float32 array of n elements whose contents are undefined: the caller writes every one. From
 * UNFILLED_MIN_BYTES on, in the WASM memory where resident storage is on (wasm/heap.ts).
 */
export function emptyF32(n: number): Float32Array {
  if (n * 4 >= UNFILLED_MIN_BYTES) {
    const r = allocResident(n);
    if (r) {
      if (backwardDepth > 0) madeInWalk.set(r, walk);
      return poison ? r.fill(NaN) : r;
    }
  }
  const b = unfilledBuffer(n * 4);
  const a = b === null ? new Float32Array(n) : new Float32Array(b);
  return poison ? a.fill(NaN) : a;
}

/** An array of `dtype` and n elements whose contents are undefined: the caller writes every one. */
export function emptyOf(dtype: DType, n: number): TypedArray {
  if (dtype === "float32") return emptyF32(n);
  if (dtype === "int32" && n * 4 >= UNFILLED_MIN_BYTES) {
    const r = allocResident(n, true);
    if (r) return poison ? r.fill(0x7fffffff) : r;
  }
  const b = unfilledBuffer(dtype === "int32" ? n * 4 : n);
  const a = b === null ? typedArrayFor(dtype, n) : dtype === "int32" ? new Int32Array(b) : new Uint8Array(b);
  return poison ? a.fill(dtype === "int32" ? 0x7fffffff : 0xa5) : a;
}

/** Autograd's backward walk opens (true) or closes (false): arrays made in between may come back through recycle(). */
export function backwardScope(open: boolean): void {
  if (open && backwardDepth === 0) walk++;
  backwardDepth = Math.max(0, backwardDepth + (open ? 1 : -1));
}

/**
 * The storage of a gradient that the backward walk made and consumed, which nothing else
 * references: kept for the next result of its size. Arrays not made by this file during the
 * backward walk that is open (a forward result, an earlier walk's gradient, a view, a user's
 * array) are left alone.
 */
export function recycle(a: TypedArray): void {
  if (isResident(a)) {
    // its block goes back to the WASM memory's allocator (forward results reuse it too)
    if (backwardDepth > 0 && madeInWalk.get(a) === walk) {
      madeInWalk.delete(a);
      freeResident(a as Float32Array | Int32Array);
    }
    return;
  }
  const b = a.buffer as ArrayBuffer;
  if (backwardDepth === 0 || madeInWalk.get(b) !== walk || a.byteOffset !== 0 || a.byteLength !== b.byteLength) return;
  madeInWalk.delete(b);
  if (spareBytes + b.byteLength > spareLimit) return;
  const list = spare.get(b.byteLength);
  if (list) list.push(b);
  else spare.set(b.byteLength, [b]);
  spareBytes += b.byteLength;
}

registerMemoryPool({
  name: "spare CPU tensor storage",
  device: "cpu",
  inArrayBuffers: true,
  bytes: () => spareBytes,
  release() {
    spare.clear();
    spareBytes = 0;
  },
});
