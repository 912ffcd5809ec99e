// Models on the WebGPU backend (lavapipe in CI): forward values with the formula weights of
// make_reference.py equal PyTorch's, and a few training steps run on the GPU.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { data, models, nn, optim } from "../../../engine/index.ts";
import { mismatch, startGpu } from "../webgpu/gpu.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const hasGpu = await startGpu();

function fillFormula(model: nn.Module): void {
  Object.entries(model.stateDict()).forEach(([name, p], k) => {
    if (p.dtype !== "float32") return;
    const n = p.numel();
    const v = new Float32Array(n);
    const scale = p.ndim >= 2 ? 1 / Math.sqrt(n / p.shape[0]) : 0.1;
    let r = (k * 104729) % 2001;
    for (let i = 0; i < n; i++) {
      v[i] = name.endsWith("running_var") ? Math.abs((r - 1000) / 1000) + 0.5 : ((r - 1000) / 1000) * scale;
      r += 1916;
      if (r >= 2001) r -= 2001;
    }
    p.assign(gb.tensor(v, { shape: p.shape, device: p.device }));
  });
}
function formulaInput(shape: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 31) % 257) / 256 - 0.5;
  return gb.tensor(v, { shape, device: "gpu" });
}

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
