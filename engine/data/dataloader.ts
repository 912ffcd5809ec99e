/**
 * DataLoader (torch.utils.data.DataLoader): batches of a dataset, optionally
 * shuffled each epoch.
 *
 *   const loader = new gb.data.DataLoader(ds, { batchSize: 64, shuffle: true, seed: 0 });
 *   for (const [x, y] of loader) { ... }          // also: for await (...)
 *   loader.length                                  // batches per epoch
 *
 * Batches of a TensorDataset (or a Subset of one) are gathered with one
 * indexSelect per tensor; other datasets are collated sample by sample
 * (`collate`, default: stack tensors, turn numbers into a tensor, recurse into
 * arrays and objects).
 */
import { noGrad } from "../autograd.js";
import { device as defaultDevice, type Device } from "../device.js";
import { stack } from "../ops/movement.js";
import { shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import { type DatasetLike, tensorSource } from "./dataset.js";
import { makeRng, permutation, type Rng } from "./rng.js";

export interface DataLoaderOptions<B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle the samples at the start of every epoch (default false). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /**
   * Seed for the shuffles: the epochs' orders are then the same on every run,
   * whatever else uses the global generator. Without it the engine's generator
   * is used (reproducible after `gb.manualSeed`).
   */
  seed?: number;
  /** Turns a list of samples into a batch (default: `defaultCollate`). */
  collate?: (samples: unknown[]) => B;
  /** Move each batch's tensors to this device ("cpu" | "gpu"). */
  device?: Device | string;
  /** Applied to every batch after collation (e.g. augmentation: `([x, y]) => [randomHorizontalFlip(x), y]`). */
  transform?: (batch: B) => B;
}

/** Stacks tensors, makes numbers a tensor (int32 when all are integers, else float32; on the default device) and recurses into arrays and objects. */
export function defaultCollate(samples: unknown[]): unknown {
  if (samples.length === 0) throw new Error("collate: empty batch");
  const first = samples[0];
  if (first instanceof Tensor) {
    const shapes = samples.map((s) => (s as Tensor).shape);
    if (shapes.some((s) => s.length !== first.shape.length || s.some((d, i) => d !== first.shape[i]))) {
      throw new Error(`collate: samples have different shapes (${shapeStr(first.shape)} and ${shapeStr(shapes.find((s) => s.some((d, i) => d !== first.shape[i]) || s.length !== first.shape.length)!)}); pass a custom collate to pad them`);
    }
    return stack(samples as Tensor[], 0);
  }
  if (typeof first === "number" || typeof first === "boolean") {
    const vals = samples.map(Number);
    const ints = vals.every(Number.isInteger) && typeof first === "number";
    return Tensor.fromData(ints ? Int32Array.from(vals) : Float32Array.from(vals), [vals.length], ints ? "int32" : "float32", defaultDevice());
  }
  if (Array.isArray(first)) {
    return first.map((_, k) => defaultCollate(samples.map((s) => (s as unknown[])[k])));
  }
  if (first !== null && typeof first === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(first)) out[key] = defaultCollate(samples.map((s) => (s as Record<string, unknown>)[key]));
    return out;
  }
  throw new Error(`collate: cannot batch samples of type ${typeof first}; pass a custom collate`);
}

function moveBatch(b: unknown, device: string): unknown {
  if (b instanceof Tensor) return b.to(device);
  if (Array.isArray(b)) return b.map((x) => moveBatch(x, device));
  if (b !== null && typeof b === "object") return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, moveBatch(v, device)]));
  return b;
}

export class DataLoader<B = Tensor[]> implements Iterable<B>, AsyncIterable<B> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly rng: Rng;
  private readonly collate: (samples: unknown[]) => B;
  private readonly device?: string;
  private readonly transform?: (batch: B) => B;

  constructor(readonly dataset: DatasetLike<unknown>, opts: DataLoaderOptions<B> = {}) {
    if (!dataset || typeof dataset.length !== "number" || typeof dataset.get !== "function") {
      throw new Error("DataLoader: the first argument must be a dataset (with length and get(i)), e.g. new gb.data.TensorDataset(x, y)");
    }
    this.batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.rng = makeRng(opts.seed);
    this.collate = opts.collate ?? (defaultCollate as (s: unknown[]) => B);
    this.device = opts.device;
    this.transform = opts.transform;
  }

  /** The number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample order of a new epoch (a fresh permutation when shuffling). */
  private order(): Int32Array {
    const n = this.dataset.length;
    if (this.shuffle) return permutation(n, this.rng);
    const o = new Int32Array(n);
    for (let i = 0; i < n; i++) o[i] = i;
    return o;
  }

  /** One epoch of batches. */
  *[Symbol.iterator](): Iterator<B> {
    const order = this.order();
    const nb = this.length;
    const src = tensorSource(this.dataset);
    for (let b = 0; b < nb; b++) {
      const idx = order.subarray(b * this.batchSize, Math.min(order.length, (b + 1) * this.batchSize));
      let batch: B;
      if (src && !this.collateGiven()) {
        const rows = src.indices ? idx.map((i) => src.indices![i]) : idx;
        batch = noGrad(() => {
          const it = Tensor.fromData(rows, [rows.length], "int32", src.tensors[0].device);
          return src.tensors.map((t) => t.indexSelect(0, it)) as B;
        });
      } else {
        const samples: unknown[] = [];
        for (const i of idx) samples.push(this.dataset.get(i));
        batch = noGrad(() => this.collate(samples));
      }
      if (this.device) batch = moveBatch(batch, this.device) as B;
      if (this.transform) batch = noGrad(() => this.transform!(batch));
      yield batch;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    for (const b of this) yield b;
  }

  private collateGiven(): boolean {
    return this.collate !== (defaultCollate as unknown);
  }
}
