// The WASM runtime of the CPU kernels: compiles the SIMD module (module.ts) once, instantiates it
// on a memory of its own (a shared one when worker threads are on, see threads.ts), grows that
// memory, and says whether the kernels may use it. Every WASM path of the CPU kernels (GEMM,
// convolutions, pooling, element-wise) goes through `wasmInstance()`; each falls back to its
// plain TypeScript loop where it returns null.

import { simdModuleBytes, type SimdConfig } from "./module.ts";
import { getNumThreads, quiesce, releasePool, threadsFor, threadsSupported, type TaskTarget } from "./threads.ts";
import { registerMemoryPool } from "../../../memory.ts";
import { nativeExports, nativeInfo, nativePath, setNativeEnabled, type NativeInfo } from "../native/loader.ts";
import { dropSharedMemory, HEAP_BASE, isResident, residentBytes, residentStorage, SHARED_MAX_PAGES, sharedMemory } from "./heap.ts";

/** The instantiated SIMD module (see module.ts for the exports' contracts). Internal to the CPU kernels. */
export interface WasmInstance extends TaskTarget {
  cfg: SimdConfig;
  /** the memory is shared (worker threads can run its functions, see threads.ts) */
  shared: boolean;
  block: (mc: number, np: number, kc: number, a: number, b: number, c: number, ldc: number, accum: number, aStep: number, bStep: number) => void;
  cblock: (mc: number, np: number, K: number, a: number, x: number, offs: number, c: number, ldc: number, astride: number, narrow?: number) => void;
  wblock: (mt: number, kt: number, J: number, dy: number, ldy: number, x: number, offs: number, dw: number, lddw: number) => void;
  maxpool2: (x: number, H: number, W: number, npl: number, OH: number, OW: number, out: number, idx: number) => void;
  maxpool2grad: (dy: number, idx: number, H: number, W: number, npl: number, OH: number, OW: number, dx: number, flag?: number) => number;
  avgpool2: (x: number, H: number, W: number, npl: number, OH: number, OW: number, y: number) => void;
  avgpool2grad: (dy: number, H: number, W: number, npl: number, OH: number, OW: number, dx: number) => void;
  copy2d: (src: number, sPitch: number, sPlane: number, dst: number, dPitch: number, dPlane: number, planes: number, rows: number, n: number) => void;
  gather: (src: number, sStep: number, sPitch: number, sPlane: number, dst: number, dPitch: number, dPlane: number, planes: number, rows: number, n: number) => void;
  scatteradd: (src: number, sPitch: number, sPlane: number, dst: number, dStep: number, dPitch: number, dPlane: number, planes: number, rows: number, n: number) => void;
  addbias: (c: number, ldc: number, rows: number, n: number, bias: number) => void;
  sumrows: (x: number, n: number, rows: number, out: number) => void;
  addrows: (x: number, rows: number, m: number, acc: number) => void;
  sgdstep: (p: number, g: number, b: number, n: number, flags: number, wd: number, m: number, damp: number, lr: number) => void;
  adamstep: (p: number, g: number, m: number, v: number, n: number, flags: number, keep: number, l2: number, b1: number, a1: number, b2: number, a2: number, sqrtbc2: number, eps: number, step: number) => void;
  f32: Float32Array;
  i32: Int32Array;
  /** the WebAssembly exports themselves (`exports` has the native ones in their place where they run: ../native/) */
  wasmExports: Record<string, (...args: number[]) => number | undefined>;
}

const CONFIG: SimdConfig = { MR: 6, NV: 2, UNROLL: 1, fma: false }; // MR 6: 12 accumulators (4: 8, too few to hide the FMA latency); unrolling k measured slower in V8

let wasm: WasmInstance | null = null;
type WasmState = "untried" | "pending" | "ready" | "unavailable";
let wasmState: WasmState = "untried";
const currentState = (): WasmState => wasmState; // defeats narrowing across awaits
let wasmError: string | null = null;
let mode: WasmMode = "auto";
/** Fused multiply-add allowed (relaxed SIMD, where the engine has it); false: the exact-bits mode. */
let fmaAllowed = true;

let sharedFailed = false;

/**
 * A shared memory is wanted: worker threads (possible here and more than one asked for), or
 * resident tensor storage (heap.ts), which lives in that memory.
 */
function wantShared(): boolean {
  return !sharedFailed && ((getNumThreads() > 1 && threadsSupported()) || (residentStorage() !== "off" && sharedMemory() !== null));
}

/**
 * Node 20 has relaxed SIMD only behind a V8 flag: turn it on (process-wide, before the first
 * module that needs it is compiled). Newer Node and current browsers have it without this.
 */
function enableRelaxedSimd(fmaBytes: Uint8Array<ArrayBuffer>): void {
  if (WebAssembly.validate(fmaBytes)) return;
  const p = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown; versions?: { node?: string } } }).process;
  if (!p?.versions?.node) return;
  try {
    const v8 = p.getBuiltinModule?.("node:v8") as { setFlagsFromString?: (f: string) => void } | undefined;
    v8?.setFlagsFromString?.("--experimental-wasm-relaxed-simd");
  } catch {
    // keep the plain SIMD module
  }
}

function chooseConfig(): { cfg: SimdConfig; bytes: Uint8Array<ArrayBuffer> } | null {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") return null;
  // prefer fused multiply-add (relaxed SIMD), detected at run time, unless the exact-bits mode is on
  if (fmaAllowed) {
    const withFma = simdModuleBytes({ ...CONFIG, fma: true });
    enableRelaxedSimd(withFma);
    if (WebAssembly.validate(withFma)) return { cfg: { ...CONFIG, fma: true }, bytes: withFma };
  }
  const plain = simdModuleBytes(CONFIG);
  if (WebAssembly.validate(plain)) return { cfg: CONFIG, bytes: plain };
  return null;
}

/** Pages a memory starts with (4 MiB). */
const INITIAL_PAGES = 64;

function instantiate(module: WebAssembly.Module, cfg: SimdConfig, shared = false): WasmInstance {
  // every shared instance is on the one shared memory (heap.ts), where resident tensors live
  const memory = shared ? sharedMemory() : new WebAssembly.Memory({ initial: INITIAL_PAGES });
  if (!memory) throw new Error("no shared WebAssembly memory here");
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const wasmExports = inst.exports as unknown as WasmInstance["wasmExports"];
  // the native kernels (Node, where built: ../native/) in place of their WASM exports, same bits
  const nat = nativeExports(memory, cfg.fma, cfg.MR, 4 * cfg.NV);
  const ex: Record<string, unknown> = nat ? { ...wasmExports, ...nat } : wasmExports;
  return {
    cfg, memory, module, shared, wasmExports,
    native: nat ? { path: nativePath()!, fma: cfg.fma } : null,
    exports: ex as unknown as WasmInstance["exports"],
    block: ex.block as WasmInstance["block"],
    cblock: ex.cblock as WasmInstance["cblock"],
    wblock: ex.wblock as WasmInstance["wblock"],
    maxpool2: ex.maxpool2 as WasmInstance["maxpool2"],
    maxpool2grad: ex.maxpool2grad as WasmInstance["maxpool2grad"],
    avgpool2: ex.avgpool2 as WasmInstance["avgpool2"],
    avgpool2grad: ex.avgpool2grad as WasmInstance["avgpool2grad"],
    copy2d: ex.copy2d as WasmInstance["copy2d"],
    gather: ex.gather as WasmInstance["gather"],
    scatteradd: ex.scatteradd as WasmInstance["scatteradd"],
    addbias: ex.addbias as WasmInstance["addbias"],
    sumrows: ex.sumrows as WasmInstance["sumrows"],
    addrows: ex.addrows as WasmInstance["addrows"],
    sgdstep: ex.sgdstep as WasmInstance["sgdstep"],
    adamstep: ex.adamstep as WasmInstance["adamstep"],
    f32: new Float32Array(memory.buffer),
    i32: new Int32Array(memory.buffer),
  };
}

/** Replaces the instance by one on a shared memory (same configuration), synchronously; false if that fails. */
function upgradeShared(): boolean {
  const cur = wasm!;
  try {
    const bytes = simdModuleBytes(cur.cfg, SHARED_MAX_PAGES);
    wasm = instantiate(new WebAssembly.Module(bytes), cur.cfg, true);
    releasePool();
    return true;
  } catch {
    sharedFailed = true;
    return false;
  }
}

export interface WasmOptions {
  /**
   * Node 20 only has relaxed SIMD (fused multiply-add, ~30% faster kernels) behind a V8 flag.
   * A Node entry point may pass `v8.setFlagsFromString` (from "node:v8") here; it is called with
   * "--experimental-wasm-relaxed-simd" when the engine lacks relaxed SIMD. Browsers (Chrome 114+,
   * Firefox 122+) and Node 22+ have it without this. A module compiled earlier without FMA is
   * recompiled.
   */
  v8SetFlags?: (flags: string) => void;
}

/**
 * Compiles the SIMD module asynchronously (safe to call many times). Until it resolves, the
 * module compiles synchronously on first use where that is allowed (Node, workers) and the
 * kernels fall back to plain TypeScript where it is not (a browser main thread).
 */
export async function initWasm(opts: WasmOptions = {}): Promise<void> {
  if (opts.v8SetFlags && typeof WebAssembly === "object" && !WebAssembly.validate(simdModuleBytes({ ...CONFIG, fma: true }))) {
    try {
      opts.v8SetFlags("--experimental-wasm-relaxed-simd");
    } catch {
      // keep the plain SIMD module
    }
  }
  if (wasmState === "unavailable") return;
  if (wasmState === "ready" && (wasm!.cfg.fma || !opts.v8SetFlags || !fmaAllowed)) return;
  const chosen = chooseConfig();
  if (!chosen) {
    if (currentState() !== "ready") {
      wasmState = "unavailable";
      wasmError = "WebAssembly SIMD is not supported here";
    }
    return;
  }
  if (wasmState === "ready" && wasm!.cfg.fma === chosen.cfg.fma) return;
  try {
    const mod = await WebAssembly.compile(chosen.bytes);
    if (currentState() !== "ready" || (chosen.cfg.fma && !wasm!.cfg.fma)) {
      let next = instantiate(mod, chosen.cfg);
      if (wantShared()) {
        try {
          next = instantiate(await WebAssembly.compile(simdModuleBytes(chosen.cfg, SHARED_MAX_PAGES)), chosen.cfg, true);
        } catch {
          sharedFailed = true;
        }
      }
      releasePool();
      wasm = next;
      wasmState = "ready";
    }
  } catch (e) {
    if (currentState() !== "ready") {
      wasmState = "unavailable";
      wasmError = String(e);
    }
  }
}

/**
 * The instance, compiled synchronously on first use (fine in Node and workers; on failure the
 * asynchronous compile is started), whatever the mode; null where WebAssembly SIMD is missing.
 */
export function compiledWasm(): WasmInstance | null {
  if (wasmState === "ready") {
    // before any use of the memory: finish what an interrupted threaded job left running
    quiesce();
    if (!wasm!.shared && wantShared()) upgradeShared();
    return wasm;
  }
  if (wasmState !== "untried") return null;
  const chosen = chooseConfig();
  if (!chosen) {
    wasmState = "unavailable";
    wasmError = "WebAssembly SIMD is not supported here";
    return null;
  }
  if (wantShared()) {
    try {
      wasm = instantiate(new WebAssembly.Module(simdModuleBytes(chosen.cfg, SHARED_MAX_PAGES)), chosen.cfg, true);
      wasmState = "ready";
      return wasm;
    } catch {
      sharedFailed = true;
    }
  }
  try {
    wasm = instantiate(new WebAssembly.Module(chosen.bytes), chosen.cfg);
    wasmState = "ready";
    return wasm;
  } catch {
    // e.g. a browser main thread refusing synchronous compilation: go async
    wasmState = "pending";
    initWasm().catch(() => undefined);
    return null;
  }
}

/**
 * "auto": every CPU kernel uses the WASM module where it has a path for the case and the module
 * compiled; "js": none does (GEMM, convolutions, pooling and element-wise ops all run their plain
 * TypeScript loops: the reference the tests compare with); "wasm": as "auto", and the GEMM takes
 * WASM even for products too small to gain from it.
 */
export type WasmMode = "auto" | "js" | "wasm";

/**
 * The exact-bits mode (`setWasmFma(false)`): the SIMD module multiplies and adds separately, as
 * every engine does, so results are the same bits on every machine and browser. By default
 * (true) it uses relaxed SIMD's fused multiply-add where the engine has it (found at run time;
 * Node 20's V8 flag is set for it): faster, rounded once instead of twice, and whether the
 * hardware fuses is up to the engine. Either way the results are the same for every thread
 * count. Changing it recompiles the module at its next use.
 */
export function setWasmFma(on: boolean): void {
  if (on === fmaAllowed) return;
  fmaAllowed = on;
  if (wasmState === "ready" && wasm!.cfg.fma !== on) {
    releasePool();
    wasm = null;
    wasmState = "untried";
  }
}

/**
 * The native kernels for Node (../native/: C versions of the SIMD module's compute-bound exports,
 * the same bits) on or off; on by default where the library is built, unless GB_CPU_NATIVE=0.
 * Changing it makes a new instance at the next use (the worker threads restart with it).
 */
export function setCpuNative(on: boolean): void {
  setNativeEnabled(on);
  const routed = wasmState === "ready" && wasm!.native !== null;
  if (wasmState === "ready" && routed !== (nativeInfo().on)) {
    releasePool();
    wasm = null;
    wasmState = "untried";
  }
}

/** Sets the WASM mode of all the CPU kernels (see WasmMode; for tests and benchmarks). */
export function setWasmMode(m: WasmMode): void {
  mode = m;
}

export function wasmMode(): WasmMode {
  return mode;
}

/**
 * Describes the WASM runtime (threads: how many a threaded kernel would use now; native: whether
 * the instance's compute-bound exports run as native kernels, which, on what instruction set, and why).
 */
export function wasmInfo(): { wasm: boolean; fma: boolean; mode: WasmMode; error: string | null; threads: number; native: NativeInfo } {
  const w = compiledWasm();
  const n = nativeInfo();
  const native = w && !w.native ? { ...n, on: false, names: [], why: n.on ? "this instance's SIMD configuration is not the one the library is written for, or the instance predates it" : n.why } : n;
  return { wasm: w !== null, fma: w?.cfg.fma ?? false, mode, error: wasmError, threads: w ? threadsFor(w) : 1, native };
}

/** The most scratch bytes an op asked of the shared memory (below HEAP_BASE) since it was made. */
let sharedScratch = INITIAL_PAGES * 65536;

/**
 * Grows the WASM memory to at least `bytes` of scratch (from address 0) and refreshes the views.
 * Internal to the CPU kernels. On the shared memory, scratch ends where tensor storage starts.
 */
export function ensureMemory(w: WasmInstance, bytes: number): Float32Array {
  if (w.shared) {
    if (bytes > HEAP_BASE && residentBytes() > 0) throw new RangeError(`cpu kernels: an op needs ${bytes} bytes of WASM scratch memory, more than the ${HEAP_BASE} below tensor storage`);
    if (bytes > sharedScratch) sharedScratch = bytes;
  }
  const have = w.memory.buffer.byteLength;
  if (bytes > have) {
    w.memory.grow(Math.ceil((bytes - have) / 65536));
  }
  if (w.f32.buffer !== w.memory.buffer) {
    w.f32 = new Float32Array(w.memory.buffer);
    w.i32 = new Int32Array(w.memory.buffer);
  }
  return w.f32;
}

// The scratch grows to fit the largest op and keeps that size; emptyCache() puts a fresh memory
// of the initial size in its place (a WebAssembly memory cannot shrink) where no tensor lives in
// it (heap.ts: the shared memory holds resident tensors above HEAP_BASE; counted by its own pool).
registerMemoryPool({
  name: "WASM memory of the CPU kernels",
  device: "cpu",
  bytes: () => (wasm ? (wasm.shared ? sharedScratch : wasm.memory.buffer.byteLength) : 0) + (priv?.privateFor === wasm ? priv!.inst.memory.buffer.byteLength : 0),
  release() {
    priv = null; // (its module is kept)
    if (!wasm) return;
    if (wasm.shared) {
      quiesce();
      if (!dropSharedMemory()) return; // tensors live in it (its free blocks were merged)
      sharedScratch = INITIAL_PAGES * 65536;
    } else {
      if (wasm.memory.buffer.byteLength <= INITIAL_PAGES * 65536) return;
      quiesce();
    }
    releasePool();
    wasm = instantiate(wasm.module, wasm.cfg, wasm.shared);
  },
});

/**
 * The instance on a private (unshared) memory beside a shared one, for code that runs on the
 * calling thread only: V8 copies a typed array into or out of a SharedArrayBuffer (a shared
 * memory's buffer) with a word-by-word relaxed-atomic copy, 2.5x slower than the memmove of an
 * ordinary one (a 4 MB copy 0.28 vs 0.11 ms measured), and the single-threaded paths (element-wise
 * ops, pooling, sums) are mostly such copies. `privateFor` is the shared instance it was made for.
 */
let priv: { inst: WasmInstance; privateFor: WasmInstance } | null = null;
/** the module compiled for a private memory, by configuration (kept when emptyCache() drops the instance) */
let privModule: { cfg: SimdConfig; module: WebAssembly.Module } | null = null;
let privFailed = false;

/**
 * The instance for a kernel that runs on the calling thread only (the same module and bits):
 * where the instance of wasmInstance() is on a shared memory, one on a private memory (made at
 * first use); else that same instance. Null as wasmInstance().
 */
export function serialWasmInstance(): WasmInstance | null {
  const w = wasmInstance();
  if (!w || !w.shared || privFailed) return w;
  if (priv?.privateFor !== w) {
    try {
      if (privModule?.cfg !== w.cfg) privModule = { cfg: w.cfg, module: new WebAssembly.Module(simdModuleBytes(w.cfg)) };
      priv = { inst: instantiate(privModule.module, w.cfg), privateFor: w };
    } catch {
      // (a thread that may not compile synchronously) the shared instance serves
      privFailed = true;
      return w;
    }
  }
  return priv.inst;
}

/**
 * The instance for a kernel on the calling thread whose operands and results are `arrays`: the
 * shared one where any of them is resident (heap.ts: used in place, or copied within the memory),
 * else serialWasmInstance(). Null as wasmInstance(). With worker threads on, a kernel that decided
 * on one thread passes 1 to runTasks / runPipelined (their `maxThreads`): its scratch is laid out
 * for the calling thread only, and the workers stay out of its jobs.
 */
export function serialWasmFor(...arrays: (ArrayBufferView | null | undefined)[]): WasmInstance | null {
  const w = wasmInstance();
  if (w?.shared) for (const a of arrays) if (a && isResident(a)) return w;
  return serialWasmInstance();
}

/** The byte address of `a` in w's memory where it is resident there (a kernel uses it in place), else -1. */
export function residentAddress(w: WasmInstance, a: ArrayBufferView): number {
  return w.shared && isResident(a) ? a.byteOffset : -1;
}

/**
 * The one way operands enter the WASM memory (w's memory grown first, ensureMemory): src[a, b)
 * to float index `dst`. Where src is resident in that memory, by the SIMD module's copy (V8
 * copies a typed array on a SharedArrayBuffer 2.4x slower than a memmove: 4 MB 0.24 vs 0.10 ms);
 * else by a typed-array copy.
 */
export function copyIn(w: WasmInstance, src: Float32Array | Int32Array, a: number, b: number, dst: number): void {
  if (b <= a) return;
  if (w.shared && isResident(src)) w.copy2d(src.byteOffset + a * 4, 0, 0, dst * 4, 0, 0, 1, 1, b - a);
  else if (src instanceof Int32Array) w.i32.set(src.subarray(a, b), dst);
  else w.f32.set(src.subarray(a, b), dst);
}

/** The one way results leave the WASM memory: n values at float index `src` to dst[at, at + n) (as copyIn). */
export function copyOut(w: WasmInstance, src: number, n: number, dst: Float32Array | Int32Array, at: number): void {
  if (n <= 0) return;
  if (w.shared && isResident(dst)) w.copy2d(src * 4, 0, 0, dst.byteOffset + at * 4, 0, 0, 1, 1, n);
  else if (dst instanceof Int32Array) dst.set(w.i32.subarray(src, src + n), at);
  else dst.set(w.f32.subarray(src, src + n), at);
}

/**
 * An operand's byte address in w's memory for src[a, b): in place where src is resident there,
 * else copied to float index `scratch` (copyIn). Kernels use this and resultAt / resultDone
 * and need not know which arrays are resident.
 */
export function operandAt(w: WasmInstance, src: Float32Array | Int32Array, a: number, b: number, scratch: number): number {
  const r = residentAddress(w, src);
  if (r >= 0) return r + a * 4;
  copyIn(w, src, a, b, scratch);
  return scratch * 4;
}

/** Where a kernel writes dst[a, ...): its byte address where dst is resident in w's memory, else float index `scratch` (then resultDone copies it out). */
export function resultAt(w: WasmInstance, dst: Float32Array | Int32Array, a: number, scratch: number): number {
  const r = residentAddress(w, dst);
  return r >= 0 ? r + a * 4 : scratch * 4;
}

/** After the kernel wrote dst[a, b) at resultAt(w, dst, a, scratch): copies it out unless it was written in place. */
export function resultDone(w: WasmInstance, dst: Float32Array | Int32Array, a: number, b: number, scratch: number): void {
  if (residentAddress(w, dst) < 0) copyOut(w, scratch, b - a, dst, a);
}

/** Why compiledWasm() gives null. */
export function wasmUnavailableReason(): string {
  return wasmError ?? wasmState;
}

/** The instance when the kernels may use it (compiled, and the mode is not "js"). Internal to the CPU kernels. */
export function wasmInstance(): WasmInstance | null {
  return mode === "js" ? null : compiledWasm();
}
