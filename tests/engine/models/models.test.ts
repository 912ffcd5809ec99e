// Models against PyTorch 1.13 (reference.json, made by make_reference.py): parameter counts,
// state-dict names and shapes, output shapes and forward values with formula weights; and
// training behaviour (perceptron on separable data and on XOR, an MLP learning XOR).
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { data, models, nn, optim } from "../../../engine/index.ts";

import { checkAgainst, fillFormula, formulaInput, ref } from "./reference.ts";


describe("LeNet5 matches the PyTorch definition", () => {
  it("tanh / avg pooling / 28x28: 61,706 parameters, names, shapes, values", () => {
    checkAgainst(new models.LeNet5(), ref.lenet["tanh-avg-28"]);
    expect(ref.lenet["tanh-avg-28"].params).toBe(61706);
  });
  it("relu / max pooling", () => checkAgainst(new models.LeNet5({ activation: "relu", pooling: "max" }), ref.lenet["relu-max-28"]));
  it("the original 32x32 input", () => checkAgainst(new models.LeNet5({ inputSize: 32 }), ref.lenet["tanh-avg-32"]));
  it("explains a wrong input shape", () => {
    expect(() => new models.LeNet5().call(gb.zeros([1, 28, 28]))).toThrow(/LeNet5: expected input \[N, 1, 28, 28\], got 1x28x28 \(add the batch dimension/);
  });
});

describe("AlexNet matches torchvision (small variants; the full-size checks are in models.large.test.ts)", () => {
  it("grey input with local response normalisation (feature indices shift)", () => {
    const m = new models.AlexNet({ numClasses: 10, inChannels: 1, lrn: true, hidden: 256 });
    checkAgainst(m, ref.alexnet["gray-lrn"]);
    expect(m.features.at(2)).toBeInstanceOf(nn.LocalResponseNorm);
  });
  it("the small-input variant (28x28 to 64x64)", () => checkAgainst(new models.AlexNet({ numClasses: 10, inChannels: 1, small: true }), ref.alexnet.small));
  it("the small variant with LRN and narrow FC layers", () => checkAgainst(new models.AlexNet({ numClasses: 10, inChannels: 1, small: true, lrn: true, hidden: 64 }), ref.alexnet["small-lrn"]));
});

describe("ResNet (the CIFAR-stem resnet18 here; the ImageNet ones in models.large.test.ts)", () => {
  it("resnet18 with the small (CIFAR) stem: names (with BatchNorm buffers), counts, shapes, values", () => checkAgainst(models.resnet18({ numClasses: 10, small: true }), ref.resnet["resnet18-small"]));
  it("zeroInitResidual makes every block start as the identity on its shortcut", () => {
    const m = new models.ResNet(models.BasicBlock, [1, 1, 1, 1], { zeroInitResidual: true, numClasses: 2 });
    for (const [name, p] of m.namedParameters()) if (/layer\d\.\d\.bn2\.weight$/.test(name)) expect(Math.max(...p.dataSync().map(Math.abs)), name).toBe(0);
  });
});

describe("MLP", () => {
  it("matches nn.Sequential of Linear layers (names, counts, values)", () => {
    checkAgainst(new models.MLP([2, 8, 1], { activation: "tanh" }), ref.mlp["2-8-1-tanh"]);
    checkAgainst(new models.MLP([784, 128, 64, 10]), ref.mlp["784-128-64-10-relu"]);
  });
  it("options: output activation, dropout, errors", () => {
    const m = new models.MLP([3, 4, 2], { outputActivation: "softmax", dropout: 0.2 });
    expect(m.length).toBe(5);
    const y = gb.noGrad(() => m.eval().call(gb.ones([5, 3])));
    expect([...y.sum(1).dataSync()].every((s) => Math.abs(s - 1) < 1e-6)).toBe(true);
    expect(() => new models.MLP([3])).toThrow(/MLP: sizes must list at least an input and an output size/);
    expect(() => new models.MLP([3, 2], { activation: "nope" as never, outputActivation: "nope" as never })).toThrow(/unknown activation "nope"/);
  });

  it("learns XOR exactly (4/4) in a few seconds", async () => {
    gb.manualSeed(0);
    const { x, y } = data.xor();
    const net = new models.MLP([2, 8, 2], { activation: "tanh" });
    const opt = new optim.Adam(net.parameters(), { lr: 0.05 });
    const t0 = performance.now();
    let loss = Infinity;
    for (let step = 0; step < 300; step++) {
      opt.zeroGrad();
      const l = nn.functional.crossEntropy(net.call(x), y);
      await l.backward();
      opt.step();
      loss = await l.item();
    }
    expect(performance.now() - t0).toBeLessThan(10000);
    expect(loss).toBeLessThan(0.05);
    const pred = net.call(x).argmax(1);
    expect([...pred.dataSync()]).toEqual([0, 1, 1, 0]);
  });
});

describe("Perceptron (Rosenblatt)", () => {
  it("converges on linearly separable blobs", async () => {
    const { x, y } = data.blobs({ n: 200, std: 0.7, seed: 3 });
    const p = new models.Perceptron(2);
    const r = await p.fitRosenblatt(x, y, { epochs: 50 });
    expect(r.converged).toBe(true);
    expect(r.mistakes[r.mistakes.length - 1]).toBe(0);
    expect(r.mistakes[0]).toBeGreaterThan(0);
    expect(r.history.length).toBe(r.epochs);
    expect([...p.predict(x).dataSync()]).toEqual([...y.dataSync()]);
    // the step activation gives the same 0/1 outputs
    expect([...p.call(x).dataSync()]).toEqual([...y.dataSync()].map(Number));
  });

  it("never reaches zero mistakes on XOR", async () => {
    const { x, y } = data.xor();
    const p = new models.Perceptron(2);
    const r = await p.fitRosenblatt(x, y, { epochs: 100, shuffle: true });
    expect(r.converged).toBe(false);
    expect(r.epochs).toBe(100);
    expect(Math.min(...r.mistakes)).toBeGreaterThan(0);
    const acc = [...p.predict(x).dataSync()].filter((v, i) => v === y.dataSync()[i]).length;
    expect(acc).toBeLessThan(4);
  });

  it("accepts -1/+1 labels and is also trainable by gradient descent on its logits", async () => {
    const { x, y } = data.blobs({ n: 100, std: 0.5, seed: 1 });
    const pm = y.mul(2).sub(1);
    expect((await new models.Perceptron(2).fitRosenblatt(x, pm)).converged).toBe(true);
    const p = new models.Perceptron(2, { activation: "sigmoid" });
    const opt = new optim.SGD(p.parameters(), { lr: 0.5 });
    for (let i = 0; i < 100; i++) {
      opt.zeroGrad();
      const l = nn.functional.binaryCrossEntropyWithLogits(p.logits(x), y.float());
      await l.backward();
      opt.step();
    }
    expect([...p.predict(x).dataSync()]).toEqual([...y.dataSync()]);
    expect(() => new models.Perceptron(3).logits(x)).toThrow(/Perceptron: expected inputs of shape \[N, 3\], got 100x2/);
    await expect(new models.Perceptron(2).fitRosenblatt(x, y.add(1))).rejects.toThrow(/labels must be 0\/1 or -1\/\+1, found 2/);
  });
});
