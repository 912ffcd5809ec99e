// The WASM kernels compiled with relaxed-SIMD fused multiply-add (found at run time: Chrome and
// newer Node have it; on Node 20 the runtime sets V8's flag for it), and the exact-bits mode
// without it (setWasmFma(false)).
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
  it("uses FMA by default where the engine has relaxed SIMD, and plain multiply-add in the exact-bits mode", async () => {
    const ones = new Float32Array(64 * 64).fill(1), twos = new Float32Array(64 * 64).fill(2), C = new Float32Array(64 * 64);
    expect(K.wasmInfo()).toMatchObject({ wasm: true, fma: true });
    K.setWasmFma(false);
    expect(K.wasmInfo()).toMatchObject({ wasm: true, fma: false });
    K.gemm(false, false, 64, 64, 64, 1, ones, 0, 64, twos, 0, 64, 0, C, 0, 64);
    expect(C[0]).toBe(128);
    // an entry point's initWasm with V8's flag setter keeps the exact-bits mode
    await K.initWasm({ v8SetFlags: (f) => v8.setFlagsFromString(f) });
    expect(K.wasmInfo().fma).toBe(false);
    K.setWasmFma(true);
    expect(K.wasmInfo()).toMatchObject({ wasm: true, fma: true });
    K.gemm(false, false, 64, 64, 64, 1, ones, 0, 64, twos, 0, 64, 0, C, 0, 64);
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
