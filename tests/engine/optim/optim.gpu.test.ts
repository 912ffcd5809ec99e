// The optimizers on the WebGPU backend (lavapipe in CI): the same PyTorch trajectories as
// optim.test.ts with parameters, gradients and state on the "gpu" device; plus gradient
// clipping and a DataLoader / transforms / Perceptron round on GPU tensors.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { data, models, optim } from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { mismatch, startGpu } from "../webgpu/gpu.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const P = ref.problem;
const hasGpu = await startGpu();

async function expectClose(t: Tensor, want: number[], what: string): Promise<void> {
  expect(t.device, `${what}: device`).toBe("gpu");
  const msg = mismatch(await t.data(), want, 1e-6, 1e-5);
  if (msg) expect.fail(`${what}: ${msg}`);
}

describe.skipIf(!hasGpu)("optimizers on WebGPU match PyTorch", { timeout: 300_000 }, () => {
  beforeAll(() => gb.setDefaultDevice("gpu"));
  afterAll(() => {
    gb.setDefaultDevice("cpu");
    gb.releaseGpu();
  });

  const problem = () => {
    const W = gb.tensor(P.W0, { requiresGrad: true });
    const b = gb.tensor(P.b0, { requiresGrad: true });
    const X = gb.tensor(P.X);
    const Y = gb.tensor(P.Y);
    return { W, b, loss: () => X.matmul(W.t()).add(b).sub(Y).square().mean().add(W.pow(4).sum().mul(0.05)) };
  };

  for (const c of ref.optimizers) {
    it(`${c.name} ${JSON.stringify(c.opts)}`, async () => {
      const { W, b, loss } = problem();
      expect(W.device).toBe("gpu");
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const opt = new (optim as any)[c.name]([W, b], c.opts) as optim.Optimizer;
      for (let s = 0; s < c.traj.length; s++) {
        opt.zeroGrad();
        // a tidy scope per step: state buffers must survive it (they are kept)
        await gb.tidy(async () => {
          await loss().backward();
          opt.step();
        });
        await expectClose(W, c.traj[s].W, `${c.name} W after step ${s + 1}`);
        await expectClose(b, c.traj[s].b, `${c.name} b after step ${s + 1}`);
      }
    });
  }

  it("clipGradNorm_", async () => {
    const c = ref.clip[0];
    const { W, b, loss } = problem();
    await loss().backward();
    const total = optim.clipGradNorm_([W, b], c.arg, c.normType);
    await expectClose(total, [c.total], "total norm");
    await expectClose(W.grad!, c.gW, "W.grad");
  });

  it("DataLoader, transforms and the Perceptron on GPU tensors", async () => {
    const ds = new data.TensorDataset(gb.arange(0, 12, 1, { dtype: "float32" }).reshape([6, 2]), gb.arange(0, 6, 1, { dtype: "int32" }));
    const batches = [...new data.DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1 })];
    expect(batches.map(([x]) => x.device)).toEqual(["gpu", "gpu"]);
    const ys = (await Promise.all(batches.map(async ([, y]) => [...(await y.data())]))).flat();
    expect([...ys].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5]);
    const img = gb.ones([1, 1, 4, 4]);
    expect(data.transforms.resize(img, 8).device).toBe("gpu");
    await expectClose(data.transforms.resize(img, 8).sum(), [64], "resize of ones");
    const { x, y } = gb.noGrad(() => data.blobs({ n: 40, std: 0.4, seed: 2 }));
    const p = new models.Perceptron(2).to("gpu");
    const r = await p.fitRosenblatt(x.to("gpu"), y.to("gpu"), { epochs: 50 });
    expect(r.converged).toBe(true);
  });
});
