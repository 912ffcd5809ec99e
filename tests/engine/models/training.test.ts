// Training end to end (the longer model tests): LeNet-5 on real MNIST digits, the small
// AlexNet on Fashion-MNIST, and EarlyStopping restoring a real module's best weights.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { data, datasets, models, nn, optim } from "../../../engine/index.ts";

describe("training (long)", () => {
  it("LeNet-5 reaches > 85% test accuracy on MNIST after one epoch over 3,000 digits", async () => {
    gb.manualSeed(0);
    const { train, test } = await datasets.mnistSplit();
    const n = 3000;
    const x = datasets.normalize(train.images.slice(0, 0, n), datasets.MNIST_MEAN, datasets.MNIST_STD);
    const loader = new data.DataLoader(new data.TensorDataset(x, train.labels.slice(0, 0, n)), { batchSize: 32, shuffle: true, seed: 0 });
    expect(loader.length).toBe(94);
    const net = new models.LeNet5({ activation: "relu", pooling: "max" });
    const opt = new optim.Adam(net.parameters(), { lr: 2e-3 });
    for (const [xb, yb] of loader) {
      opt.zeroGrad();
      const loss = nn.functional.crossEntropy(net.call(xb), yb);
      await loss.backward();
      opt.step();
    }
    net.eval();
    const tx = datasets.normalize(test.images, datasets.MNIST_MEAN, datasets.MNIST_STD);
    const acc = await gb.noGrad(() => net.call(tx).argmax(1).eq(test.labels).float().mean()).item();
    expect(acc).toBeGreaterThan(0.85);
  });

  it.skipIf(!existsSync("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"))("the small AlexNet trains on a Fashion-MNIST batch: gradients reach every layer, the loss falls", async () => {
    gb.manualSeed(1);
    const fm = await datasets.fashionMnist({ train: false });
    const x = datasets.normalize(fm.images.slice(0, 0, 8), datasets.FASHION_MNIST_MEAN, datasets.FASHION_MNIST_STD);
    const y = fm.labels.slice(0, 0, 8);
    const net = new models.AlexNet({ numClasses: 10, inChannels: 1, small: true, hidden: 128, dropout: 0 });
    const opt = new optim.Adam(net.parameters(), { lr: 1e-3 });
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) {
      opt.zeroGrad();
      const loss = nn.functional.crossEntropy(net.call(x), y);
      await loss.backward();
      if (i === 0) {
        for (const [name, p] of net.namedParameters()) {
          expect(p.grad, name).not.toBeNull();
          expect(await p.grad!.abs().sum().item(), name).toBeGreaterThan(0);
        }
      }
      opt.step();
      losses.push(await loss.item());
    }
    // (PyTorch, same architecture and data, its own random init: 2.32 → 2.15 after 6 steps)
    expect(Math.min(...losses.slice(3))).toBeLessThan(losses[0] - 0.05);
  });

  it("EarlyStopping keeps and restores a module's best weights; a scheduler lowers the rate", async () => {
    gb.manualSeed(2);
    const { x, y } = data.moons({ n: 200, noise: 0.1, seed: 0 });
    const [tr, va] = data.randomSplit(new data.TensorDataset(x, y), [0.8, 0.2], 0);
    const net = new models.MLP([2, 16, 2], { activation: "tanh" });
    const opt = new optim.SGD(net.parameters(), { lr: 0.5, momentum: 0.9 });
    const sched = new optim.lrScheduler.StepLR(opt, 10, 0.5);
    const stopper = new optim.EarlyStopping({ patience: 3, mode: "min", restoreBest: true });
    const [vx, vy] = [...new data.DataLoader(va, { batchSize: va.length })][0];
    let stoppedAt = -1;
    for (let epoch = 0; epoch < 60; epoch++) {
      for (const [xb, yb] of new data.DataLoader(tr, { batchSize: 32, shuffle: true, seed: epoch })) {
        opt.zeroGrad();
        await nn.functional.crossEntropy(net.call(xb), yb).backward();
        opt.step();
      }
      sched.step();
      const val = await gb.noGrad(() => nn.functional.crossEntropy(net.call(vx), vy)).item();
      if (stopper.step(val, net)) {
        stoppedAt = epoch;
        break;
      }
    }
    expect(stopper.bestScore).not.toBeNull();
    if (stoppedAt >= 0) expect(stoppedAt - stopper.bestEpoch).toBe(3);
    stopper.restore(net);
    const restored = await gb.noGrad(() => nn.functional.crossEntropy(net.call(vx), vy)).item();
    expect(restored).toBeCloseTo(stopper.bestScore!, 5);
    expect(sched.getLastLr()[0]).toBeLessThan(0.5);
  });
});
