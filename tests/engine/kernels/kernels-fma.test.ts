// The WASM kernels compiled with relaxed-SIMD fused multiply-add (what Chrome and
// newer Node use by default; Node 20 needs a V8 flag, which initWasm sets
// through the v8SetFlags option, recompiling kernels compiled before).
import { readFileSync } from "node:fs";
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import * as K from "../../../engine/backends/cpu/kernels/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const f32 = (a: number[]) => Float32Array.from(a);

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, sumLen = 1, scale = 3): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const atol = 1e-5 * Math.max(1, Math.sqrt(sumLen)) * scale;
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + 1e-5 * Math.abs(want[i]))) {
      expect.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
    }
  }
}

describe("WASM kernels with relaxed-SIMD FMA", () => {
  it("compiles the FMA variant when asked to, replacing the plain one", async () => {
    K.wasmInfo(); // compiles synchronously (in Node 20: without FMA)
    const C = new Float32Array(64 * 64);
    K.gemm(false, false, 64, 64, 64, 1, new Float32Array(64 * 64).fill(1), 0, 64, new Float32Array(64 * 64).fill(2), 0, 64, 0, C, 0, 64);
    expect(C[0]).toBe(128);
    await K.initWasm({ v8SetFlags: (f) => v8.setFlagsFromString(f) });
    expect(K.wasmInfo()).toMatchObject({ wasm: true, fma: true });
    K.gemm(false, false, 64, 64, 64, 1, new Float32Array(64 * 64).fill(1), 0, 64, new Float32Array(64 * 64).fill(2), 0, 64, 0, C, 0, 64);
    expect(C[4095]).toBe(128);
  });

  it("gemm matches PyTorch", () => {
    for (const c of ref.gemm) {
      const C = f32(c.C);
      K.gemmWasm(c.transA, c.transB, c.M, c.N, c.K, c.alpha, f32(c.A), c.aOff, c.lda, f32(c.B), c.bOff, c.ldb, c.beta, C, c.cOff, c.ldc);
      expectClose(C, c.out, `gemm tA=${c.transA} tB=${c.transB} ${c.M}x${c.N}x${c.K}`, c.K);
    }
  });

  it("conv2d forward and gradients match PyTorch", () => {
    for (const c of ref.conv) {
      const p = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
      const [N, , OH, OW] = K.conv2dOutputSize(c.xShape, c.wShape, p);
      const x = f32(c.x), w = f32(c.w), dy = f32(c.dy);
      expectClose(K.conv2dForward(x, c.xShape, w, c.wShape, c.b ? f32(c.b) : null, p), c.y, `${c.name} forward`, c.wShape[1] * c.wShape[2] * c.wShape[3]);
      expectClose(K.conv2dBackwardInput(dy, c.yShape, w, c.wShape, c.xShape, p), c.dx, `${c.name} dx`, c.wShape[0] * c.wShape[2] * c.wShape[3]);
      expectClose(K.conv2dBackwardWeight(x, c.xShape, dy, c.yShape, c.wShape, p), c.dw, `${c.name} dw`, N * OH * OW);
    }
  });
});
