/**
 * Datasets (torch.utils.data): an indexable collection of samples.
 *
 *   const ds = new gb.data.TensorDataset(x, y);     // x [N, ...], y [N]
 *   ds.length; ds.get(0);                           // [x[0], y[0]]
 *   const [train, val] = gb.data.randomSplit(ds, [0.8, 0.2], 42);
 */
import { noGrad } from "../autograd.js";
import { shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import { makeRng, permutation } from "./rng.js";

/** A map-style dataset: `length` samples, sample `i` from `get(i)` (e.g. `[x, y]`). Subclass it for your own data. */
export abstract class Dataset<T = Tensor[]> {
  /** The number of samples. */
  abstract get length(): number;
  /** Sample `i` (0 <= i < length). */
  abstract get(i: number): T;

  /** Iterates over the samples one by one. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

/** The shape every dataset satisfies (a Dataset subclass, or any object with `length` and `get`). */
export interface DatasetLike<T = unknown> {
  readonly length: number;
  get(i: number): T;
}

function checkIndex(what: string, i: number, n: number): number {
  if (!Number.isInteger(i) || i < -n || i >= n) throw new Error(`${what}: index ${i} is out of range for a dataset of ${n} samples`);
  return i < 0 ? i + n : i;
}

/** Samples are the rows of tensors sharing their first dimension: `get(i)` is `[t0[i], t1[i], ...]`. */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new Error("TensorDataset: needs at least one tensor");
    tensors.forEach((t, i) => {
      if (!(t instanceof Tensor)) throw new Error(`TensorDataset: argument ${i} is not a Tensor`);
      if (t.shape.length === 0) throw new Error(`TensorDataset: tensor ${i} is a scalar; every tensor needs a first (sample) dimension`);
    });
    const n = tensors[0].shape[0];
    if (tensors.some((t) => t.shape[0] !== n)) {
      throw new Error(`TensorDataset: size mismatch between tensors — the first dimensions differ: ${tensors.map((t) => shapeStr(t.shape)).join(", ")}`);
    }
    this.tensors = tensors;
  }
  get length(): number {
    return this.tensors[0].shape[0];
  }
  get(i: number): Tensor[] {
    const k = checkIndex("TensorDataset.get", i, this.length);
    return noGrad(() => this.tensors.map((t) => t.index(k)));
  }
}

/** The samples of `dataset` at `indices` (what randomSplit returns). */
export class Subset<T = Tensor[]> extends Dataset<T> {
  readonly indices: Int32Array;
  constructor(readonly dataset: DatasetLike<T>, indices: ArrayLike<number>) {
    super();
    const n = dataset.length;
    this.indices = Int32Array.from(indices);
    for (const i of this.indices) if (i < 0 || i >= n) throw new Error(`Subset: index ${i} is out of range for a dataset of ${n} samples`);
  }
  get length(): number {
    return this.indices.length;
  }
  get(i: number): T {
    return this.dataset.get(this.indices[checkIndex("Subset.get", i, this.indices.length)]);
  }
}

/** Several datasets one after the other (torch's ConcatDataset). */
export class ConcatDataset<T = Tensor[]> extends Dataset<T> {
  private readonly ends: number[] = [];
  constructor(readonly datasets: DatasetLike<T>[]) {
    super();
    if (datasets.length === 0) throw new Error("ConcatDataset: needs at least one dataset");
    let acc = 0;
    for (const d of datasets) this.ends.push((acc += d.length));
  }
  get length(): number {
    return this.ends[this.ends.length - 1];
  }
  get(i: number): T {
    const k = checkIndex("ConcatDataset.get", i, this.length);
    let d = 0;
    while (k >= this.ends[d]) d++;
    return this.datasets[d].get(k - (d === 0 ? 0 : this.ends[d - 1]));
  }
}

/**
 * Splits a dataset into non-overlapping random subsets (torch.utils.data.random_split):
 * `lengths` are sample counts adding up to the dataset's length, or fractions adding
 * up to 1 (remainders go one each to the first subsets). `seed` makes the split
 * reproducible without touching the global generator; without it the engine's
 * generator is used (`gb.manualSeed`).
 */
export function randomSplit<T>(dataset: DatasetLike<T>, lengths: number[], seed?: number): Subset<T>[] {
  const n = dataset.length;
  if (!Array.isArray(lengths) || lengths.length === 0) throw new Error("randomSplit: lengths must be a non-empty list of counts or fractions");
  let counts = lengths;
  const total = lengths.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) < 1e-9 && lengths.every((f) => f >= 0 && f <= 1) && !(n === 1 && lengths.every(Number.isInteger))) {
    counts = lengths.map((f) => Math.floor(n * f));
    let rest = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i]++;
  }
  if (counts.some((c) => !Number.isInteger(c) || c < 0)) throw new Error(`randomSplit: lengths must be non-negative integers or fractions adding up to 1, got [${lengths.join(", ")}]`);
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum !== n) throw new Error(`randomSplit: sum of input lengths (${sum}) does not equal the length of the input dataset (${n})`);
  const perm = permutation(n, makeRng(seed));
  const out: Subset<T>[] = [];
  let at = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, perm.subarray(at, at + c)));
    at += c;
  }
  return out;
}

/**
 * When `ds` is a TensorDataset, or Subsets of one, the underlying tensors and the
 * index map (null: identity) — the DataLoader then gathers whole batches with indexSelect.
 */
export function tensorSource(ds: DatasetLike<unknown>): { tensors: Tensor[]; indices: Int32Array | null } | null {
  if (ds instanceof TensorDataset) return { tensors: ds.tensors, indices: null };
  if (ds instanceof Subset) {
    const inner = tensorSource(ds.dataset);
    if (!inner) return null;
    const idx = inner.indices ? ds.indices.map((i) => inner.indices![i]) : ds.indices;
    return { tensors: inner.tensors, indices: idx };
  }
  return null;
}
