// Tensors larger than one storage binding (issue: AlexNet's 144 MB weight on a GPU whose
// bindings stop at 128 MiB): with the device's limits forced low, every tensor of more than a
// few elements is stored in several parts, and an op whose parts exceed the bindings of one
// shader runs in windows (element-wise, movement, indexing, pooling) or in pieces (matmul,
// convolutions, reductions). The whole op and nn.functional reference suites, gradients
// included, must still match PyTorch, optimizers must update parameters in parts as on the
// CPU, and the counters show that the split paths ran.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { models, nn, optim } from "../../../engine/index.ts";
import { gpuContext } from "../../../engine/backends/webgpu/api.ts";
import { mismatch, startGpu } from "./gpu.ts";
import { nnReferenceTests, opReferenceTests } from "./reference-suites.ts";

const hasGpu = await startGpu({ limits: { maxStorageBufferBindingSize: 16, maxStorageBuffersPerShaderStage: 8 } });

describe.skipIf(!hasGpu)("tensors split across bindings", { timeout: 300_000 }, () => {
  afterAll(() => gb.releaseGpu());

  describe("op reference suite: parts of 4 elements (16 bytes), 8 storage bindings per shader", () => {
    beforeAll(() => {
      expect(gpuContext()!.partElems).toBe(4);
      expect(gpuContext()!.maxBindings).toBe(8);
      gb.setDefaultDevice("gpu");
    });
    opReferenceTests();
    it("split tensors, ran windows and pieces", () => {
      const m = gb.gpuMemory()!;
      expect(m.numSplitTensors).toBeGreaterThan(1000);
      expect(m.numWindows).toBeGreaterThan(100);
      expect(m.numPieces).toBeGreaterThan(10);
    });
  });

  describe("nn.functional reference suite: parts of 256 elements (1 KiB), 8 storage bindings per shader", () => {
    beforeAll(async () => {
      gb.releaseGpu();
      await gb.initGpu({ limits: { maxStorageBufferBindingSize: 1024, maxStorageBuffersPerShaderStage: 8 } });
      expect(gpuContext()!.partElems).toBe(256);
      gb.setDefaultDevice("gpu");
    });
    nnReferenceTests();
    // every optimizer of engine/optim, with the options that add state or branches, and gradient clipping
    const optimizers: [string, (p: gb.Tensor[]) => optim.Optimizer<any>][] = [
      ["SGD, nesterov momentum, weight decay", (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-2 })],
      ["Adam, amsgrad", (p) => new optim.Adam(p, { lr: 0.01, amsgrad: true })],
      ["AdamW", (p) => new optim.AdamW(p, { lr: 0.01 })],
      ["Adagrad", (p) => new optim.Adagrad(p, { lr: 0.1 })],
      ["Adadelta", (p) => new optim.Adadelta(p, { lr: 1 })],
      ["RMSprop, centered, momentum", (p) => new optim.RMSprop(p, { lr: 0.01, centered: true, momentum: 0.9 })],
      ["Adamax", (p) => new optim.Adamax(p, { lr: 0.01 })],
      ["NAdam", (p) => new optim.NAdam(p, { lr: 0.01 })],
      ["RAdam", (p) => new optim.RAdam(p, { lr: 0.01 })],
    ];
    for (const [name, make] of optimizers) it(`${name} updates parameters in parts (and its state) as on the CPU, after clipGradNorm_`, async () => {
      const run = async (device: "cpu" | "gpu") => {
        gb.setDefaultDevice("cpu");
        gb.manualSeed(0);
        const net = new models.MLP([20, 64, 10]); // weights of 5 and 3 parts
        const x = gb.randn([8, 20]), y = gb.randint(0, 10, [8]);
        net.to(device);
        gb.setDefaultDevice(device);
        const xd = x.to(device), yd = y.to(device);
        const opt = make(net.parameters());
        const norms: number[] = [];
        for (let s = 0; s < 3; s++) {
          opt.zeroGrad();
          await nn.functional.crossEntropy(net.call(xd), yd).backward();
          norms.push(await optim.clipGradNorm_(net.parameters(), 0.5).item());
          opt.step();
        }
        return { norms, params: await Promise.all(net.parameters().map(async (p) => Array.from(await p.data()))) };
      };
      const want = await run("cpu"), got = await run("gpu");
      expect(mismatch(got.norms, want.norms, 1e-6, 1e-5), "gradient norms").toBeNull();
      // against each tensor's scale, as the AlexNet test: the adaptive optimizers divide by root mean
      // squares of a gradient, so an element whose gradient nearly cancels (its float sum differs
      // between backends in the 4th digit) moves by a full step on both, not by the same few ulps
      got.params.forEach((g, i) => {
        const scale = Math.max(...want.params[i].map(Math.abs));
        expect(mismatch(g, want.params[i], 1e-4 * scale, 0), `parameter ${i} (max |CPU| ${scale})`).toBeNull();
      });
    });
    it("split tensors, ran windows and pieces", () => {
      const m = gb.gpuMemory()!;
      expect(m.numSplitTensors).toBeGreaterThan(50);
      expect(m.numWindows).toBeGreaterThan(10);
      expect(m.numPieces).toBeGreaterThan(10);
    });
  });
});
