// The native kernels for Node (engine/backends/cpu/native/): built on this machine, routed to by
// default, the same bits as the SIMD module's exports they replace (both FMA modes, every edge of
// the layout contract), bad ranges a named error, GB_CPU_NATIVE=0 the WASM path.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as K from "../../../engine/backends/cpu/kernels/index.ts";
import { compiledWasm, ensureMemory, setCpuNative, type WasmInstance } from "../../../engine/backends/cpu/wasm/runtime.ts";
import { nativeInfo } from "../../../engine/backends/cpu/native/loader.ts";
import { poolInfo } from "../../../engine/backends/cpu/wasm/threads.ts";
import { NATIVE_LIB } from "../../../scripts/native.mjs";
import { buildNativeOrFail, vitestOnAvx2 } from "./native-setup.ts";
import { rand } from "./xorshift.ts";

beforeAll(buildNativeOrFail);

afterAll(() => {
  setCpuNative(true);
  K.setWasmFma(true);
});

/** Bits of a float range of the memory. */
const bits = (w: WasmInstance, at: number, n: number) => new Uint32Array(w.memory.buffer, at, n).slice();

describe("native kernels: the library", () => {
  it("is built on this machine and loads, with AVX-512 or AVX2 + FMA", () => {
    expect(existsSync(NATIVE_LIB), `${NATIVE_LIB} missing`).toBe(true);
    const info = nativeInfo();
    expect(info.why).toMatch(/^loaded from /);
    expect(info).toMatchObject({ on: true, path: NATIVE_LIB });
    expect(["avx512", "avx2"]).toContain(info.isa);
    expect(info.names).toContain("block");
  });

  it("is the default path in Node: the instance's exports are the native ones, wasmInfo says so", () => {
    const w = compiledWasm()!;
    expect(w.native).toMatchObject({ path: NATIVE_LIB });
    expect(w.exports.block).not.toBe(w.wasmExports.block);
    expect(K.wasmInfo().native).toMatchObject({ on: true, names: expect.arrayContaining(["block"]) });
  });

  it("setCpuNative(false) gives the WASM exports, and back", () => {
    setCpuNative(false);
    const w = compiledWasm()!;
    expect(w.native).toBeNull();
    expect(w.exports.block).toBe(w.wasmExports.block);
    expect(K.wasmInfo().native).toMatchObject({ on: false, why: "turned off (setCpuNative(false))" });
    setCpuNative(true);
    expect(compiledWasm()!.native).not.toBeNull();
  });

  it("GB_CPU_NATIVE=0 gives the WASM path", async () => {
    const before = process.env.GB_CPU_NATIVE;
    process.env.GB_CPU_NATIVE = "0";
    try {
      vi.resetModules();
      const fresh = await import("../../../engine/backends/cpu/wasm/runtime.ts");
      const w = fresh.compiledWasm()!;
      expect(w.native).toBeNull();
      expect(w.exports.block).toBe(w.wasmExports.block);
      expect(fresh.wasmInfo().native).toMatchObject({ on: false, why: "GB_CPU_NATIVE=0" });
    } finally {
      if (before === undefined) delete process.env.GB_CPU_NATIVE;
      else process.env.GB_CPU_NATIVE = before;
      vi.resetModules();
    }
  });
});

describe("native kernels: where addons are refused", () => {
  it("Node's permission model without --allow-addons: process.dlopen throws, the engine runs its WASM kernels, the same bits", () => {
    const bundle = new URL("../../../dist/gradbook.js", import.meta.url).pathname;
    expect(existsSync(bundle), "dist/gradbook.js (npm run build)").toBe(true);
    const script = `
      import * as gb from ${JSON.stringify(bundle)};
      let refused = "";
      try { process.dlopen({ exports: {} }, ${JSON.stringify(NATIVE_LIB)}); } catch (e) { refused = e.code; }
      gb.manualSeed(3);
      const a = gb.randn([200, 300]), b = gb.randn([300, 150]);
      const c = await a.matmul(b).data();
      let h = 0;
      for (const x of new Uint32Array(c.buffer, c.byteOffset, c.length)) h = (Math.imul(h, 31) + x) >>> 0;
      console.log(JSON.stringify({ refused, h }));`;
    const run = (flags: string[]) => {
      const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split("\n").pop()!) as { refused: string; h: number };
    };
    const free = run([]), jailed = run(["--experimental-permission", "--allow-fs-read=*", "--no-warnings"]);
    expect(free.refused).toBe("");
    expect(jailed.refused).toBe("ERR_DLOPEN_DISABLED");
    expect(jailed.h).toBe(free.h);
    // the grader's kernels allow addons (zeromq's; kernel/grader/client.ts): there the native path runs
    const graded = run(["--experimental-permission", "--allow-fs-read=*", "--allow-addons", "--allow-worker", "--no-warnings"]);
    expect(graded.refused).toBe("");
    expect(graded.h).toBe(free.h);
  });
});

describe("native block: the same bits as the SIMD module's", () => {
  /**
   * One call of `block` both ways on the same A and B and two copies of the same C (with a guard
   * zone around each): every byte of the C areas, guards included, the same.
   */
  function compare(w: WasmInstance, c: { mc: number; np: number; kc: number; accum: number; narrow: boolean; aIn: number; bIn: number; ldcExtra: number; seed: number }): void {
    const MR = 6, NR = 8;
    const { mc, np, kc } = c;
    const aStep = c.aIn ? c.aIn * 4 : MR * 4, bStep = c.bIn ? c.bIn * 4 : NR * 4;
    const aFloats = c.aIn ? Math.max(1, kc) * c.aIn + 8 : Math.ceil(mc / MR) * MR * Math.max(kc, 1);
    const bFloats = c.bIn ? Math.max(1, kc) * c.bIn + 8 : np * NR * Math.max(kc, 1);
    const width = np * NR - (c.narrow ? NR / 2 : 0);
    const ldc = (width + c.ldcExtra) * 4;
    const cFloats = (mc - 1) * (ldc / 4) + np * NR + 64;
    const GUARD = 64;
    const a = 256, b = a + aFloats * 4 + 64, c1 = b + bFloats * 4 + 64 + GUARD * 4, c2 = c1 + (cFloats + 2 * GUARD) * 4;
    const f32 = ensureMemory(w, c2 + (cFloats + GUARD) * 4 + 1024);
    f32.set(rand(aFloats, c.seed), a / 4);
    f32.set(rand(bFloats, c.seed + 1), b / 4);
    const C0 = rand(cFloats + 2 * GUARD, c.seed + 2);
    f32.set(C0, c1 / 4 - GUARD);
    f32.set(C0, c2 / 4 - GUARD);
    const accum = (c.accum ? 1 : 0) | (c.narrow ? 2 : 0);
    w.wasmExports.block(mc, np, kc, a, b, c1, ldc, accum, aStep, bStep);
    w.exports.block(mc, np, kc, a, b, c2, ldc, accum, aStep, bStep);
    const want = bits(w, c1 - GUARD * 4, cFloats + 2 * GUARD), got = bits(w, c2 - GUARD * 4, cFloats + 2 * GUARD);
    for (let i = 0; i < want.length; i++) {
      if (got[i] !== want[i]) expect.fail(`block ${JSON.stringify(c)} (fma ${w.cfg.fma}): float ${i - GUARD} of C is ${new Float32Array(got.buffer)[i]}, WASM ${new Float32Array(want.buffer)[i]}`);
    }
  }

  for (const fma of [true, false]) {
    it(`random shapes and every edge, ${fma ? "FMA" : "the exact-bits mode (multiply, then add)"}`, () => {
      K.setWasmFma(fma);
      const w = compiledWasm()!;
      expect(w.cfg.fma).toBe(fma);
      expect(w.native).not.toBeNull();
      let seed = fma ? 1 : 1000;
      // edges: 1 row, rows around the 6-row panels and 12-row tiles, 1 to 9 panels (the 4 / 2 / 1
      // panel groups), k 0, 1, odd, a k block; narrow last panels; C accumulated; A and B in place
      for (const mc of [1, 2, 5, 6, 7, 11, 12, 13, 17, 24, 31, 120])
        for (const np of [1, 2, 3, 4, 5, 7, 9])
          for (const kc of [0, 1, 3, 7, 64])
            compare(w, { mc, np, kc, accum: seed % 2, narrow: seed % 3 === 0, aIn: 0, bIn: 0, ldcExtra: (seed % 5) * 4, seed: seed++ });
      // A in place (row i at 4 i bytes, aStep its pitch: the driver's split halves), B in place
      for (const mc of [1, 7, 10, 13, 23, 40])
        for (const np of [1, 3, 6])
          for (const kc of [1, 5, 33])
            compare(w, { mc, np, kc, accum: seed % 2, narrow: seed % 4 === 1, aIn: mc + (seed % 3), bIn: seed % 2 ? np * 8 + 3 : 0, ldcExtra: 4, seed: seed++ });
      // C's rows shorter than the tiles (gemm.ts's C as its rows: a tile writes into the next row)
      for (const mc of [2, 7, 13])
        for (const np of [1, 2, 5])
          for (const ldcExtra of [-1, -3, -5])
            compare(w, { mc, np, kc: 9, accum: seed % 2, narrow: false, aIn: 0, bIn: 0, ldcExtra, seed: seed++ });
      // a random sample
      for (let t = 0; t < 60; t++) {
        const r = rand(8, 7000 + t).map((x) => (x + 1) / 2);
        compare(w, {
          mc: 1 + Math.floor(r[0] * 50), np: 1 + Math.floor(r[1] * 12), kc: Math.floor(r[2] * 300), accum: r[3] < 0.5 ? 1 : 0,
          narrow: r[4] < 0.3, aIn: r[5] < 0.3 ? 50 + Math.floor(r[6] * 9) : 0, bIn: 0, ldcExtra: Math.floor(r[7] * 9), seed: seed++,
        });
      }
    });
  }

  it("whole GEMMs: native and WASM give the same bits (1 and 2 threads, odd shapes, transposes)", () => {
    K.setWasmFma(true);
    const shapes: [number, number, number][] = [[1024, 1024, 1024], [513, 129, 300], [77, 1030, 999], [256, 120, 84], [7, 9, 5000], [1, 2000, 300], [300, 1, 900], [64, 84, 400]];
    const run = (native: boolean, threads: number) => {
      setCpuNative(native);
      K.setNumThreads(threads);
      return shapes.map(([M, N, Kk], t) => {
        const tA = (t & 1) === 1, tB = (t & 2) === 2;
        const A = rand(M * Kk, t + 1), B = rand(Kk * N, t + 50), C = rand(M * N, t + 99);
        K.gemm(tA, tB, M, N, Kk, 1, A, 0, tA ? M : Kk, B, 0, tB ? Kk : N, t % 2 ? 0.5 : 0, C, 0, N);
        return new Uint32Array(C.buffer).slice();
      });
    };
    try {
      const want = run(false, 1);
      for (const threads of [1, 2]) {
        let got = run(true, threads);
        if (threads > 1) {
          // a worker ran tasks (once it has started), and it runs the native kernels (it counts itself when it loads them)
          const before = poolInfo().workerTasks;
          for (let i = 0; i < 20 && poolInfo().workerTasks === before; i++) got = run(true, threads);
          expect(poolInfo().workerTasks).toBeGreaterThan(before);
          expect(poolInfo().nativeWorkers).toBe(1);
        }
        got.forEach((g, i) => {
          const bad = g.findIndex((x, j) => x !== want[i][j]);
          if (bad >= 0) expect.fail(`gemm ${shapes[i].join("x")} on ${threads} threads: element ${bad} differs from WASM`);
        });
      }
    } finally {
      setCpuNative(true);
      K.setNumThreads(2);
    }
  });
});

describe("native packa / packb: the same bytes as the SIMD module's", () => {
  for (const fma of [true, false]) {
    it(`every k tail and panel count (${fma ? "FMA" : "exact-bits"} instance)`, () => {
      K.setWasmFma(fma);
      const w = compiledWasm()!;
      expect(w.native).not.toBeNull();
      expect(w.exports.packa).not.toBe(w.wasmExports.packa);
      let seed = 50;
      for (const [name, R] of [["packa", 6], ["packb", 8]] as const)
        for (const kc of [0, 3, 4, 5, 7, 8, 9, 15, 16, 17, 84, 256])
          for (const np of [1, 2, 5])
            for (const extra of [0, 3]) {
              const ld = kc + extra, sstep = (R * ld + extra) * 4, dstep = (kc * R + 4 * extra) * 4;
              const srcFloats = np * (sstep / 4) + 16, dstFloats = np * (dstep / 4) + kc * R + 64;
              const GUARD = 32, src = 1024, d1 = src + srcFloats * 4 + GUARD * 4, d2 = d1 + (dstFloats + 2 * GUARD) * 4;
              const f32 = ensureMemory(w, d2 + (dstFloats + GUARD) * 4 + 1024);
              const u32 = new Uint32Array(f32.buffer);
              // random bits, NaNs among them: a copy keeps every bit
              const bitsIn = new Uint32Array(rand(srcFloats, seed).map((v) => v * 2 ** 31).buffer);
              u32.set(bitsIn.map((v, i) => (i % 17 === 0 ? 0x7fc00001 + i : v)), src / 4);
              const D0 = rand(dstFloats + 2 * GUARD, seed + 1);
              f32.set(D0, d1 / 4 - GUARD);
              f32.set(D0, d2 / 4 - GUARD);
              w.wasmExports[name](src, ld * 4, d1, kc, np, sstep, dstep);
              w.exports[name](src, ld * 4, d2, kc, np, sstep, dstep);
              const want = bits(w, d1 - GUARD * 4, dstFloats + 2 * GUARD), got = bits(w, d2 - GUARD * 4, dstFloats + 2 * GUARD);
              const bad = got.findIndex((v, i) => v !== want[i]);
              if (bad >= 0) expect.fail(`${name}(kc ${kc}, np ${np}, extra ${extra}): float ${bad - GUARD} is ${got[bad].toString(16)}, WASM ${want[bad].toString(16)}`);
              seed += 2;
            }
    });
  }
});

describe("native kernels: the AVX2 + FMA path", () => {
  it("gives the SIMD module's bits too (this file's bits tests in a vitest of their own, GB_CPU_NATIVE_ISA=avx2)", () => {
    if (process.env.GB_CPU_NATIVE_ISA === "avx2") {
      // (that vitest: its bits tests are the check)
      expect(nativeInfo().isa).toBe("avx2");
      return;
    }
    if (nativeInfo().isa !== "avx512") return; // an AVX2 machine ran them above already
    const { status, stdout: out, stderr } = vitestOnAvx2("tests/engine/kernels/native.test.ts", "the same bits|the same bytes|the AVX2");
    expect(status, out + stderr).toBe(0);
    expect(out).toMatch(/Tests\s+[5-9]\d* passed/);
    expect(out).not.toMatch(/failed/);
  });
});

describe("native kernels: bad ranges", () => {
  it("a range outside the memory is a RangeError naming the export, its arguments and the range; the WASM one traps", () => {
    K.setWasmFma(true);
    const w = compiledWasm()!;
    const len = w.memory.buffer.byteLength;
    let err: unknown = null;
    try {
      w.exports.block(6, 1, 4, len - 16, 0, 0, 32, 0, 24, 32);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe(`native block(6, 1, 4, ${len - 16}, 0, 0, 32, 0, 24, 32): A bytes [${len - 16}, ${len - 16 + 3 * 24 + 4 * 5 + 4}) outside the WebAssembly memory of ${len} bytes`);
    expect(() => w.exports.block(6, 2, 4, 0, len - 100, 4096, 64, 0, 24, 32)).toThrow(/^native block\(.*\): B bytes \[\d+, \d+\) outside the WebAssembly memory/);
    expect(() => w.exports.block(100, 2, 4, 0, 4096, len - 64, 64, 1, 24, 32)).toThrow(/^native block\(.*\): C bytes/);
    expect(() => w.exports.block(6, 1, 4, -8, 0, 0, 32, 0, 24, 32)).toThrow(/^native block\(.*\): A bytes \[4294967288/);
    expect(() => w.exports.block(6, 1, -4, 0, 0, 0, 32, 0, 24, 32)).toThrow(/^native block\(.*\): kc < 0/);
    // bounds whose products pass 2^63 (computed in 128 bits: no wrap-around into a passing range)
    const big = 2 ** 31 - 1;
    expect(() => w.exports.block(big, big, big, 0, 0, 0, big, 0, 24, 32)).toThrow(/^native block\(.*\): A bytes \[0, 1\.\d+e\+19\) outside/);
    expect(() => w.exports.block(6, big, big, 0, 0, 0, 32, 0, 0, 32)).toThrow(/^native block\(.*\): B bytes \[0, \d\.\d+e\+\d+\) outside/);
    expect(() => w.exports.packb(0, big, 0, big, big, big, big)).toThrow(/^native packb\(.*\): the source bytes/);
    expect(() => w.exports.packb(len - 64, 64, 0, 16, 1, 0, 0)).toThrow(/^native packb\(.*\): the source bytes \[\d+, \d+\) outside the WebAssembly memory/);
    expect(() => w.exports.packa(0, 64, len - 64, 16, 1, 0, 0)).toThrow(/^native packa\(.*\): the destination bytes/);
    expect(() => w.wasmExports.block(6, 1, 4, len - 16, 0, 0, 32, 0, 24, 32)).toThrow(WebAssembly.RuntimeError);
    // the memory grown since the exports were bound: ranges within the new length run
    const f = ensureMemory(w, len + 65536 * 4);
    f.fill(1, len / 4, len / 4 + 64);
    w.exports.block(1, 1, 4, len, len, len + 1024, 32, 0, 24, 32);
    expect(f[(len + 1024) / 4]).toBe(4);
  });
});
