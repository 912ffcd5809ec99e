// The native convolution kernels (engine/backends/cpu/native/conv.c: cblock, wblock, vblock): the
// same bits as the SIMD module's exports they replace, in both FMA modes, on random operands over
// LeNet-5's shapes and the edges of each contract; convolutions through the engine with the native
// kernels on and off (1 and 2 threads) bit for bit; a bad range a RangeError naming the export.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as K from "../../../engine/backends/cpu/kernels/index.ts";
import { compiledWasm, ensureMemory, setCpuNative, type WasmInstance } from "../../../engine/backends/cpu/wasm/runtime.ts";
import { nativeInfo } from "../../../engine/backends/cpu/native/loader.ts";
import { poolInfo } from "../../../engine/backends/cpu/wasm/threads.ts";
import { buildNativeOrFail, vitestOnAvx2 } from "./native-setup.ts";
import { rand } from "./xorshift.ts";

beforeAll(() => {
  buildNativeOrFail();
  expect(nativeInfo().names).toEqual(expect.arrayContaining(["cblock", "wblock", "vblock"]));
});

afterAll(() => {
  setCpuNative(true);
  K.setWasmFma(true);
  K.setNumThreads(2);
});

const GUARD = 64; // floats checked on either side of what a call writes
type Fn = "cblock" | "wblock" | "vblock";

/** A random integer in [0, n) from a uniform draw u in [0, 1). */
const pick = (u: number, n: number) => Math.min(n - 1, Math.floor(u * n));

/**
 * Runs `fn` both ways on the same operands: `out` floats at two places (each between guards, both
 * starting from the same random values), the rest shared; every float of both areas, guards
 * included, must have the same bits.
 */
function both(w: WasmInstance, fn: Fn, args: (out: number) => number[], outAt: [number, number], outFloats: number, seed: number, what: string): void {
  const f32 = w.f32.length * 4 === w.memory.buffer.byteLength ? w.f32 : new Float32Array(w.memory.buffer);
  const init = rand(outFloats + 2 * GUARD, seed);
  f32.set(init, outAt[0] / 4 - GUARD);
  f32.set(init, outAt[1] / 4 - GUARD);
  (w.wasmExports[fn] as (...a: number[]) => void)(...args(outAt[0]));
  (w.exports[fn] as (...a: number[]) => void)(...args(outAt[1]));
  const want = new Uint32Array(w.memory.buffer, outAt[0] - 4 * GUARD, outFloats + 2 * GUARD);
  const got = new Uint32Array(w.memory.buffer, outAt[1] - 4 * GUARD, outFloats + 2 * GUARD);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      const g = new Float32Array(got.buffer, got.byteOffset, got.length), e = new Float32Array(want.buffer, want.byteOffset, want.length);
      expect.fail(`${fn} ${what} (fma ${w.cfg.fma}): float ${i - GUARD} of the output is ${g[i]}, WASM ${e[i]}`);
    }
  }
}

/** Random tap offsets (bytes, multiples of 4) below `span` floats, at byte address `at`. */
function taps(w: WasmInstance, at: number, n: number, span: number, seed: number): number {
  const r = rand(n, seed);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const o = 4 * pick((r[i] + 1) / 2, span);
    w.i32[at / 4 + i] = o;
    max = Math.max(max, o);
  }
  return max;
}

interface CCase { mc: number; np: number; K: number; narrow: boolean; astrideExtra: number; ldcExtra: number; atEnd: boolean; seed: number }

/**
 * cblock(mc, np, K, a, x, offs, c, ldc, astride, narrow). atEnd: X's last float read is the
 * memory's last (the native kernel's tail vectors must not read past it).
 */
function cblockCase(w: WasmInstance, c: CCase): void {
  const { mc, np, K: Kt } = c;
  const ncols = 8 * np - (c.narrow ? 4 : 0);
  const astride = 24 * Kt + 4 * c.astrideExtra;
  const panels = Math.ceil(mc / 6);
  const ldc = 4 * ncols + 4 * c.ldcExtra; // (ldcExtra < 0: the rows overlap)
  const aFloats = panels * (astride / 4) + 6 * Kt + 8, span = 2000;
  const cFloats = Math.max(ncols, (mc - 1) * (ldc / 4) + ncols) + 8;
  const offs = 256, a = offs + 4 * Kt + 64, c1 = a + 4 * aFloats + 4 * GUARD + 64, c2 = c1 + 4 * (cFloats + 2 * GUARD) + 64;
  let x = c2 + 4 * (cFloats + GUARD) + 64;
  const max = taps(w, offs, Kt, span, c.seed);
  if (c.atEnd) {
    const len = w.memory.buffer.byteLength;
    x = len - (max + 4 * ncols);
    expect(x).toBeGreaterThan(c2 + 4 * (cFloats + GUARD));
  } else ensureMemory(w, x + 4 * (span + ncols) + 64);
  const f32 = new Float32Array(w.memory.buffer);
  f32.set(rand(aFloats, c.seed + 1), a / 4);
  f32.set(rand(Math.min(span + ncols, (w.memory.buffer.byteLength - x) / 4), c.seed + 2), x / 4);
  both(w, "cblock", (cAt) => [mc, np, Kt, a, x, offs, cAt, ldc, astride, c.narrow ? 1 : 0], [c1, c2], cFloats, c.seed + 3, JSON.stringify(c));
}

interface WCase { mt: number; kt: number; J: number; ldyExtra: number; lddwExtra: number; seed: number }

/** wblock(mt, kt, J, dy, ldy, x, offs, dw, lddw): dw accumulated from random values. */
function wblockCase(w: WasmInstance, c: WCase): void {
  const { mt, kt, J } = c;
  const rows = 2 * mt, nt = 4 * kt, span = 1500;
  const ldy = 4 * (J + c.ldyExtra), lddw = 4 * (nt + c.lddwExtra);
  const dwFloats = (rows - 1) * (lddw / 4) + nt;
  const offs = 256, dy = offs + 4 * nt + 64, x = dy + 4 * (rows * (ldy / 4) + J) + 64;
  const d1 = x + 4 * (span + J) + 64 + 4 * GUARD, d2 = d1 + 4 * (dwFloats + 2 * GUARD) + 64;
  ensureMemory(w, d2 + 4 * (dwFloats + GUARD) + 64);
  taps(w, offs, nt, span, c.seed);
  const f32 = new Float32Array(w.memory.buffer);
  f32.set(rand(rows * (ldy / 4) + J, c.seed + 1), dy / 4);
  f32.set(rand(span + J, c.seed + 2), x / 4);
  both(w, "wblock", (dw) => [mt, kt, J, dy, ldy, x, offs, dw, lddw], [d1, d2], dwFloats, c.seed + 3, JSON.stringify(c));
}

interface VCase { ot: number; tt: number; J: number; dytExtra: number; cExtra: number; seed: number }

/** vblock(ot, tt, J, x, offs, dyt, dytStep, c, cStep): C accumulated from random values. */
function vblockCase(w: WasmInstance, c: VCase): void {
  const { ot, tt, J } = c;
  const nt = 4 * tt, span = 1500;
  const dytStep = 32 * J + 4 * c.dytExtra, cStep = 32 * nt + 4 * c.cExtra;
  const cFloats = (ot - 1) * (cStep / 4) + 8 * nt;
  const offs = 256, dyt = offs + 4 * nt + 64, x = dyt + ot * dytStep + 32 * J + 64;
  const c1 = x + 4 * (span + J) + 64 + 4 * GUARD, c2 = c1 + 4 * (cFloats + 2 * GUARD) + 64;
  ensureMemory(w, c2 + 4 * (cFloats + GUARD) + 64);
  taps(w, offs, nt, span, c.seed);
  const f32 = new Float32Array(w.memory.buffer);
  f32.set(rand((ot * dytStep) / 4 + 8 * J, c.seed + 1), dyt / 4);
  f32.set(rand(span + J, c.seed + 2), x / 4);
  both(w, "vblock", (cAt) => [ot, tt, J, x, offs, dyt, dytStep, cAt, cStep], [c1, c2], cFloats, c.seed + 3, JSON.stringify(c));
}

for (const fma of [true, false]) {
  const mode = fma ? "FMA" : "the exact-bits mode (multiply, then add)";
  describe(`native convolution kernels: the SIMD module's bits, ${mode}`, () => {
    const instance = () => {
      K.setWasmFma(fma);
      setCpuNative(true);
      const w = compiledWasm()!;
      expect(w.cfg.fma).toBe(fma);
      expect(w.exports.cblock).not.toBe(w.wasmExports.cblock);
      if (process.env.GB_CPU_NATIVE_ISA === "avx2") expect(nativeInfo().isa).toBe("avx2");
      return w;
    };

    it("cblock: LeNet-5's calls, every row and column edge, random shapes", () => {
      const w = instance();
      let seed = fma ? 1 : 5000;
      // LeNet-5: conv2's forward (16 rows, 12.5 panels, 150 taps), conv1's (6 rows, 98 panels, 25
      // taps), conv2's input gradient (6 rows, 24.5 panels, runs of up to 400 taps)
      for (const [mc, np, Kt, narrow] of [[16, 13, 150, true], [6, 98, 25, false], [6, 25, 400, true], [6, 3, 80, false]] as const)
        cblockCase(w, { mc, np, K: Kt, narrow, astrideExtra: 0, ldcExtra: 0, atEnd: false, seed: seed++ });
      // rows around the 6-row panels, 1 to 17 panels (the 16- and 8-float vectors' tails), K 0 and odd
      for (const mc of [1, 2, 5, 6, 7, 12, 13, 16, 17])
        for (const np of [1, 2, 3, 4, 5, 8, 9, 17])
          for (const Kt of [0, 1, 7])
            cblockCase(w, { mc, np, K: Kt, narrow: seed % 2 === 0, astrideExtra: seed % 3, ldcExtra: seed % 5, atEnd: false, seed: seed++ });
      // X's last float the memory's last (the tail vectors read only what the WASM function reads)
      for (const np of [1, 2, 3, 7, 13])
        for (const narrow of [false, true]) cblockCase(w, { mc: 7, np, K: 9, narrow, astrideExtra: 0, ldcExtra: 0, atEnd: true, seed: seed++ });
      // panels overlapping (a run of taps: astride < 24 K), C's rows overlapping (ldc < 4 ncols: the last write wins)
      for (const mc of [5, 13]) cblockCase(w, { mc, np: 3, K: 20, narrow: false, astrideExtra: -40, ldcExtra: 0, atEnd: false, seed: seed++ });
      for (const ldcExtra of [-1, -5, -9, -20]) cblockCase(w, { mc: 9, np: 4, K: 6, narrow: seed % 2 === 1, astrideExtra: 0, ldcExtra, atEnd: false, seed: seed++ });
      for (let t = 0; t < 40; t++) {
        const r = rand(5, 9000 + t).map((v) => (v + 1) / 2);
        cblockCase(w, { mc: 1 + pick(r[0], 30), np: 1 + pick(r[1], 30), K: pick(r[2], 200), narrow: r[3] < 0.4, astrideExtra: pick(r[4], 5), ldcExtra: t % 4, atEnd: false, seed: seed++ });
      }
    });

    it("wblock: LeNet-5's conv1 weight gradient, tile edges, J = 0 and long, random shapes", () => {
      const w = instance();
      let seed = fma ? 20000 : 25000;
      wblockCase(w, { mt: 3, kt: 7, J: 784, ldyExtra: 0, lddwExtra: 0, seed: seed++ });
      // J past the AVX-512 8-row tiles' scratch (2,048 floats of a row): 4-row tiles
      for (const J of [2048, 2052, 3000]) wblockCase(w, { mt: 4, kt: 3, J, ldyExtra: 1, lddwExtra: 0, seed: seed++ });
      for (const mt of [1, 2, 3, 4, 5, 8])
        for (const kt of [1, 2, 3, 4, 5, 7])
          for (const J of [0, 4, 12, 100]) wblockCase(w, { mt, kt, J, ldyExtra: seed % 3, lddwExtra: seed % 4, seed: seed++ });
      for (let t = 0; t < 30; t++) {
        const r = rand(3, 29000 + t).map((v) => (v + 1) / 2);
        wblockCase(w, { mt: 1 + pick(r[0], 12), kt: 1 + pick(r[1], 12), J: 4 * pick(r[2], 200), ldyExtra: t % 3, lddwExtra: t % 2, seed: seed++ });
      }
    });

    it("vblock: LeNet-5's conv2 weight gradient, an odd channel tile, J < 4, random shapes", () => {
      const w = instance();
      let seed = fma ? 40000 : 45000;
      vblockCase(w, { ot: 2, tt: 38, J: 100, dytExtra: 0, cExtra: 0, seed: seed++ });
      for (const ot of [1, 2, 3, 5])
        for (const tt of [1, 2, 3, 4, 7])
          for (const J of [0, 1, 3, 4, 5, 33]) vblockCase(w, { ot, tt, J, dytExtra: seed % 3, cExtra: seed % 2, seed: seed++ });
      for (let t = 0; t < 30; t++) {
        const r = rand(3, 49000 + t).map((v) => (v + 1) / 2);
        vblockCase(w, { ot: 1 + pick(r[0], 6), tt: 1 + pick(r[1], 40), J: pick(r[2], 300), dytExtra: t % 3, cExtra: t % 2, seed: seed++ });
      }
    });
  });
}

describe("native convolution kernels: the AVX2 + FMA kernels", () => {
  it("give the SIMD module's bits too (this file's bits tests in a vitest of their own, GB_CPU_NATIVE_ISA=avx2)", () => {
    if (process.env.GB_CPU_NATIVE_ISA === "avx2") return; // (that vitest: its bits tests are the check)
    const { status, stdout, stderr } = vitestOnAvx2("tests/engine/kernels/native-conv.test.ts", "the SIMD module's bits, ");
    const out = stdout + stderr;
    expect(status, out.slice(-3000)).toBe(0);
    expect(out).toMatch(/Tests\s+6 passed \| 3 skipped/);
  }, 130_000);
});

describe("native convolution kernels: bad ranges", () => {
  it("a range outside the memory, or overlapping rows it would sum in another order, is a RangeError naming the export", () => {
    K.setWasmFma(true);
    setCpuNative(true);
    const w = compiledWasm()!;
    const len = w.memory.buffer.byteLength;
    w.i32.fill(0, 64, 64 + 200); // tap offsets 0 at byte 256
    const named = (fn: Fn, what: RegExp, ...args: number[]) => {
      let err: unknown = null;
      try {
        (w.exports[fn] as (...a: number[]) => void)(...args);
      } catch (e) {
        err = e;
      }
      expect(err, `${fn}(${args.join(", ")})`).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(new RegExp(`^native ${fn}\\(${args.join(", ")}\\): ${what.source}`));
    };
    const bytes = (what: string) => new RegExp(`${what} bytes \\[-?\\d+, \\d+\\) outside the WebAssembly memory of ${len} bytes`);
    // cblock(mc, np, K, a, x, offs, c, ldc, astride, narrow)
    named("cblock", bytes("C"), 6, 2, 4, 4096, 8192, 256, len - 100, 64, 96, 0);
    named("cblock", bytes("A"), 7, 2, 4, len - 100, 8192, 256, 16384, 64, 96, 0); // (rows 6: A to a + 96 + 72 + 4)
    named("cblock", bytes("X \\(x \\+ the tap offsets\\)"), 6, 2, 4, 4096, len - 40, 256, 16384, 64, 96, 0);
    named("cblock", bytes("the tap offsets"), 6, 2, 4, 4096, 8192, len - 8, 16384, 64, 96, 0);
    named("cblock", bytes("C"), 6, 2, 4, 4096, 8192, 256, -64, 64, 96, 0);
    named("cblock", /K, ldc and astride must not be negative/, 6, 2, 4, 4096, 8192, 256, 16384, -64, 96, 0);
    // wblock(mt, kt, J, dy, ldy, x, offs, dw, lddw)
    named("wblock", bytes("dW"), 3, 2, 16, 4096, 64, 8192, 256, len - 16, 32);
    named("wblock", bytes("dy"), 3, 2, 16, len - 64, 64, 8192, 256, 16384, 32);
    named("wblock", bytes("X \\(x \\+ the tap offsets\\)"), 3, 2, 16, 4096, 64, len - 32, 256, 16384, 32);
    named("wblock", /J must be a multiple of 4/, 3, 2, 6, 4096, 64, 8192, 256, 16384, 32);
    named("wblock", /dW's rows overlap/, 3, 2, 16, 4096, 64, 8192, 256, 16384, 16);
    // vblock(ot, tt, J, x, offs, dyt, dytStep, c, cStep)
    named("vblock", bytes("C"), 2, 3, 8, 8192, 256, 4096, 256, len - 200, 384);
    named("vblock", bytes("dy transposed"), 2, 3, 8, 8192, 256, len - 300, 256, 16384, 384);
    named("vblock", bytes("X \\(x \\+ the tap offsets\\)"), 2, 3, 8, len - 20, 256, 4096, 256, 16384, 384);
    named("vblock", /C's channel tiles overlap/, 2, 3, 8, 8192, 256, 4096, 256, 16384, 100);
    // sizes and strides at 2^31 - 1: the ranges (past 2^63 bytes for wblock's dW) are computed without wrapping
    const M = 2 ** 31 - 1;
    named("cblock", bytes("C"), M, 1, 4, 4096, 8192, 256, 16384, M, 96, 0);
    named("cblock", bytes("C"), 6, M, 4, 4096, 8192, 256, 16384, 64, 96, 0);
    named("wblock", bytes("dW"), M, 1, 16, 4096, 64, 8192, 256, 16384, M);
    named("wblock", /dW's rows overlap/, 1, M, 16, 4096, 64, 8192, 256, 16384, 64);
    named("vblock", bytes("C"), M, 1, 8, 8192, 256, 4096, 256, 16384, M);
    named("vblock", bytes("C"), 1, M, 8, 8192, 256, 4096, 256, 16384, 384);
    // the WASM functions trap on the same ranges (the native ones throw before touching memory)
    expect(() => w.wasmExports.cblock(6, 2, 4, 4096, 8192, 256, len - 100, 64, 96, 0)).toThrow(WebAssembly.RuntimeError);
  });
});

describe("convolutions through the engine: native kernels on and off give the same bits", () => {
  interface Conv { x: number[]; w: number[]; pad: number; dil?: number; groups?: number }
  // LeNet-5's two layers (batch 256 and 1), 1 channel, padding, dilation, groups, a narrow last panel, odd sizes
  const CONVS: Conv[] = [
    { x: [256, 1, 28, 28], w: [6, 1, 5, 5], pad: 2 },
    { x: [256, 6, 14, 14], w: [16, 6, 5, 5], pad: 0 },
    { x: [1, 6, 14, 14], w: [16, 6, 5, 5], pad: 0 },
    { x: [1, 1, 28, 28], w: [6, 1, 5, 5], pad: 2 },
    { x: [3, 1, 9, 7], w: [1, 1, 3, 3], pad: 1 },
    { x: [5, 3, 11, 13], w: [7, 3, 3, 2], pad: 1, dil: 2 },
    { x: [4, 4, 10, 10], w: [6, 2, 3, 3], pad: 1, groups: 2 },
    { x: [9, 2, 6, 6], w: [20, 2, 5, 5], pad: 2 },
    { x: [17, 12, 12, 12], w: [9, 12, 3, 3], pad: 0 },
  ];

  it("forward, input gradient and weight gradient, both FMA modes, 1 and 2 threads", () => {
    const run = (native: boolean, threads: number, fma: boolean): Uint32Array[] => {
      K.setWasmFma(fma);
      setCpuNative(native);
      K.setNumThreads(threads);
      expect(compiledWasm()!.native !== null).toBe(native);
      const out: Uint32Array[] = [];
      CONVS.forEach((c, i) => {
        const p: K.Conv2dParams = { stride: [1, 1], padding: [c.pad, c.pad], dilation: [c.dil ?? 1, c.dil ?? 1], groups: c.groups ?? 1 };
        const ys = K.conv2dOutputSize(c.x, c.w, p);
        const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
        const x = rand(size(c.x), 10 * i + 1), wt = rand(size(c.w), 10 * i + 2), bias = rand(c.w[0], 10 * i + 3), dy = rand(size(ys), 10 * i + 4);
        out.push(new Uint32Array(K.conv2dForward(x, c.x, wt, c.w, bias, p).slice().buffer));
        out.push(new Uint32Array(K.conv2dBackwardInput(dy, ys, wt, c.w, c.x, p).slice().buffer));
        out.push(new Uint32Array(K.conv2dBackwardWeight(x, c.x, dy, ys, c.w, p).slice().buffer));
      });
      return out;
    };
    const names = CONVS.flatMap((c) => ["forward", "input gradient", "weight gradient"].map((n) => `${n} of ${JSON.stringify(c)}`));
    try {
      for (const fma of [true, false]) {
        const want = run(false, 1, fma);
        for (const threads of [1, 2]) {
          const before = poolInfo().workerTasks;
          let got = run(true, threads, fma);
          if (threads > 1) {
            // the workers ran tasks (once started: they start with the pool), with the native kernels
            for (let i = 0; i < 20 && poolInfo().workerTasks === before; i++) got = run(true, threads, fma);
            expect(poolInfo().workerTasks).toBeGreaterThan(before);
            expect(poolInfo().nativeWorkers).toBeGreaterThan(0);
          }
          got.forEach((g, i) => {
            expect(g.length).toBe(want[i].length);
            const bad = g.findIndex((v, j) => v !== want[i][j]);
            if (bad >= 0) expect.fail(`${names[i]} (fma ${fma}, ${threads} threads): element ${bad} differs from WASM's`);
          });
        }
      }
    } finally {
      setCpuNative(true);
      K.setWasmFma(true);
      K.setNumThreads(2);
    }
  });
});
