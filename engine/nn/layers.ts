/**
 * Layers (torch.nn's classes) built on gb.nn.functional, with PyTorch's default
 * initialisation and constructor options in camelCase:
 *
 *   new gb.nn.Conv2d(1, 6, 5, { padding: 2 })
 *   new gb.nn.Sequential(new gb.nn.Linear(3, 4), new gb.nn.Tanh(), new gb.nn.Linear(4, 1))
 */
import { zeros } from "../ops/creation.js";
import { shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { activationOver, activationsOverEnabled } from "../ops/elementwise.js";
import type { Pair } from "./conv-ops.js";
import { pair } from "./conv-ops.js";
import * as init from "./init.js";
import { Module, Parameter } from "./module.js";
import { checkPositiveInt } from "./layer-checks.js";

const tup = (p: readonly number[]) => `(${p.join(", ")})`;
const num = (v: number) => (Number.isInteger(v) ? `${v}.0` : String(v));

// ---------------------------------------------------------------- linear and convolution

/** y = x W^T + b. weight [outFeatures, inFeatures], bias [outFeatures]. */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    checkPositiveInt("Linear", "inFeatures", inFeatures);
    checkPositiveInt("Linear", "outFeatures", outFeatures);
    this.weight = new Parameter(zeros([outFeatures, inFeatures]));
    this.bias = opts.bias === false ? null : new Parameter(zeros([outFeatures]));
    this.resetParameters();
  }
  /** PyTorch's default: kaiming uniform with a = sqrt(5) (U(-1/sqrt(in), 1/sqrt(in))) for both. */
  resetParameters(): void {
    resetDefault(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new Error(`Linear: expected input with last dimension ${this.inFeatures} (inFeatures), got input ${shapeStr(x.shape)}`);
    }
    return F.linear(x, this.weight, this.bias);
  }
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * PyTorch's default initialisation of Linear and convolution layers: kaiming uniform with
 * a = sqrt(5) for the weight (U(-1/sqrt(fanIn), 1/sqrt(fanIn))), and the same bound for the bias.
 */
function resetDefault(weight: Parameter, bias: Parameter | null): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const [fanIn] = init.calculateFanInAndFanOut(weight);
    const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    init.uniform_(bias, -b, b);
  }
}

/** A convolution layer's groups: a positive integer dividing both channel counts. */
function checkGroups(n: string, inChannels: number, outChannels: number, groups: number): number {
  checkPositiveInt(n, "groups", groups);
  if (inChannels % groups !== 0) throw new Error(`${n}: inChannels ${inChannels} must be divisible by groups ${groups}`);
  if (outChannels % groups !== 0) throw new Error(`${n}: outChannels ${outChannels} must be divisible by groups ${groups}`);
  return groups;
}

export interface Conv2dLayerOptions {
  stride?: Pair;
  padding?: Pair | "same" | "valid";
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/** 2-D convolution. weight [out, in/groups, kh, kw]. */
export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | "same" | "valid";
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, opts: Conv2dLayerOptions = {}) {
    super();
    const n = "Conv2d";
    checkPositiveInt(n, "inChannels", inChannels);
    checkPositiveInt(n, "outChannels", outChannels);
    this.kernelSize = pair(n, "kernelSize", kernelSize);
    this.stride = pair(n, "stride", opts.stride ?? 1);
    const p = opts.padding ?? 0;
    this.padding = typeof p === "string" ? p : pair(n, "padding", p);
    this.dilation = pair(n, "dilation", opts.dilation ?? 1);
    this.groups = checkGroups(n, inChannels, outChannels, opts.groups ?? 1);
    this.weight = new Parameter(zeros([outChannels, inChannels / this.groups, ...this.kernelSize]));
    this.bias = opts.bias === false ? null : new Parameter(zeros([outChannels]));
    this.resetParameters();
  }
  resetParameters(): void {
    resetDefault(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${tup(this.kernelSize)}, stride=${tup(this.stride)}`;
    if (typeof this.padding === "string") s += `, padding=${this.padding}`;
    else if (this.padding[0] || this.padding[1]) s += `, padding=${tup(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${tup(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ", bias=false";
    return s;
  }
}

export interface ConvTranspose2dLayerOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  bias?: boolean;
  dilation?: Pair;
}

/** Transposed 2-D convolution ("deconvolution"). weight [in, out/groups, kh, kw]. */
export class ConvTranspose2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, opts: ConvTranspose2dLayerOptions = {}) {
    super();
    const n = "ConvTranspose2d";
    checkPositiveInt(n, "inChannels", inChannels);
    checkPositiveInt(n, "outChannels", outChannels);
    this.kernelSize = pair(n, "kernelSize", kernelSize);
    this.stride = pair(n, "stride", opts.stride ?? 1);
    this.padding = pair(n, "padding", opts.padding ?? 0);
    this.outputPadding = pair(n, "outputPadding", opts.outputPadding ?? 0);
    this.dilation = pair(n, "dilation", opts.dilation ?? 1);
    this.groups = checkGroups(n, inChannels, outChannels, opts.groups ?? 1);
    this.weight = new Parameter(zeros([inChannels, outChannels / this.groups, ...this.kernelSize]));
    this.bias = opts.bias === false ? null : new Parameter(zeros([outChannels]));
    this.resetParameters();
  }
  resetParameters(): void {
    resetDefault(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation });
  }
  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${tup(this.kernelSize)}, stride=${tup(this.stride)}`;
    if (this.padding[0] || this.padding[1]) s += `, padding=${tup(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${tup(this.dilation)}`;
    if (this.outputPadding[0] || this.outputPadding[1]) s += `, outputPadding=${tup(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ", bias=false";
    return s;
  }
}

// ---------------------------------------------------------------- pooling

const pairRepr = (v: Pair) => (typeof v === "number" ? String(v) : tup(v));

export class MaxPool2d extends Module {
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly ceilMode: boolean;
  readonly returnIndices: boolean;
  constructor(readonly kernelSize: Pair, opts: F.MaxPool2dOptions = {}) {
    super();
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.ceilMode = opts.ceilMode ?? false;
    this.returnIndices = opts.returnIndices ?? false;
  }
  /** The pooled tensor, or [pooled, indices] with returnIndices. */
  forward(x: Tensor): Tensor {
    const o = { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode };
    return this.returnIndices ? (F.maxPool2d(x, this.kernelSize, { ...o, returnIndices: true }) as unknown as Tensor) : F.maxPool2d(x, this.kernelSize, o);
  }
  override extraRepr(): string {
    return `kernelSize=${pairRepr(this.kernelSize)}, stride=${pairRepr(this.stride)}, padding=${pairRepr(this.padding)}, dilation=${pairRepr(this.dilation)}, ceilMode=${this.ceilMode}`;
  }
}

export class AvgPool2d extends Module {
  readonly stride: Pair;
  readonly padding: Pair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  constructor(readonly kernelSize: Pair, opts: F.AvgPool2dOptions = {}) {
    super();
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad });
  }
  override extraRepr(): string {
    return `kernelSize=${pairRepr(this.kernelSize)}, stride=${pairRepr(this.stride)}, padding=${pairRepr(this.padding)}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | (number | null)[]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${typeof this.outputSize === "number" ? this.outputSize : `(${this.outputSize.map((v) => (v === null ? "None" : v)).join(", ")})`}`;
  }
}

// ---------------------------------------------------------------- shape

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

export class Unflatten extends Module {
  constructor(readonly dim: number, readonly unflattenedSize: number[]) {
    super();
  }
  forward(x: Tensor): Tensor {
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    if (d < 0 || d >= x.ndim) throw new Error(`Unflatten: dim ${this.dim} is out of range for input ${shapeStr(x.shape)}`);
    const known = this.unflattenedSize.filter((v) => v !== -1).reduce((a, b) => a * b, 1);
    const sizes = this.unflattenedSize.map((v) => (v === -1 ? x.shape[d] / known : v));
    if (sizes.reduce((a, b) => a * b, 1) !== x.shape[d]) {
      throw new Error(`Unflatten: sizes (${this.unflattenedSize.join(", ")}) do not multiply to ${x.shape[d]}, the size of dim ${this.dim} of input ${shapeStr(x.shape)}`);
    }
    return x.reshape([...x.shape.slice(0, d), ...sizes, ...x.shape.slice(d + 1)]);
  }
  override extraRepr(): string {
    return `dim=${this.dim}, unflattenedSize=(${this.unflattenedSize.join(", ")})`;
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

// ---------------------------------------------------------------- activations and dropout

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return F.relu(x); }
}
export class ReLU6 extends Module {
  forward(x: Tensor): Tensor { return F.relu6(x); }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return F.sigmoid(x); }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return F.tanh(x); }
}
export class GELU extends Module {
  forward(x: Tensor): Tensor { return F.gelu(x); }
  override extraRepr(): string { return "approximate='tanh'"; }
}
export class SiLU extends Module {
  forward(x: Tensor): Tensor { return F.silu(x); }
}
export class Softplus extends Module {
  forward(x: Tensor): Tensor { return F.softplus(x); }
}
/** The step function: 1 where x > 0, else 0 (the perceptron's activation). */
export class Step extends Module {
  forward(x: Tensor): Tensor { return F.step(x); }
}
/** torch.heaviside(x, values): 0 below zero, `values` at zero, 1 above. */
export class Heaviside extends Module {
  constructor(readonly values = 0) {
    super();
  }
  forward(x: Tensor): Tensor { return F.heaviside(x, this.values); }
  override extraRepr(): string { return `values=${num(this.values)}`; }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor { return F.leakyRelu(x, this.negativeSlope); }
  override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}
export class ELU extends Module {
  constructor(readonly alpha = 1.0) {
    super();
  }
  forward(x: Tensor): Tensor { return F.elu(x, this.alpha); }
  override extraRepr(): string { return `alpha=${num(this.alpha)}`; }
}
export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor { return F.softmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
export class LogSoftmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor { return F.logSoftmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
/** Inverted dropout while training (see F.dropout); the identity in eval mode. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: probability has to be between 0 and 1, but got ${p}`);
  }
  forward(x: Tensor): Tensor { return F.dropout(x, this.p, this.training); }
  override extraRepr(): string { return `p=${this.p}`; }
}

// ---------------------------------------------------------------- containers

/** The activation module `next` runs ("tanh" / "sigmoid" / "relu") where Sequential may write it over m's output (see Sequential.forward), else null. */
function inPlaceActivationAfter(m: Module, next: Module | undefined): "tanh" | "sigmoid" | "relu" | null {
  if (!activationsOverEnabled() || next === undefined) return null;
  const mc: unknown = m.constructor, nc: unknown = next.constructor;
  if (mc !== Linear && mc !== Conv2d) return null;
  const act = nc === Tanh ? "tanh" : nc === Sigmoid ? "sigmoid" : nc === ReLU ? "relu" : null;
  return act && !m._hasHooks() && !next._hasHooks() ? act : null;
}

/** Runs its modules one after another; children are named "0", "1", ... (or by the keys of an object). */
export class Sequential extends Module {
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    if (modules.length === 1 && !(modules[0] instanceof Module)) {
      for (const [k, m] of Object.entries(modules[0] as Record<string, Module>)) this.addModule(k, m);
    } else {
      (modules as Module[]).forEach((m, i) => {
        if (!(m instanceof Module)) throw new Error(`Sequential: argument ${i} is not a Module`);
        this.addModule(String(i), m);
      });
    }
  }
  /** Appends a module (named by its position). */
  add(module: Module): this {
    this.addModule(String(this.length), module);
    return this;
  }
  append(module: Module): this {
    return this.add(module);
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const kids = this.children();
    const j = i < 0 ? i + kids.length : i;
    if (j < 0 || j >= kids.length) throw new Error(`Sequential: index ${i} is out of range for ${kids.length} modules`);
    return kids[j];
  }
  /** A new Sequential of modules start..end-1 (the same module objects), as seq[start:end]. */
  slice(start = 0, end?: number): Sequential {
    return new Sequential(...this.children().slice(start, end));
  }
  get length(): number {
    return this.children().length;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
  /**
   * Feeds x through each module in turn. A Linear or Conv2d followed by a Tanh, Sigmoid or ReLU, none of
   * the two with hooks: the layer's output is read by the activation alone (nothing outside sees
   * it), so the activation is written over it (ops/elementwise.ts, activationOver: the same values,
   * gradients and graph, one result block fewer; the CPU, where that block lies in the WASM memory).
   */
  forward(x: Tensor): Tensor {
    let h = x;
    const kids = this.children();
    for (let i = 0; i < kids.length; i++) {
      const m = kids[i], act = inPlaceActivationAfter(m, kids[i + 1]);
      h = m.call(h) as Tensor;
      if (act) {
        h = activationOver(act, h);
        i++;
      }
    }
    return h;
  }
}

/** A list of modules registered as children "0", "1", ... (torch.nn.ModuleList); it has no forward of its own. */
export class ModuleList extends Module {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  append(module: Module): this {
    if (!(module instanceof Module)) throw new Error("ModuleList.append: not a Module");
    this.addModule(String(this.length), module);
    return this;
  }
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }
  at(i: number): Module {
    const kids = this.children();
    const j = i < 0 ? i + kids.length : i;
    if (j < 0 || j >= kids.length) throw new Error(`ModuleList: index ${i} is out of range for ${kids.length} modules`);
    return kids[j];
  }
  get length(): number {
    return this.children().length;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
  forward(): never {
    throw new Error("ModuleList has no forward: iterate over it and call each module");
  }
}
