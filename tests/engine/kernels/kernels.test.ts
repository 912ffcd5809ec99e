// CPU compute kernels against PyTorch references (reference.json, made by
// make_reference.py) and the WASM SIMD GEMM against the TypeScript one.
import { readFileSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import {
  avgPool2dBackward, avgPool2dForward, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputSize,
  wasmInfo, gemm, gemmReference, gemmWasm, initWasm, maxPool2dBackward, maxPool2dForward,
  pool2dOutputSize, setWasmMode, setWasmFma, getNumThreads, setNumThreads, type Conv2dParams,
} from "../../../engine/backends/cpu/kernels/index.ts";
import * as gb from "../../../engine/index.ts";
import { rand } from "./xorshift.ts";
import { unaryF32 } from "../../../engine/backends/cpu/kernels/elementwise.ts";
import { expf, sigmoidf, tanhf } from "../../../engine/backends/cpu/fastmath.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));

const f32 = (a: number[]) => Float32Array.from(a);

/** |got - want| <= atol + rtol * |want| elementwise, with atol scaled by sqrt(summation length). */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, sumLen = 1, scale = 1): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const atol = 1e-5 * Math.max(1, Math.sqrt(sumLen)) * scale;
  const rtol = 1e-5;
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}


beforeAll(async () => {
  await initWasm();
});
afterEach(() => setWasmMode("auto"));

describe("gemm", () => {
  it("has the WASM SIMD kernels in Node", () => {
    expect(wasmInfo().wasm).toBe(true);
  });

  for (const impl of ["reference", "wasm", "auto"] as const) {
    it(`matches PyTorch (${impl})`, () => {
      const fn = impl === "reference" ? gemmReference : impl === "wasm" ? gemmWasm : gemm;
      for (const c of ref.gemm) {
        const C = f32(c.C);
        fn(c.transA, c.transB, c.M, c.N, c.K, c.alpha, f32(c.A), c.aOff, c.lda, f32(c.B), c.bOff, c.ldb, c.beta, C, c.cOff, c.ldc);
        expectClose(C, c.out, `gemm ${impl} tA=${c.transA} tB=${c.transB} ${c.M}x${c.N}x${c.K}`, c.K, 3);
      }
    });
  }

  it("WASM equals the TypeScript reference on random shapes, strides and flags", () => {
    let seed = 7;
    const shapes: [number, number, number][] = [
      [130, 520, 260], [129, 17, 513], [5, 1030, 9], [1, 1, 1], [3, 3, 3], [256, 8, 4], [7, 9, 1000],
    ];
    for (let t = 0; t < 40; t++) {
      const r = rand(3, ++seed);
      shapes.push([1 + Math.floor((r[0] + 1) * 40), 1 + Math.floor((r[1] + 1) * 40), 1 + Math.floor((r[2] + 1) * 60)]);
    }
    shapes.forEach(([M, N, K], t) => {
      const tA = (t & 1) === 1, tB = (t & 2) === 2;
      const lda = (tA ? M : K) + (t % 3), ldb = (tB ? K : N) + (t % 2), ldc = N + ((t >> 1) % 3);
      const aOff = t % 5, bOff = (t * 7) % 3, cOff = t % 2;
      const A = rand(aOff + lda * (tA ? K : M), ++seed);
      const B = rand(bOff + ldb * (tB ? N : K), ++seed);
      const C0 = rand(cOff + ldc * M, ++seed);
      const alpha = [1, -0.5, 2][t % 3], beta = [0, 1, 0.5, -1][t % 4];
      const c1 = C0.slice(), c2 = C0.slice();
      gemmReference(tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, c1, cOff, ldc);
      gemmWasm(tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, c2, cOff, ldc);
      expectClose(c2, c1, `wasm vs ts ${M}x${N}x${K} tA=${tA} tB=${tB}`, K, 0.5);
      // padding between rows of C is left alone
      for (let i = 0; i < M; i++) for (let j = N; j < ldc && i * ldc + j + cOff < c2.length; j++) {
        expect(c2[cOff + i * ldc + j]).toBe(C0[cOff + i * ldc + j]);
      }
    });
  });

  it("beta = 0 does not read C, K = 0 scales C", () => {
    for (const fn of [gemmReference, gemmWasm]) {
      const A = rand(6 * 5, 1), B = rand(5 * 7, 2);
      const C = new Float32Array(6 * 7).fill(NaN);
      fn(false, false, 6, 7, 5, 1, A, 0, 5, B, 0, 7, 0, C, 0, 7);
      expect(C.every((v) => Number.isFinite(v))).toBe(true);
      const D = new Float32Array(4).fill(2);
      fn(false, false, 2, 2, 0, 1, A, 0, 1, B, 0, 2, 0.5, D, 0, 2);
      expect(Array.from(D)).toEqual([1, 1, 1, 1]);
    }
  });

  it("rejects operands that are too short", () => {
    const A = new Float32Array(10), B = new Float32Array(10), C = new Float32Array(10);
    expect(() => gemm(false, false, 3, 3, 4, 1, A, 0, 4, B, 0, 3, 0, C, 0, 3)).toThrow(/gemm: A/);
    expect(() => gemm(false, false, 2, 2, 2, 1, A, 0, 1, B, 0, 2, 0, C, 0, 2)).toThrow(/leading dimension/);
  });
});

function convParams(c: { stride: number[]; padding: number[]; dilation: number[]; groups: number }): Conv2dParams {
  return {
    stride: [c.stride[0], c.stride[1]], padding: [c.padding[0], c.padding[1]],
    dilation: [c.dilation[0], c.dilation[1]], groups: c.groups,
  };
}

/** Forward, input and weight gradients of one convolution through the WASM GEMM ("auto") and the TypeScript one. */
function convWasmAndJs(x: Float32Array, xs: number[], w: Float32Array, ws: number[], b: Float32Array | null, dy: Float32Array, q: Conv2dParams) {
  const ys = conv2dOutputSize(xs, ws, q);
  const run = () => [conv2dForward(x, xs, w, ws, b, q), conv2dBackwardInput(dy, ys, w, ws, xs, q), conv2dBackwardWeight(x, xs, dy, ys, ws, q)];
  const fast = run();
  setWasmMode("js");
  const slow = run();
  setWasmMode("auto");
  return { fast, slow };
}

describe("conv2d", () => {
  for (const backend of ["js", "auto"] as const) {
    it(`forward and gradients match PyTorch (gemm: ${backend})`, () => {
      setWasmMode(backend);
      for (const c of ref.conv) {
        const p = convParams(c);
        const [N, O, OH, OW] = conv2dOutputSize(c.xShape, c.wShape, p);
        expect([N, O, OH, OW], c.name).toEqual(c.yShape);
        const x = f32(c.x), w = f32(c.w), dy = f32(c.dy);
        const kLen = c.wShape[1] * c.wShape[2] * c.wShape[3];
        const y = conv2dForward(x, c.xShape, w, c.wShape, c.b ? f32(c.b) : null, p);
        expectClose(y, c.y, `${c.name} forward`, kLen, 3);
        const dx = conv2dBackwardInput(dy, c.yShape, w, c.wShape, c.xShape, p);
        expectClose(dx, c.dx, `${c.name} dx`, (c.wShape[0] / c.groups) * c.wShape[2] * c.wShape[3], 3);
        const dw = conv2dBackwardWeight(x, c.xShape, dy, c.yShape, c.wShape, p);
        expectClose(dw, c.dw, `${c.name} dw`, N * OH * OW, 3);
      }
    });
  }

  it("conv_transpose2d built from the conv kernels matches PyTorch", () => {
    for (const c of ref.convTranspose) {
      const p = convParams(c);
      // conv_transpose2d(x, w) is the input gradient of conv2d(out, w), with w as [Cin, Cout/g, kh, kw] = [O, C/g, kh, kw]
      const x = f32(c.x), w = f32(c.w), dy = f32(c.dy);
      const y = conv2dBackwardInput(x, c.xShape, w, c.wShape, c.yShape, p);
      expectClose(y, c.y, `${c.name} forward`, c.wShape[0], 3);
      // its input gradient is conv2d(dy, w), cropped to x's size when output_padding >= stride
      const full = conv2dForward(dy, c.yShape, w, c.wShape, null, p);
      const [, , FH, FW] = conv2dOutputSize(c.yShape, c.wShape, p);
      const [XN, XC, XH, XW] = c.xShape;
      const dx = new Float32Array(XN * XC * XH * XW);
      for (let n = 0; n < XN * XC; n++) {
        for (let h = 0; h < XH; h++) {
          for (let ww = 0; ww < XW; ww++) dx[(n * XH + h) * XW + ww] = full[(n * FH + h) * FW + ww];
        }
      }
      expectClose(dx, c.dx, `${c.name} dx`, c.wShape[1] * c.wShape[2] * c.wShape[3], 3);
      // its weight gradient is conv2d's weight gradient with x := dy, dy := x
      const dw = conv2dBackwardWeight(dy, c.yShape, x, c.xShape, c.wShape, p);
      expectClose(dw, c.dw, `${c.name} dw`, XN * XH * XW, 3);
    }
  });

  it("WASM paths equal the TypeScript im2col path on random configurations", () => {
    let seed = 99;
    const r = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 4294967296;
    };
    const pick = (n: number) => Math.floor(r() * n);
    for (let t = 0; t < 40; t++) {
      const G = [1, 1, 2, 3][pick(4)];
      const Cg = 1 + pick(4), Og = 1 + pick(7);
      const KH = 1 + pick(4), KW = 1 + pick(4);
      const s: [number, number] = t % 3 === 0 ? [1 + pick(2), 1 + pick(3)] : [1, 1];
      const d: [number, number] = [1 + pick(2), 1 + pick(2)];
      const pad: [number, number] = [pick(3), pick(3)];
      const H = Math.max(1, (KH - 1) * d[0] + 1 - 2 * pad[0]) + pick(9), W = Math.max(1, (KW - 1) * d[1] + 1 - 2 * pad[1]) + pick(9);
      const N = 1 + pick(3);
      const xShape = [N, G * Cg, H, W], wShape = [G * Og, Cg, KH, KW];
      const p: Conv2dParams = { stride: s, padding: pad, dilation: d, groups: G };
      const yShape = conv2dOutputSize(xShape, wShape, p);
      const x = rand(N * G * Cg * H * W, ++seed), w = rand(G * Og * Cg * KH * KW, ++seed);
      const b = rand(G * Og, ++seed), dy = rand(yShape.reduce((u, v) => u * v, 1), ++seed);
      const { fast, slow } = convWasmAndJs(x, xShape, w, wShape, b, dy, p);
      const what = `x ${xShape} w ${wShape} ${JSON.stringify(p)}`;
      expectClose(fast[0], slow[0], `${what} forward`, Cg * KH * KW);
      expectClose(fast[1], slow[1], `${what} dx`, Og * KH * KW);
      expectClose(fast[2], slow[2], `${what} dw`, N * yShape[2] * yShape[3]);
    }
  });

  it("the implicit forward's half-width last panel (100 outputs a channel, C in place) gives every output the bits of other tilings", () => {
    // each output sums the same taps in the same order whatever the tiling: channel subsets go as
    // other row tiles (6; 7 = 4 + 3; 3), a wider input (110 outputs a channel) as whole panels with C compacted
    const p: Conv2dParams = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    const N = 3, xs = [N, 6, 14, 14], ws = [16, 6, 5, 5], CKK = 150;
    const x = rand(N * 6 * 196, 71), w = rand(16 * CKK, 72), b = rand(16, 73), extra = rand(N * 6 * 14, 74);
    const x2 = new Float32Array(N * 6 * 14 * 15);
    for (let r = 0; r < N * 6 * 14; r++) {
      x2.set(x.subarray(r * 14, r * 14 + 14), r * 15);
      x2[r * 15 + 14] = extra[r];
    }
    for (const fma of [true, false]) {
      setWasmFma(fma);
      const y = conv2dForward(x, xs, w, ws, b, p);
      for (const [o0, o1] of [[0, 6], [6, 13], [13, 16]]) {
        const ys = conv2dForward(x, xs, w.subarray(o0 * CKK, o1 * CKK), [o1 - o0, 6, 5, 5], b.subarray(o0, o1), p);
        for (let n = 0; n < N; n++) {
          expect(Array.from(ys.subarray(n * (o1 - o0) * 100, (n + 1) * (o1 - o0) * 100)), `fma ${fma}: channels ${o0}..${o1 - 1}, image ${n}`)
            .toEqual(Array.from(y.subarray((n * 16 + o0) * 100, (n * 16 + o1) * 100)));
        }
      }
      const y2 = conv2dForward(x2, [N, 6, 14, 15], w, ws, b, p);
      const crop = new Float32Array(N * 16 * 100);
      for (let r = 0; r < N * 16 * 10; r++) crop.set(y2.subarray(r * 11, r * 11 + 10), r * 10);
      expect(Array.from(crop), `fma ${fma}: a wider input's first 10 columns`).toEqual(Array.from(y));
    }
    setWasmFma(true);
  });

  it("weight gradients summed by groups of images (uneven groups, conv groups) equal the TypeScript path", () => {
    // small weights take their gradient by 8 groups of images: 13 images are 7 groups of 2 and 1,
    // 19 images 7 of 3 and 1 of 1, 2 images 2 of 1; with vblock's transposed tiles (at least 7 of 8
    // channels used: 16; 7 a conv group, over padded rows whose dropped columns and 4-step padding
    // stay zero; 20, a partial last tile) or wblock's (6 channels)
    const cases: [number[], number[], Conv2dParams][] = [
      [[13, 6, 14, 14], [16, 6, 5, 5], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }],
      [[19, 4, 9, 11], [6, 2, 3, 3], { stride: [1, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }],
      [[2, 1, 12, 12], [6, 1, 5, 5], { stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 }],
      [[11, 6, 13, 11], [14, 3, 3, 3], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 2 }],
      [[9, 5, 10, 10], [20, 5, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }],
    ];
    let seed = 500;
    for (const [xs, ws, p] of cases) {
      const ys = conv2dOutputSize(xs, ws, p);
      const size = (s: number[]) => s.reduce((u, v) => u * v, 1);
      const x = rand(size(xs), ++seed), w = rand(size(ws), ++seed), dy = rand(size(ys), ++seed);
      const { fast, slow } = convWasmAndJs(x, xs, w, ws, null, dy, p);
      expectClose(fast[2], slow[2], `x ${xs} w ${ws} dw`, xs[0] * ys[2] * ys[3]);
    }
  });

  it("large images (im2col + WASM GEMM instead of the implicit path) and empty batches", () => {
    const p: Conv2dParams = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const xShape = [1, 2, 258, 262], wShape = [3, 2, 3, 3];
    // the three convolutions through the WASM GEMM ("auto") and the TypeScript one
    const wasmAndJs = (xs: number[], ws: number[], q: Conv2dParams, seed: number) => {
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = rand(size(xs), seed), w = rand(size(ws), seed + 1), dy = rand(size(conv2dOutputSize(xs, ws, q)), seed + 2);
      return { ...convWasmAndJs(x, xs, w, ws, null, dy, q), w };
    };
    const { fast, slow, w } = wasmAndJs(xShape, wShape, p, 5);
    expectClose(fast[0], slow[0], "large forward", 18);
    expectClose(fast[1], slow[1], "large dx", 27);
    expectClose(fast[2], slow[2], "large dw", 258 * 262, 10);
    // strided, several image chunks with a short last one
    const s2 = wasmAndJs([30, 4, 32, 32], [6, 2, 3, 3], { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 2 }, 8);
    expectClose(s2.fast[0], s2.slow[0], "strided forward", 18);
    expectClose(s2.fast[1], s2.slow[1], "strided dx", 27);
    expectClose(s2.fast[2], s2.slow[2], "strided dw", 30 * 256, 10);
    // N = 0
    const e = conv2dForward(new Float32Array(0), [0, 2, 5, 5], w, wShape, null, p);
    expect(e.length).toBe(0);
    expect(conv2dBackwardWeight(new Float32Array(0), [0, 2, 5, 5], new Float32Array(0), [0, 3, 5, 5], wShape, p)).toEqual(new Float32Array(54));
  });

  it("names conv2d and the shapes in shape errors", () => {
    const p: Conv2dParams = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    expect(() => conv2dOutputSize([1, 3, 5, 5], [4, 2, 3, 3], p)).toThrow(/conv2d.*\[1, 3, 5, 5\].*\[4, 2, 3, 3\]/);
    expect(() => conv2dOutputSize([1, 3, 2, 2], [4, 3, 3, 3], p)).toThrow(/conv2d.*\[1, 3, 2, 2\].*empty/);
    expect(() => conv2dOutputSize([1, 4, 5, 5], [3, 2, 3, 3], { ...p, groups: 2 })).toThrow(/conv2d.*groups/);
    expect(() => conv2dBackwardInput(new Float32Array(9), [1, 1, 3, 3], new Float32Array(9), [1, 1, 3, 3], [1, 1, 7, 7], p))
      .toThrow(/conv2d_backward_input/);
  });
});

describe("pooling", () => {
  it("max_pool2d forward, indices and gradient match PyTorch", () => {
    for (const c of ref.maxPool) {
      const p = {
        kernel: c.kernel as [number, number], stride: c.stride as [number, number], padding: c.padding as [number, number],
        dilation: c.dilation as [number, number], ceilMode: c.ceilMode,
      };
      expect(pool2dOutputSize(c.xShape, p), c.name).toEqual(c.yShape);
      const r = maxPool2dForward(f32(c.x), c.xShape, p);
      expect(r.shape, c.name).toEqual(c.yShape);
      expectClose(r.out, c.y, `${c.name} forward`);
      expect(Array.from(r.indices), `${c.name} indices`).toEqual(c.indices);
      const dx = maxPool2dBackward(f32(c.dy), r.indices, r.shape, c.xShape);
      expectClose(dx, c.dx, `${c.name} dx`, 4);
    }
  });

  it("avg_pool2d forward and gradient match PyTorch", () => {
    for (const c of ref.avgPool) {
      const p = {
        kernel: c.kernel as [number, number], stride: c.stride as [number, number], padding: c.padding as [number, number],
        ceilMode: c.ceilMode, countIncludePad: c.countIncludePad,
      };
      const r = avgPool2dForward(f32(c.x), c.xShape, p);
      expect(r.shape, c.name).toEqual(c.yShape);
      expectClose(r.out, c.y, `${c.name} forward`, 9);
      const dx = avgPool2dBackward(f32(c.dy), r.shape, c.xShape, p);
      expectClose(dx, c.dx, `${c.name} dx`, 9);
    }
  });

  it("max_pool2d propagates NaN like PyTorch", () => {
    const x = f32([1, NaN, 3, 4]);
    const r = maxPool2dForward(x, [1, 1, 2, 2], { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false });
    expect(Number.isNaN(r.out[0])).toBe(true);
    expect(r.indices[0]).toBe(1);
    const p2 = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], dilation: [1, 1] as [number, number], ceilMode: false };
    // the last NaN wins; -Infinity everywhere gives the first index
    const r2 = maxPool2dForward(f32([NaN, 1, NaN, 0, -Infinity, -Infinity, -Infinity, -Infinity]), [1, 2, 2, 2], p2);
    expect(Number.isNaN(r2.out[0])).toBe(true);
    expect(Array.from(r2.indices)).toEqual([2, 0]);
    expect(r2.out[1]).toBe(-Infinity);
    // same through the general path (padding 1 with kernel 2 goes around the 2x2 fast path)
    const r3 = maxPool2dForward(f32([NaN, 1, NaN, 0]), [1, 1, 2, 2], { ...p2, padding: [1, 1] });
    expect(Array.from(r3.indices)).toEqual([0, 1, 2, 3]);
  });

  it("max_pool2d WASM SIMD path equals the TypeScript path (ties, NaN, -Infinity)", () => {
    const p = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], dilation: [1, 1] as [number, number], ceilMode: false };
    // 4, 9, 5, 4, 14 and 5 output columns (the last OW mod 4 by a step moved back)
    for (const shape of [[2, 3, 8, 8], [1, 2, 6, 18], [3, 1, 9, 11], [1, 1, 2, 8], [2, 6, 28, 28], [2, 16, 10, 10]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = rand(n, n);
      for (let i = 0; i < n; i++) {
        const r = (x[i] + 1) * 8;
        if (r < 1) x[i] = NaN;
        else if (r < 2) x[i] = -Infinity;
        else if (r < 6) x[i] = Math.round(r); // ties
      }
      const a = maxPool2dForward(x, shape, p);
      setWasmMode("js");
      const b = maxPool2dForward(x, shape, p);
      setWasmMode("auto");
      expect(Array.from(a.indices), `${shape}`).toEqual(Array.from(b.indices));
      expect(Array.from(a.out).map(String), `${shape}`).toEqual(Array.from(b.out).map(String));
    }
  });

  it("max_pool2d gradient: the WASM compare-and-select path equals the TypeScript scatter bit for bit", () => {
    const p = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], dilation: [1, 1] as [number, number], ceilMode: false };
    const same = (dy: Float32Array, idx: Int32Array, yShape: number[], xShape: number[], what: string) => {
      // the WASM memory holds values of an earlier op (the rows and columns without gradient must be zeroed)
      unaryF32("exp", rand(1 << 16, 9), new Float32Array(1 << 16));
      const a = maxPool2dBackward(dy, idx, yShape, xShape);
      setWasmMode("js");
      const b = maxPool2dBackward(dy, idx, yShape, xShape);
      setWasmMode("auto");
      expect(Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)), what).toEqual(Array.from(new Uint32Array(b.buffer, b.byteOffset, b.length)));
    };
    // 2x2 / stride 2 (odd sizes: rows and columns without gradient; OW < 4: the scatter), several chunks of planes
    for (const shape of [[2, 3, 8, 8], [1, 2, 6, 18], [3, 1, 9, 11], [1, 1, 2, 8], [1, 1, 4, 6], [4, 16, 28, 28], [2, 16, 10, 10]]) {
      const r = maxPool2dForward(rand(shape.reduce((a, b) => a * b, 1), 3), shape, p);
      const dy = rand(r.out.length, 4).map((v, i) => (i % 7 === 0 ? -0 : i % 11 === 0 ? NaN : v));
      same(dy, r.indices, r.shape, shape, `${shape}`);
      // an index outside its output's 2x2 block in the last chunk (another window): the scatter, from a zeroed dx
      const idx = r.indices.slice();
      idx[idx.length - 1] = 0;
      idx[3] = idx[2];
      same(dy, idx, r.shape, shape, `${shape}, indices of other windows`);
    }
    // 3x3 / stride 2 / padding 1 windows overlap: indices outside the 2x2 blocks
    const q = { ...p, kernel: [3, 3] as [number, number], padding: [1, 1] as [number, number] };
    const xs = [2, 3, 8, 16];
    const r = maxPool2dForward(rand(2 * 3 * 8 * 16, 5), xs, q);
    expect(r.shape).toEqual([2, 3, 4, 8]);
    same(rand(r.out.length, 6), r.indices, r.shape, xs, "k3s2p1");
  });

  it("avg_pool2d 2x2 WASM SIMD path and its gradient equal the TypeScript path bit for bit", () => {
    const p = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], ceilMode: false, countIncludePad: true };
    for (const shape of [[2, 3, 8, 8], [1, 2, 6, 18], [3, 1, 9, 11], [1, 1, 2, 8], [4, 6, 28, 28], [2, 16, 10, 10]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = rand(n, n + 1);
      // values of very different magnitudes (the double-precision sum is not always exact), NaN, infinities, subnormals
      for (let i = 0; i < n; i++) {
        const r = (x[i] + 1) * 16;
        if (r < 0.5) x[i] = NaN;
        else if (r < 1) x[i] = -Infinity;
        else if (r < 1.5) x[i] = 1e-40;
        else if (r < 4) x[i] *= 2 ** 30;
      }
      const a = avgPool2dForward(x, shape, p);
      const dy = rand(a.out.length, 7).map((v, i) => (i % 5 === 0 ? v * 1e-38 : v));
      const ga = avgPool2dBackward(dy, a.shape, shape, p);
      setWasmMode("js");
      const b = avgPool2dForward(x, shape, p);
      const gb = avgPool2dBackward(dy, a.shape, shape, p);
      setWasmMode("auto");
      expect(Array.from(new Uint32Array(a.out.buffer, a.out.byteOffset, a.out.length)), `${shape} forward`).toEqual(Array.from(new Uint32Array(b.out.buffer, b.out.byteOffset, b.out.length)));
      expect(Array.from(new Uint32Array(ga.buffer, ga.byteOffset, ga.length)), `${shape} gradient`).toEqual(Array.from(new Uint32Array(gb.buffer, gb.byteOffset, gb.length)));
    }
  });

  it("rejects bad pooling parameters", () => {
    const base = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], dilation: [1, 1] as [number, number], ceilMode: false };
    expect(() => pool2dOutputSize([1, 1, 4, 4], { ...base, padding: [2, 0] })).toThrow(/half of/);
    expect(() => pool2dOutputSize([1, 1, 1, 1], { ...base, kernel: [3, 3], padding: [1, 1], stride: [1, 1], dilation: [2, 2] })).toThrow(/too small/);
    expect(() => pool2dOutputSize([1, 4, 4], base)).toThrow(/4-D/);
  });
});

describe("float32 exp, tanh, sigmoid", () => {
  // the engine's ops (the SIMD module's functions; the TypeScript loops give the same bits, see
  // threads.test.ts) against the double-precision functions, in float32 ulps of the exact value
  const ulp = (v: number) => {
    const a = Math.abs(Math.fround(v));
    return a === 0 ? 2 ** -149 : 2 ** Math.max(Math.floor(Math.log2(a)) - 23, -149);
  };
  const sample = (lo: number, hi: number) => {
    const bits = new Uint32Array(1), fl = new Float32Array(bits.buffer), xs: number[] = [];
    for (let b = 0; b < 2 ** 32; b += 3001) {
      bits[0] = b;
      if (fl[0] >= lo && fl[0] <= hi) xs.push(fl[0]);
    }
    return Float32Array.from(xs);
  };
  const cases: [string, (t: gb.Tensor) => gb.Tensor, (x: number) => number, number, number, number][] = [
    ["exp", (t) => t.exp(), Math.exp, -104, 88.7, 1],
    ["tanh", (t) => t.tanh(), Math.tanh, -12, 12, 6],
    ["sigmoid", (t) => t.sigmoid(), (x) => 1 / (1 + Math.exp(-x)), -104, 104, 3],
  ];
  for (const [name, op, exact, lo, hi, maxUlp] of cases) {
    it(`${name} is within ${maxUlp} ulp of double precision (every 3001st float32 in [${lo}, ${hi}]), and exact at the limits`, () => {
      const x = sample(lo, hi);
      const y = op(gb.tensor(x)).dataSync();
      let worst = 0, at = 0;
      for (let i = 0; i < x.length; i++) {
        const e = Math.abs(y[i] - exact(x[i])) / ulp(exact(x[i]));
        if (!(e <= worst)) [worst, at] = [e, x[i]];
      }
      expect(worst, `${name}: ${worst.toFixed(2)} ulp at x = ${at}`).toBeLessThanOrEqual(maxUlp);
      const lim = op(gb.tensor([-Infinity, Infinity, NaN, -0, 200, -200])).dataSync();
      const want = { exp: [0, Infinity, NaN, 1, Infinity, 0], tanh: [-1, 1, NaN, -0, 1, -1], sigmoid: [0, 1, NaN, 0.5, 1, 0] }[name]!;
      want.forEach((v, i) => expect(Object.is(lim[i], v), `${name}(${[-Infinity, Infinity, NaN, -0, 200, -200][i]}) = ${lim[i]}`).toBe(true));
    });
  }

  it("exp and sigmoid: subnormal results within 1 ulp (2^-149) of double precision, NaN of any payload stays NaN, subnormal and signed-zero operands, on the SIMD module and in the loops", () => {
    const threads = getNumThreads();
    setNumThreads(1);
    onTestFinished(() => setNumThreads(threads));
    // every float32 from -104 to -87.3 (results below 2^-126, rounded once into the subnormals), every 7th
    const bits = new Uint32Array(1), fl = new Float32Array(bits.buffer), xs: number[] = [];
    bits[0] = 0xc2d00000; // -104
    for (const top = bits[0]; bits[0] >= 0xc2aea000 && bits[0] <= top; bits[0] -= 7) xs.push(fl[0]);
    const x = Float32Array.from(xs);
    const exactOf: Record<string, (v: number) => number> = { exp: Math.exp, sigmoid: (v) => Math.exp(v) / (1 + Math.exp(v)) };
    for (const [op, f] of [["exp", expf], ["sigmoid", sigmoidf]] as const) {
      const out = new Float32Array(x.length);
      expect(unaryF32(op, x, out)).toBe(true);
      let worst = 0, at = 0;
      for (let i = 0; i < x.length; i++) {
        if (!Object.is(out[i], f(x[i]))) expect.fail(`${op}(${x[i]}): ${out[i]}, the loop gives ${f(x[i])}`);
        const e = Math.abs(out[i] - exactOf[op](x[i])) / 2 ** -149;
        if (!(e <= worst)) [worst, at] = [e, x[i]];
      }
      expect(worst, `${op}: ${worst} ulp at ${at}`).toBeLessThanOrEqual(1);
    }
    // NaNs with payloads (the integer steps must not turn them into numbers), subnormals, zeros
    const nanBits = [0x7f800001, 0x7fbfffff, 0x7fc00000, 0x7fc001ff, 0x7fffffff, 0xff800001, 0xffc00000, 0xffc0017f, 0xffffffff, 0x7f8000ff];
    const special = new Float32Array(4 * 96), sb = new Uint32Array(special.buffer);
    const tiny = [1e-45, -1e-45, 1e-40, -1e-40, 1.1754942e-38, -1.1754942e-38, 0, -0];
    for (let i = 0; i < special.length; i++) {
      if (i % 2 === 0) sb[i] = nanBits[(i / 2) % nanBits.length];
      else special[i] = tiny[((i - 1) / 2) % tiny.length];
    }
    for (const [op, f, at0] of [["exp", expf, 1], ["sigmoid", sigmoidf, 0.5]] as const) {
      const out = new Float32Array(special.length);
      expect(unaryF32(op, special, out)).toBe(true);
      for (let i = 0; i < special.length; i++) {
        const want = i % 2 === 0 ? NaN : at0;
        expect(Object.is(out[i], want), `${op}(bits ${sb[i].toString(16)}) = ${out[i]} on the SIMD module`).toBe(true);
        expect(Object.is(f(special[i]), want), `${op}(bits ${sb[i].toString(16)}) in the loop`).toBe(true);
      }
    }
  });

  it("the SIMD module's exp, tanh, sigmoid (several groups a step) equal the TypeScript loops bit for bit at every tail length", () => {
    // unaryF32 streams 16K-float chunks: the last chunk's length is n - 16384, from 4 (one group
    // a step) up past 8 groups of 4 (exp, sigmoid; tanh: 3) and their partial last step
    const fs: [string, (v: number) => number][] = [["exp", expf], ["tanh", tanhf], ["sigmoid", sigmoidf]];
    const threads = getNumThreads();
    setNumThreads(1);
    onTestFinished(() => setNumThreads(threads));
    // both modules: relaxed SIMD's (sigmoid's lane select) and the exact-bits mode's
    onTestFinished(() => setWasmFma(true));
    for (const fma of [true, false]) {
      setWasmFma(fma);
      for (const tail of [4, 5, 7, 8, 12, 13, 23, 24, 25, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100]) {
        const n = 16384 + tail;
        const x = rand(n, tail).map((v, i) => (i % 13 === 0 ? v * 120 : v * 9));
        for (const [op, f] of fs) {
          const out = new Float32Array(n);
          expect(unaryF32(op, x, out), op).toBe(true);
          for (let i = 0; i < n; i++) {
            if (!Object.is(out[i], Math.fround(f(x[i])))) expect.fail(`fma ${fma}: ${op} at ${i} of ${n}: ${out[i]}, the loop gives ${f(x[i])} (x = ${x[i]})`);
          }
        }
      }
    }
  });
});
