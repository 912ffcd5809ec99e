/**
 * LeNet-5 (LeCun et al., 1998) for 28x28 digits (C1 padded by 2, as commonly done
 * for MNIST) or the original 32x32 inputs:
 *
 *   C1 conv 1→6 5x5 · act · S2 pool 2 · C3 conv 6→16 5x5 · act · S4 pool 2 ·
 *   F5 400→120 · act · F6 120→84 · act · output 84→numClasses        (61,706 parameters at 10 classes)
 *
 * Layout and state-dict names: `features.0` (C1), `features.3` (C3), `classifier.0`
 * (F5), `classifier.2` (F6), `classifier.4` (output), as the usual PyTorch
 * definition with two nn.Sequential blocks.
 */
import * as nn from "../nn/layers.js";
import { Module } from "../nn/module.js";
import { shapeStr } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { makeActivation } from "./activations.js";

export interface LeNet5Options {
  /** Output classes (default 10). */
  numClasses?: number;
  /** "tanh" (the original's squashing function, default) or "relu" (the modern choice). */
  activation?: "tanh" | "relu" | "sigmoid";
  /** "avg" (the original's subsampling, default) or "max". */
  pooling?: "avg" | "max";
  /** Input channels (default 1). */
  inChannels?: number;
  /** 28 (MNIST-sized input, C1 padded by 2; default) or 32 (the original input size, no padding). */
  inputSize?: 28 | 32;
}

export class LeNet5 extends Module {
  features: nn.Sequential;
  classifier: nn.Sequential;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly inputSize: number;

  constructor(opts: LeNet5Options = {}) {
    super();
    const numClasses = opts.numClasses ?? 10;
    const act = opts.activation ?? "tanh";
    const pooling = opts.pooling ?? "avg";
    const inChannels = opts.inChannels ?? 1;
    const inputSize = opts.inputSize ?? 28;
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`LeNet5: numClasses must be a positive integer, got ${numClasses}`);
    if (act !== "tanh" && act !== "relu" && act !== "sigmoid") throw new Error(`LeNet5: activation must be "tanh", "relu" or "sigmoid", got ${String(act)}`);
    if (pooling !== "avg" && pooling !== "max") throw new Error(`LeNet5: pooling must be "avg" or "max", got ${String(pooling)}`);
    if (inputSize !== 28 && inputSize !== 32) throw new Error(`LeNet5: inputSize must be 28 or 32, got ${String(inputSize)}`);
    const pool = () => (pooling === "avg" ? new nn.AvgPool2d(2) : new nn.MaxPool2d(2));
    const a = () => makeActivation("LeNet5", act);
    this.features = new nn.Sequential(
      new nn.Conv2d(inChannels, 6, 5, { padding: inputSize === 28 ? 2 : 0 }), // C1
      a(),
      pool(), // S2
      new nn.Conv2d(6, 16, 5), // C3
      a(),
      pool(), // S4
    );
    this.classifier = new nn.Sequential(
      new nn.Linear(16 * 5 * 5, 120), // F5
      a(),
      new nn.Linear(120, 84), // F6
      a(),
      new nn.Linear(84, numClasses), // output
    );
    this.numClasses = numClasses;
    this.inChannels = inChannels;
    this.inputSize = inputSize;
  }

  /** x [N, inChannels, 28, 28] (or 32x32) → class scores [N, numClasses] (logits). */
  forward(x: Tensor): Tensor {
    const s = this.inputSize;
    if (x.shape.length !== 4 || x.shape[1] !== this.inChannels || x.shape[2] !== s || x.shape[3] !== s) {
      throw new Error(`LeNet5: expected input [N, ${this.inChannels}, ${s}, ${s}], got ${shapeStr(x.shape)}${x.shape.length === 3 ? " (add the batch dimension with x.unsqueeze(0))" : ""}`);
    }
    return this.classifier.call(this.features.call(x).flatten(1));
  }
}
