/**
 * A multi-layer perceptron: Linear layers of the given sizes with an activation
 * between them — a Sequential, so its state-dict names are "0.weight", "0.bias",
 * "2.weight", ... as `nn.Sequential(nn.Linear(...), nn.ReLU(), ...)` in PyTorch.
 *
 *   const net = new gb.models.MLP([2, 8, 1], { activation: "tanh", outputActivation: "sigmoid" });
 */
import * as nn from "../nn/layers.js";
import type { Module } from "../nn/module.js";
import { makeActivation, type Activation } from "./activations.js";

export interface MLPOptions {
  /** Between hidden layers (default "relu"). */
  activation?: Activation;
  /** After the last layer (default none: raw scores/logits, as crossEntropy expects). */
  outputActivation?: Activation | null;
  /** Dropout probability after each hidden activation (default 0: none). */
  dropout?: number;
  /** Whether the Linear layers have biases (default true). */
  bias?: boolean;
}

export class MLP extends nn.Sequential {
  declare readonly sizes: number[];
  constructor(sizes: number[], opts: MLPOptions = {}) {
    if (!Array.isArray(sizes) || sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new Error(`MLP: sizes must list at least an input and an output size (positive integers), e.g. [2, 8, 1]; got ${JSON.stringify(sizes)}`);
    }
    const p = opts.dropout ?? 0;
    if (!(p >= 0 && p < 1)) throw new Error(`MLP: dropout must be in [0, 1), got ${p}`);
    const layers: Module[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      layers.push(new nn.Linear(sizes[i], sizes[i + 1], { bias: opts.bias ?? true }));
      if (i + 2 < sizes.length) {
        layers.push(makeActivation("MLP", opts.activation ?? "relu"));
        if (p > 0) layers.push(new nn.Dropout(p));
      }
    }
    if (opts.outputActivation) layers.push(makeActivation("MLP", opts.outputActivation));
    super(...layers);
    Object.defineProperty(this, "sizes", { value: [...sizes], enumerable: false });
  }
}
