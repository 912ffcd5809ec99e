// The full-size models against PyTorch 1.13 (reference.json, made by make_reference.py):
// AlexNet at 1000 classes (61M parameters, a 224x224 forward) and ResNet-18/34/50 — slow
// (tens of seconds: most of it is the random initialisation of ~130M parameters).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { models, nn } from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));

/** The weights of make_reference.py: tensor k, element i -> ((i*7919 + k*104729) % 2001 - 1000) / 1000, scaled (running variances |v| + 0.5). */
function fillFormula(model: nn.Module): void {
  Object.entries(model.stateDict()).forEach(([name, p], k) => {
    if (p.dtype !== "float32") return; // BatchNorm's numBatchesTracked
    const n = p.numel();
    const v = new Float32Array(n);
    const scale = p.ndim >= 2 ? 1 / Math.sqrt(n / p.shape[0]) : 0.1;
    // r = (i * 7919 + k * 104729) % 2001, stepped incrementally (7919 % 2001 = 1916)
    let r = (k * 104729) % 2001;
    for (let i = 0; i < n; i++) {
      v[i] = name.endsWith("running_var") ? Math.abs((r - 1000) / 1000) + 0.5 : ((r - 1000) / 1000) * scale;
      r += 1916;
      if (r >= 2001) r -= 2001;
    }
    p.assign(gb.tensor(v, { shape: p.shape }));
  });
}
function formulaInput(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 31) % 257) / 256 - 0.5;
  return gb.tensor(v, { shape });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function checkAgainst(model: nn.Module, r: any, opts: { shapes?: boolean } = {}): void {
  model.eval();
  expect(model.numParameters()).toBe(r.params);
  const sd = Object.entries(model.stateDict()).map(([k, v]) => [k, v.shape]);
  expect(sd).toEqual(r.stateDict);
  gb.noGrad(() => {
    if (opts.shapes !== false) for (const s of r.outputShapes) expect(model.call(gb.zeros(s.input)).shape).toEqual(s.output);
    if (r.values) {
      fillFormula(model);
      const y = model.call(formulaInput(r.values.input)).dataSync();
      const want: number[] = r.values.output;
      const scale = Math.max(...want.map(Math.abs));
      want.forEach((w, i) => {
        if (!(Math.abs(y[i] - w) <= 1e-4 * scale + 1e-4 * Math.abs(w))) expect.fail(`output ${i} is ${y[i]}, PyTorch gives ${w}`);
      });
    }
  });
}

describe("AlexNet matches torchvision", () => {
  let alex1000: models.AlexNet | null = null;
  const alex = () => (alex1000 ??= new models.AlexNet());
  it("1000 classes: 61,100,840 parameters, torchvision's state-dict names, 224x224 and 64x64 inputs, forward values", () => {
    expect(ref.alexnet.default.params).toBe(61100840);
    checkAgainst(alex(), ref.alexnet.default);
  });
  it("explains inputs that are too small", () => {
    expect(() => alex().call(gb.zeros([1, 3, 32, 32]))).toThrow(/AlexNet: input 1x3x32x32 is too small: AlexNet needs at least 63x63.*small: true/);
    expect(() => alex().call(gb.zeros([3, 64, 64]))).toThrow(/AlexNet: expected input \[N, 3, H, W\], got 3x64x64 \(add the batch dimension/);
  });
});

describe("ResNet matches torchvision", () => {
  it("resnet18: 11,689,512 parameters, names (with BatchNorm buffers), shapes, values", () => {
    expect(ref.resnet.resnet18.params).toBe(11689512);
    checkAgainst(models.resnet18(), ref.resnet.resnet18);
  });
  it("resnet34", () => checkAgainst(models.resnet34(), ref.resnet.resnet34));
  it("resnet50 (Bottleneck)", () => checkAgainst(models.resnet50(), ref.resnet.resnet50));
});
