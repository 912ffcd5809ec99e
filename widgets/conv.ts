/**
 * The convolution-arithmetic view, after Dumoulin & Visin, "A guide to convolution
 * arithmetic for deep learning": the input (blue) inside its zero padding (dashed), the
 * kernel's taps for each output position (for the given stride and dilation), and the
 * output (green), stepping through the positions as an animation — pure SVG + CSS, so it
 * runs in every front end and in exported HTML without scripts. The output-size formula
 * is shown with the numbers filled in.
 *
 *   widgets.convArithmetic({ input: 5, kernel: 3, stride: 2, padding: 1 })
 *   widgets.convArithmeticGallery()          // the guide's standard cases side by side
 *   widgets.convExplorer()                   // sliders for input, kernel, stride, padding, dilation
 *   interact((p) => widgets.convArithmetic({ input: 7, kernel: 3, ...p }), { stride: [1, 3], padding: [0, 2], dilation: [1, 3] })
 */
import type { MimeBundle } from "./host.js";
import { escapeHtml, uid } from "./util.js";
import { IntSlider } from "./controls.js";
import { interact, type Interactive } from "./interact.js";

type Pair = number | [number, number];

export interface ConvParams {
  /** Input size (H = W, or [H, W]). */
  input: Pair;
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

export interface ConvViewOptions extends ConvParams {
  title?: string;
  /** Show only this output position (0-based, row-major) instead of animating. */
  frame?: number;
  /** Seconds per step of the animation (default 0.8). */
  secondsPerStep?: number;
  /** Cell size in pixels (default 22). */
  cell?: number;
}

const pair = (v: Pair | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === "number" ? [v, v] : [v[0], v[1]]);

/** o = ⌊(i + 2p − d(k − 1) − 1) / s⌋ + 1, per axis — PyTorch's Conv2d output size. */
export function convOutputSize(i: number, k: number, s = 1, p = 0, d = 1): number {
  return Math.floor((i + 2 * p - d * (k - 1) - 1) / s) + 1;
}

export interface ConvFrame {
  /** Output position [row, col]. */
  out: [number, number];
  /** Input positions the kernel taps, [row, col] in padded coordinates (0 = first padding row). */
  taps: [number, number][];
}

export interface ConvGeometry {
  input: [number, number];
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  /** Padded input size. */
  padded: [number, number];
  /** Effective kernel extent d(k−1)+1. */
  extent: [number, number];
  output: [number, number];
  frames: ConvFrame[];
}

/** The geometry of a 2-D convolution: output size and every kernel position. */
export function convGeometry(p: ConvParams): ConvGeometry {
  for (const need of ["input", "kernel"] as const)
    if (p?.[need] === undefined)
      throw new Error(`convArithmetic: the option \`${need}\` is missing (the ${need} size, e.g. { input: 5, kernel: 3 }); got options: ${Object.keys(p ?? {}).join(", ") || "none"}`);
  const input = pair(p.input, 0), kernel = pair(p.kernel, 0), stride = pair(p.stride, 1), padding = pair(p.padding, 0), dilation = pair(p.dilation, 1);
  const desc = `input ${input.join("×")}, kernel ${kernel.join("×")}, stride ${stride.join("×")}, padding ${padding.join("×")}, dilation ${dilation.join("×")}`;
  for (const [name, v, min] of [["input", input, 1], ["kernel", kernel, 1], ["stride", stride, 1], ["padding", padding, 0], ["dilation", dilation, 1]] as const)
    if (!v.every((x) => Number.isInteger(x) && x >= min)) throw new Error(`convArithmetic: ${name} must be an integer >= ${min} (${desc})`);
  const padded: [number, number] = [input[0] + 2 * padding[0], input[1] + 2 * padding[1]];
  const extent: [number, number] = [dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1];
  const output: [number, number] = [0, 1].map((a) => convOutputSize(input[a], kernel[a], stride[a], padding[a], dilation[a])) as [number, number];
  if (output[0] < 1 || output[1] < 1)
    throw new Error(`convArithmetic: the kernel (extent ${extent.join("×")} with dilation) does not fit the padded input ${padded.join("×")} (${desc})`);
  const frames: ConvFrame[] = [];
  for (let oy = 0; oy < output[0]; oy++)
    for (let ox = 0; ox < output[1]; ox++) {
      const taps: [number, number][] = [];
      for (let ky = 0; ky < kernel[0]; ky++) for (let kx = 0; kx < kernel[1]; kx++) taps.push([oy * stride[0] + ky * dilation[0], ox * stride[1] + kx * dilation[1]]);
      frames.push({ out: [oy, ox], taps });
    }
  return { input, kernel, stride, padding, dilation, padded, extent, output, frames };
}

function formulaText(g: ConvGeometry, axis: 0 | 1): string {
  const i = g.input[axis], k = g.kernel[axis], s = g.stride[axis], p = g.padding[axis], d = g.dilation[axis];
  return `⌊(${i} + 2·${p} − ${d}·(${k} − 1) − 1) / ${s}⌋ + 1 = ${g.output[axis]}`;
}

/** The view (one configuration). */
export class ConvArithmeticView {
  readonly geometry: ConvGeometry;
  constructor(readonly options: ConvViewOptions) {
    this.geometry = convGeometry(options);
  }

  /** o = ⌊(i + 2p − d(k−1) − 1)/s⌋ + 1 with the numbers, per axis. */
  formula(): string {
    const g = this.geometry;
    const same = g.input[0] === g.input[1] && g.kernel[0] === g.kernel[1] && g.stride[0] === g.stride[1] && g.padding[0] === g.padding[1] && g.dilation[0] === g.dilation[1];
    return same ? `o = ${formulaText(g, 0)}` : `o_h = ${formulaText(g, 0)}, o_w = ${formulaText(g, 1)}`;
  }

  summary(): string {
    const g = this.geometry;
    return `conv: input ${g.input.join("×")}, kernel ${g.kernel.join("×")}, stride ${g.stride.join("×")}, padding ${g.padding.join("×")}, dilation ${g.dilation.join("×")} → output ${g.output.join("×")}; ${this.formula()}`;
  }

  /** The SVG (animated unless `frame` is given). */
  svg(): string {
    const g = this.geometry;
    const c = this.options.cell ?? 22;
    const gap = 2;
    const [PH, PW] = g.padded;
    const [OH, OW] = g.output;
    const id = uid("gbconv");
    const inW = PW * (c + gap), inH = PH * (c + gap);
    const outX = inW + 50;
    const outW = OW * (c + gap), outH = OH * (c + gap);
    const W = outX + outW + 10, H = Math.max(inH, outH) + 34;
    const n = g.frames.length;
    const dt = this.options.secondsPerStep ?? 0.8;
    const T = n * dt;
    const single = this.options.frame !== undefined;
    if (single && (this.options.frame! < 0 || this.options.frame! >= n)) throw new Error(`convArithmetic: frame ${this.options.frame} out of range [0, ${n})`);
    const parts: string[] = [];
    parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="gb-conv-svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" style="font:11px sans-serif">`);
    if (!single)
      parts.push(
        `<style>.${id} .gbf{opacity:0;animation:${id}-k ${T}s step-end infinite}@keyframes ${id}-k{0%{opacity:1}${(100 / n).toFixed(4)}%{opacity:0}100%{opacity:0}}</style>`,
      );
    parts.push(`<g class="${id}" transform="translate(0,22)">`);
    parts.push(`<text x="0" y="-8" fill="#333">input ${g.input.join("×")} + padding ${g.padding.join("×")}</text>`);
    parts.push(`<text x="${outX}" y="-8" fill="#333">output ${g.output.join("×")}</text>`);
    // padded input grid
    for (let y = 0; y < PH; y++)
      for (let x = 0; x < PW; x++) {
        const isPad = y < g.padding[0] || y >= g.padding[0] + g.input[0] || x < g.padding[1] || x >= g.padding[1] + g.input[1];
        parts.push(
          `<rect class="${isPad ? "gb-pad-cell" : "gb-in-cell"}" x="${x * (c + gap)}" y="${y * (c + gap)}" width="${c}" height="${c}" fill="${isPad ? "#fff" : "#9ecae1"}" stroke="${isPad ? "#999" : "#3182bd"}"${isPad ? ' stroke-dasharray="3,2"' : ""}/>`,
        );
      }
    // output grid
    for (let y = 0; y < OH; y++)
      for (let x = 0; x < OW; x++)
        parts.push(`<rect class="gb-out-cell" x="${outX + x * (c + gap)}" y="${y * (c + gap)}" width="${c}" height="${c}" fill="#c7e9c0" stroke="#31a354"/>`);
    // frames: kernel taps on the input, the current output cell, and a connecting line
    const frames = single ? [g.frames[this.options.frame!]] : g.frames;
    frames.forEach((f, k) => {
      const delay = single ? "" : ` style="animation-delay:${(k * dt - T).toFixed(3)}s"`;
      const fp: string[] = [];
      for (const [ty, tx] of f.taps) fp.push(`<rect x="${tx * (c + gap) + 2}" y="${ty * (c + gap) + 2}" width="${c - 4}" height="${c - 4}" fill="#08519c" fill-opacity="0.55" stroke="#08306b"/>`);
      const [oy, ox] = f.out;
      fp.push(`<rect x="${outX + ox * (c + gap)}" y="${oy * (c + gap)}" width="${c}" height="${c}" fill="#006d2c" fill-opacity="0.75" stroke="#00441b"/>`);
      const t0 = f.taps[0], tl = f.taps[f.taps.length - 1];
      const cx = ((t0[1] + tl[1]) / 2) * (c + gap) + c / 2, cy = ((t0[0] + tl[0]) / 2) * (c + gap) + c / 2;
      fp.push(`<line x1="${cx}" y1="${cy}" x2="${outX + ox * (c + gap) + c / 2}" y2="${oy * (c + gap) + c / 2}" stroke="#555" stroke-width="0.8" stroke-dasharray="2,2"/>`);
      parts.push(`<g class="${single ? "gbf-static" : "gbf"}" data-frame="${single ? this.options.frame : k}"${delay}>${fp.join("")}</g>`);
    });
    parts.push(`</g></svg>`);
    return parts.join("");
  }

  html(): string {
    const g = this.geometry;
    const title = this.options.title ? `<div style="font-weight:bold;margin-bottom:2px">${escapeHtml(this.options.title)}</div>` : "";
    const params = `i = ${g.input.join("×")}, k = ${g.kernel.join("×")}, s = ${g.stride.join("×")}, p = ${g.padding.join("×")}, d = ${g.dilation.join("×")}`;
    return `<div class="gb-conv-view" data-output-h="${g.output[0]}" data-output-w="${g.output[1]}" data-frames="${g.frames.length}" style="font:13px sans-serif;display:inline-block;margin:4px 12px 8px 0;vertical-align:top">
${title}<div style="color:#333">${escapeHtml(params)}</div>
<div class="gb-conv-formula" style="font-family:serif;font-size:14px;margin:2px 0 6px">${escapeHtml(this.formula())}</div>
${this.svg()}</div>`;
  }

  toMimeBundle(): MimeBundle {
    return { "text/html": this.html(), "text/plain": this.summary() };
  }
}

/** The convolution-arithmetic view for one configuration. */
export function convArithmetic(opts: ConvViewOptions): ConvArithmeticView {
  return new ConvArithmeticView(opts);
}

/** The standard cases of Dumoulin & Visin's guide (§2), as ConvParams with titles. */
export const CONV_GUIDE_CASES: (ConvParams & { title: string })[] = [
  { title: "No padding, unit strides", input: 4, kernel: 3, stride: 1, padding: 0 },
  { title: "Arbitrary padding, unit strides", input: 5, kernel: 4, stride: 1, padding: 2 },
  { title: "Half (same) padding", input: 5, kernel: 3, stride: 1, padding: 1 },
  { title: "Full padding", input: 5, kernel: 3, stride: 1, padding: 2 },
  { title: "No padding, strides", input: 5, kernel: 3, stride: 2, padding: 0 },
  { title: "Padding, strides", input: 5, kernel: 3, stride: 2, padding: 1 },
  { title: "Padding, strides (odd)", input: 6, kernel: 3, stride: 2, padding: 1 },
  { title: "Dilation", input: 7, kernel: 3, stride: 1, padding: 0, dilation: 2 },
];

/** Several configurations side by side (default: the guide's cases). */
export class ConvGallery {
  readonly views: ConvArithmeticView[];
  constructor(cases: (ConvParams & { title?: string })[] = CONV_GUIDE_CASES, opts: { cell?: number; secondsPerStep?: number } = {}) {
    this.views = cases.map((c) => new ConvArithmeticView({ cell: 16, ...opts, ...c }));
  }
  toMimeBundle(): MimeBundle {
    return {
      "text/html": `<div class="gb-conv-gallery"><div style="font:13px sans-serif;margin-bottom:6px">Output size: <span style="font-family:serif">o = ⌊(i + 2p − d(k − 1) − 1) / s⌋ + 1</span></div>${this.views.map((v) => v.html()).join("\n")}</div>`,
      "text/plain": this.views.map((v) => `${v.options.title ? v.options.title + ": " : ""}${v.summary()}`).join("\n"),
    };
  }
}

export function convArithmeticGallery(cases?: (ConvParams & { title?: string })[], opts: { cell?: number; secondsPerStep?: number } = {}): ConvGallery {
  return new ConvGallery(cases, opts);
}

/**
 * The view with sliders for input size, kernel size, stride, padding and dilation (Jupyter
 * widgets): moving one redraws the view and its formula. A kernel that does not fit shows the error.
 */
export function convExplorer(initial: Partial<Record<"input" | "kernel" | "stride" | "padding" | "dilation", number>> = {}): Interactive {
  const s = (description: string, value: number, min: number, max: number) => new IntSlider({ description, value, min, max });
  return interact((p) => convArithmetic({ input: p.input, kernel: p.kernel, stride: p.stride, padding: p.padding, dilation: p.dilation }), {
    input: s("input", initial.input ?? 5, 2, 10),
    kernel: s("kernel", initial.kernel ?? 3, 1, 5),
    stride: s("stride", initial.stride ?? 1, 1, 4),
    padding: s("padding", initial.padding ?? 0, 0, 3),
    dilation: s("dilation", initial.dilation ?? 1, 1, 3),
  });
}
