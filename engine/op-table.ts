/**
 * The op table: the primitive ops every backend implements (as TensorFlow.js's
 * kernel registry). Differentiable ops in `ops/` are written once on top of these,
 * each with its backward beside its forward; a backend only fills this table.
 */
import type { DType } from "./dtype.js";

/** A backend-level value: storage owned by one backend, plus its shape and dtype. */
export interface TensorData {
  storage: unknown;
  shape: number[];
  dtype: DType;
}

export type UnaryOp =
  | "neg" | "exp" | "log" | "sqrt" | "rsqrt" | "abs" | "sign" | "relu" | "sigmoid" | "tanh"
  | "reciprocal" | "square" | "step" | "floor" | "ceil" | "round" | "sin" | "cos" | "logicalNot"
  | "log1p" | "expm1" | "softplus";

export type BinaryOp =
  | "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum"
  | "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "logicalAnd" | "logicalOr"
  // fused activation gradients (a: the activation's output, or its input for relu; b: the upstream gradient)
  | "tanhGrad" | "sigmoidGrad" | "reluGrad";

export type ReduceOp = "sum" | "max" | "min" | "prod" | "argmax" | "argmin";

export interface Conv2dAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export interface Pool2dAttrs {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
}

export interface AvgPool2dAttrs {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
}

/** Every primitive op: its inputs (TensorData) and attributes, and what it returns. */
export interface OpTable {
  /** Element-wise unary op; its result dtype is unaryResultDtype (dtype.ts). */
  unary(x: TensorData, attrs: { op: UnaryOp }): TensorData;
  /** Element-wise binary op with broadcasting. Comparisons return bool. */
  binary(a: TensorData, b: TensorData, attrs: { op: BinaryOp; outShape: number[]; outDtype: DType }): TensorData;
  /** where(cond, a, b) with broadcasting of all three. */
  where(cond: TensorData, a: TensorData, b: TensorData, attrs: { outShape: number[] }): TensorData;
  /** input + t1 * t2, float32, with broadcasting of all three (the product rounded to float32, then the sum: one kernel for an optimizer's p - lr * g). */
  addcmul(input: TensorData, t1: TensorData, t2: TensorData, attrs: { outShape: number[] }): TensorData;
  /** clamp to [min, max] (either may be null). */
  clamp(x: TensorData, attrs: { min: number | null; max: number | null }): TensorData;
  /** Reduction over sorted, unique `axes`. argmax/argmin take one axis and return int32. */
  reduce(x: TensorData, attrs: { op: ReduceOp; axes: number[]; keepdim: boolean }): TensorData;
  /** Batched matmul: a [...batchA, M, K] (or [..., K, M] if transA), b [...batchB, K, N] (or [..., N, K] if transB); batch dims broadcast. */
  matmul(a: TensorData, b: TensorData, attrs: { transA: boolean; transB: boolean; outShape: number[] }): TensorData;
  /** Copy with permuted axes. */
  permute(x: TensorData, attrs: { perm: number[] }): TensorData;
  /** Same elements, new shape (no copy where the backend can share storage). */
  reshape(x: TensorData, attrs: { shape: number[] }): TensorData;
  /** Materialize a broadcast to `shape`. */
  expand(x: TensorData, attrs: { shape: number[] }): TensorData;
  /** Strided slice: for each dim, start and step (step >= 1) and the output length. */
  slice(x: TensorData, attrs: { begin: number[]; step: number[]; outShape: number[] }): TensorData;
  /** The adjoint of slice: zeros of `inShape` with dy placed at the slice. */
  sliceGrad(dy: TensorData, attrs: { begin: number[]; step: number[]; inShape: number[] }): TensorData;
  /** Constant padding: pads[i] = [before, after] for dim i (negative values crop). */
  pad(x: TensorData, attrs: { pads: [number, number][]; value: number }): TensorData;
  concat(xs: TensorData[], attrs: { axis: number }): TensorData;
  cast(x: TensorData, attrs: { dtype: DType }): TensorData;
  /** torch.gather(x, dim, index). */
  gather(x: TensorData, index: TensorData, attrs: { dim: number }): TensorData;
  /** zeros(shape).scatter_add_(dim, index, src). */
  scatterAdd(src: TensorData, index: TensorData, attrs: { dim: number; shape: number[] }): TensorData;
  /** x.index_select(dim, index) with a 1-D int32 index. */
  indexSelect(x: TensorData, index: TensorData, attrs: { dim: number }): TensorData;
  /** zeros(shape).index_add_(dim, index, src). */
  indexAdd(src: TensorData, index: TensorData, attrs: { dim: number; shape: number[] }): TensorData;
  conv2d(x: TensorData, w: TensorData, bias: TensorData | null, attrs: Conv2dAttrs): TensorData;
  conv2dBackwardInput(dy: TensorData, w: TensorData, attrs: Conv2dAttrs & { xShape: number[] }): TensorData;
  conv2dBackwardWeight(x: TensorData, dy: TensorData, attrs: Conv2dAttrs & { wShape: number[] }): TensorData;
  /** Returns [out, indices] (indices int32, flat within each (n, c) plane as PyTorch's return_indices). */
  maxPool2d(x: TensorData, attrs: Pool2dAttrs): [TensorData, TensorData];
  maxPool2dBackward(dy: TensorData, indices: TensorData, attrs: { xShape: number[] }): TensorData;
  avgPool2d(x: TensorData, attrs: AvgPool2dAttrs): TensorData;
  avgPool2dBackward(dy: TensorData, attrs: AvgPool2dAttrs & { xShape: number[] }): TensorData;
}

export type OpName = keyof OpTable;

/** A backend: owns storage on one device and fills the op table. */
export interface Backend {
  readonly name: "cpu" | "webgpu";
  readonly ops: OpTable;
  /** Upload host values (copied). */
  fromHost(values: Float32Array | Int32Array | Uint8Array, shape: number[], dtype: DType): TensorData;
  /** A tensor filled with one value. */
  fill(shape: number[], value: number, dtype: DType): TensorData;
  /** Read values back to the host (a fresh array the caller owns). */
  read(x: TensorData): Promise<Float32Array | Int32Array | Uint8Array>;
  /** Synchronous read, where the backend can (the CPU); null otherwise. */
  readSync(x: TensorData): Float32Array | Int32Array | Uint8Array | null;
  /** Overwrite `dst` with the values of `src` (same size and dtype) in place. */
  assign(dst: TensorData, src: TensorData): void;
  /** Release storage now (GPU buffers go back to the pool). */
  dispose(x: TensorData): void;
  /** Autograd's backward walk opens (true) or closes (false); storage made in between may come back through recycle(). */
  backwardScope?(open: boolean): void;
  /** backward() ended: a promise it awaits before it returns (the CPU backend in a browser: a task in which storage of collected arrays comes back), or null. */
  backwardDone?(): Promise<void> | null;
  /**
   * A gradient that the backward walk made and consumed, whose storage nothing else references
   * any more (no other gradient, no leaf's .grad): the backend may reuse that storage.
   */
  recycle?(x: TensorData): void;
  /**
   * The gradient of avgPool2d and of the activation before it in one pass, where the backend has
   * it for these attributes (else null: autograd runs the two backward rules): act'(a) times
   * avgPool2dBackward(dy), with the bits of the two ops; `a` is what the activation's backward
   * reads (tanh, sigmoid: its output; relu: its input).
   */
  avgPool2dActBackward?(dy: TensorData, a: TensorData, attrs: AvgPool2dAttrs & { xShape: number[]; act: "tanh" | "sigmoid" | "relu" }): TensorData | null;
  /** The same for maxPool2d after a relu (z: the relu's input): z > 0 ? maxPool2dBackward(dy, indices) : 0. */
  maxPool2dReluBackward?(dy: TensorData, indices: TensorData, z: TensorData, attrs: { xShape: number[] }): TensorData | null;
  /**
   * unary(x, { op }) written over x's own storage, where the backend can do that with the bits of
   * unary() (else null, x untouched): the result shares x's storage, whose old values are gone.
   * Only for an x that nothing else reads (ops/elementwise.ts, activationOver).
   */
  unaryOver?(x: TensorData, attrs: { op: UnaryOp }): TensorData | null;
}
