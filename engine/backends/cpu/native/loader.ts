// The native kernels for Node (README.md in this folder): C versions of compute-bound exports of
// the SIMD module (wasm/module.ts), with the same arguments (byte addresses in the WebAssembly
// memory) and the same bits, built by scripts/native.mjs into dist/gb-native.node. runtime.ts
// routes an instance's exports to them where this finds the library (Node only: the engine bundle
// also runs in browsers, so no static Node import; the library is loaded with process.dlopen);
// threads.ts does the same in each worker. Silently the WASM exports where the file is missing,
// where addons are refused (Node's permission model without --allow-addons: process.dlopen
// throws; the grader's kernels allow them), below AVX2 + FMA, or
// with GB_CPU_NATIVE=0 (setCpuNative(false)); nativeInfo() says which and why.

/** A native export: the WASM export's arguments; its i32 result where it has one. */
export type NativeFn = (...args: number[]) => number | undefined;

/** The loaded library (gb-native.c). */
export interface NativeLib {
  /** the instruction set its kernels use here: "avx512", "avx2" ("none": no kernel offered) */
  isa: string;
  /** the SIMD module's exports it has for this CPU */
  names: string[];
  /** the SIMD module's configuration its kernels are written for: MR rows and NR columns a packed panel */
  mr: number;
  nr: number;
  /** The exports bound to the memory `view` covers (all of a WebAssembly memory's buffer); fma: the module's mode. */
  bind(view: Uint8Array, fma: boolean): Record<string, NativeFn> & { rebind(view: Uint8Array): void };
  /** Runs `iters` steps of 12 independent FMA chains of the widest vectors (the bench times it); returns the flops. */
  peak(iters: number): number;
}

export interface NativeInfo {
  /** the library is loaded and instances route their exports to it */
  on: boolean;
  isa: string | null;
  /** the exports that run natively */
  names: string[];
  /** why not (or "loaded from <path>") */
  why: string;
  path: string | null;
}

type NodeProcess = {
  versions?: { node?: string };
  env?: Record<string, string | undefined>;
  dlopen?: (module: { exports: unknown }, path: string) => void;
  getBuiltinModule?: (m: string) => unknown;
};

const proc = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

let enabled = proc()?.env?.GB_CPU_NATIVE !== "0";
let lib: NativeLib | null | undefined;
let libPath: string | null = null;
let why = "not tried";

/** Where the library may be: beside the bundle (dist/), or the repository's dist/ from the sources. */
function candidates(): string[] {
  const out: string[] = [];
  let url: string | undefined;
  try {
    url = import.meta.url;
  } catch {
    url = undefined;
  }
  if (typeof url !== "string" || !url.startsWith("file:")) return out;
  for (const rel of ["./gb-native.node", "../../../../dist/gb-native.node"]) {
    try {
      out.push(decodeURIComponent(new URL(rel, url).pathname));
    } catch {
      // next
    }
  }
  return out;
}

function load(): NativeLib | null {
  const p = proc();
  if (!p?.versions?.node) {
    why = "not Node";
    return null;
  }
  if (typeof p.dlopen !== "function") {
    why = "process.dlopen is missing";
    return null;
  }
  const fs = p.getBuiltinModule?.("node:fs") as { existsSync(f: string): boolean } | undefined;
  const file = candidates().find((f) => fs?.existsSync(f));
  if (!file) {
    why = "dist/gb-native.node not built (npm run build compiles it with gcc)";
    return null;
  }
  try {
    const m: { exports: unknown } = { exports: {} };
    p.dlopen(m, file);
    const l = m.exports as NativeLib;
    if (typeof l?.bind !== "function" || !Array.isArray(l.names)) {
      why = `${file} is not gradbook's native library`;
      return null;
    }
    if (l.isa === "none" || l.names.length === 0) {
      why = "this CPU has neither AVX-512 nor AVX2 with FMA";
      return null;
    }
    libPath = file;
    why = `loaded from ${file}`;
    return l;
  } catch (e) {
    // Node's permission model without --allow-addons refuses addons; a library for another system
    why = `the library did not load: ${(e as Error)?.message ?? String(e)}`;
    return null;
  }
}

/** The library where the native path is on and it loads (once per process), else null. */
export function nativeLibrary(): NativeLib | null {
  if (!enabled) return null;
  if (lib === undefined) lib = load();
  return lib;
}

/** The library's path for worker threads (null where the native path is off). */
export function nativePath(): string | null {
  return nativeLibrary() ? libPath : null;
}

/**
 * Turns the native path on or off (default: on in Node where the library is built, unless
 * GB_CPU_NATIVE=0). Takes effect at the next instance: runtime.ts's setCpuNative also drops the current one.
 */
export function setNativeEnabled(on: boolean): void {
  enabled = on;
}

export function nativeInfo(): NativeInfo {
  const l = nativeLibrary();
  if (!l) return { on: false, isa: null, names: [], why: enabled ? why : proc()?.env?.GB_CPU_NATIVE === "0" ? "GB_CPU_NATIVE=0" : "turned off (setCpuNative(false))", path: null };
  return { on: true, isa: l.isa, names: [...l.names], why, path: libPath };
}

/**
 * The library's exports bound to `memory`, each checking first that the memory has not grown
 * (a grown memory has a new buffer: a private memory's also moves) and binding it again if it
 * has, so every call sees the memory's current base and length. Self-contained (no reference
 * outside it): threads.ts puts its source into the worker's.
 */
export function routeNative(lib: NativeLib, memory: WebAssembly.Memory, fma: boolean): Record<string, NativeFn> {
  let buf = memory.buffer;
  const b = lib.bind(new Uint8Array(buf), fma);
  const out: Record<string, NativeFn> = {};
  lib.names.forEach(function (n) {
    const f = b[n];
    out[n] = function (a0?: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number, a6?: number, a7?: number, a8?: number, a9?: number) {
      if (memory.buffer !== buf) {
        buf = memory.buffer;
        b.rebind(new Uint8Array(buf));
      }
      return (f as (...a: (number | undefined)[]) => number | undefined)(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9);
    };
  });
  return out;
}

/**
 * The native exports for an instance on `memory` (fma: its mode; MR, NR: its configuration's
 * panels), or null where the native path is off or the library is written for other panels.
 */
export function nativeExports(memory: WebAssembly.Memory, fma: boolean, MR: number, NR: number): Record<string, NativeFn> | null {
  const l = nativeLibrary();
  return l && l.mr === MR && l.nr === NR ? routeNative(l, memory, fma) : null;
}
