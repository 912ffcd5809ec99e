/**
 * Rosenblatt's perceptron (1958): y = step(w·x + b), trained by the perceptron
 * rule — for each misclassified sample, w ← w + lr·(y − ŷ)·x, b ← b + lr·(y − ŷ).
 * It converges when the classes are linearly separable, and never does on XOR.
 *
 *   const p = new gb.models.Perceptron(2);
 *   const { mistakes, converged } = await p.fitRosenblatt(x, y, { epochs: 20 });
 *
 * Its weights are ordinary parameters, so it can also be trained by gradient
 * descent on `p.logits(x)` (e.g. with a hinge or logistic loss), or built with
 * `{ activation: "sigmoid" }` (logistic regression).
 */
import { noGrad } from "../autograd.js";
import { zeros } from "../ops/creation.js";
import { Module, Parameter } from "../nn/module.js";
import { shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import { makeActivation, type Activation } from "./activations.js";

export interface RosenblattOptions {
  /** Learning rate (default 1). */
  lr?: number;
  /** Maximum number of passes over the data (default 100); training stops after the first epoch without mistakes. */
  epochs?: number;
  /** Visit the samples in a new random order each epoch (default false: in order). */
  shuffle?: boolean;
  /** Seed for the shuffles (default: a fixed seed of 0). */
  seed?: number;
  /** Called after every epoch with its number of mistakes. */
  onEpoch?: (epoch: number, mistakes: number) => void;
}

export interface RosenblattResult {
  /** Misclassified samples in each epoch (counted while training, before each update). */
  mistakes: number[];
  /** Whether an epoch finished without a mistake (the data were separated). */
  converged: boolean;
  /** Epochs run. */
  epochs: number;
  /** The weights and bias after each epoch (for plotting the decision boundary over time). */
  history: { weight: number[]; bias: number }[];
}

export class Perceptron extends Module {
  /** The weights, [nInputs]. */
  weight: Parameter;
  /** The bias, [1]. */
  bias: Parameter;
  readonly activationName: string;
  activation: Module;

  constructor(readonly nInputs: number, opts: { activation?: Activation } = {}) {
    super();
    if (!Number.isInteger(nInputs) || nInputs < 1) throw new Error(`Perceptron: nInputs must be a positive integer, got ${nInputs}`);
    this.weight = new Parameter(zeros([nInputs]));
    this.bias = new Parameter(zeros([1]));
    const act = opts.activation ?? "step";
    this.activationName = typeof act === "string" ? act : "custom";
    this.activation = makeActivation("Perceptron", act);
  }

  private check(x: Tensor): void {
    if (x.shape.length !== 2 || x.shape[1] !== this.nInputs) throw new Error(`Perceptron: expected inputs of shape [N, ${this.nInputs}], got ${shapeStr(x.shape)}`);
  }

  /** The pre-activation w·x + b, [N] (differentiable). */
  logits(x: Tensor): Tensor {
    this.check(x);
    return x.matmul(this.weight).add(this.bias);
  }

  /** activation(w·x + b), [N]: 0/1 with the default step activation. */
  forward(x: Tensor): Tensor {
    return this.activation.call(this.logits(x));
  }

  /** Class labels 0/1 (int32): 1 where w·x + b > 0. */
  predict(x: Tensor): Tensor {
    return noGrad(() => this.logits(x).gt(0).int());
  }

  /**
   * Trains with Rosenblatt's rule, one sample at a time. Labels may be 0/1 or −1/+1.
   * Returns the mistakes per epoch; `converged` is true once an epoch has none.
   */
  async fitRosenblatt(x: Tensor, y: Tensor, opts: RosenblattOptions = {}): Promise<RosenblattResult> {
    this.check(x);
    const n = x.shape[0], d = this.nInputs;
    if (y.shape.length !== 1 || y.shape[0] !== n) throw new Error(`Perceptron.fitRosenblatt: expected ${n} labels of shape [${n}], got ${shapeStr(y.shape)}`);
    const lr = opts.lr ?? 1;
    const epochs = opts.epochs ?? 100;
    if (!(lr > 0)) throw new Error(`Perceptron.fitRosenblatt: lr must be > 0, got ${lr}`);
    if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`Perceptron.fitRosenblatt: epochs must be a positive integer, got ${epochs}`);
    const xs = await x.data();
    const ys = await y.data();
    const labels = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(ys[i]);
      if (v !== 0 && v !== 1 && v !== -1) throw new Error(`Perceptron.fitRosenblatt: labels must be 0/1 or -1/+1, found ${v} at index ${i}`);
      labels[i] = v > 0 ? 1 : 0;
    }
    // weights in float32, as the parameters hold them
    const w = Float32Array.from(await this.weight.data());
    const bArr = Float32Array.from(await this.bias.data());
    let seedState = (opts.seed ?? 0) | 0;
    const rand = () => {
      seedState = (seedState + 0x6d2b79f5) | 0;
      let t = Math.imul(seedState ^ (seedState >>> 15), 1 | seedState);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const mistakes: number[] = [];
    const history: RosenblattResult["history"] = [];
    let converged = false;
    for (let e = 0; e < epochs; e++) {
      if (opts.shuffle) {
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          const t = order[i]; order[i] = order[j]; order[j] = t;
        }
      }
      let m = 0;
      for (const i of order) {
        let s = bArr[0];
        for (let k = 0; k < d; k++) s += w[k] * xs[i * d + k];
        const pred = s > 0 ? 1 : 0;
        const err = labels[i] - pred;
        if (err !== 0) {
          m++;
          for (let k = 0; k < d; k++) w[k] += lr * err * xs[i * d + k];
          bArr[0] += lr * err;
        }
      }
      mistakes.push(m);
      history.push({ weight: Array.from(w), bias: bArr[0] });
      opts.onEpoch?.(e, m);
      if (m === 0) {
        converged = true;
        break;
      }
    }
    noGrad(() => {
      this.weight.assign(Tensor.fromData(w, [d], "float32", this.weight.device));
      this.bias.assign(Tensor.fromData(bArr, [1], "float32", this.bias.device));
    });
    return { mistakes, converged, epochs: mistakes.length, history };
  }

  override extraRepr(): string {
    return `nInputs=${this.nInputs}, activation=${this.activationName}`;
  }
}
