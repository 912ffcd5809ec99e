// Models on the WebGPU backend (lavapipe in CI): forward values with the formula weights of
// make_reference.py equal PyTorch's, and a few training steps run on the GPU.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { data, models, nn, optim } from "../../../engine/index.ts";
import { mismatch, startGpu } from "../webgpu/gpu.ts";

import { fillFormula, formulaInput as formulaInputOn, ref } from "./reference.ts";

const hasGpu = await startGpu();
const formulaInput = (shape: number[]) => formulaInputOn(shape, "gpu");

describe.skipIf(!hasGpu)("models on WebGPU", { timeout: 300_000 }, () => {
  beforeAll(() => gb.setDefaultDevice("gpu"));
  afterAll(() => {
    gb.setDefaultDevice("cpu");
    gb.releaseGpu();
  });

  const cases: [string, () => nn.Module, unknown][] = [
    ["LeNet5 tanh/avg", () => new models.LeNet5(), ref.lenet["tanh-avg-28"]],
    ["LeNet5 relu/max", () => new models.LeNet5({ activation: "relu", pooling: "max" }), ref.lenet["relu-max-28"]],
    ["MLP 784-128-64-10", () => new models.MLP([784, 128, 64, 10]), ref.mlp["784-128-64-10-relu"]],
  ];
  for (const [name, make, r] of cases) {
    it(`${name}: forward values equal PyTorch's`, async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const rr = r as any;
      const m = make().eval();
      expect(m.parameters()[0].device).toBe("gpu");
      fillFormula(m);
      const y = gb.noGrad(() => m.call(formulaInput(rr.values.input)));
      expect(y.device).toBe("gpu");
      const want: number[] = rr.values.output;
      const scale = Math.max(...want.map(Math.abs));
      const msg = mismatch(await y.data(), want, 1e-4 * scale, 1e-4);
      if (msg) expect.fail(`${name}: ${msg}`);
    });
  }

  it("an MLP learns XOR on the GPU", async () => {
    gb.manualSeed(0);
    const { x, y } = gb.noGrad(() => data.xor());
    expect(x.device).toBe("gpu");
    const net = new models.MLP([2, 8, 2], { activation: "tanh" });
    const opt = new optim.Adam(net.parameters(), { lr: 0.05 });
    for (let step = 0; step < 200; step++) {
      opt.zeroGrad();
      await gb.tidy(async () => {
        await nn.functional.crossEntropy(net.call(x), y).backward();
        opt.step();
      });
    }
    expect([...(await net.call(x).argmax(1).data())]).toEqual([0, 1, 1, 0]);
  });
});
