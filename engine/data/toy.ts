/**
 * Toy 2-D datasets for first experiments (perceptrons, MLPs, decision
 * boundaries). Every function returns `{ x, y }`: x [N, 2] float32 points and
 * y [N] int32 class labels (`y.float()` for regression-style losses); wrap
 * them with `new gb.data.TensorDataset(x, y)` for a DataLoader.
 * A `seed` option makes the data reproducible without touching the global
 * generator; without it the engine's generator is used (`gb.manualSeed`).
 * The tensors are created on the default device (`gb.setDefaultDevice`).
 */
import { device as defaultDevice } from "../device.js";
import { Tensor } from "../tensor.js";
import { makeRng, permutation, type Rng } from "./rng.js";

export interface ToyData {
  /** Points, [N, D] float32. */
  x: Tensor;
  /** Class labels, [N] int32. */
  y: Tensor;
}

function build(x: Float32Array, y: Int32Array, dim: number, shuffle: boolean, rng: Rng): ToyData {
  const n = y.length;
  if (shuffle) {
    const p = permutation(n, rng);
    const xs = new Float32Array(x.length), ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ys[i] = y[p[i]];
      for (let d = 0; d < dim; d++) xs[i * dim + d] = x[p[i] * dim + d];
    }
    x = xs;
    y = ys;
  }
  const dev = defaultDevice();
  return { x: Tensor.fromData(x, [n, dim], "float32", dev), y: Tensor.fromData(y, [n], "int32", dev) };
}

function checkN(what: string, n: number, min = 1): void {
  if (!Number.isInteger(n) || n < min) throw new Error(`${what}: n must be an integer >= ${min}, got ${n}`);
}

/** Splits n samples over k classes as evenly as possible (the first classes get the remainder). */
function perClass(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, c) => Math.floor(n / k) + (c < n % k ? 1 : 0));
}

export interface XorOptions {
  /** Number of points; default 4 (the truth table itself, no noise). */
  n?: number;
  /** Standard deviation of Gaussian noise around the corners (default 0; e.g. 0.1 for a noisy cloud). */
  noise?: number;
  seed?: number;
}

/**
 * The XOR problem: points (0,0), (0,1), (1,0), (1,1) with labels 0, 1, 1, 0.
 * With `n > 4` (or `noise > 0`), n points cycling through the corners with Gaussian noise.
 */
export function xor(opts: XorOptions = {}): ToyData {
  const noise = opts.noise ?? 0;
  const n = opts.n ?? 4;
  checkN("xor", n);
  if (!(noise >= 0)) throw new Error(`xor: noise must be >= 0, got ${noise}`);
  const rng = makeRng(opts.seed);
  const corners = [[0, 0], [0, 1], [1, 0], [1, 1]];
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const [a, b] = corners[i % 4];
    x[2 * i] = a + (noise > 0 ? noise * rng.normal() : 0);
    x[2 * i + 1] = b + (noise > 0 ? noise * rng.normal() : 0);
    y[i] = a ^ b;
  }
  return build(x, y, 2, false, rng);
}

export interface BlobsOptions {
  /** Number of points (default 100), split evenly over the centers. */
  n?: number;
  /** The number of blobs (placed evenly on a circle of `radius`), or their coordinates (default 2). */
  centers?: number | number[][];
  /** Standard deviation of each blob (default 1). */
  std?: number;
  /** Radius of the circle the centers sit on when `centers` is a number (default 4). */
  radius?: number;
  /** Shuffle the points (default true; false: class by class). */
  shuffle?: boolean;
  seed?: number;
}

/**
 * Gaussian blobs (as sklearn's make_blobs), one class per center. With the
 * defaults (2 centers 8 apart, std 1) the classes are linearly separable in practice;
 * raise `std` to make them overlap.
 */
export function blobs(opts: BlobsOptions = {}): ToyData {
  const n = opts.n ?? 100;
  checkN("blobs", n);
  const std = opts.std ?? 1;
  if (!(std >= 0)) throw new Error(`blobs: std must be >= 0, got ${std}`);
  const rng = makeRng(opts.seed);
  let centers: number[][];
  if (Array.isArray(opts.centers)) {
    centers = opts.centers;
    if (centers.length === 0 || centers.some((c) => !Array.isArray(c) || c.length !== centers[0].length)) throw new Error("blobs: centers must be a non-empty list of points of the same dimension");
  } else {
    const k = opts.centers ?? 2;
    if (!Number.isInteger(k) || k < 1) throw new Error(`blobs: centers must be a positive integer or a list of points, got ${k}`);
    const r = opts.radius ?? 4;
    centers = Array.from({ length: k }, (_, c) => [r * Math.cos(Math.PI + (2 * Math.PI * c) / k), r * Math.sin(Math.PI + (2 * Math.PI * c) / k)].map((v) => Math.round(v * 1e12) / 1e12));
  }
  const dim = centers[0].length;
  const counts = perClass(n, centers.length);
  const x = new Float32Array(n * dim), y = new Int32Array(n);
  let i = 0;
  counts.forEach((cnt, c) => {
    for (let j = 0; j < cnt; j++, i++) {
      y[i] = c;
      for (let d = 0; d < dim; d++) x[i * dim + d] = centers[c][d] + std * rng.normal();
    }
  });
  return build(x, y, dim, opts.shuffle ?? true, rng);
}

export interface MoonsOptions {
  /** Number of points (default 100): half on each moon. */
  n?: number;
  /** Standard deviation of Gaussian noise added to the points (default 0.1). */
  noise?: number;
  shuffle?: boolean;
  seed?: number;
}

/** Two interleaving half circles (as sklearn's make_moons): class 0 the upper moon, class 1 the lower one. Not linearly separable. */
export function moons(opts: MoonsOptions = {}): ToyData {
  const n = opts.n ?? 100;
  checkN("moons", n, 2);
  const noise = opts.noise ?? 0.1;
  const rng = makeRng(opts.seed);
  const nOut = Math.floor(n / 2), nIn = n - nOut;
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  for (let i = 0; i < nOut; i++) {
    const t = nOut > 1 ? (Math.PI * i) / (nOut - 1) : 0;
    x[2 * i] = Math.cos(t);
    x[2 * i + 1] = Math.sin(t);
    y[i] = 0;
  }
  for (let j = 0; j < nIn; j++) {
    const i = nOut + j;
    const t = nIn > 1 ? (Math.PI * j) / (nIn - 1) : 0;
    x[2 * i] = 1 - Math.cos(t);
    x[2 * i + 1] = 1 - Math.sin(t) - 0.5;
    y[i] = 1;
  }
  if (noise > 0) for (let k = 0; k < x.length; k++) x[k] += noise * rng.normal();
  return build(x, y, 2, opts.shuffle ?? true, rng);
}

export interface SpiralsOptions {
  /** Total number of points (default 300), split evenly over the classes. */
  n?: number;
  /** Number of spiral arms / classes (default 3). */
  classes?: number;
  /** Standard deviation of the angular noise (default 0.2). */
  noise?: number;
  shuffle?: boolean;
  seed?: number;
}

/**
 * Interleaved spirals (CS231n's spiral data): arm k has radius going 0 → 1 while the
 * angle sweeps 4 radians starting at 4k, plus Gaussian noise on the angle.
 */
export function spirals(opts: SpiralsOptions = {}): ToyData {
  const n = opts.n ?? 300;
  const k = opts.classes ?? 3;
  if (!Number.isInteger(k) || k < 1) throw new Error(`spirals: classes must be a positive integer, got ${k}`);
  checkN("spirals", n, k);
  const noise = opts.noise ?? 0.2;
  const rng = makeRng(opts.seed);
  const counts = perClass(n, k);
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  let i = 0;
  counts.forEach((cnt, c) => {
    for (let j = 0; j < cnt; j++, i++) {
      const r = cnt > 1 ? j / (cnt - 1) : 0;
      const t = c * 4 + (cnt > 1 ? (4 * j) / (cnt - 1) : 0) + noise * rng.normal();
      x[2 * i] = r * Math.sin(t);
      x[2 * i + 1] = r * Math.cos(t);
      y[i] = c;
    }
  });
  return build(x, y, 2, opts.shuffle ?? true, rng);
}

export interface CirclesOptions {
  n?: number;
  noise?: number;
  /** Radius of the inner circle relative to the outer one (default 0.5). */
  factor?: number;
  shuffle?: boolean;
  seed?: number;
}

/** A small circle inside a large one (as sklearn's make_circles): class 0 outer, class 1 inner. */
export function circles(opts: CirclesOptions = {}): ToyData {
  const n = opts.n ?? 100;
  checkN("circles", n, 2);
  const noise = opts.noise ?? 0.05;
  const factor = opts.factor ?? 0.5;
  if (!(factor > 0 && factor < 1)) throw new Error(`circles: factor must be in (0, 1), got ${factor}`);
  const rng = makeRng(opts.seed);
  const nOut = Math.floor(n / 2), nIn = n - nOut;
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const inner = i >= nOut;
    const m = inner ? nIn : nOut;
    const j = inner ? i - nOut : i;
    const t = (2 * Math.PI * j) / m;
    const r = inner ? factor : 1;
    x[2 * i] = r * Math.cos(t) + (noise > 0 ? noise * rng.normal() : 0);
    x[2 * i + 1] = r * Math.sin(t) + (noise > 0 ? noise * rng.normal() : 0);
    y[i] = inner ? 1 : 0;
  }
  return build(x, y, 2, opts.shuffle ?? true, rng);
}
