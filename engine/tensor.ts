/**
 * The Tensor: an n-dimensional array on a device, with autograd. Values live in
 * backend storage; reading them is async (`await t.data()`) so CPU and GPU tensors
 * are used the same way. Methods mirror PyTorch in camelCase.
 */
import type { DType, TypedArray } from "./dtype.js";
import type { TensorData } from "./op-table.js";
import { backendFor, parseDevice, type Device } from "./device.js";
import { GradFn, isGradEnabled, noGrad, runBackward } from "./autograd.js";
import { shapeStr, sizeOf } from "./shape.js";
import * as ew from "./ops/elementwise.js";
import * as red from "./ops/reduce.js";
import * as mv from "./ops/movement.js";
import * as la from "./ops/linalg.js";
import { formatTensor, tensorHtml } from "./format.js";
import type { TensorLike } from "./ops/util.js";

export type NestedArray = number | boolean | NestedArray[];

export class Tensor {
  /** Backend data (storage, shape, dtype). Internal: replaced in place by optimizers and `.to()`-free updates. */
  _d: TensorData;
  readonly device: Device;
  /** Whether gradients flow to this tensor. Set on leaves you want `.grad` for. */
  requiresGrad = false;
  /** The accumulated gradient after `backward()` (leaves, or tensors that called `retainGrad()`). */
  grad: Tensor | null = null;
  /** The op that made this tensor (null for leaves). */
  gradFn: GradFn | null = null;
  /** A label for graph drawings and error messages. */
  name?: string;
  _retainGrad = false;

  constructor(data: TensorData, device: Device = "cpu") {
    this._d = data;
    this.device = device;
  }

  /** Wraps host values (copied) as a tensor. */
  static fromData(values: TypedArray, shape: number[], dtype: DType, device: Device = "cpu"): Tensor {
    return new Tensor(backendFor(device).fromHost(values, shape, dtype), device);
  }

  get shape(): number[] {
    return this._d.shape;
  }
  get dtype(): DType {
    return this._d.dtype;
  }
  get backend() {
    return backendFor(this.device);
  }
  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  /** Number of elements. */
  numel(): number {
    return sizeOf(this.shape);
  }
  /** Number of dimensions. */
  dim(): number {
    return this.shape.length;
  }
  get ndim(): number {
    return this.shape.length;
  }
  /** The shape, or the size of one dimension. */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] {
    if (dim === undefined) return [...this.shape];
    return this.shape[dim < 0 ? dim + this.shape.length : dim];
  }

  // ---- reading values ----
  /** A copy of the values as a flat typed array (Float32Array, Int32Array or Uint8Array for bool). */
  async data(): Promise<TypedArray> {
    return this.backend.read(this._d);
  }
  /** The values, synchronously — CPU tensors only (GPU tensors: use `await data()`). */
  dataSync(): TypedArray {
    const v = this.backend.readSync(this._d);
    if (!v) throw new Error(`dataSync: a ${this.device} tensor cannot be read synchronously; use await t.data()`);
    return v.slice();
  }
  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.numel() !== 1) throw new Error(`item: a tensor with ${this.numel()} elements (shape ${shapeStr(this.shape)}) cannot be converted to a number`);
    return (await this.data())[0];
  }
  /** Nested JavaScript arrays (booleans for bool tensors). */
  async toArray(): Promise<NestedArray> {
    const v = await this.data();
    return nest(v, this.shape, this.dtype === "bool");
  }
  /** Nested arrays, synchronously (CPU only). */
  toArraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype === "bool");
  }

  // ---- autograd ----
  /** Set requiresGrad (chainable), as torch's requires_grad_(). */
  requiresGrad_(on = true): this {
    if (on && this.dtype !== "float32") throw new Error(`requiresGrad: only float32 tensors can require gradients (this one is ${this.dtype})`);
    this.requiresGrad = on;
    return this;
  }
  /** Keep `.grad` on this non-leaf tensor after backward. */
  retainGrad(): this {
    this._retainGrad = true;
    return this;
  }
  /**
   * Backpropagates from this tensor: accumulates d(this)/d(leaf) into every leaf's `.grad`.
   * A non-scalar tensor needs an explicit upstream `gradient` of its shape.
   */
  async backward(gradient?: Tensor | NestedArray): Promise<void> {
    let g: Tensor;
    if (gradient === undefined) {
      if (this.numel() !== 1) throw new Error(`backward: grad can be implicitly created only for scalar outputs; this tensor has shape ${shapeStr(this.shape)} — pass a gradient of that shape`);
      g = Tensor.fromData(Float32Array.of(1), [...this.shape], "float32", this.device);
    } else {
      g = gradient instanceof Tensor ? gradient : Tensor.fromData(Float32Array.from(flat(gradient)), [...this.shape], "float32", this.device);
    }
    // gradients that must cross from the GPU to the CPU (through a .to() move) need an
    // async read: they are collected, read, and backpropagated from there in turn
    const pending: DeferredGrad[] = [];
    withDeferredMoves(pending, () => runBackward([this], [g], { accumulate: true }));
    while (pending.length) {
      const byTarget = new Map<Tensor, Tensor>();
      for (const { target, grad } of pending.splice(0)) {
        const prev = byTarget.get(target);
        byTarget.set(target, prev ? noGrad(() => prev.add(grad)) : grad);
      }
      for (const [target, grad] of byTarget) {
        const moved = await grad.detach().toAsync(target.device);
        withDeferredMoves(pending, () => runBackward([target], [moved], { accumulate: true }));
      }
    }
    // (the CPU backend in a browser: a task in which the storage of collected arrays comes back)
    const done = this.backend.backwardDone?.();
    if (done) await done;
  }
  /** A tensor with the same values, cut from the graph. */
  detach(): Tensor {
    const t = new Tensor(this._d, this.device);
    t.name = this.name;
    return t;
  }
  /** Sets `.grad` to null (as optimizer.zeroGrad does). */
  zeroGrad(): void {
    this.grad = null;
  }

  // ---- conversion ----
  /** Moves to a device ("cpu" | "gpu") or converts to a dtype. */
  to(target: Device | DType | string): Tensor {
    if (target === "float32" || target === "int32" || target === "bool") {
      if (target === this.dtype) return this;
      const b = this.backend;
      const data = b.ops.cast(this._d, { dtype: target });
      // (no graph: only float32 tensors require grad, and float32 to float32 returned above)
      return new Tensor(data, this.device);
    }
    const dev = parseDevice(target);
    if (dev === this.device) return this;
    return moveTo(this, dev);
  }
  /**
   * Moves to a device (or converts the dtype), also from the GPU to the CPU, which needs
   * an async read: `await t.toAsync("cpu")`. Gradients flow back through the move.
   */
  async toAsync(target: Device | DType | string): Promise<Tensor> {
    if (target === "float32" || target === "int32" || target === "bool") return this.to(target);
    const dev = parseDevice(target);
    if (dev === this.device) return this;
    const values = this.backend.readSync(this._d) ?? (await this.backend.read(this._d));
    return finishMove(this, backendFor(dev).fromHost(values, [...this.shape], this.dtype), dev);
  }
  float(): Tensor {
    return this.to("float32");
  }
  int(): Tensor {
    return this.to("int32");
  }
  bool(): Tensor {
    return this.to("bool");
  }
  cpu(): Tensor {
    return this.to("cpu");
  }
  gpu(): Tensor {
    return this.to("gpu");
  }
  /** A copy (in the graph). */
  clone(): Tensor {
    return this.add(0).to(this.dtype);
  }
  /** No-op (tensors are always contiguous here). */
  contiguous(): Tensor {
    return this;
  }
  /** Frees backend storage now (GPU memory goes back to the pool). The tensor must not be used afterwards. */
  dispose(): void {
    this.backend.dispose(this._d);
  }

  // ---- element-wise ----
  add(o: TensorLike): Tensor { return ew.add(this, o); }
  sub(o: TensorLike): Tensor { return ew.sub(this, o); }
  mul(o: TensorLike): Tensor { return ew.mul(this, o); }
  div(o: TensorLike): Tensor { return ew.div(this, o); }
  pow(o: TensorLike): Tensor { return ew.pow(this, o); }
  maximum(o: TensorLike): Tensor { return ew.maximum(this, o); }
  minimum(o: TensorLike): Tensor { return ew.minimum(this, o); }
  eq(o: TensorLike): Tensor { return ew.eq(this, o); }
  ne(o: TensorLike): Tensor { return ew.ne(this, o); }
  lt(o: TensorLike): Tensor { return ew.lt(this, o); }
  le(o: TensorLike): Tensor { return ew.le(this, o); }
  gt(o: TensorLike): Tensor { return ew.gt(this, o); }
  ge(o: TensorLike): Tensor { return ew.ge(this, o); }
  logicalAnd(o: TensorLike): Tensor { return ew.logicalAnd(this, o); }
  logicalOr(o: TensorLike): Tensor { return ew.logicalOr(this, o); }
  logicalNot(): Tensor { return ew.logicalNot(this); }
  neg(): Tensor { return ew.neg(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  log1p(): Tensor { return ew.log1p(this); }
  expm1(): Tensor { return ew.expm1(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  rsqrt(): Tensor { return ew.rsqrt(this); }
  abs(): Tensor { return ew.abs(this); }
  sign(): Tensor { return ew.sign(this); }
  square(): Tensor { return ew.square(this); }
  reciprocal(): Tensor { return ew.reciprocal(this); }
  sin(): Tensor { return ew.sin(this); }
  cos(): Tensor { return ew.cos(this); }
  floor(): Tensor { return ew.floor(this); }
  ceil(): Tensor { return ew.ceil(this); }
  round(): Tensor { return ew.round(this); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  tanh(): Tensor { return ew.tanh(this); }
  relu(): Tensor { return ew.relu(this); }
  softplus(): Tensor { return ew.softplus(this); }
  heaviside(values: TensorLike = 0): Tensor { return ew.heaviside(this, values); }
  clamp(min: number | null = null, max: number | null = null): Tensor { return ew.clamp(this, min, max); }
  /** this + value · tensor1 · tensor2 (torch.addcmul). */
  addcmul(tensor1: Tensor, tensor2: Tensor, opts: { value?: number } = {}): Tensor { return ew.addcmul(this, tensor1, tensor2, opts); }

  // ---- reductions ----
  sum(dim?: red.Dims, keepdim = false): Tensor { return red.sum(this, dim, keepdim); }
  mean(dim?: red.Dims, keepdim = false): Tensor { return red.mean(this, dim, keepdim); }
  prod(dim?: red.Dims, keepdim = false): Tensor { return red.prod(this, dim, keepdim); }
  max(): Tensor;
  max(dim: number, keepdim?: boolean): red.ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | red.ValuesIndices { return dim === undefined ? red.max(this) : red.max(this, dim, keepdim); }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): red.ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | red.ValuesIndices { return dim === undefined ? red.min(this) : red.min(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return red.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return red.argmin(this, dim, keepdim); }
  any(dim?: red.Dims, keepdim = false): Tensor { return red.any(this, dim, keepdim); }
  all(dim?: red.Dims, keepdim = false): Tensor { return red.all(this, dim, keepdim); }
  var(dim?: red.Dims, opts?: { unbiased?: boolean; keepdim?: boolean }): Tensor { return red.variance(this, dim, opts); }
  std(dim?: red.Dims, opts?: { unbiased?: boolean; keepdim?: boolean }): Tensor { return red.std(this, dim, opts); }
  logsumexp(dim: number, keepdim = false): Tensor { return red.logsumexp(this, dim, keepdim); }
  softmax(dim: number): Tensor { return red.softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return red.logSoftmax(this, dim); }
  norm(p = 2, dim?: red.Dims, keepdim = false): Tensor { return red.norm(this, p, dim, keepdim); }

  // ---- shape ----
  reshape(shape: readonly number[]): Tensor { return mv.reshape(this, shape); }
  /** Same as reshape (tensors are contiguous). */
  view(...shape: number[] | [number[]]): Tensor { return mv.reshape(this, Array.isArray(shape[0]) ? shape[0] : (shape as number[])); }
  flatten(startDim = 0, endDim = -1): Tensor { return mv.flatten(this, startDim, endDim); }
  squeeze(dim?: number): Tensor { return mv.squeeze(this, dim); }
  unsqueeze(dim: number): Tensor { return mv.unsqueeze(this, dim); }
  permute(...dims: number[] | [number[]]): Tensor { return mv.permute(this, Array.isArray(dims[0]) ? dims[0] : (dims as number[])); }
  transpose(dim0: number, dim1: number): Tensor { return mv.transpose(this, dim0, dim1); }
  /** Transpose of a matrix (dims 0 and 1); a vector is returned as is. */
  t(): Tensor {
    if (this.shape.length > 2) throw new Error(`t: expects a tensor with <= 2 dimensions, got shape ${shapeStr(this.shape)}`);
    return this.shape.length < 2 ? this : mv.transpose(this, 0, 1);
  }
  get T(): Tensor { return mv.permute(this, this.shape.map((_, i) => this.shape.length - 1 - i)); }
  expand(...shape: number[] | [number[]]): Tensor { return mv.expand(this, Array.isArray(shape[0]) ? shape[0] : (shape as number[])); }
  expandAs(other: Tensor): Tensor { return mv.expand(this, other.shape); }
  repeat(...reps: number[] | [number[]]): Tensor { return mv.repeat(this, Array.isArray(reps[0]) ? reps[0] : (reps as number[])); }
  slice(dim: number, start = 0, end: number | null = null, step = 1): Tensor { return mv.slice(this, dim, start, end, step); }
  /** Indexing like x[0, :, 1:3]: `x.index(0, ":", "1:3")`. See IndexSpec. */
  index(...specs: mv.IndexSpec[]): Tensor { return mv.index(this, ...specs); }
  narrow(dim: number, start: number, length: number): Tensor { return mv.narrow(this, dim, start, length); }
  split(size: number | number[], dim = 0): Tensor[] { return mv.split(this, size, dim); }
  chunk(chunks: number, dim = 0): Tensor[] { return mv.chunk(this, chunks, dim); }
  gather(dim: number, index: Tensor): Tensor { return mv.gather(this, dim, index); }
  scatterAdd(dim: number, index: Tensor, shape: number[]): Tensor { return mv.scatterAdd(this, dim, index, shape); }
  indexSelect(dim: number, index: Tensor): Tensor { return mv.indexSelect(this, dim, index); }
  flip(dims: number | number[]): Tensor { return mv.flip(this, dims); }

  // ---- linear algebra ----
  matmul(o: Tensor): Tensor { return la.matmul(this, o); }
  mm(o: Tensor): Tensor { return la.mm(this, o); }
  bmm(o: Tensor): Tensor { return la.bmm(this, o); }
  dot(o: Tensor): Tensor { return la.dot(this, o); }

  // ---- in place (optimizers; outside the graph) ----
  /** Overwrites this tensor's values with `src` (same shape); not recorded by autograd. */
  assign(src: Tensor): this {
    if (src.numel() !== this.numel()) throw new Error(`assign: shape ${shapeStr(src.shape)} does not match ${shapeStr(this.shape)}`);
    const s = src.dtype === this.dtype ? src : src.to(this.dtype);
    if (s.device !== this.device) throw new Error(`assign: source is on ${s.device}, target on ${this.device}`);
    this.backend.assign(this._d, s._d);
    return this;
  }

  // ---- display ----
  toString(): string {
    const v = this.backend.readSync(this._d);
    if (!v) return `tensor(<${this.device}> shape=[${this.shape.join(", ")}], dtype=${this.dtype})`;
    return formatTensor(v, this.shape, this.dtype, this.reprSuffix());
  }
  /** A PyTorch-like repr as text/plain, and an HTML table for matrices (the kernel's rich display). */
  async toMimeBundle(): Promise<Record<string, string>> {
    const v = await this.data();
    const text = formatTensor(v, this.shape, this.dtype, this.reprSuffix());
    const bundle: Record<string, string> = { "text/plain": text };
    const html = tensorHtml(v, this.shape, this.dtype, this.reprSuffix());
    if (html) bundle["text/html"] = html;
    return bundle;
  }
  private reprSuffix(): string[] {
    const extra: string[] = [];
    if (this.device !== "cpu") extra.push(`device='${this.device}'`);
    if (this.dtype === "int32") extra.push("dtype=gb.int32");
    if (this.gradFn) extra.push(`grad_fn=<${this.gradFn.name}>`);
    else if (this.requiresGrad) extra.push("requires_grad=True");
    return extra;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function nest(v: TypedArray, shape: readonly number[], bool: boolean): NestedArray {
  if (shape.length === 0) return bool ? !!v[0] : v[0];
  let pos = 0;
  const build = (d: number): NestedArray[] => {
    const out: NestedArray[] = [];
    for (let i = 0; i < shape[d]; i++) {
      if (d === shape.length - 1) out.push(bool ? !!v[pos++] : v[pos++]);
      else out.push(build(d + 1));
    }
    return out;
  };
  return build(0);
}

export function flat(a: NestedArray): number[] {
  if (!Array.isArray(a)) return [Number(a)];
  const out: number[] = [];
  const walk = (x: NestedArray) => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else out.push(Number(x));
  };
  walk(a);
  return out;
}

/** Copies a tensor to another device; gradients flow back to the source device. */
function moveTo(x: Tensor, dev: Device): Tensor {
  const src = x.backend;
  const dst = backendFor(dev);
  const values = src.readSync(x._d);
  if (!values) {
    throw new Error(
      `to("${dev}"): a ${x.device} tensor (shape ${shapeStr(x.shape)}) cannot be copied to the ${dev} synchronously, since reading GPU memory is asynchronous; use await t.toAsync("${dev}") or await gb.toDevice(t, "${dev}")`,
    );
  }
  return finishMove(x, dst.fromHost(values, [...x.shape], x.dtype), dev);
}

/** The moved tensor, recorded in the graph: its gradient goes back to the source device. */
function finishMove(x: Tensor, data: TensorData, dev: Device): Tensor {
  const t = new Tensor(data, dev);
  if (x.requiresGrad && isGradEnabled()) {
    t.requiresGrad = true;
    t.gradFn = new GradFn("to", [x], (g) => {
      if (g.device === x.device) return [g];
      if (g.backend.readSync(g._d)) return [moveTo(g, x.device)];
      if (!deferredMoves) {
        throw new Error(`to: this gradient must be copied from the ${g.device} to the ${x.device}, which is asynchronous; use await loss.backward() (gb.autograd.grad cannot cross a GPU-to-CPU move)`);
      }
      deferredMoves.push({ target: x, grad: g });
      return [null];
    });
  }
  return t;
}

interface DeferredGrad {
  target: Tensor;
  grad: Tensor;
}
let deferredMoves: DeferredGrad[] | null = null;

function withDeferredMoves(list: DeferredGrad[], fn: () => void): void {
  const prev = deferredMoves;
  deferredMoves = list;
  try {
    fn();
  } finally {
    deferredMoves = prev;
  }
}
