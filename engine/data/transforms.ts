/**
 * Image transforms on batches (torchvision.transforms for tensors): images are
 * [N, C, H, W] (or one [C, H, W] image). Resizing is differentiable and runs
 * as two small matrix products, so it works on any device.
 *
 *   const x64 = gb.data.transforms.resize(images, 64);                  // bilinear, as F.interpolate
 *   const aug = gb.data.transforms.compose(
 *     (x) => gb.data.transforms.randomCrop(x, 28, { padding: 2 }),
 *     (x) => gb.data.transforms.randomHorizontalFlip(x),
 *   );
 *   new gb.data.DataLoader(ds, { batchSize: 64, shuffle: true, transform: ([x, y]) => [aug(x), y] });
 */
import { where } from "../ops/elementwise.js";
import { pad as padOp, stack } from "../ops/movement.js";
import { shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import { makeRng } from "./rng.js";

type Size = number | [number, number];

function asBatch(op: string, x: Tensor): [Tensor, boolean] {
  if (x.shape.length === 4) return [x, false];
  if (x.shape.length === 3) return [x.unsqueeze(0), true];
  throw new Error(`${op}: expected images [N, C, H, W] or [C, H, W], got ${shapeStr(x.shape)}`);
}

function pair(op: string, s: Size): [number, number] {
  const [h, w] = typeof s === "number" ? [s, s] : s;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new Error(`${op}: size must be a positive integer or [height, width], got ${JSON.stringify(s)}`);
  return [h, w];
}

/** The [out, in] interpolation matrix of one axis (PyTorch's align_corners=False, no antialiasing). */
function interpMatrix(n: number, o: number, mode: "bilinear" | "nearest", device: Tensor["device"]): Tensor {
  const m = new Float32Array(o * n);
  const scale = n / o;
  for (let i = 0; i < o; i++) {
    if (mode === "nearest") {
      m[i * n + Math.min(Math.floor(i * scale), n - 1)] = 1;
    } else {
      const src = Math.max((i + 0.5) * scale - 0.5, 0);
      const i0 = Math.min(Math.floor(src), n - 1);
      const i1 = Math.min(i0 + 1, n - 1);
      const l1 = src - i0;
      m[i * n + i0] += 1 - l1;
      m[i * n + i1] += l1;
    }
  }
  return Tensor.fromData(m, [o, n], "float32", device);
}

/**
 * Resizes to `size` (a number: both sides) with bilinear (default) or nearest
 * interpolation — the values of torch.nn.functional.interpolate(x, size, mode,
 * align_corners=False) without antialiasing.
 */
export function resize(x: Tensor, size: Size, opts: { mode?: "bilinear" | "nearest" } = {}): Tensor {
  const op = "resize";
  const [xb, single] = asBatch(op, x);
  if (xb.dtype !== "float32") throw new Error(`${op}: expected float32 images, got ${xb.dtype} (convert with .float())`);
  const mode = opts.mode ?? "bilinear";
  if (mode !== "bilinear" && mode !== "nearest") throw new Error(`${op}: mode must be "bilinear" or "nearest", got ${String(mode)}`);
  const [oh, ow] = pair(op, size);
  const [, , h, w] = xb.shape;
  let out = xb;
  if (oh !== h || ow !== w) {
    const ah = interpMatrix(h, oh, mode, xb.device);
    const aw = interpMatrix(w, ow, mode, xb.device);
    out = ah.matmul(xb.matmul(aw.t()));
  }
  return single ? out.squeeze(0) : out;
}

/** Pads the borders: `padding` pixels on every side, or [left/right, top/bottom], or [left, top, right, bottom] (torchvision's order). */
export function pad(x: Tensor, padding: number | [number, number] | [number, number, number, number], value = 0): Tensor {
  const [xb, single] = asBatch("pad", x);
  const p = typeof padding === "number" ? [padding, padding, padding, padding] : padding.length === 2 ? [padding[0], padding[1], padding[0], padding[1]] : padding;
  if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`pad: padding must be a non-negative integer or a list of 2 or 4 of them, got ${JSON.stringify(padding)}`);
  const [l, t, r, b] = p;
  const out = padOp(xb, [l, r, t, b], value);
  return single ? out.squeeze(0) : out;
}

/** Python's round(): halves go to the even neighbour (torchvision's center crop uses it). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Crops the central `size` region (torchvision's CenterCrop; images smaller than `size` are zero-padded first). */
export function centerCrop(x: Tensor, size: Size): Tensor {
  const [xb, single] = asBatch("centerCrop", x);
  const [th, tw] = pair("centerCrop", size);
  let t = xb;
  let [, , h, w] = t.shape;
  if (th > h || tw > w) {
    const pl = tw > w ? Math.floor((tw - w) / 2) : 0, pt = th > h ? Math.floor((th - h) / 2) : 0;
    const pr = tw > w ? Math.floor((tw - w + 1) / 2) : 0, pb = th > h ? Math.floor((th - h + 1) / 2) : 0;
    t = padOp(t, [pl, pr, pt, pb], 0);
    [, , h, w] = t.shape;
  }
  const top = roundHalfEven((h - th) / 2), left = roundHalfEven((w - tw) / 2);
  const out = t.slice(2, top, top + th).slice(3, left, left + tw);
  return single ? out.squeeze(0) : out;
}

/** Flips each image left-right with probability `p` (independently per image). `seed` makes it reproducible; else the engine's generator. */
export function randomHorizontalFlip(x: Tensor, p = 0.5, opts: { seed?: number } = {}): Tensor {
  const [xb, single] = asBatch("randomHorizontalFlip", x);
  if (!(p >= 0 && p <= 1)) throw new Error(`randomHorizontalFlip: p must be in [0, 1], got ${p}`);
  const rng = makeRng(opts.seed);
  const n = xb.shape[0];
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = rng.random() < p ? 1 : 0;
  const m = Tensor.fromData(mask, [n, 1, 1, 1], "bool", xb.device);
  const res = where(m, xb.flip(3), xb);
  return single ? res.squeeze(0) : res;
}

/**
 * Crops a random `size` window from each image (independently), after optional
 * zero `padding` on every side — torchvision's RandomCrop(size, padding), the
 * classic augmentation for 28x28 / 32x32 images.
 */
export function randomCrop(x: Tensor, size: Size, opts: { padding?: number; seed?: number } = {}): Tensor {
  const [xb0, single] = asBatch("randomCrop", x);
  const [th, tw] = pair("randomCrop", size);
  const xb = opts.padding ? padOp(xb0, [opts.padding, opts.padding, opts.padding, opts.padding], 0) : xb0;
  const [n, , h, w] = xb.shape;
  if (th > h || tw > w) throw new Error(`randomCrop: crop ${th}x${tw} is larger than the (padded) images ${h}x${w}`);
  const rng = makeRng(opts.seed);
  const crops: Tensor[] = [];
  for (let i = 0; i < n; i++) {
    const top = Math.floor(rng.random() * (h - th + 1));
    const left = Math.floor(rng.random() * (w - tw + 1));
    crops.push(xb.slice(0, i, i + 1).slice(2, top, top + th).slice(3, left, left + tw));
  }
  const out = n === 1 ? crops[0] : crops.length ? stackCat(crops) : xb;
  return single ? out.squeeze(0) : out;
}

/** Chains transforms left to right (torchvision's Compose). */
export function compose(...fns: ((x: Tensor) => Tensor)[]): (x: Tensor) => Tensor {
  return (x) => fns.reduce((acc, f) => f(acc), x);
}

function stackCat(parts: Tensor[]): Tensor {
  return stack(parts.map((p) => p.squeeze(0)), 0);
}
