/** Loss modules (torch.nn's MSELoss, CrossEntropyLoss, ...) over gb.nn.functional's losses, re-exported by gb.nn. */
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { Module } from "./module.js";

abstract class Loss extends Module {
  constructor(readonly reduction: F.Reduction = "mean") {
    super();
  }
  override extraRepr(): string {
    return this.reduction === "mean" ? "" : `reduction=${this.reduction}`;
  }
}

export class MSELoss extends Loss {
  constructor(opts: F.LossOptions = {}) { super(opts.reduction); }
  forward(input: Tensor, target: Tensor): Tensor { return F.mseLoss(input, target, { reduction: this.reduction }); }
}
export class L1Loss extends Loss {
  constructor(opts: F.LossOptions = {}) { super(opts.reduction); }
  forward(input: Tensor, target: Tensor): Tensor { return F.l1Loss(input, target, { reduction: this.reduction }); }
}
export class SmoothL1Loss extends Loss {
  readonly beta: number;
  constructor(opts: F.LossOptions & { beta?: number } = {}) { super(opts.reduction); this.beta = opts.beta ?? 1; }
  forward(input: Tensor, target: Tensor): Tensor { return F.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta }); }
}
export class BCELoss extends Loss {
  weight!: Tensor | null;
  constructor(opts: F.BCEOptions = {}) { super(opts.reduction); this.registerBuffer("weight", opts.weight ?? null); }
  forward(input: Tensor, target: Tensor): Tensor { return F.binaryCrossEntropy(input, target, { reduction: this.reduction, weight: this.weight }); }
}
export class BCEWithLogitsLoss extends Loss {
  weight!: Tensor | null;
  posWeight!: Tensor | null;
  constructor(opts: F.BCEWithLogitsOptions = {}) {
    super(opts.reduction);
    this.registerBuffer("weight", opts.weight ?? null);
    this.registerBuffer("posWeight", opts.posWeight ?? null, { stateName: "pos_weight" });
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(input, target, { reduction: this.reduction, weight: this.weight, posWeight: this.posWeight });
  }
}
export class CrossEntropyLoss extends Loss {
  weight!: Tensor | null;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  constructor(opts: F.CrossEntropyOptions = {}) {
    super(opts.reduction);
    this.registerBuffer("weight", opts.weight ?? null);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.labelSmoothing = opts.labelSmoothing ?? 0;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, { reduction: this.reduction, weight: this.weight, ignoreIndex: this.ignoreIndex, labelSmoothing: this.labelSmoothing });
  }
}
export class NLLLoss extends Loss {
  weight!: Tensor | null;
  readonly ignoreIndex: number;
  constructor(opts: Omit<F.CrossEntropyOptions, "labelSmoothing"> = {}) {
    super(opts.reduction);
    this.registerBuffer("weight", opts.weight ?? null);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, { reduction: this.reduction, weight: this.weight, ignoreIndex: this.ignoreIndex });
  }
}
/** The multi-class SVM loss (torch.nn.MultiMarginLoss). */
export class MultiMarginLoss extends Loss {
  weight!: Tensor | null;
  readonly margin: number;
  readonly p: 1 | 2;
  constructor(opts: F.HingeOptions = {}) {
    super(opts.reduction);
    this.margin = opts.margin ?? 1;
    this.p = opts.p ?? 1;
    this.registerBuffer("weight", opts.weight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.multiMarginLoss(input, target, { reduction: this.reduction, margin: this.margin, p: this.p, weight: this.weight });
  }
}
/** Hinge loss: multi-class SVM for int32 targets, binary max(0, margin - y s) for float ±1 targets (see F.hingeLoss). */
export class HingeLoss extends Loss {
  readonly margin: number;
  constructor(opts: F.HingeOptions = {}) {
    super(opts.reduction);
    this.margin = opts.margin ?? 1;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.hingeLoss(input, target, { reduction: this.reduction, margin: this.margin });
  }
}
