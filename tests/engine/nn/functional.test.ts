// gb.nn.functional against PyTorch (reference.json, made by make_reference.py): forward values
// and input/weight gradients for every op and option combination, gradcheck on small inputs,
// dropout's statistics, and the error messages.
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { cases, OPS, tolFor, toTensor, type Case } from "./cases.ts";

const F = gb.nn.F;

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, atol = 1e-5, rtol = 1e-5): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w)) {
      if (!Number.isNaN(g)) expect.fail(`${what}: element ${i} is ${g}, expected NaN`);
      continue;
    }
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) expect.fail(`${what}: element ${i} is ${g}, expected ${w} (atol ${atol}, rtol ${rtol})`);
  }
}

describe("functional vs PyTorch", () => {
  it("covers every op in the reference", () => {
    for (const c of cases) expect(OPS[c.op], `no runner for ${c.op}`).toBeDefined();
    expect(cases.length).toBeGreaterThan(100);
  });
  for (const c of cases) {
    it(c.name, async () => {
      const ins = c.inputs.map(toTensor);
      const res = OPS[c.op](ins, c.opts);
      const outs = Array.isArray(res) ? res : [res];
      const y = outs[0];
      const atol = tolFor(c);
      expect(y.shape).toEqual(c.out.shape);
      expectClose(await y.data(), c.out.data, `${c.name}: output`, atol);
      (c.extraOuts ?? []).forEach((e, k) => {
        const t = outs[k + 1];
        expect(t.shape, `${c.name}: extra output ${k} shape`).toEqual(e.shape);
        if (t.dtype === "int32") expect(Array.from(t.dataSync()), `${c.name}: indices`).toEqual(e.data);
        else expectClose(t.dataSync(), e.data, `${c.name}: extra output ${k}`, atol);
      });
      if (c.gout && c.grads) {
        const g = gb.tensor(Float32Array.from(c.gout), { shape: c.out.shape });
        await y.backward(g);
        c.grads.forEach((want, k) => {
          const x = ins[k];
          if (!want || !x || !x.requiresGrad) return;
          expect(x.grad, `${c.name}: grad of input ${k}`).not.toBeNull();
          expectClose(x.grad!.dataSync(), want, `${c.name}: grad of input ${k}`, atol * 2, 1e-4);
        });
      }
    });
  }
});

describe("gradcheck", () => {
  gb.manualSeed(3);
  const r = (...s: number[]) => gb.randn(s);
  const labels = gb.tensor(Int32Array.from([2, 0, 1]), { dtype: "int32" });
  const checks: [string, (...xs: Tensor[]) => Tensor, Tensor[]][] = [
    ["linear", (x, w, b) => F.linear(x, w, b), [r(3, 4), r(2, 4), r(2)]],
    ["conv2d stride/pad/dilation", (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1, dilation: [1, 2] }), [r(1, 2, 5, 6), r(3, 2, 2, 2), r(3)]],
    ["conv2d groups same", (x, w) => F.conv2d(x, w, null, { padding: "same", groups: 2 }), [r(1, 4, 4, 4), r(2, 2, 2, 3)]],
    ["convTranspose2d", (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [r(1, 2, 3, 3), r(2, 3, 3, 3), r(3)]],
    ["maxPool2d", (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }), [r(1, 2, 6, 5)]],
    ["avgPool2d", (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }), [r(1, 2, 6, 5)]],
    ["adaptiveAvgPool2d", (x) => F.adaptiveAvgPool2d(x, [3, 2]), [r(1, 2, 5, 5)]],
    ["leakyRelu", (x) => F.leakyRelu(x, 0.1), [r(3, 4)]],
    ["elu", (x) => F.elu(x), [r(3, 4)]],
    ["softmax", (x) => F.softmax(x, 1), [r(3, 4)]],
    ["logSoftmax", (x) => F.logSoftmax(x, 0), [r(3, 4)]],
    ["gelu", (x) => F.gelu(x), [r(3, 4)]],
    ["localResponseNorm", (x) => F.localResponseNorm(x, 3, 0.1, 0.75, 1), [r(1, 4, 2, 2)]],
    ["batchNorm train", (x, w, b) => F.batchNorm(x, null, null, w, b, true), [r(4, 3, 2), r(3), r(3)]],
    ["layerNorm", (x, w, b) => F.layerNorm(x, 3, w, b), [r(2, 3), r(3), r(3)]],
    ["mseLoss", (a, c) => F.mseLoss(a, c), [r(3, 2), r(3, 2)]],
    ["l1Loss", (a) => F.l1Loss(a, gb.zeros([3, 2])), [gb.tensor([[0.5, -1.2], [2, -0.3], [0.9, 1.7]])]],
    ["binaryCrossEntropy", (p) => F.binaryCrossEntropy(p.sigmoid(), gb.tensor([[1, 0], [0, 1], [1, 1]])), [r(3, 2)]],
    ["binaryCrossEntropyWithLogits", (x, t) => F.binaryCrossEntropyWithLogits(x, t.sigmoid(), { posWeight: gb.tensor([2, 0.5]) }), [r(3, 2), r(3, 2)]],
    ["crossEntropy", (x) => F.crossEntropy(x, labels, { labelSmoothing: 0.1, weight: gb.tensor([1, 2, 0.5]) }), [r(3, 3)]],
    ["crossEntropy probs", (x, p) => F.crossEntropy(x, p.softmax(1)), [r(3, 3), r(3, 3)]],
    ["nllLoss", (x) => F.nllLoss(x.logSoftmax(1), labels), [r(3, 3)]],
    ["hingeLoss multiclass", (x) => F.hingeLoss(x, labels), [r(3, 3)]],
    ["hingeLoss binary", (x) => F.hingeLoss(x, gb.tensor([1, -1, 1])), [r(3)]],
  ];
  for (const [name, f, xs] of checks) {
    it(name, () => {
      expect(gb.autograd.gradcheck(f, xs, { eps: 1e-2, atol: 2e-3, rtol: 2e-2 })).toBe(true);
    });
  }
});

describe("dropout", () => {
  it("zeroes about p of the elements and scales the rest by 1/(1-p)", async () => {
    gb.manualSeed(0);
    const x = gb.ones([200, 100]);
    const y = await F.dropout(x, 0.3, true).data();
    let zeros = 0;
    for (const v of y) {
      if (v === 0) zeros++;
      else expect(v).toBeCloseTo(1 / 0.7, 5);
    }
    expect(zeros / y.length).toBeGreaterThan(0.28);
    expect(zeros / y.length).toBeLessThan(0.32);
  });
  it("is reproducible with gb.manualSeed and the identity when not training", async () => {
    const x = gb.randn([10, 10]);
    gb.manualSeed(42);
    const a = await F.dropout(x, 0.5).data();
    gb.manualSeed(42);
    const b = await F.dropout(x, 0.5).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(F.dropout(x, 0.5, false)).toBe(x);
  });
  it("passes the gradient through the kept elements only", async () => {
    gb.manualSeed(1);
    const x = gb.randn([50]).requiresGrad_(true);
    const y = F.dropout(x, 0.5);
    await y.sum().backward();
    const yv = await y.data(), g = await x.grad!.data();
    for (let i = 0; i < 50; i++) expect(g[i]).toBeCloseTo(yv[i] === 0 ? 0 : 2, 5);
  });
  it("rejects a bad probability", () => {
    expect(() => F.dropout(gb.ones([2]), 1.5)).toThrow(/dropout: probability has to be between 0 and 1, but got 1.5/);
  });
});

describe("errors name the op and the shapes", () => {
  it("conv2d with the wrong number of input channels", () => {
    const w = gb.zeros([64, 3, 11, 11]);
    expect(() => F.conv2d(gb.zeros([8, 1, 224, 224]), w)).toThrow("conv2d: expected input with 3 channels (weight 64x3x11x11), got input 8x1x224x224");
  });
  it("conv2d with a kernel larger than the input", () => {
    expect(() => F.conv2d(gb.zeros([1, 1, 3, 3]), gb.zeros([1, 1, 5, 5]))).toThrow(/conv2d: input 1x1x3x3 \(padded to 3x3\) is smaller than the kernel 5x5/);
  });
  it("conv2d same with stride", () => {
    expect(() => F.conv2d(gb.zeros([1, 1, 5, 5]), gb.zeros([1, 1, 3, 3]), null, { padding: "same", stride: 2 })).toThrow(/not supported for strided/);
  });
  it("linear with the wrong feature count", () => {
    expect(() => F.linear(gb.zeros([2, 5]), gb.zeros([3, 4]))).toThrow("linear: expected input with last dimension 4 (weight 3x4), got input 2x5");
  });
  it("pooling with too much padding or a too small input", () => {
    expect(() => F.maxPool2d(gb.zeros([1, 1, 4, 4]), 2, { padding: 2 })).toThrow(/maxPool2d: padding \(2, 2\) must be at most half of the kernel size/);
    expect(() => F.avgPool2d(gb.zeros([1, 1, 1, 1]), 3)).toThrow(/avgPool2d: output size .* is too small/);
  });
  it("crossEntropy with float class labels, a bad target shape or an out-of-range class", () => {
    const x = gb.zeros([4, 3]);
    expect(() => F.crossEntropy(x, gb.tensor([0, 1, 2, 1]))).toThrow(/crossEntropy: probability targets must have the input's shape 4x3, got 4/);
    expect(() => F.crossEntropy(x, gb.tensor(Int32Array.from([0, 1])))).toThrow(/crossEntropy: expected target of shape 4 for input 4x3/);
    expect(() => F.crossEntropy(x, gb.tensor(Int32Array.from([0, 1, 3, 1])))).toThrow(/crossEntropy: target 3 \(at flat index 2\) is out of range for 3 classes/);
  });
  it("hingeLoss with binary targets that are not -1 / +1", () => {
    expect(() => F.hingeLoss(gb.tensor([0.5, -1]), gb.tensor([0, 1]))).toThrow(/hingeLoss: binary targets must be -1 or \+1, found 0 at flat index 0/);
    expect(() => F.hingeLoss(gb.zeros([3]), gb.tensor(Int32Array.from([0, 1])))).toThrow(/hingeLoss: int32 class targets need scores with one more dimension/);
  });
  it("mseLoss with mismatched shapes (PyTorch broadcasts with a warning)", () => {
    expect(() => F.mseLoss(gb.zeros([4, 1]), gb.zeros([4]))).toThrow(/mseLoss: input 4x1 and target 4 must have the same shape/);
  });
  it("binaryCrossEntropy on values outside [0, 1]", () => {
    expect(() => F.binaryCrossEntropy(gb.tensor([0.5, 1.5]), gb.tensor([0, 1]))).toThrow(/binaryCrossEntropy: all elements of input should be between 0 and 1/);
  });
  it("batchNorm in training with one value per channel", () => {
    expect(() => F.batchNorm(gb.zeros([1, 3]), null, null, null, null, true)).toThrow(/batchNorm: expected more than 1 value per channel when training, got input 1x3/);
  });
  it("convTranspose2d with a too large outputPadding", () => {
    expect(() => F.convTranspose2d(gb.zeros([1, 2, 3, 3]), gb.zeros([2, 1, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(/convTranspose2d: outputPadding \(2, 2\) must be non-negative and smaller than either stride/);
  });
});
