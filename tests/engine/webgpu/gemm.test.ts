// The register-tiled GEMM paths (forced on, also on lavapipe) (tile shapes 128x128, 64x64, 256x16, 16x256, split-K) of
// matmul and the three convolution GEMMs, on products too large for the simple kernel,
// against the CPU backend (itself tested against PyTorch in tests/engine/kernels).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { setGemmTiling } from "../../../engine/backends/webgpu/gemm.ts";
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
});
