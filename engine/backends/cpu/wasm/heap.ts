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
// Blocks (64-byte multiples) come from the free blocks by best fit (the smallest that holds it, split:
// its rest stays free; a training step makes the same sizes over and over, so mostly an exact fit),
// else from the top; a freed block merges with the free blocks on either side, and the top comes
// down over a free block that ends at it. A block comes back (1) when autograd's backward walk hands a
// consumed gradient back (alloc.ts recycle()), (2) when the last tensor on it is disposed, (3) at
// the end of the gb.tidy() scope it was made in, or (4) when its array is garbage collected (a
// FinalizationRegistry entry; V8 clears it only in a full collection: a registered object survives
// the young-generation ones; reclaim() below runs them within a training loop). Only storage of at
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
/**
 * The largest resident block (32 MiB, glibc's mmap threshold under the kernel's settings): larger
 * results (a dataset as one tensor, its normalized copies) stay ordinary arrays, which the system
 * gets back when they are freed; a WebAssembly memory never gives pages back, so they would
 * raise its high-water mark for good (notebook 05: peak RSS 1.2 -> 2.0 GB with them resident).
 */
const MAX_BLOCK = 32 << 20;

let memory: WebAssembly.Memory | null = null;
let memoryFailed = false;
/** The memory's buffers (a shared memory gives a new SharedArrayBuffer object per size). */
let buffers = new WeakSet<ArrayBufferLike>();
let top = HEAP_BASE;
/**
 * Free blocks: offset -> bytes, and end -> offset. Never two adjacent (a freed block merges with
 * its free neighbours) and none ending at the top (the top comes down over it: the memory a
 * runaway cell took is counted again as it is freed).
 */
let freeAt = new Map<number, number>();
let freeEnd = new Map<number, number>();
let freeBytes = 0;
/**
 * Free blocks' offsets by byte size (most recently freed last: reused first, warm in the caches);
 * a list may also hold offsets no longer free with that size (skipped when popped). `freeCount`:
 * how many of a size are free; `freeSizes`: those sizes, ascending (best fit by binary search).
 */
let freeLists = new Map<number, number[]>();
let freeCount = new Map<number, number>();
let freeSizes: number[] = [];
/** The top's highest point since the memory was made (the pages touched: the process keeps them). */
let highWater = HEAP_BASE;
/** Live blocks: byte offset -> bytes. */
let live = new Map<number, number>();
/** Live blocks' arrays (weakly) and allocation numbers, for freeResidentSince(). */
let liveArrays = new Map<number, { seq: number; ref: WeakRef<ResidentArray> | null }>();
let seq = 0;
/** Each live block's allocation number (finalizers free the allocation they were made for only). */
let allocIds = new Map<number, number>();
let allocs = 0;
/** Offsets in ALIGN units are below this (HEAP_END / ALIGN): a finalizer's held value is allocs * OFF_UNITS + offset / ALIGN. */
const OFF_UNITS = 2 ** 25;
let liveBytes = 0;
/** Tensors (TensorData) on each live block, for dispose(). */
let refs = new Map<number, number>();
/** Blocks freed explicitly (recycle, dispose), in all: tests. */
let freedExplicitly = 0;
/**
 * The most bytes of resident blocks by default (512 MiB; beyond, ordinary arrays): the memory's
 * pages stay with the process once touched, so this bounds what resident storage adds to it.
 */
const LIMIT = 512 << 20;
let limit = LIMIT;

/**
 * When results are resident: "always": every large result (its block comes back through backward's
 * consumed gradients, dispose(), tidy()'s end, and reclaim(): the garbage collector's finding that
 * its array is gone); "tidy": inside gb.tidy() scopes only, whose end frees every block its tensors
 * do not outlive; "off": none. The default is "always" where reclaim() can work (Node: collector())
 * or where blocks come back between tasks (a browser: taskReclaim(), residentTaskPoint()), else
 * "off" (README.md, "Tensor storage in the WASM memory", says why). GB_RESIDENT sets it.
 */
export type ResidentMode = "off" | "tidy" | "always";
/** "auto": the default, resolved at first use (resolveMode()). */
let mode: ResidentMode | "auto" = envMode() ?? "auto";
/** Open tidy() scopes. */
let scopeDepth = 0;

function envMode(): ResidentMode | null {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.GB_RESIDENT;
  return v === "tidy" || v === "always" || v === "off" ? v : null;
}

function resolveMode(): ResidentMode {
  if (mode === "auto") mode = collector() || taskReclaim() ? "always" : "off";
  return mode;
}

/**
 * Where there is no collector but a FinalizationRegistry and MessageChannel, outside Node (a
 * browser: its page or a Web Worker), blocks come back between tasks: the callbacks of the arrays
 * the browser's own collections found dead run in a task of the event loop, which a loop of
 * awaited steps never reaches by itself, so backward() ends with one task of its own when the
 * blocks in use passed `reclaimAt` (residentTaskPoint()). Past `limit`, ordinary arrays.
 */
function taskReclaim(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string } }; MessageChannel?: unknown };
  return !g.process?.versions?.node && typeof FinalizationRegistry === "function" && typeof g.MessageChannel === "function";
}

/**
 * Autograd's backward() ended (Tensor.backward awaits what this returns): in "always" mode where
 * blocks come back between tasks (taskReclaim()) and the blocks in use passed `reclaimAt`, a
 * promise of a new task (a MessageChannel message: no timer clamping), in which the finalizers of
 * arrays found dead have run; then `reclaimAt` is the bytes still in use plus the headroom. Else null.
 */
export function residentTaskPoint(): Promise<void> | null {
  if (liveBytes <= reclaimAt || mode !== "always" || collector() || !registry || !taskReclaim()) return null;
  taskPoints++;
  return new Promise<void>((resolve) => {
    const c = new MessageChannel();
    c.port1.onmessage = () => {
      c.port1.close();
      reclaimAt = liveBytes + headroom;
      resolve();
    };
    c.port2.postMessage(0);
  });
}
let taskPoints = 0;

/** Finalizers of the arrays on the current memory (a new registry with each memory: an array of a dropped one frees nothing). */
let registry: FinalizationRegistry<number> | null = null;
function newRegistry(): FinalizationRegistry<number> | null {
  const FR = collector()?.Registry ?? (typeof FinalizationRegistry === "function" ? FinalizationRegistry : null);
  if (!FR) return null;
  // (held: the block's offset and its allocation's number, so that a block freed meanwhile and
  // handed to another array is left alone)
  const r: FinalizationRegistry<number> = new FR((held) => {
    const off = (held % OFF_UNITS) * ALIGN;
    if (registry === r && allocIds.get(off) === Math.floor(held / OFF_UNITS)) release(off);
  });
  return r;
}

/**
 * A full garbage collection and a FinalizationRegistry whose `cleanupSome()` runs the callbacks of
 * the arrays it found dead now, in this job: what reclaim() needs, in Node. V8 has both behind
 * flags (`--expose-gc`, `--harmony-weak-refs-with-cleanup-some`) that take effect in contexts made
 * after they are set: they are set for one new context of our own, which gives its `gc` and its
 * `FinalizationRegistry` (whose callbacks and targets may be of any context), then set back, so
 * that no other code sees either. Null where that fails (a browser; a V8 without the flags).
 */
interface Collector {
  gc: () => void;
  Registry: typeof FinalizationRegistry;
}
let collectorState: Collector | null | undefined;
function collector(): Collector | null {
  if (collectorState !== undefined) return collectorState;
  collectorState = null;
  const p = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown; versions?: { node?: string } } }).process;
  if (!p?.versions?.node || typeof p.getBuiltinModule !== "function") return null;
  type CleanupSome = { prototype: { cleanupSome?: unknown } };
  try {
    const v8 = p.getBuiltinModule("node:v8") as { setFlagsFromString(f: string): void };
    const vm = p.getBuiltinModule("node:vm") as { createContext(): object; runInContext(code: string, ctx: object): unknown };
    // (flags the process was started with stay as they were)
    const hadGc = typeof (globalThis as { gc?: unknown }).gc === "function";
    const hadCleanup = typeof (FinalizationRegistry as unknown as CleanupSome).prototype.cleanupSome === "function";
    v8.setFlagsFromString("--expose-gc");
    v8.setFlagsFromString("--harmony-weak-refs-with-cleanup-some");
    let ctx: object;
    try {
      ctx = vm.createContext();
    } finally {
      if (!hadGc) v8.setFlagsFromString("--no-expose-gc");
      if (!hadCleanup) v8.setFlagsFromString("--no-harmony-weak-refs-with-cleanup-some");
    }
    const gc = vm.runInContext("gc", ctx), Registry = vm.runInContext("FinalizationRegistry", ctx);
    if (typeof gc === "function" && typeof (Registry as CleanupSome | undefined)?.prototype.cleanupSome === "function") {
      collectorState = { gc: gc as () => void, Registry: Registry as typeof FinalizationRegistry };
    }
  } catch {
    // no collector: blocks come back through recycle(), dispose() and tidy() only
  }
  return collectorState;
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

/**
 * Sets the resident mode (ResidentMode; true: "always", false: "off"; "auto": the default for this
 * platform). Arrays already resident stay valid.
 */
export function setResidentStorage(m: ResidentMode | "auto" | boolean): void {
  mode = m === true ? "always" : m === false ? "off" : m;
}

export function residentStorage(): ResidentMode {
  return resolveMode();
}

/** Whether large results are resident now (the mode, and for "tidy" an open scope). */
export function residentNow(): boolean {
  const m = mode === "auto" ? resolveMode() : mode;
  return m === "always" || (m === "tidy" && scopeDepth > 0);
}

/** Tests: the most bytes of resident storage (null: LIMIT). */
export function setResidentLimit(bytes: number | null): void {
  limit = bytes ?? LIMIT;
}

/** A float32 or int32 array in the shared memory. */
export type ResidentArray = Float32Array | Int32Array;

/**
 * A float32 (int32 with `int32`) array of n elements in the shared memory (contents undefined),
 * or null: storage off, no shared memory, larger than MAX_BLOCK, or past the limit.
 */
export function allocResident(n: number): Float32Array | null;
export function allocResident(n: number, int32: true): Int32Array | null;
export function allocResident(n: number, int32 = false): ResidentArray | null {
  if (!residentNow() || memoryFailed) return null;
  const bytes = Math.ceil((n * 4) / ALIGN) * ALIGN;
  if (bytes > MAX_BLOCK || liveBytes + bytes > limit) return null;
  const m = sharedMemory();
  if (!m) return null;
  let off = takeFree(bytes);
  if (off === undefined) {
    if (top + bytes > HEAP_END) return null;
    off = top;
    try {
      growShared(top + bytes);
    } catch {
      return null; // the system refused the pages
    }
    top += bytes;
    if (top > highWater) highWater = top;
  }
  live.set(off, bytes);
  liveBytes += bytes;
  const buf = m.buffer; // (a new object after any growth, the kernels' too)
  buffers.add(buf);
  const a = int32 ? new Int32Array(buf, off, n) : new Float32Array(buf, off, n);
  allocs = allocs >= 2 ** 27 ? 1 : allocs + 1; // (held values stay exact integers)
  allocIds.set(off, allocs);
  registry?.register(a, allocs * OFF_UNITS + off / ALIGN, a);
  if (tracking) liveArrays.set(off, { seq: ++seq, ref: new WeakRef(a) });
  return a;
}

/**
 * Reclaiming ("always" mode). Outside tidy() nothing says when a training loop's activations die:
 * their arrays become garbage, but V8 runs FinalizationRegistry callbacks only after a full
 * collection and in a task of the event loop, and a loop of awaited steps reaches neither (its
 * steps are microtasks of one task; WeakRefs made or read in it stay set until it ends). So when
 * the blocks in use pass `reclaimAt`, reclaim() runs the callbacks of the arrays a collection has
 * already found dead (cleanupSome: V8 collects on its own too), and, unless that freed half the
 * headroom, forces a full collection first; then `reclaimAt` is the bytes still in use plus the
 * headroom. The headroom doubles (up to HEADROOM_MAX) while the forced collections take more than
 * GC_SHARE of the process's CPU time between them, and halves (down to HEADROOM_MIN) below a
 * quarter of that: a collection's cost is mostly fixed (3-25 ms in a small heap), so the fewer the
 * better, and the headroom is memory no tensor uses. It runs at safe points only (residentSafePoint:
 * an op's result is made, its kernels done), never within an op, which may hold the address of an
 * operand whose array it no longer references.
 */
const HEADROOM_MIN = 64 << 20, HEADROOM_MAX = 256 << 20, GC_SHARE = 0.02;
let headroom = HEADROOM_MIN;
let reclaimAt = headroom;
/** Tests: a fixed headroom (null: the adaptive one). */
let fixedHeadroom: number | null = null;
/** The process's CPU milliseconds (all threads; wall time where there is no process) after the last forced collection. */
let lastGcEnd = -1;
/** Forced full collections and their CPU milliseconds, reclaim() calls (tests, benchmarks). */
let gcs = 0, gcMs = 0, reclaims = 0;

function cpuMs(): number {
  const u = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process?.cpuUsage?.();
  return u ? (u.user + u.system) / 1e3 : performance.now();
}

/** Tests: reclaim() when the blocks in use pass those after the last one by `bytes` (null: the adaptive headroom). */
export function setResidentHeadroom(bytes: number | null): void {
  fixedHeadroom = bytes;
  headroom = bytes ?? HEADROOM_MIN;
  reclaimAt = liveBytes + headroom;
}

/**
 * Harvests: every HARVEST bytes of blocks made since the last reclaim or harvest, a safe point
 * calls cleanupSome() alone (no forced collection): the callbacks of the arrays V8's own full
 * collections found dead since (a notebook's kernel runs several between reclaims: its heap is
 * larger, and the cells' code makes more garbage), so their blocks come back before the area
 * grows. Nothing pending, it costs microseconds. Fewer forced collections follow, and with them
 * the adaptive headroom comes down.
 */
const HARVEST = 16 << 20;
let harvestStep = HARVEST;
let harvestAt = harvestStep;
let harvests = 0;

/** Tests: bytes of blocks made between two harvests (0: none; null: the default). */
export function setResidentHarvest(bytes: number | null): void {
  harvestStep = bytes ?? HARVEST;
  harvestAt = liveBytes + harvestStep;
}

/** Tests: a full collection and nothing else (what V8 runs on its own: the callbacks of the arrays it found dead stay pending); false where there is no collector. */
export function collectResidentGarbage(): boolean {
  const c = collector();
  c?.gc();
  return c !== null;
}

/** A safe point (the backend made an op's result): reclaims blocks if those in use passed the mark. */
export function residentSafePoint(): void {
  if (liveBytes > reclaimAt && collectorState !== null) reclaim();
  else if (harvestStep > 0 && liveBytes > harvestAt && collectorState) {
    harvests++;
    (registry as { cleanupSome?: () => void } | null)?.cleanupSome?.();
    harvestAt = liveBytes + harvestStep;
  }
}

function reclaim(force = false): void {
  const c = collector(), r = registry as (FinalizationRegistry<number> & { cleanupSome?: () => void }) | null;
  if (!c || !r?.cleanupSome) {
    // (no collector: recycle(), dispose(), tidy() and, between tasks, the finalizers free blocks)
    if (!taskReclaim()) reclaimAt = Infinity;
    return;
  }
  reclaims++;
  r.cleanupSome();
  if (force || liveBytes > reclaimAt - headroom / 2) {
    const t0 = cpuMs();
    c.gc();
    r.cleanupSome();
    const t1 = cpuMs(), spent = t1 - t0;
    gcMs += spent;
    gcs++;
    if (!force && lastGcEnd >= 0 && fixedHeadroom === null) {
      const between = t0 - lastGcEnd;
      if (spent > GC_SHARE * between) headroom = Math.min(HEADROOM_MAX, headroom * 2);
      else if (spent < (GC_SHARE / 4) * between) headroom = Math.max(HEADROOM_MIN, headroom / 2);
    }
    lastGcEnd = t1;
  }
  reclaimAt = liveBytes + headroom;
  harvestAt = liveBytes + harvestStep;
}

/** The first index of `freeSizes` whose size is at least `bytes`. */
function sizeIndex(bytes: number): number {
  let lo = 0, hi = freeSizes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (freeSizes[mid] < bytes) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Best fit: the smallest free block that holds `bytes` (the most recently freed of that size), split (its rest stays free); or undefined. */
function takeFree(bytes: number): number | undefined {
  const i = sizeIndex(bytes);
  if (i === freeSizes.length) return undefined;
  const size = freeSizes[i], list = freeLists.get(size)!;
  let off = list.pop()!;
  while (freeAt.get(off) !== size) off = list.pop()!; // (freeCount says one is there)
  unlistFree(off, size);
  if (size > bytes) listFree(off + bytes, size - bytes);
  return off;
}

/** Lists a free block (its neighbours are not free, and it does not end at the top). */
function listFree(off: number, bytes: number): void {
  freeAt.set(off, bytes);
  freeEnd.set(off + bytes, off);
  freeBytes += bytes;
  const n = freeCount.get(bytes) ?? 0;
  freeCount.set(bytes, n + 1);
  const list = freeLists.get(bytes);
  if (!list) freeLists.set(bytes, [off]);
  else {
    list.push(off);
    // (offsets no longer free there pile up where blocks of this size merge: drop them now and then)
    if (list.length > 4 * n + 64) freeLists.set(bytes, [...new Set(list.filter((o) => freeAt.get(o) === bytes))]);
  }
  if (n === 0) freeSizes.splice(sizeIndex(bytes), 0, bytes);
}

/** Takes a free block off the lists (its offset may stay in its size's list: skipped when popped). */
function unlistFree(off: number, bytes: number): void {
  freeAt.delete(off);
  freeEnd.delete(off + bytes);
  freeBytes -= bytes;
  const n = freeCount.get(bytes)! - 1;
  if (n > 0) freeCount.set(bytes, n);
  else {
    freeCount.delete(bytes);
    freeLists.delete(bytes);
    freeSizes.splice(sizeIndex(bytes), 1);
  }
}

/** A block becomes free: merged with its free neighbours; the top comes down over it where it ends there. */
function freeBlock(off: number, bytes: number): void {
  const below = freeEnd.get(off);
  if (below !== undefined) {
    const b = freeAt.get(below)!;
    unlistFree(below, b);
    bytes += off - below;
    off = below;
  }
  const above = freeAt.get(off + bytes);
  if (above !== undefined) {
    unlistFree(off + bytes, above);
    bytes += above;
  }
  if (off + bytes === top) top = off;
  else listFree(off, bytes);
}

/** Hands a block back (from the finalizer, or explicitly once unregistered). */
function release(off: number): void {
  const bytes = live.get(off);
  if (bytes === undefined) return;
  live.delete(off);
  allocIds.delete(off);
  refs.delete(off);
  liveArrays.delete(off);
  keptBlocks.delete(off);
  liveBytes -= bytes;
  freeBlock(off, bytes);
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

/** Bytes of the memory's tensor area in use or cached (from HEAP_BASE to the top). */
export function residentBytes(): number {
  return top - HEAP_BASE;
}

/** Figures for tests: live blocks and their bytes, cached free bytes, the top. */
export function residentStats(): { blocks: number; liveBytes: number; freeBytes: number; freeBlocks: number; largestFree: number; top: number; highWater: number; freed: number; reclaims: number; gcs: number; gcMs: number; headroom: number; taskPoints: number; harvests: number } {
  return { blocks: live.size, liveBytes, freeBytes, freeBlocks: freeAt.size, largestFree: freeSizes.length ? freeSizes[freeSizes.length - 1] : 0, top: top - HEAP_BASE, highWater: highWater - HEAP_BASE, freed: freedExplicitly, reclaims, gcs, gcMs, headroom, taskPoints, harvests };
}

/**
 * Drops the memory when no tensor lives in it (emptyCache(): a WebAssembly memory cannot shrink,
 * so a fresh one takes its place at next use); returns whether it did. Else the free blocks stay
 * (they are reused; adjacent ones are merged as they are freed).
 */
export function dropSharedMemory(): boolean {
  if (live.size > 0 && mode === "always") reclaim(true);
  if (live.size > 0) return false;
  memory = null;
  registry = null;
  buffers = new WeakSet();
  top = HEAP_BASE;
  highWater = HEAP_BASE;
  freeLists = new Map();
  freeCount = new Map();
  freeSizes = [];
  freeAt = new Map();
  freeEnd = new Map();
  freeBytes = 0;
  live = new Map();
  allocIds = new Map();
  liveArrays = new Map();
  keptBlocks = new Set();
  refs = new Map();
  headroom = fixedHeadroom ?? HEADROOM_MIN;
  reclaimAt = headroom;
  harvestAt = harvestStep;
  lastGcEnd = -1;
  return true;
}

registerMemoryPool({
  name: "CPU tensor storage in the WASM memory",
  device: "cpu",
  bytes: () => top - HEAP_BASE,
  inUse: () => liveBytes,
  tensors: () => live.size,
});
