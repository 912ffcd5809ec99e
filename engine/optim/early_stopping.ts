/**
 * Early stopping on a validation metric:
 *
 *   const stopper = new gb.optim.EarlyStopping({ patience: 5, mode: "min", restoreBest: true });
 *   for (let epoch = 0; epoch < 100; epoch++) {
 *     ...train...; const valLoss = ...;
 *     if (stopper.step(valLoss, model)) break;   // true: no improvement for `patience` epochs
 *   }
 *   stopper.restore(model);                      // back to the best epoch's weights
 */
import { noGrad } from "../autograd.js";
import { keep } from "../backends/webgpu/api.js";
import { Tensor } from "../tensor.js";

/** Anything with a state dict of tensors (an nn.Module). */
export interface HasStateDict {
  stateDict(): Record<string, Tensor> | Map<string, Tensor>;
  loadStateDict(sd: Record<string, Tensor> | Map<string, Tensor>, ...rest: never[]): unknown;
}

export interface EarlyStoppingOptions {
  /** Epochs without improvement to wait before stopping (default 5). */
  patience?: number;
  /** The smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** "min" for losses, "max" for accuracies (default "min"). */
  mode?: "min" | "max";
  /** Keep a copy of the best model's weights (pass the model to `step`). */
  restoreBest?: boolean;
}

export class EarlyStopping {
  readonly patience: number;
  readonly minDelta: number;
  readonly mode: "min" | "max";
  readonly restoreBest: boolean;
  /** The best metric so far (null before the first step). */
  bestScore: number | null = null;
  /** The epoch (0-based count of `step` calls) of the best metric (-1 before the first step). */
  bestEpoch = -1;
  /** Epochs since the last improvement. */
  counter = 0;
  /** The number of `step` calls so far. */
  epoch = 0;
  /** Whether `step` has asked to stop. */
  shouldStop = false;
  /** The best model's weights (copies) when `restoreBest` is on. */
  bestState: Map<string, Tensor> | null = null;

  constructor(opts: EarlyStoppingOptions = {}) {
    this.patience = opts.patience ?? 5;
    this.minDelta = opts.minDelta ?? 0;
    this.mode = opts.mode ?? "min";
    this.restoreBest = opts.restoreBest ?? false;
    if (!Number.isInteger(this.patience) || this.patience < 0) throw new Error(`EarlyStopping: patience must be a non-negative integer, got ${this.patience}`);
    if (!(this.minDelta >= 0)) throw new Error(`EarlyStopping: minDelta must be >= 0, got ${this.minDelta}`);
    if (this.mode !== "min" && this.mode !== "max") throw new Error(`EarlyStopping: mode must be "min" or "max", got ${String(this.mode)}`);
  }

  private improves(metric: number): boolean {
    if (this.bestScore === null) return true;
    return this.mode === "min" ? metric < this.bestScore - this.minDelta : metric > this.bestScore + this.minDelta;
  }

  /**
   * Records this epoch's metric; returns true when training should stop
   * (no improvement larger than `minDelta` for `patience` epochs in a row).
   * With `restoreBest`, pass the model so its weights are kept at each new best.
   */
  step(metric: number, model?: HasStateDict): boolean {
    if (typeof metric !== "number" || Number.isNaN(metric)) throw new Error(`EarlyStopping.step: the metric must be a number, got ${String(metric)} (use await loss.item())`);
    if (this.restoreBest && !model) throw new Error("EarlyStopping.step: restoreBest is on, so pass the model: stopper.step(metric, model)");
    if (this.improves(metric)) {
      this.bestScore = metric;
      this.bestEpoch = this.epoch;
      this.counter = 0;
      if (this.restoreBest && model) {
        const prev = this.bestState;
        this.bestState = snapshot(model);
        if (prev) for (const t of prev.values()) t.dispose(); // frees GPU memory; a no-op on the CPU
      }
    } else {
      this.counter++;
    }
    this.epoch++;
    this.shouldStop = this.counter >= this.patience && this.bestEpoch >= 0 && this.counter > 0;
    return this.shouldStop;
  }

  /** Loads the best epoch's weights back into `model` (needs `restoreBest: true`). */
  restore(model: HasStateDict): void {
    if (!this.restoreBest) throw new Error("EarlyStopping.restore: construct with { restoreBest: true } to keep the best weights");
    if (!this.bestState) throw new Error("EarlyStopping.restore: no best state yet (call step(metric, model) first)");
    const sd = model.stateDict();
    const asMap = sd instanceof Map;
    const copy: Record<string, Tensor> = {};
    const m = new Map<string, Tensor>();
    for (const [k, v] of this.bestState) {
      const c = noGrad(() => v.clone());
      copy[k] = c;
      m.set(k, c);
    }
    model.loadStateDict((asMap ? m : copy) as never);
  }

  /** Starts over (forgets the best score). */
  reset(): void {
    this.bestScore = null;
    this.bestEpoch = -1;
    this.counter = 0;
    this.epoch = 0;
    this.shouldStop = false;
    this.bestState = null;
  }
}

function snapshot(model: HasStateDict): Map<string, Tensor> {
  const sd = model.stateDict();
  const entries = sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
  const out = new Map<string, Tensor>();
  for (const [k, v] of entries) {
    if (!(v instanceof Tensor)) throw new Error(`EarlyStopping: the state dict entry '${k}' is not a tensor`);
    out.set(k, keep(noGrad(() => v.detach().clone()))); // kept: outlives gb.tidy() scopes
  }
  return out;
}
