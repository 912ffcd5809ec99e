// Resident CPU tensor storage: large float32 results live in the SIMD module's shared
// WebAssembly memory, so that the kernels read their operands and write their results in place
// instead of copying them in and out (README.md, "Tensor storage in the WASM memory").
//
// Layout of the one shared memory (every shared instance and worker imports it):
//   [0, HEAP_BASE)          the kernels' scratch, laid out from 0 per op (runtime.ts ensureMemory)
//   [HEAP_BASE, HEAP_END)   tensor storage, from this allocator
// Growing a shared memory only makes reserved pages accessible (no copy, no detach: views made
// before stay valid), and untouched pages cost nothing, so the gap costs no memory.
//
// Blocks come from free lists by size (64-byte multiples; a training step makes the same sizes
// over and over), else from the top. A block comes back (1) when autograd's backward walk hands a
// consumed gradient back (alloc.ts recycle()), (2) when the last tensor on it is disposed, or (3)
// when its array is garbage collected (a FinalizationRegistry entry, which V8 runs only after a
// full collection: a registered object survives the young-generation ones). Only storage of at
// least alloc.ts's UNFILLED_MIN_BYTES is resident, where the registration's cost is small beside
// the op. Past the limit, results are ordinary arrays again, until blocks come back.

import { registerMemoryPool } from "../../../memory.ts";

/** Where tensor storage starts: the kernels' scratch below it. */
export const HEAP_BASE = 1 << 30;
/** Where it ends: addresses stay below 2^31 (the SIMD module compares some as signed i32). */
const HEAP_END = 2 ** 31;
/** Pages of the shared memory's maximum (4 GiB: all that wasm32 can address; only reserved). */
export const SHARED_MAX_PAGES = 65536;
const ALIGN = 64;

let memory: WebAssembly.Memory | null = null;
let memoryFailed = false;
/** The memory's buffers (a shared memory gives a new SharedArrayBuffer object per size). */
let buffers = new WeakSet<ArrayBufferLike>();
let top = HEAP_BASE;
/** Free blocks by byte size. */
let freeLists = new Map<number, number[]>();
let freeBytes = 0;
/** Live blocks: byte offset -> bytes. */
let live = new Map<number, number>();
/** Live blocks' arrays (weakly) and allocation numbers, for freeResidentSince(). */
let liveArrays = new Map<number, { seq: number; ref: WeakRef<ResidentArray> | null }>();
let seq = 0;
let liveBytes = 0;
/** Tensors (TensorData) on each live block, for dispose(). */
let refs = new Map<number, number>();
/** Blocks freed explicitly (recycle, dispose), in all: tests. */
let freedExplicitly = 0;
/** The most bytes of tensor storage (beyond: ordinary arrays). */
let limit = HEAP_END - HEAP_BASE;

/**
 * When results are resident: "off" (the default: with 2 threads the step measured slower, README.md):
 * none; "tidy": inside gb.tidy() scopes only, whose end frees every block its tensors do not
 * outlive, so the memory stays flat across a training loop;
 * "always" for every large result (tests: its blocks come back only through backward's consumed
 * gradients, dispose() and the garbage collector, which in a loop of awaited steps never runs
 * their finalizers, so the memory fills up to the limit); "off". GB_RESIDENT sets it.
 */
export type ResidentMode = "off" | "tidy" | "always";
let mode: ResidentMode = defaultMode();
/** Open tidy() scopes. */
let scopeDepth = 0;

function defaultMode(): ResidentMode {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.GB_RESIDENT;
  return v === "tidy" ? "tidy" : v === "always" ? "always" : "off";
}

/** Finalizers of the arrays on the current memory (a new registry with each memory: an array of a dropped one frees nothing). */
let registry: FinalizationRegistry<number> | null = null;
function newRegistry(): FinalizationRegistry<number> | null {
  if (typeof FinalizationRegistry !== "function") return null;
  const r: FinalizationRegistry<number> = new FinalizationRegistry((packed) => {
    if (registry === r) release(packed * ALIGN);
  });
  return r;
}

/**
 * The shared memory of the SIMD module's shared instances (made at first use); null where shared
 * WebAssembly memories are unavailable (a browser page without cross-origin isolation).
 */
export function sharedMemory(): WebAssembly.Memory | null {
  if (memory || memoryFailed) return memory;
  try {
    memory = new WebAssembly.Memory({ initial: 64, maximum: SHARED_MAX_PAGES, shared: true });
    buffers.add(memory.buffer);
    registry = newRegistry();
  } catch {
    memoryFailed = true;
  }
  return memory;
}

/** Whether the array's storage is in the shared WASM memory (resident), so a kernel can use it in place. */
export function isResident(a: ArrayBufferView): boolean {
  return buffers.has(a.buffer);
}

/** The shared memory grown to at least `bytes` (views made before stay valid). */
export function growShared(bytes: number): void {
  const m = memory!;
  const have = m.buffer.byteLength;
  if (bytes > have) {
    m.grow(Math.ceil((bytes - have) / 65536));
    buffers.add(m.buffer);
  }
}

/** Sets the resident mode (ResidentMode; true: "always", false: "off"). Arrays already resident stay valid. */
export function setResidentStorage(m: ResidentMode | boolean): void {
  mode = m === true ? "always" : m === false ? "off" : m;
}

export function residentStorage(): ResidentMode {
  return mode;
}

/** Whether large results are resident now (the mode, and for "tidy" an open scope). */
export function residentNow(): boolean {
  return mode === "always" || (mode === "tidy" && scopeDepth > 0);
}

/** Tests: the most bytes of resident storage (null: all of [HEAP_BASE, HEAP_END)). */
export function setResidentLimit(bytes: number | null): void {
  limit = bytes ?? HEAP_END - HEAP_BASE;
}

/** A float32 or int32 array in the shared memory. */
export type ResidentArray = Float32Array | Int32Array;

/**
 * A float32 (int32 with `int32`) array of n elements in the shared memory (contents undefined),
 * or null: storage off, no shared memory, or past the limit.
 */
export function allocResident(n: number): Float32Array | null;
export function allocResident(n: number, int32: true): Int32Array | null;
export function allocResident(n: number, int32 = false): ResidentArray | null {
  if (!residentNow() || memoryFailed) return null;
  const bytes = Math.ceil((n * 4) / ALIGN) * ALIGN;
  if (liveBytes + bytes > limit) return null;
  const m = sharedMemory();
  if (!m) return null;
  const list = freeLists.get(bytes);
  let off = list?.pop();
  if (off !== undefined) {
    freeBytes -= bytes;
    if (list!.length === 0) freeLists.delete(bytes);
  } else {
    if (top + bytes > HEAP_END) {
      coalesce();
      if (top + bytes > HEAP_END) return null;
    }
    off = top;
    try {
      growShared(top + bytes);
    } catch {
      return null; // the system refused the pages
    }
    top += bytes;
  }
  live.set(off, bytes);
  liveBytes += bytes;
  const buf = m.buffer; // (a new object after any growth, the kernels' too)
  buffers.add(buf);
  const a = int32 ? new Int32Array(buf, off, n) : new Float32Array(buf, off, n);
  registry?.register(a, off / ALIGN, a);
  if (tracking) liveArrays.set(off, { seq: ++seq, ref: new WeakRef(a) });
  return a;
}

/** Hands a block back (from the finalizer, or explicitly once unregistered). */
function release(off: number): void {
  const bytes = live.get(off);
  if (bytes === undefined) return;
  live.delete(off);
  refs.delete(off);
  liveArrays.delete(off);
  keptBlocks.delete(off);
  liveBytes -= bytes;
  if (off + bytes === top) {
    top = off;
    return;
  }
  const list = freeLists.get(bytes);
  if (list) list.push(off);
  else freeLists.set(bytes, [off]);
  freeBytes += bytes;
}

/**
 * Frees a resident array's block now: nothing may read the array afterwards (autograd's consumed
 * gradients, a disposed tensor). Other arrays are left alone.
 */
export function freeResident(a: ResidentArray): void {
  if (!buffers.has(a.buffer) || !live.has(a.byteOffset)) return;
  registry?.unregister(a);
  release(a.byteOffset);
  freedExplicitly++;
}

/** One more tensor on a resident array's block (dispose() frees the block when the last goes). */
export function retainResident(a: ResidentArray): void {
  if (!buffers.has(a.buffer) || !live.has(a.byteOffset)) return;
  refs.set(a.byteOffset, (refs.get(a.byteOffset) ?? 0) + 1);
}

/** A tensor on a resident array is disposed: its block is freed when no tensor is left on it. */
export function disposeResident(a: ResidentArray): void {
  if (!buffers.has(a.buffer) || !live.has(a.byteOffset)) return;
  const n = (refs.get(a.byteOffset) ?? 1) - 1;
  if (n > 0) refs.set(a.byteOffset, n);
  else freeResident(a);
}

let tracking = false;
/** Blocks kept past the scopes they were made in (keep(): optimizer state), by offset. */
let keptBlocks = new Set<number>();

/** A tidy() scope opens: returns its mark (blocks are numbered from now on). */
export function openResidentScope(): number {
  tracking = true;
  scopeDepth++;
  return seq;
}

/**
 * A tidy() scope ends: frees every block allocated since `mark` that is still live, except those
 * of `keepArrays` (its result's) and of keep(); returns the freed blocks' offsets' arrays so the
 * caller can mark their tensors freed. Blocks of the result stay for the enclosing scope.
 */
export function closeResidentScope(mark: number, keepArrays: Set<ArrayBufferView>): void {
  scopeDepth = Math.max(0, scopeDepth - 1);
  const keepOffs = new Set<number>();
  for (const a of keepArrays) if (buffers.has(a.buffer)) keepOffs.add(a.byteOffset);
  for (const [off, e] of [...liveArrays]) {
    if (e.seq <= mark || keepOffs.has(off) || keptBlocks.has(off)) continue;
    const a = e.ref?.deref();
    if (a) freeResident(a);
    else if (live.has(off)) {
      release(off);
      freedExplicitly++;
    }
  }
  if (scopeDepth === 0) tracking = false;
}

/** keep(): the array's block outlives the scopes it was made in (freed by dispose() or the garbage collector). */
export function keepResident(a: ArrayBufferView): void {
  if (buffers.has(a.buffer) && live.has(a.byteOffset)) keptBlocks.add(a.byteOffset);
}

/** Whether a resident array's block was freed (its tensors must not be read). */
export function residentFreed(a: ArrayBufferView): boolean {
  return buffers.has(a.buffer) && !live.has(a.byteOffset);
}

/** Merges adjacent free blocks and lowers the top where they end at it. */
function coalesce(): void {
  const blocks: [number, number][] = [];
  for (const [bytes, offs] of freeLists) for (const o of offs) blocks.push([o, bytes]);
  blocks.sort((x, y) => x[0] - y[0]);
  freeLists = new Map();
  freeBytes = 0;
  const merged: [number, number][] = [];
  for (const [o, b] of blocks) {
    const last = merged[merged.length - 1];
    if (last && last[0] + last[1] === o) last[1] += b;
    else merged.push([o, b]);
  }
  while (merged.length && merged[merged.length - 1][0] + merged[merged.length - 1][1] === top) top = merged.pop()![0];
  for (const [o, b] of merged) {
    const list = freeLists.get(b);
    if (list) list.push(o);
    else freeLists.set(b, [o]);
    freeBytes += b;
  }
}

/** Bytes of the memory's tensor area in use or cached (from HEAP_BASE to the top). */
export function residentBytes(): number {
  return top - HEAP_BASE;
}

/** Figures for tests: live blocks and their bytes, cached free bytes, the top. */
export function residentStats(): { blocks: number; liveBytes: number; freeBytes: number; top: number; freed: number } {
  return { blocks: live.size, liveBytes, freeBytes, top: top - HEAP_BASE, freed: freedExplicitly };
}

/**
 * Drops the memory when no tensor lives in it (emptyCache(): a WebAssembly memory cannot shrink,
 * so a fresh one takes its place at next use); returns whether it did. Else the free blocks stay
 * (they are reused), merged where adjacent.
 */
export function dropSharedMemory(): boolean {
  if (live.size > 0) {
    coalesce();
    return false;
  }
  memory = null;
  registry = null;
  buffers = new WeakSet();
  top = HEAP_BASE;
  freeLists = new Map();
  freeBytes = 0;
  live = new Map();
  liveArrays = new Map();
  keptBlocks = new Set();
  refs = new Map();
  return true;
}

registerMemoryPool({
  name: "CPU tensor storage in the WASM memory",
  device: "cpu",
  bytes: () => top - HEAP_BASE,
  inUse: () => liveBytes,
  tensors: () => live.size,
});
