/** Creating tensors: from arrays, constants, ranges and the seeded random generator. */
import type { DType, TypedArray } from "../dtype.js";
import { typedArrayFor } from "../dtype.js";
import { backendFor, device as defaultDevice, parseDevice, type Device } from "../device.js";
import { random, randomInt, randomNormal, randperm as permutation } from "../random.js";
import { shapeStr, sizeOf } from "../shape.js";
import { Tensor, type NestedArray } from "../tensor.js";

export interface CreateOptions {
  dtype?: DType;
  device?: Device | string;
  requiresGrad?: boolean;
}

function finish(values: TypedArray, shape: number[], dtype: DType, opts: CreateOptions): Tensor {
  const dev = opts.device ? parseDevice(opts.device) : defaultDevice();
  const t = Tensor.fromData(values.constructor === typedArrayFor(dtype, 0).constructor ? values : convert(values, dtype), shape, dtype, dev);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

function convert(values: ArrayLike<number>, dtype: DType): TypedArray {
  const out = typedArrayFor(dtype, values.length);
  if (dtype === "int32") for (let i = 0; i < values.length; i++) out[i] = Math.trunc(values[i]);
  else if (dtype === "bool") for (let i = 0; i < values.length; i++) out[i] = values[i] ? 1 : 0;
  else out.set(values);
  return out;
}

function shapeOfNested(a: NestedArray): number[] {
  const shape: number[] = [];
  let x: NestedArray = a;
  while (Array.isArray(x)) {
    shape.push(x.length);
    x = x[0];
    if (x === undefined) break;
  }
  return shape;
}

/**
 * A tensor from nested arrays, a typed array or a number: gb.tensor([[1, 2], [3, 4]]).
 * The dtype is float32 unless given, int32 for an Int32Array, bool for booleans.
 */
export function tensor(data: NestedArray | TypedArray | Tensor, opts: CreateOptions & { shape?: number[] } = {}): Tensor {
  if (data instanceof Tensor) {
    let t = data.detach();
    if (opts.dtype) t = t.to(opts.dtype);
    if (opts.device) t = t.to(opts.device);
    if (opts.requiresGrad) t = t.clone().detach().requiresGrad_(true);
    return t;
  }
  if (ArrayBuffer.isView(data)) {
    const dtype = opts.dtype ?? (data instanceof Int32Array ? "int32" : data instanceof Uint8Array ? "bool" : "float32");
    const shape = opts.shape ?? [data.length];
    if (sizeOf(shape) !== data.length) throw new Error(`tensor: shape [${shape.join(", ")}] does not fit ${data.length} values`);
    return finish(convert(data as TypedArray, dtype), [...shape], dtype, opts);
  }
  const shape = shapeOfNested(data);
  const values: number[] = [];
  let isBool = false;
  const walk = (x: NestedArray, d: number, path: string) => {
    if (Array.isArray(x)) {
      if (d >= shape.length || x.length !== shape[d]) {
        throw new Error(`tensor: ragged nested array — expected length ${shape[d] ?? 0} at ${path || "the top level"} but found ${x.length} (arrays must be rectangular)`);
      }
      x.forEach((y, i) => walk(y, d + 1, `${path}[${i}]`));
    } else {
      if (d !== shape.length) throw new Error(`tensor: ragged nested array — found a number at ${path} where an array of length ${shape[d]} was expected`);
      if (typeof x === "boolean") isBool = true;
      else if (typeof x !== "number") throw new Error(`tensor: unsupported value ${JSON.stringify(x)} at ${path || "the top level"} (numbers or booleans only)`);
      values.push(Number(x));
    }
  };
  walk(data, 0, "");
  const dtype = opts.dtype ?? (isBool ? "bool" : "float32");
  return finish(convert(values, dtype), shape, dtype, opts);
}

/** The most elements one tensor may have (a JavaScript typed array's limit). */
const MAX_ELEMENTS = 2 ** 32;
const gib = (elements: number) => {
  const g = (elements * 4) / 2 ** 30;
  return `${g >= 100 ? Math.round(g) : g.toPrecision(3)} GiB`;
};

function normShape(op: string, shape: readonly number[] | number[][]): number[] {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as number[];
  for (const d of s) if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: invalid shape [${s.join(", ")}]`);
  const n = sizeOf(s);
  if (n > MAX_ELEMENTS)
    throw new RangeError(`${op}: shape [${s.join(", ")}] has ${n.toExponential(2)} elements (${gib(n)} as float32); one tensor holds at most ${MAX_ELEMENTS.toExponential(2)}`);
  return [...s];
}

/** Runs an allocation, turning the engine's out-of-memory RangeError into one that names the op and shape. */
function allocating<T>(op: string, s: number[], f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError && /allocat|Invalid typed array length|Array buffer/i.test(e.message))
      throw new RangeError(`${op}: cannot allocate a tensor of shape [${s.join(", ")}] (${gib(sizeOf(s))} as float32): ${e.message}`);
    // the GPU's, which names the op it knows (here: none)
    if (e instanceof Error && e.name === "OutOfMemoryError") e.message = e.message.replace(/^creating a GPU tensor:/, `${op} [${s.join(", ")}]:`);
    throw e;
  }
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}, op = "full"): Tensor {
  const s = normShape(op, shape);
  const dtype = opts.dtype ?? "float32";
  const dev = opts.device ? parseDevice(opts.device) : defaultDevice();
  const t = new Tensor(allocating(op, s, () => backendFor(dev).fill(s, value, dtype)), dev);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}
export const zeros = (shape: readonly number[], opts: CreateOptions = {}) => full(shape, 0, opts, "zeros");
export const ones = (shape: readonly number[], opts: CreateOptions = {}) => full(shape, 1, opts, "ones");
export const zerosLike = (t: Tensor, opts: CreateOptions = {}) => full(t.shape, 0, { dtype: t.dtype, device: t.device, ...opts });
export const onesLike = (t: Tensor, opts: CreateOptions = {}) => full(t.shape, 1, { dtype: t.dtype, device: t.device, ...opts });
export const fullLike = (t: Tensor, value: number, opts: CreateOptions = {}) => full(t.shape, value, { dtype: t.dtype, device: t.device, ...opts });

/** Uniform in [0, 1). */
export function rand(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  const s = normShape("rand", shape);
  const v = allocating("rand", s, () => new Float32Array(sizeOf(s)));
  for (let i = 0; i < v.length; i++) v[i] = random();
  return finish(v, s, "float32", opts);
}

/** Standard normal. */
export function randn(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  const s = normShape("randn", shape);
  const v = allocating("randn", s, () => new Float32Array(sizeOf(s)));
  for (let i = 0; i < v.length; i++) v[i] = randomNormal();
  return finish(v, s, "float32", opts);
}

/** Integers in [low, high) (int32). */
export function randint(low: number, high: number, shape: readonly number[], opts: CreateOptions = {}): Tensor {
  if (high <= low) throw new Error(`randint: high (${high}) must be greater than low (${low})`);
  const s = normShape("randint", shape);
  const v = allocating("randint", s, () => new Int32Array(sizeOf(s)));
  for (let i = 0; i < v.length; i++) v[i] = randomInt(low, high);
  return finish(v, s, "int32", opts);
}

export const randLike = (t: Tensor) => rand(t.shape, { device: t.device });
export const randnLike = (t: Tensor) => randn(t.shape, { device: t.device });

/** A random permutation of 0..n-1 (int32). */
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  return finish(permutation(n), [n], "int32", opts);
}

/** arange(end), arange(start, end, step=1): float32 unless all arguments are integers (then int32), as torch. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new Error("arange: step must be nonzero");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? "int32" : "float32");
  const v = typedArrayFor(dtype, n);
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return finish(v, [n], dtype, opts);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`linspace: steps must be a non-negative integer, got ${steps}`);
  const v = new Float32Array(steps);
  const h = steps > 1 ? (end - start) / (steps - 1) : 0;
  // fill from both ends as PyTorch does, so the last value is exactly `end`
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) v[i] = i < half ? start + i * h : end - (steps - 1 - i) * h;
  if (steps === 1) v[0] = start;
  return finish(v, [steps], opts.dtype ?? "float32", opts);
}

/** The n x m identity. */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? "float32";
  const v = typedArrayFor(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) v[i * m + i] = 1;
  return finish(v, [n, m], dtype, opts);
}

/** One-hot encoding of int32 class labels: shape [..., numClasses], float32. */
export function oneHot(labels: Tensor, numClasses?: number): Tensor {
  if (labels.dtype !== "int32") throw new Error(`oneHot: labels must be int32, got ${labels.dtype}`);
  const vals = labels.backend.readSync(labels._d);
  let k = numClasses;
  if (k === undefined) {
    if (!vals) throw new Error("oneHot: pass numClasses for tensors off the CPU");
    k = 0;
    for (const v of vals) k = Math.max(k, v + 1);
  }
  const classes = arange(0, k, 1, { dtype: "int32", device: labels.device });
  const oh = labels.unsqueeze(-1).eq(classes).float();
  if (vals) for (const v of vals) if (v < 0 || v >= k) throw new Error(`oneHot: class ${v} is out of range for ${k} classes (labels of shape ${shapeStr(labels.shape)})`);
  return oh;
}
