/**
 * Learning-rate schedulers (torch.optim.lr_scheduler): each changes `group.lr`
 * of its optimizer's parameter groups when `step()` is called once per epoch
 * (after `optimizer.step()`). `getLastLr()` is the list of current rates.
 *
 *   const sched = new gb.optim.lrScheduler.StepLR(opt, 10, 0.1);
 *   for (let epoch = 0; epoch < 30; epoch++) { ...train...; sched.step(); }
 *
 * The rules (and their chained, multiplicative form) follow PyTorch 1.13, so
 * the rates are the same numbers PyTorch prints.
 */
import type { BaseOptions, Optimizer } from "./optimizer.js";

type AnyOptimizer = Optimizer<BaseOptions>;

/** Base class: counts epochs in `lastEpoch` (0 after construction) and sets the rates from `computeLr()`. */
export abstract class LRScheduler {
  /** The epoch counter: 0 right after construction, +1 per `step()`. */
  lastEpoch = -1;
  /** The initial learning rate of every group. */
  readonly baseLrs: number[];
  protected stepCount = 0;
  private lastLr: number[] = [];

  constructor(readonly optimizer: AnyOptimizer) {
    if (!optimizer || !Array.isArray(optimizer.paramGroups)) throw new Error(`${new.target.name}: the first argument must be an optimizer`);
    for (const g of optimizer.paramGroups) if (g.initialLr === undefined) g.initialLr = g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
  }

  /** Call at the end of the constructor of subclasses (the initial step, as torch's). */
  protected init(): void {
    this.step();
  }

  /** The rates for the new `lastEpoch` (chained: may read the groups' current `lr`). */
  protected abstract computeLr(): number[];

  /** Advances one epoch and updates the optimizer's learning rates. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    this.applyLrs(this.computeLr());
  }

  protected applyLrs(lrs: number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The learning rate of each parameter group, as last set by this scheduler. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's counters (to resume training). */
  stateDict(): Record<string, unknown> {
    return { lastEpoch: this.lastEpoch, stepCount: this.stepCount, lastLr: [...this.lastLr], baseLrs: [...this.baseLrs] };
  }
  loadStateDict(sd: Record<string, unknown>): void {
    if (typeof sd.lastEpoch === "number") this.lastEpoch = sd.lastEpoch;
    if (typeof sd.stepCount === "number") this.stepCount = sd.stepCount;
    if (Array.isArray(sd.lastLr)) this.lastLr = [...(sd.lastLr as number[])];
  }

  protected groupLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

function checkGamma(name: string, gamma: number): void {
  if (typeof gamma !== "number" || !(gamma > 0)) throw new Error(`${name}: gamma must be a positive number, got ${gamma}`);
}

/** Multiplies the rate by `gamma` every `stepSize` epochs. */
export class StepLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
    if (!Number.isInteger(stepSize) || stepSize < 1) throw new Error(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
    checkGamma("StepLR", gamma);
    this.init();
  }
  protected computeLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }
}

/** Multiplies the rate by `gamma` at each epoch listed in `milestones`. */
export class MultiStepLR extends LRScheduler {
  private readonly counts = new Map<number, number>();
  constructor(optimizer: AnyOptimizer, readonly milestones: number[], readonly gamma = 0.1) {
    super(optimizer);
    if (!Array.isArray(milestones) || milestones.some((m) => !Number.isInteger(m))) throw new Error(`MultiStepLR: milestones must be a list of integers, got ${JSON.stringify(milestones)}`);
    checkGamma("MultiStepLR", gamma);
    for (const m of milestones) this.counts.set(m, (this.counts.get(m) ?? 0) + 1);
    this.init();
  }
  protected computeLr(): number[] {
    const c = this.counts.get(this.lastEpoch);
    if (c === undefined) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma ** c);
  }
}

/** Multiplies the rate by `gamma` every epoch. */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly gamma: number) {
    super(optimizer);
    checkGamma("ExponentialLR", gamma);
    this.init();
  }
  protected computeLr(): number[] {
    if (this.lastEpoch === 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }
}

/** Sets the rate to `baseLr · lambda(epoch)` (one function for all groups, or one per group). */
export class LambdaLR extends LRScheduler {
  private readonly fns: ((epoch: number) => number)[];
  constructor(optimizer: AnyOptimizer, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[]) {
    super(optimizer);
    const n = optimizer.paramGroups.length;
    this.fns = Array.isArray(lrLambda) ? lrLambda : new Array(n).fill(lrLambda);
    if (this.fns.length !== n) throw new Error(`LambdaLR: expected ${n} lrLambda functions (one per parameter group), got ${this.fns.length}`);
    if (this.fns.some((f) => typeof f !== "function")) throw new Error("LambdaLR: lrLambda must be a function or a list of functions");
    this.init();
  }
  protected computeLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.fns[i](this.lastEpoch));
  }
}

/** Linearly scales the rate from `startFactor·lr` to `endFactor·lr` over `totalIters` epochs. */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(optimizer: AnyOptimizer, opts: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super(optimizer);
    this.startFactor = opts.startFactor ?? 1 / 3;
    this.endFactor = opts.endFactor ?? 1.0;
    this.totalIters = opts.totalIters ?? 5;
    if (!(this.startFactor > 0 && this.startFactor <= 1)) throw new Error(`LinearLR: startFactor must be in (0, 1], got ${this.startFactor}`);
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) throw new Error(`LinearLR: endFactor must be in [0, 1], got ${this.endFactor}`);
    this.init();
  }
  protected computeLr(): number[] {
    const { startFactor: s, endFactor: e, totalIters: T } = this;
    if (this.lastEpoch === 0) return this.groupLrs().map((lr) => lr * s);
    if (this.lastEpoch > T) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * (1 + (e - s) / (T * s + (this.lastEpoch - 1) * (e - s))));
  }
}

/** Cosine annealing from the base rate down to `etaMin` over `tMax` epochs (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer);
    if (!(tMax > 0)) throw new Error(`CosineAnnealingLR: tMax must be positive, got ${tMax}`);
    this.init();
  }
  protected computeLr(): number[] {
    const e = this.lastEpoch, T = this.tMax, m = this.etaMin;
    if (e === 0) return this.groupLrs();
    if (this.stepCount === 1 && e > 0) return this.baseLrs.map((b) => m + ((b - m) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    if ((((e - 1 - T) % (2 * T)) + 2 * T) % (2 * T) === 0) {
      return this.groupLrs().map((lr, i) => lr + ((this.baseLrs[i] - m) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return this.groupLrs().map((lr) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - m) + m);
  }
}

/**
 * Cosine annealing with warm restarts (SGDR): the rate falls from the base rate to
 * `etaMin` over `t0` epochs, then restarts; each cycle is `tMult` times longer than
 * the last. `step(epoch)` also takes fractional epochs (`epoch + batch / batches`)
 * for per-batch updates, as torch's.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  tI: number;
  tCur = -1;
  constructor(optimizer: AnyOptimizer, readonly t0: number, readonly tMult = 1, readonly etaMin = 0) {
    super(optimizer);
    if (!Number.isInteger(t0) || t0 <= 0) throw new Error(`CosineAnnealingWarmRestarts: t0 must be a positive integer, got ${t0}`);
    if (!Number.isInteger(tMult) || tMult < 1) throw new Error(`CosineAnnealingWarmRestarts: tMult must be an integer >= 1, got ${tMult}`);
    this.tI = t0;
    this.init();
  }
  protected computeLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2);
  }
  override step(epoch?: number): void {
    let e = epoch;
    if (e === undefined && this.lastEpoch < 0) e = 0;
    if (e === undefined) {
      e = this.lastEpoch + 1;
      this.tCur = this.tCur + 1;
      if (this.tCur >= this.tI) {
        this.tCur = this.tCur - this.tI;
        this.tI = this.tI * this.tMult;
      }
    } else {
      if (e < 0) throw new Error(`CosineAnnealingWarmRestarts: expected a non-negative epoch, got ${e}`);
      if (e >= this.t0) {
        if (this.tMult === 1) {
          this.tCur = e % this.t0;
        } else {
          const n = Math.floor(Math.log((e / this.t0) * (this.tMult - 1) + 1) / Math.log(this.tMult));
          this.tCur = e - (this.t0 * (this.tMult ** n - 1)) / (this.tMult - 1);
          this.tI = this.t0 * this.tMult ** n;
        }
      } else {
        this.tI = this.t0;
        this.tCur = e;
      }
    }
    this.stepCount++;
    this.lastEpoch = Math.floor(e);
    this.applyLrs(this.computeLr());
  }
}

export interface OneCycleLROptions {
  /** The peak rate (one value, or one per group). */
  maxLr: number | number[];
  /** The number of steps of the whole cycle (or give epochs and stepsPerEpoch). */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the rate (default 0.3). */
  pctStart?: number;
  /** "cos" (default) or "linear". */
  annealStrategy?: "cos" | "linear";
  /** Cycle momentum (SGD's momentum, Adam's beta1) inversely to the rate (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** initial rate = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** final rate = initial rate / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, down to the initial rate, then annihilation) instead of two. */
  threePhase?: boolean;
}

type Phase = { endStep: number; startLr: string; endLr: string; startMomentum: string; endMomentum: string };

/**
 * The 1cycle policy (Smith & Topin): the rate goes up from maxLr/divFactor to maxLr
 * during `pctStart` of the steps, then anneals far below the start, while the
 * momentum does the opposite. Call `step()` after every batch (not every epoch).
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: Phase[];
  private readonly anneal: (start: number, end: number, pct: number) => number;
  private readonly cycleMomentum: boolean;
  private readonly useBeta1: boolean;

  constructor(optimizer: AnyOptimizer, opts: OneCycleLROptions) {
    super(OneCycleLR.prepare(optimizer, opts));
    this.totalSteps = OneCycleLR.total(opts);
    const pct = opts.pctStart ?? 0.3;
    const T = this.totalSteps;
    this.phases = opts.threePhase
      ? [
          { endStep: pct * T - 1, startLr: "initialLr", endLr: "maxLr", startMomentum: "maxMomentum", endMomentum: "baseMomentum" },
          { endStep: 2 * pct * T - 2, startLr: "maxLr", endLr: "initialLr", startMomentum: "baseMomentum", endMomentum: "maxMomentum" },
          { endStep: T - 1, startLr: "initialLr", endLr: "minLr", startMomentum: "maxMomentum", endMomentum: "maxMomentum" },
        ]
      : [
          { endStep: pct * T - 1, startLr: "initialLr", endLr: "maxLr", startMomentum: "maxMomentum", endMomentum: "baseMomentum" },
          { endStep: T - 1, startLr: "maxLr", endLr: "minLr", startMomentum: "baseMomentum", endMomentum: "maxMomentum" },
        ];
    this.anneal = (opts.annealStrategy ?? "cos") === "cos"
      ? (start, end, p) => end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1)
      : (start, end, p) => (end - start) * p + start;
    this.cycleMomentum = opts.cycleMomentum ?? true;
    this.useBeta1 = "betas" in optimizer.defaults;
    this.init();
  }

  private static total(opts: OneCycleLROptions): number {
    if (opts.totalSteps !== undefined) {
      if (!Number.isInteger(opts.totalSteps) || opts.totalSteps <= 0) throw new Error(`OneCycleLR: expected a positive integer totalSteps, got ${opts.totalSteps}`);
      return opts.totalSteps;
    }
    const { epochs, stepsPerEpoch } = opts;
    if (epochs === undefined || stepsPerEpoch === undefined) throw new Error("OneCycleLR: give either totalSteps or (epochs and stepsPerEpoch)");
    if (!Number.isInteger(epochs) || epochs <= 0) throw new Error(`OneCycleLR: expected a positive integer epochs, got ${epochs}`);
    if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch <= 0) throw new Error(`OneCycleLR: expected a positive integer stepsPerEpoch, got ${stepsPerEpoch}`);
    return epochs * stepsPerEpoch;
  }

  /** Sets each group's initialLr / maxLr / minLr (and momentum bounds) before the base constructor reads them. */
  private static prepare(optimizer: AnyOptimizer, opts: OneCycleLROptions): AnyOptimizer {
    if (!opts || opts.maxLr === undefined) throw new Error("OneCycleLR: maxLr is required: new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 1000 })");
    OneCycleLR.total(opts);
    const pct = opts.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) throw new Error(`OneCycleLR: pctStart must be between 0 and 1, got ${pct}`);
    const strategy = opts.annealStrategy ?? "cos";
    if (strategy !== "cos" && strategy !== "linear") throw new Error(`OneCycleLR: annealStrategy must be "cos" or "linear", got ${String(strategy)}`);
    const groups = optimizer.paramGroups as unknown as Record<string, unknown>[];
    const per = (name: string, v: number | number[]): number[] => {
      if (Array.isArray(v)) {
        if (v.length !== groups.length) throw new Error(`OneCycleLR: expected ${groups.length} values for ${name}, got ${v.length}`);
        return v;
      }
      return new Array(groups.length).fill(v);
    };
    const maxLrs = per("maxLr", opts.maxLr);
    const div = opts.divFactor ?? 25;
    const finalDiv = opts.finalDivFactor ?? 1e4;
    groups.forEach((g, i) => {
      g.initialLr = maxLrs[i] / div;
      g.maxLr = maxLrs[i];
      g.minLr = (g.initialLr as number) / finalDiv;
    });
    if (opts.cycleMomentum ?? true) {
      const d = optimizer.defaults as unknown as Record<string, unknown>;
      if (!("momentum" in d) && !("betas" in d)) throw new Error("OneCycleLR: the optimizer must have momentum or betas when cycleMomentum is on (pass cycleMomentum: false)");
      const useBeta1 = "betas" in d;
      const maxM = per("maxMomentum", opts.maxMomentum ?? 0.95);
      const baseM = per("baseMomentum", opts.baseMomentum ?? 0.85);
      groups.forEach((g, i) => {
        if (useBeta1) g.betas = [maxM[i], (g.betas as number[])[1]];
        else g.momentum = maxM[i];
        g.maxMomentum = maxM[i];
        g.baseMomentum = baseM[i];
      });
    }
    return optimizer;
  }

  protected computeLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) throw new Error(`OneCycleLR: tried to step ${stepNum} times; the total number of steps is ${this.totalSteps}`);
    return this.optimizer.paramGroups.map((group) => {
      const g = group as unknown as Record<string, unknown>;
      let start = 0;
      let lr = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i];
        if (stepNum <= ph.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - start) / (ph.endStep - start);
          lr = this.anneal(g[ph.startLr] as number, g[ph.endLr] as number, pct);
          if (this.cycleMomentum) {
            const m = this.anneal(g[ph.startMomentum] as number, g[ph.endMomentum] as number, pct);
            if (this.useBeta1) g.betas = [m, (g.betas as number[])[1]];
            else g.momentum = m;
          }
          break;
        }
        start = ph.endStep;
      }
      return lr;
    });
  }
}

export interface ReduceLROnPlateauOptions {
  mode?: "min" | "max";
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: "rel" | "abs";
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

/**
 * Lowers the rate by `factor` when a validation metric has not improved for
 * `patience` epochs: `sched.step(valLoss)` once per epoch.
 */
export class ReduceLROnPlateau {
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];

  constructor(readonly optimizer: AnyOptimizer, opts: ReduceLROnPlateauOptions = {}) {
    this.mode = opts.mode ?? "min";
    this.factor = opts.factor ?? 0.1;
    this.patience = opts.patience ?? 10;
    this.threshold = opts.threshold ?? 1e-4;
    this.thresholdMode = opts.thresholdMode ?? "rel";
    this.cooldown = opts.cooldown ?? 0;
    this.eps = opts.eps ?? 1e-8;
    if (this.factor >= 1) throw new Error(`ReduceLROnPlateau: factor should be < 1.0, got ${this.factor}`);
    if (this.mode !== "min" && this.mode !== "max") throw new Error(`ReduceLROnPlateau: mode ${String(this.mode)} is unknown (use "min" or "max")`);
    if (this.thresholdMode !== "rel" && this.thresholdMode !== "abs") throw new Error(`ReduceLROnPlateau: thresholdMode ${String(this.thresholdMode)} is unknown (use "rel" or "abs")`);
    const n = optimizer.paramGroups.length;
    const minLr = opts.minLr ?? 0;
    if (Array.isArray(minLr) && minLr.length !== n) throw new Error(`ReduceLROnPlateau: expected ${n} minLrs, got ${minLr.length}`);
    this.minLrs = Array.isArray(minLr) ? [...minLr] : new Array(n).fill(minLr);
    this.best = this.mode === "min" ? Infinity : -Infinity;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  private isBetter(a: number, best: number): boolean {
    if (this.mode === "min") return this.thresholdMode === "rel" ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === "rel" ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  /** Records this epoch's metric (a number) and lowers the rates if it has plateaued. */
  step(metric: number): void {
    const current = Number(metric);
    this.lastEpoch++;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const old = g.lr;
        const lr = Math.max(old * this.factor, this.minLrs[i]);
        if (old - lr > this.eps) g.lr = lr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }
}
