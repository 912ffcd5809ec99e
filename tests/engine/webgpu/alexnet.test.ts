// Full-size AlexNet (61.1M parameters, 224x224 inputs, batch 2) trains on the WebGPU backend
// (lavapipe in CI, whose storage bindings stop at 128 MiB: the 9216x4096 classifier weight,
// 144 MiB, its gradient and its momentum are stored in two parts each). The first step's loss
// and every parameter's gradient equal the CPU backend's (same weights, same dropout masks),
// and a few Adam steps on the GPU (its moments of the large weights in parts too) lower the loss.
import { afterAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { models, nn, optim } from "../../../engine/index.ts";
import { gpuContext } from "../../../engine/backends/webgpu/api.ts";
import { startGpu } from "./gpu.ts";

const hasGpu = await startGpu();

describe.skipIf(!hasGpu)("full AlexNet on WebGPU", { timeout: 900_000 }, () => {
  afterAll(() => gb.releaseGpu());

  it("the first step's loss and gradients equal the CPU's; Adam steps lower the loss", async () => {
    gb.manualSeed(0);
    const model = new models.AlexNet();
    expect(model.numParameters()).toBe(61_100_840);
    const x = gb.randn([2, 3, 224, 224]);
    const y = gb.tensor([3, 997], { dtype: "int32" });
    const params = model.parameters();

    // one step on the CPU (seeded: the same dropout masks on both devices)
    gb.manualSeed(1);
    const cpuLoss = nn.functional.crossEntropy(model.call(x), y);
    await cpuLoss.backward();
    const want = { loss: await cpuLoss.item(), grads: params.map((p) => p.grad!.dataSync()) };
    model.zeroGrad();

    // the same on the GPU: where one binding holds less than the 144 MiB weight, it is stored in parts
    const split0 = gb.gpuMemory()!.numSplitTensors;
    model.to("gpu");
    if (gpuContext()!.partElems < 9216 * 4096) expect(gb.gpuMemory()!.numSplitTensors).toBeGreaterThan(split0);
    const xg = x.to("gpu"), yg = y.to("gpu");
    gb.manualSeed(1);
    const gpuLoss = nn.functional.crossEntropy(model.call(xg), yg);
    await gpuLoss.backward();
    const loss0 = await gpuLoss.item();
    expect(Math.abs(loss0 - want.loss)).toBeLessThan(1e-4 * Math.abs(want.loss));
    for (const [i, p] of params.entries()) {
      const got = await p.grad!.data(), w = want.grads[i];
      let scale = 0, err = 0;
      for (let j = 0; j < w.length; j++) {
        scale = Math.max(scale, Math.abs(w[j]));
        err = Math.max(err, Math.abs(got[j] - w[j]));
      }
      expect(err, `gradient of parameter ${i} (${p.shape.join("x")}): max |GPU - CPU| relative to max |CPU|`).toBeLessThanOrEqual(1e-4 * scale);
    }

    // a few Adam steps on the GPU: the loss (without dropout) goes down
    const evalLoss = async () => {
      model.eval();
      const l = await gb.tidy(() => gb.noGrad(() => nn.functional.crossEntropy(model.call(xg), yg))).item();
      model.train();
      return l;
    };
    const before = await evalLoss();
    const opt = new optim.Adam(params, { lr: 1e-4 });
    opt.step();
    for (let s = 0; s < 2; s++) {
      opt.zeroGrad();
      await gb.tidy(async () => {
        await nn.functional.crossEntropy(model.call(xg), yg).backward();
        opt.step();
      });
    }
    const after = await evalLoss();
    expect(after).toBeLessThan(before - 0.15);
  });
});
