/**
 * Tensors as pictures: `imageGrid` tiles digits, filters or feature maps into one PNG
 * (as torchvision's make_grid), with gray or false-colour colormaps.
 *
 *   widgets.imageGrid(xb.slice(0, 0, 32), { nrow: 8, labels })          // [N,1,28,28] digits
 *   widgets.imageGrid(conv1.weight, { colormap: "rdbu", normalize: "each" }) // [out,in,k,k] filters
 *   widgets.imageGrid(featureMaps.index(0), { colormap: "viridis" })     // [C,H,W] feature maps
 */
import type { MimeBundle } from "./host.js";
import { colormapLut, encodePng, pngDataUri, type ColormapName } from "./png.js";
import { base64, escapeHtml, isTensor, readArray, type ArrayInput } from "./util.js";

export type Normalize = "auto" | "all" | "each" | "symmetric" | "none";

export interface ImageGridOptions {
  /** Tiles per row (default min(8, n)). */
  nrow?: number;
  /** Pixels between tiles (default 2; 0 for a single image). */
  padding?: number;
  /** Padding value in [0,1] (default 1: white gaps). */
  padValue?: number;
  /**
   * How values map to [0,1]: "auto" (as is when all lie in [0,1], else "all"), "all" (min-max over
   * all tiles), "each" (per tile), "symmetric" (per tile, [-max|v|, max|v|] — weights with "rdbu"), "none" (clip).
   */
  normalize?: Normalize;
  /** Explicit value range mapped to [0,1] (overrides normalize). */
  range?: [number, number];
  /** Colormap for single-channel tiles (default "gray"). */
  colormap?: ColormapName;
  /** Treat a 3-D [3,H,W] (or [1,H,W]) tensor as one image with channels instead of 3 gray tiles. */
  channels?: boolean;
  /** Integer upscale factor (nearest neighbour); default: so the grid is at least ~320 px wide, at most 8. */
  scale?: number;
  /** Captions, one per tile (shown under the grid in HTML). */
  labels?: (string | number)[];
  title?: string;
}

interface Tile {
  h: number;
  w: number;
  c: 1 | 3;
  /** c*h*w values, channel-major. */
  v: Float64Array;
}

/** Splits an input into tiles following the shape rules described on `imageGrid`. */
async function tilesOf(input: ArrayInput | ArrayInput[], channels: boolean | undefined, what: string): Promise<Tile[]> {
  if (Array.isArray(input) && input.length > 0 && (isTensor(input[0]) || (Array.isArray(input[0]) && Array.isArray((input[0] as unknown[])[0]) && Array.isArray(((input[0] as unknown[])[0] as unknown[])[0])))) {
    // a list of images
    const out: Tile[] = [];
    for (const x of input as ArrayInput[]) out.push(...(await tilesOf(x, channels ?? true, what)));
    return out;
  }
  const { values, shape } = await readArray(input as ArrayInput, what);
  const tiles: Tile[] = [];
  const push = (off: number, c: 1 | 3, h: number, w: number) => tiles.push({ c, h, w, v: values.subarray(off, off + c * h * w) });
  if (shape.length === 2) push(0, 1, shape[0], shape[1]);
  else if (shape.length === 3) {
    const [a, h, w] = shape;
    if (channels && (a === 1 || a === 3)) push(0, a as 1 | 3, h, w);
    else if (channels && (w === 1 || w === 3) && a > 3) {
      // [H,W,C] channels-last: transpose to channel-major
      const c = w as 1 | 3;
      const v = new Float64Array(values.length);
      for (let y = 0; y < a; y++) for (let x = 0; x < h; x++) for (let k = 0; k < c; k++) v[k * a * h + y * h + x] = values[(y * h + x) * c + k];
      tiles.push({ c, h: a, w: h, v });
    } else for (let i = 0; i < a; i++) push(i * h * w, 1, h, w);
  } else if (shape.length === 4) {
    const [n, c, h, w] = shape;
    if (c === 1 || c === 3) for (let i = 0; i < n; i++) push(i * c * h * w, c as 1 | 3, h, w);
    else for (let i = 0; i < n * c; i++) push(i * h * w, 1, h, w);
  } else throw new Error(`${what}: expected an image tensor of 2, 3 or 4 dimensions ([H,W], [N,H,W], [N,C,H,W]), got shape [${shape.join(", ")}]`);
  return tiles;
}

function minmax(v: ArrayLike<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

export interface GridPixels {
  width: number;
  height: number;
  /** RGB, 8-bit. */
  pixels: Uint8Array;
  /** The layout (before upscaling): tiles per row, rows, tile size, padding. */
  nrow: number;
  rows: number;
  tileH: number;
  tileW: number;
  padding: number;
  scale: number;
  count: number;
}

/** Lays tiles out into RGB pixels (exported for tests and the `image` figure). */
export async function gridPixels(input: ArrayInput | ArrayInput[], opts: ImageGridOptions = {}, what = "imageGrid"): Promise<GridPixels> {
  const tiles = await tilesOf(input, opts.channels, what);
  if (tiles.length === 0) throw new Error(`${what}: no images to show`);
  const tileH = Math.max(...tiles.map((t) => t.h));
  const tileW = Math.max(...tiles.map((t) => t.w));
  const n = tiles.length;
  const nrow = Math.max(1, Math.min(opts.nrow ?? 8, n));
  const rows = Math.ceil(n / nrow);
  const padding = opts.padding ?? (n === 1 ? 0 : 2);
  const W0 = nrow * tileW + (nrow + 1) * padding - (n === 1 ? 0 : 0);
  const H0 = rows * tileH + (rows + 1) * padding;
  const scale = Math.max(1, Math.floor(opts.scale ?? Math.min(8, Math.max(1, Math.floor(320 / Math.max(W0, 1))))));
  const normalize: Normalize = opts.normalize ?? "auto";
  let globalRange: [number, number] | null = opts.range ?? null;
  if (!globalRange && (normalize === "auto" || normalize === "all")) {
    let lo = Infinity, hi = -Infinity;
    for (const t of tiles) {
      const [a, b] = minmax(t.v);
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    globalRange = normalize === "auto" && lo >= 0 && hi <= 1 ? [0, 1] : normalize === "auto" && lo >= 0 && hi <= 255 && hi > 1 && tiles.every((t) => Array.prototype.every.call(t.v, Number.isInteger)) ? [0, 255] : [lo, hi];
  }
  const lut = colormapLut(opts.colormap ?? "gray");
  const pad = Math.round(Math.max(0, Math.min(1, opts.padValue ?? 1)) * 255);
  const img = new Uint8Array(W0 * H0 * 3).fill(pad);
  tiles.forEach((t, i) => {
    let range: [number, number];
    if (globalRange) range = globalRange;
    else if (normalize === "each") range = minmax(t.v);
    else if (normalize === "symmetric") {
      const [a, b] = minmax(t.v);
      const m = Math.max(Math.abs(a), Math.abs(b)) || 1;
      range = [-m, m];
    } else range = [0, 1];
    const [lo, hi] = range;
    const span = hi - lo || 1;
    const ox = padding + (i % nrow) * (tileW + padding);
    const oy = padding + Math.floor(i / nrow) * (tileH + padding);
    for (let y = 0; y < t.h; y++)
      for (let x = 0; x < t.w; x++) {
        const o = ((oy + y) * W0 + ox + x) * 3;
        if (t.c === 1) {
          const q = Math.round(Math.max(0, Math.min(1, (t.v[y * t.w + x] - lo) / span)) * 255);
          img[o] = lut[q * 3];
          img[o + 1] = lut[q * 3 + 1];
          img[o + 2] = lut[q * 3 + 2];
        } else
          for (let k = 0; k < 3; k++) img[o + k] = Math.round(Math.max(0, Math.min(1, (t.v[k * t.h * t.w + y * t.w + x] - lo) / span)) * 255);
      }
  });
  const W = W0 * scale, H = H0 * scale;
  let pixels = img;
  if (scale > 1) {
    pixels = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < W; x++) {
        const s = (sy * W0 + Math.floor(x / scale)) * 3, d = (y * W + x) * 3;
        pixels[d] = img[s];
        pixels[d + 1] = img[s + 1];
        pixels[d + 2] = img[s + 2];
      }
    }
  }
  return { width: W, height: H, pixels, nrow, rows, tileH, tileW, padding, scale, count: n };
}

/** One image (no grid padding, no upscaling) as PNG bytes and data URI. */
export async function imagePng(img: ArrayInput, opts: { colormap?: ColormapName; vmin?: number; vmax?: number } = {}) {
  const range: [number, number] | undefined = opts.vmin !== undefined || opts.vmax !== undefined ? [opts.vmin ?? 0, opts.vmax ?? 1] : undefined;
  const g = await gridPixels(img, { channels: true, padding: 0, scale: 1, nrow: 1, colormap: opts.colormap, range }, "image");
  if (g.count !== 1) throw new Error(`image: expected one image ([H,W], [C,H,W] or [H,W,C] with C = 1 or 3), got ${g.count} tiles; use imageGrid for several`);
  const png = await encodePng({ width: g.width, height: g.height, channels: 3, pixels: g.pixels });
  return { png, dataUri: pngDataUri(png), width: g.width, height: g.height };
}

/** A grid of images, displayed as PNG (and an <img> in HTML with captions). */
export class ImageGrid {
  private cache: Promise<{ grid: GridPixels; png: Uint8Array }> | null = null;
  constructor(readonly input: ArrayInput | ArrayInput[], readonly options: ImageGridOptions = {}) {}

  /** Renders (once) — the pixels and PNG bytes. */
  render(): Promise<{ grid: GridPixels; png: Uint8Array }> {
    if (!this.cache)
      this.cache = gridPixels(this.input, this.options).then(async (grid) => ({
        grid,
        png: await encodePng({ width: grid.width, height: grid.height, channels: 3, pixels: grid.pixels }),
      }));
    return this.cache;
  }

  async toMimeBundle(): Promise<MimeBundle> {
    const { grid, png } = await this.render();
    const b64 = base64(png);
    const text = `<ImageGrid ${grid.count} image${grid.count === 1 ? "" : "s"} of ${grid.tileH}×${grid.tileW}, ${grid.nrow} per row${this.options.title ? `: ${this.options.title}` : ""}>`;
    let caption = "";
    const labels = this.options.labels;
    if (labels && labels.length) {
      const rows: string[] = [];
      for (let r = 0; r < grid.rows; r++) rows.push(labels.slice(r * grid.nrow, (r + 1) * grid.nrow).map((l) => escapeHtml(String(l))).join(" · "));
      caption = `<div style="font:12px monospace;color:#444;margin-top:4px">${rows.map((r, i) => `row ${i + 1}: ${r}`).join("<br>")}</div>`;
    }
    const title = this.options.title ? `<div style="font:bold 13px sans-serif;margin-bottom:4px">${escapeHtml(this.options.title)}</div>` : "";
    const html = `<div class="gb-image-grid">${title}<img src="data:image/png;base64,${b64}" width="${grid.width}" height="${grid.height}" style="image-rendering:pixelated;image-rendering:crisp-edges" alt="${escapeHtml(text)}">${caption}</div>`;
    return { "image/png": b64, "text/html": html, "text/plain": text };
  }
}

/** Tiles images into one PNG. Shapes: [H,W]; [N,H,W] (N gray tiles); [N,C,H,W] (C = 1 or 3: N images, else N·C gray tiles); a list of images. */
export function imageGrid(images: ArrayInput | ArrayInput[], opts: ImageGridOptions = {}): ImageGrid {
  return new ImageGrid(images, opts);
}
