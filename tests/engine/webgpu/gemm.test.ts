// The register-tiled GEMM paths (forced on, also on lavapipe) (tile shapes 128x128, 64x64, 256x16, 16x256, split-K) of
// matmul and the three convolution GEMMs, on products too large for the simple kernel,
// against the CPU backend (itself tested against PyTorch in tests/engine/kernels).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { setGemmTile, setGemmTiling, type Tile } from "../../../engine/backends/webgpu/gemm.ts";
import { mismatch, startGpu } from "./gpu.ts";

const hasGpu = await startGpu();

async function same(gpu: Tensor, cpu: Tensor, what: string, sumLen: number): Promise<void> {
  expect(gpu.device).toBe("gpu");
  expect(gpu.shape, `${what}: shape`).toEqual(cpu.shape);
  const msg = mismatch(await gpu.data(), await cpu.data(), 1e-5 * Math.sqrt(sumLen) * 4, 1e-4);
  expect(msg, what).toBeNull();
}

describe.skipIf(!hasGpu)("tiled GEMM on WebGPU vs the CPU backend", { timeout: 600_000 }, () => {
  // on a software adapter (lavapipe in CI) the tiled kernels are off by default: force them
  beforeAll(() => setGemmTiling("always"));
  afterAll(() => {
    setGemmTiling("auto");
    gb.releaseGpu();
  });

  const cases: [string, number[], number[], boolean, boolean][] = [
    ["64x64 tiles", [300, 100], [100, 200], false, false],
    ["128x128 tiles, transA", [90, 520], [90, 530], true, false],
    ["256x16 tiles (narrow), transB", [2000, 300], [8, 300], false, true],
    ["16x256 tiles (wide)", [8, 600], [600, 1000], false, false],
    ["split-K, transA and transB", [4096, 64], [48, 4096], true, true],
    ["batched with broadcasting", [3, 1, 70, 90], [4, 90, 130], false, false],
  ];
  for (const [name, sa, sb, tA, tB] of cases) {
    it(`matmul: ${name}`, async () => {
      gb.manualSeed(1);
      const a = gb.randn(sa), b = gb.randn(sb);
      const at = tA ? a.transpose(-1, -2) : a, bt = tB ? b.transpose(-1, -2) : b;
      const want = at.matmul(bt);
      // the GPU side uses the transposed-operand kernels directly through autograd's matmulT
      const { matmulT } = await import("../../../engine/ops/linalg.ts");
      const got = matmulT(a.to("gpu"), b.to("gpu"), tA, tB);
      await same(got, want, name, at.shape[at.shape.length - 1]);
    });
  }

  const convs: [string, number[], number[], { stride?: number; padding?: number; dilation?: number; groups?: number }][] = [
    ["3x3 pad 1", [8, 8, 32, 32], [32, 8, 3, 3], { padding: 1 }],
    ["stride 2, dilation 2, groups 2", [4, 8, 33, 31], [16, 4, 3, 3], { stride: 2, dilation: 2, padding: 2, groups: 2 }],
    ["5x5 to 6 channels (LeNet C1 at batch 64)", [64, 1, 28, 28], [6, 1, 5, 5], { padding: 2 }],
  ];
  for (const [name, xs, ws, opts] of convs) {
    it(`conv2d forward, input and weight gradients: ${name}`, async () => {
      gb.manualSeed(2);
      const x = gb.randn(xs, { requiresGrad: true }), w = gb.randn(ws, { requiresGrad: true }), b = gb.randn([ws[0]], { requiresGrad: true });
      const y = gb.nn.F.conv2d(x, w, b, opts);
      const dy = gb.randn(y.shape);
      await y.backward(dy);
      const xg = x.detach().to("gpu").requiresGrad_(true), wg = w.detach().to("gpu").requiresGrad_(true), bg = b.detach().to("gpu").requiresGrad_(true);
      const yg = gb.nn.F.conv2d(xg, wg, bg, opts);
      await yg.backward(dy.to("gpu"));
      const k = ws[1] * ws[2] * ws[3];
      await same(yg, y, `${name}: forward`, k);
      await same(xg.grad!, x.grad!, `${name}: input gradient`, ws[0] * ws[2] * ws[3]);
      await same(wg.grad!, w.grad!, `${name}: weight gradient`, y.shape[0] * y.shape[2] * y.shape[3]);
      await same(bg.grad!, b.grad!, `${name}: bias gradient`, y.shape[0] * y.shape[2] * y.shape[3]);
    });
  }

  // the variants the GPU benchmark sweeps (bench/gpu.ts --sweep): each must compute the same products
  const variants: Tile[] = [
    { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8, prefetch: true },
    { BM: 128, BN: 128, TM: 8, TN: 8, BK: 16, vec4: true },
    { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8, vec4: true, prefetch: true },
    { BM: 128, BN: 64, TM: 8, TN: 4, BK: 16, vec4: true, prefetch: true },
  ];
  const products: [number[], number[], boolean, boolean][] = [
    [[520, 96], [96, 640], false, false], // aligned: vec4 loads of A along k, of B along n
    [[96, 520], [640, 96], true, true], // aligned, both transposed: A along m, B along k
    [[513, 90], [90, 530], false, false], // not a multiple of 4: vec4 falls back to scalar loads
  ];
  for (const t of variants) {
    it(`matmul with tile ${JSON.stringify(t)}`, async () => {
      const { matmulT } = await import("../../../engine/ops/linalg.ts");
      setGemmTile(t);
      try {
        for (const [sa, sb, tA, tB] of products) {
          gb.manualSeed(3);
          const a = gb.randn(sa), b = gb.randn(sb);
          const want = (tA ? a.transpose(0, 1) : a).matmul(tB ? b.transpose(0, 1) : b);
          await same(matmulT(a.to("gpu"), b.to("gpu"), tA, tB), want, `${JSON.stringify(t)} ${sa}x${sb} transA=${tA} transB=${tB}`, tA ? sa[0] : sa[1]);
        }
        // a convolution whose forward GEMM (M = 2*24*24, N = 512) takes the tile too
        gb.manualSeed(4);
        const x = gb.randn([2, 16, 24, 24]), w = gb.randn([512, 16, 3, 3]);
        const want = gb.nn.F.conv2d(x, w, null, { padding: 1 });
        await same(gb.nn.F.conv2d(x.to("gpu"), w.to("gpu"), null, { padding: 1 }), want, `${JSON.stringify(t)} conv2d`, 144);
      } finally {
        setGemmTile(null);
      }
    });
  }

  it("setGemmTile refuses a tiling that does not fit a workgroup", () => {
    expect(() => setGemmTile({ BM: 256, BN: 256, TM: 4, TN: 4, BK: 8 })).toThrow(/setGemmTile: .* is not a valid tiling/);
  });
});
