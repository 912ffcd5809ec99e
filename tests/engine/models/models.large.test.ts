// The full-size models against PyTorch 1.13 (reference.json, made by make_reference.py):
// AlexNet at 1000 classes (61M parameters, a 224x224 forward) and ResNet-18/34/50 — slow
// (tens of seconds: most of it is the random initialisation of ~130M parameters).
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { models, nn } from "../../../engine/index.ts";

import { checkAgainst, ref } from "./reference.ts";


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
