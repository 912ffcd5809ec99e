/** Normalisation layers (torch.nn's LocalResponseNorm, BatchNorm1d/2d, LayerNorm), re-exported by gb.nn. */
import { zeros, ones } from "../ops/creation.js";
import { shapeStr } from "../shape.js";
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import * as init from "./init.js";
import { Module, Parameter } from "./module.js";
import { checkPositiveInt, checkRank } from "./layer-checks.js";

export class LocalResponseNorm extends Module {
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;
  constructor(readonly size: number, opts: { alpha?: number; beta?: number; k?: number } = {}) {
    super();
    this.alpha = opts.alpha ?? 1e-4;
    this.beta = opts.beta ?? 0.75;
    this.k = opts.k ?? 1;
  }
  forward(x: Tensor): Tensor { return F.localResponseNorm(x, this.size, this.alpha, this.beta, this.k); }
  override extraRepr(): string { return `${this.size}, alpha=${this.alpha}, beta=${this.beta}, k=${this.k}`; }
}

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the new batch in the running averages; null: cumulative average over all batches. */
  momentum?: number | null;
  /** Learnable weight (ones) and bias (zeros). */
  affine?: boolean;
  /** Keep runningMean / runningVar / numBatchesTracked buffers (else batch statistics are used in eval too). */
  trackRunningStats?: boolean;
}

abstract class BatchNormBase extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  runningMean!: Tensor | null;
  runningVar!: Tensor | null;
  numBatchesTracked!: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  constructor(readonly numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    checkPositiveInt(new.target.name, "numFeatures", numFeatures);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    this.weight = this.affine ? new Parameter(ones([numFeatures])) : null;
    this.bias = this.affine ? new Parameter(zeros([numFeatures])) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("runningMean", zeros([numFeatures]), { stateName: "running_mean" });
      this.registerBuffer("runningVar", ones([numFeatures]), { stateName: "running_var" });
      this.registerBuffer("numBatchesTracked", zeros([], { dtype: "int32" }), { stateName: "num_batches_tracked" });
    } else {
      this.registerBuffer("runningMean", null, { stateName: "running_mean" });
      this.registerBuffer("runningVar", null, { stateName: "running_var" });
      this.registerBuffer("numBatchesTracked", null, { stateName: "num_batches_tracked" });
    }
  }
  protected abstract checkInput(x: Tensor): void;
  /** Running statistics back to mean 0, variance 1, no batches. */
  resetRunningStats(): void {
    if (this.runningMean) init.zeros_(this.runningMean);
    if (this.runningVar) init.ones_(this.runningVar);
    if (this.numBatchesTracked) init.zeros_(this.numBatchesTracked);
  }
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    if (x.shape[1] !== this.numFeatures) {
      throw new Error(`${this.typeName}: expected input with ${this.numFeatures} channels (numFeatures), got input ${shapeStr(x.shape)}`);
    }
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats && this.numBatchesTracked) {
      this.numBatchesTracked.assign(this.numBatchesTracked.add(1));
      if (this.momentum === null) {
        const v = this.numBatchesTracked.backend.readSync(this.numBatchesTracked._d);
        if (!v) throw new Error(`${this.typeName}: momentum null (cumulative average) needs a CPU numBatchesTracked`);
        factor = 1 / v[0];
      }
    }
    const useBatch = this.training || this.runningMean === null;
    const track = !this.training || this.trackRunningStats;
    return F.batchNorm(x, track ? this.runningMean : null, track ? this.runningVar : null, this.weight, this.bias, useBatch, factor, this.eps);
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum === null ? "null" : this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/** Batch normalisation over [N, C] or [N, C, L] (statistics per channel C). */
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    checkRank("BatchNorm1d", x, [2, 3], "a 2-D [N, C] or 3-D [N, C, L]");
  }
}
/** Batch normalisation over [N, C, H, W] (statistics per channel C). */
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    checkRank("BatchNorm2d", x, [4], "a 4-D [N, C, H, W]");
  }
}

/** Layer normalisation over the last dims (torch.nn.LayerNorm). */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  constructor(normalizedShape: number | number[], opts: { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? new Parameter(ones(this.normalizedShape)) : null;
    this.bias = affine ? new Parameter(zeros(this.normalizedShape)) : null;
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
  override extraRepr(): string {
    return `(${this.normalizedShape.join(", ")}${this.normalizedShape.length === 1 ? "," : ""}), eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}

